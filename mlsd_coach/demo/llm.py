"""The LLM demo: retrieval-augmented answers over a synthetic help centre with known supporting passages.

Laptop-scale version of the help-centre assistant prompt (~32K articles, ~150K questions a day, first
token in < 1.5 s, <= 2 cents a question). Help-centre articles are generated from templates (products,
settings, error codes, steps), and every evaluation question carries the sentences that answer it.
No model is downloaded: the dense encoder is LSA (TF-IDF → TruncatedSVD) fitted on the articles and
a log of past searches with the articles they clicked; the "generator" is an extractive reader that
copies the retrieved sentences it predicts answer the question; LLM prices and LLM latency are
assumptions. What is real: BM25, the faiss index, fusion, every recall/MRR figure, the groundedness
check and its precision/recall, and the measured retrieval latency.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlsd_coach.demo import metrics
from mlsd_coach.demo.options import DemoError, DemoOptions
from mlsd_coach.demo.ranking import single_threaded, top_k
from mlsd_coach.demo.report import ProgressCallback, Stages
from mlsd_coach.demo.retrieval import BM25Retriever, ExactRetriever, reciprocal_rank_fusion
from mlsd_coach.demo.world import normalize_rows, rng_for

if TYPE_CHECKING:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    from mlsd_coach.demo.report import DemoReport


# --- the lexicon the help centre is written from ------------------------------------------------


@dataclass(frozen=True)
class SettingConcept:
    """One product setting the help centre documents, and every way people name it."""

    key: str
    name: str
    """The official name the docs use."""
    aliases: tuple[str, ...]
    """Other names the docs use now and then."""
    colloquial: tuple[str, ...]
    """How customers describe it; these words almost never appear in the docs."""
    context: tuple[str, ...]
    """Words that come with the topic, in the docs and in customers' questions alike."""
    menu: str
    """Settings page that holds it."""
    purpose: str
    """Predicate completing "<name> …": what the setting does."""
    enable_step: str
    """The setting-specific step of turning it on."""
    disable_effect: str | None
    """What happens when it is turned off (None: it cannot be turned off)."""
    option: str
    """One option of the setting a customer may want to change."""


SETTINGS: tuple[SettingConcept, ...] = (
    SettingConcept(
        "2fa",
        "two-factor authentication",
        ("2FA", "two-step verification"),
        ("login codes", "the phone code when I log in", "a security code at login"),
        ("authenticator app", "one-time code", "backup codes"),
        "Security",
        "asks for a one-time code from an authenticator app every time someone signs in",
        "Scan the QR code with your authenticator app and type the six-digit code to confirm",
        "Backup codes stop working as soon as it is turned off",
        "the list of trusted devices",
    ),
    SettingConcept(
        "sso",
        "single sign-on",
        ("SSO", "SAML sign-in"),
        ("logging in with our work accounts", "company login", "one login for all our tools"),
        ("identity provider", "metadata URL", "signing certificate"),
        "Security",
        "lets your team sign in through your company's identity provider instead of a separate password",
        "Paste the metadata URL from your identity provider and upload its signing certificate",
        "Members go back to signing in with their own passwords",
        "the default role for new members",
    ),
    SettingConcept(
        "webhooks",
        "webhooks",
        ("event callbacks", "outgoing events"),
        (
            "a ping to our server when something changes",
            "real-time updates to our backend",
            "pushing events to our app",
        ),
        ("endpoint URL", "payload", "signing secret"),
        "Developers",
        "send an HTTP request to your endpoint URL whenever a record is created, changed or deleted",
        "Enter your endpoint URL, choose the events to send and copy the signing secret",
        "Events that happen while it is off are never sent later",
        "the events that are sent",
    ),
    SettingConcept(
        "api_keys",
        "API keys",
        ("access tokens", "API credentials"),
        ("a password for our script", "credentials for the integration we built", "a token for our code"),
        ("secret", "scopes", "key rotation"),
        "Developers",
        "let your own scripts and integrations call the API on behalf of your workspace",
        "Click Create key, pick the scopes the key needs and copy the secret, which is shown only once",
        "Any integration that still uses a revoked key starts failing immediately",
        "the scopes of a key",
    ),
    SettingConcept(
        "export",
        "data export",
        ("CSV export", "bulk export"),
        ("downloading all my data", "getting everything into a spreadsheet", "a copy of all our records"),
        ("CSV file", "date range", "download link"),
        "Data",
        "creates a CSV file of your records for any date range and emails you a download link",
        "Choose a date range and the columns to include, then click Start export",
        "Scheduled exports stop and links already sent expire after seven days",
        "the columns in the file",
    ),
    SettingConcept(
        "backups",
        "automatic backups",
        ("scheduled backups", "nightly snapshots"),
        ("saving a copy every night", "restore points", "a safety copy of everything"),
        ("retention period", "restore", "snapshot"),
        "Data",
        "take a snapshot of your workspace every night and keep it for the retention period you choose",
        "Pick a backup time and a retention period, then click Save",
        "Existing snapshots are kept until their retention period ends",
        "the retention period",
    ),
    SettingConcept(
        "email",
        "email notifications",
        ("email alerts", "notification emails"),
        ("all the emails you send me", "messages in my inbox", "the daily mails"),
        ("digest", "unsubscribe", "frequency"),
        "Notifications",
        "tell you by email when something that involves you changes",
        "Tick the events you want to hear about and choose instant messages or a daily digest",
        "Security and billing emails still arrive, because they cannot be turned off",
        "how often the digest is sent",
    ),
    SettingConcept(
        "roles",
        "user roles",
        ("permissions", "access levels"),
        ("who can see what", "limiting what my staff can do", "locking down access for employees"),
        ("admin", "editor", "viewer"),
        "Team",
        "control what each member of your workspace can see and change",
        "Select a member, open the Role menu and choose Admin, Editor or Viewer",
        None,
        "the default role for invited members",
    ),
    SettingConcept(
        "domain",
        "custom domain",
        ("branded domain", "vanity domain"),
        ("our own web address", "using my website name instead of yours", "my own URL"),
        ("DNS", "CNAME record", "TLS certificate"),
        "Branding",
        "serves your customer-facing pages from a domain you own",
        "Add a CNAME record that points your domain to our servers, then click Verify",
        "Links that use your domain stop working and visitors see the default address",
        "the domain name",
    ),
    SettingConcept(
        "dark_mode",
        "dark mode",
        ("dark theme", "night theme"),
        ("a black background", "something easier on the eyes at night", "a darker screen"),
        ("appearance", "contrast", "system setting"),
        "Appearance",
        "switches the interface to light text on a dark background",
        "Choose Dark under Theme, or choose Automatic to follow your system setting",
        "The interface returns to the light theme on every device",
        "the contrast level",
    ),
    SettingConcept(
        "audit_log",
        "audit log",
        ("activity log", "event history"),
        ("seeing who changed what", "a record of what my team did", "a history of changes"),
        ("actor", "timestamp", "filter"),
        "Security",
        "records every change in your workspace with the person who made it and when",
        "Choose which events to record and how long to keep them, then click Save",
        "Events already recorded stay available until the retention period ends",
        "the retention period of the log",
    ),
    SettingConcept(
        "offline",
        "offline mode",
        ("offline access", "local mode"),
        ("using the app without internet", "working on a plane", "no wifi"),
        ("cached", "reconnect", "local copy"),
        "General",
        "keeps a local copy of your recent work so you can keep going without a connection",
        "Choose which projects to keep on this device and wait for the first download to finish",
        "The local copy is deleted from the device after the next sync",
        "how much storage the local copy may use",
    ),
    SettingConcept(
        "autosync",
        "automatic sync",
        ("auto-sync", "background sync"),
        ("keeping my laptop and phone up to date", "changes showing up everywhere", "updates across devices"),
        ("sync interval", "conflicts", "sync status"),
        "General",
        "sends your changes to every signed-in device within seconds",
        "Set the sync interval and choose how conflicts are resolved",
        "Changes stay on the device until you press Sync now",
        "the sync interval",
    ),
    SettingConcept(
        "timeout",
        "session timeout",
        ("idle timeout", "automatic sign-out"),
        ("getting logged out all the time", "staying signed in longer", "being kicked out after a while"),
        ("inactivity", "session length", "sign in again"),
        "Security",
        "signs people out after a period of inactivity",
        "Choose the inactivity period, from 15 minutes to 30 days, and click Save",
        "Sessions last until people sign out themselves",
        "the inactivity period",
    ),
    SettingConcept(
        "ip_allowlist",
        "IP allowlist",
        ("trusted IP ranges", "IP restrictions"),
        ("only allowing our office network", "blocking logins from outside the office", "access from our VPN only"),
        ("CIDR range", "address", "blocked sign-ins"),
        "Security",
        "blocks sign-ins from any address outside the ranges you trust",
        "Add each trusted range in CIDR notation and include your current address before saving",
        "People can sign in from any network again",
        "the list of trusted ranges",
    ),
    SettingConcept(
        "reminders",
        "payment reminders",
        ("invoice reminders", "dunning emails"),
        ("chasing customers who have not paid", "nudging late payers", "emails about overdue bills"),
        ("due date", "overdue", "reminder schedule"),
        "Billing",
        "email your customers before and after an invoice's due date until it is paid",
        "Pick how many days before and after the due date each reminder goes out",
        "Reminders already scheduled are cancelled",
        "the reminder template",
    ),
    SettingConcept(
        "locale",
        "language and region",
        ("locale", "regional settings"),
        ("the app in French", "switching what language the app speaks", "dates showing the wrong way round"),
        ("date format", "currency", "time zone"),
        "General",
        "set the interface language, date format, currency and time zone for your account",
        "Choose a language, a date format and a time zone, then reload the page",
        None,
        "the date format",
    ),
    SettingConcept(
        "attachments",
        "file attachments",
        ("attachments", "file uploads"),
        ("adding a PDF to a record", "attaching documents", "putting pictures on an entry"),
        ("file size", "drag and drop", "preview"),
        "Files",
        "let you add files to any record by drag and drop",
        "Choose the file types members may upload and the largest size allowed",
        "Existing files stay attached but nobody can add new ones",
        "the largest file size",
    ),
    SettingConcept(
        "calendar",
        "calendar sync",
        ("calendar integration", "calendar connection"),
        ("seeing my appointments on my phone", "linking my agenda", "bookings in my personal planner"),
        ("events", "two-way", "availability"),
        "Integrations",
        "copies your events to an external calendar and keeps both in step",
        "Click Connect, sign in to your calendar account and choose one-way or two-way sync",
        "Events already copied stay in the external calendar",
        "the direction of the sync",
    ),
    SettingConcept(
        "guests",
        "guest access",
        ("external sharing", "guest accounts"),
        ("letting clients look at our work", "sharing with people outside the company", "inviting a contractor"),
        ("share link", "read-only", "expiry date"),
        "Sharing",
        "lets people outside your workspace open what you share with them",
        "Choose whether guests can comment or only view, and set an expiry date for share links",
        "All share links stop working and guests lose access at once",
        "the expiry date of share links",
    ),
    SettingConcept(
        "passwords",
        "password policy",
        ("password requirements", "password rules"),
        ("forcing stronger logins", "making staff pick harder logins", "stopping people using weak ones"),
        ("minimum length", "complexity", "password expiry"),
        "Security",
        "sets the rules every member's password must follow",
        "Set the minimum length, the character rules and how often passwords expire",
        "Members keep their passwords but the rules no longer apply",
        "the minimum length",
    ),
    SettingConcept(
        "push",
        "push notifications",
        ("mobile alerts", "app notifications"),
        ("my phone buzzing", "banners on my phone", "pings on my mobile"),
        ("mobile app", "quiet hours", "badge"),
        "Notifications",
        "alert you on your phone when something needs your attention",
        "Allow notifications when the mobile app asks, then pick the events and quiet hours",
        "The app stops sending alerts but keeps the badge count",
        "the quiet hours",
    ),
    SettingConcept(
        "recycle_bin",
        "recycle bin",
        ("trash", "deleted items"),
        ("getting back something I deleted", "undoing a delete", "recovering a removed file"),
        ("restore", "permanently delete", "30 days"),
        "Data",
        "keeps deleted items for 30 days so you can restore them",
        "Choose how many days deleted items are kept, from 7 to 90, and click Save",
        None,
        "how long items are kept",
    ),
)


@dataclass(frozen=True)
class Operation:
    """Something a customer does that can fail with an error code."""

    key: str
    title: str
    """Error article title after the code, e.g. "Sync failed"."""
    gerund: str
    verb: str
    """Completes "when I try to …"."""


OPERATIONS: tuple[Operation, ...] = (
    Operation("sync", "Sync failed", "syncing your changes", "sync my changes"),
    Operation("upload", "Upload failed", "uploading a file", "upload a file"),
    Operation("export", "Export failed", "exporting data", "export my data"),
    Operation("import", "Import failed", "importing a CSV file", "import a CSV"),
    Operation("signin", "Sign-in failed", "signing in", "sign in"),
    Operation("email", "Email not sent", "sending an email", "send an email"),
    Operation("webhook", "Webhook not delivered", "delivering a webhook", "deliver webhooks"),
    Operation("report", "Report not generated", "generating a report", "run a report"),
    Operation("integration", "Integration not connected", "connecting an integration", "connect an integration"),
    Operation("payment", "Payment not processed", "processing a payment", "take a payment"),
    Operation("share", "Sharing failed", "sharing a link", "share a link"),
)


@dataclass(frozen=True)
class Cause:
    """Why an error code fires, and the steps that fix it; ``{n}`` marks a number the article states."""

    key: str
    meaning: str
    fixes: tuple[str, ...]
    numbers: tuple[int, ...] = ()
    """Values ``{n}`` may take."""


CAUSES: tuple[Cause, ...] = (
    Cause(
        "token",
        "your session token has expired",
        ("Sign out of {product} on every device.", "Sign back in and try {gerund} again."),
    ),
    Cause(
        "quota",
        "your workspace has used all of its storage",
        (
            "Open Settings > Plan and usage to see how much storage is left.",
            "Empty the recycle bin or move old files out, then try again.",
            "The {plan} plan includes {n} GB of storage if you need more room.",
        ),
        (50, 100, 250, 500),
    ),
    Cause(
        "clock",
        "the clock on your device is more than {n} minutes out",
        ("Set the date and time on your device to update automatically.", "Restart {product} once the clock is right."),
        (2, 5, 10),
    ),
    Cause(
        "size",
        "the file is larger than {n} MB",
        ("Split the file into parts smaller than {n} MB.", "Compress images before you upload them."),
        (10, 25, 50, 100),
    ),
    Cause(
        "format",
        "the file type is not supported",
        ("Save the file as CSV, XLSX or PDF and try again.", "Check that the file extension matches its contents."),
    ),
    Cause(
        "rate",
        "too many requests were made in a short time",
        (
            "Wait {n} minutes before you try again.",
            "If a script makes the requests, add a pause of at least one second between them.",
        ),
        (1, 5, 15, 60),
    ),
    Cause(
        "timeout",
        "the connection timed out",
        (
            "Check that your firewall allows traffic to {domain} on port 443.",
            "Try again on a different network to rule out a proxy.",
        ),
    ),
    Cause(
        "permission",
        "your role does not allow this action",
        ("Ask a workspace admin to give you the {role} role.", "Sign out and back in so the new role takes effect."),
    ),
    Cause(
        "key",
        "the API key is invalid or has been revoked",
        (
            "Create a new key under Settings > Developers > API keys.",
            "Replace the old key in your integration and restart it.",
        ),
    ),
    Cause(
        "certificate",
        "the TLS certificate of your custom domain has expired",
        ("Renew the certificate with your domain provider.", "Open Settings > Branding and click Verify domain again."),
    ),
    Cause(
        "duplicate",
        "a record with the same ID already exists",
        ("Remove the duplicate rows from your file.", "Or tick Update existing records before you try again."),
    ),
    Cause(
        "version",
        "your version of {product} is out of date",
        ("Update {product} to version {n}.2 or later.", "Restart the app after the update finishes."),
        (4, 5, 6, 7),
    ),
    Cause(
        "maintenance",
        "a scheduled maintenance window is in progress",
        (
            "Check the status page for the end time of the maintenance.",
            "Try again after {n} minutes; nothing is lost in the meantime.",
        ),
        (10, 20, 30),
    ),
    Cause(
        "encoding",
        "the file contains characters that cannot be read",
        ("Save the file with UTF-8 encoding.", "Remove special characters from the column headers and try again."),
    ),
)

PLANS = ("Starter", "Team", "Business", "Enterprise")
ROLES = ("Owner", "Admin", "Workspace admin", "Editor")
EFFECT_MINUTES = (1, 5, 10, 15, 30)
_STEMS = (
    "Ledger", "Parcel", "Tally", "Roster", "Beacon", "Quill", "Harbor", "Nimbus", "Cobalt", "Juniper",
    "Orbit", "Pillar", "Summit", "Vesta", "Willow", "Zephyr", "Atlas", "Bramble", "Cinder", "Drift",
)  # fmt: skip
_SUFFIXES = ("ly", "io", "ify", "desk", "hub", "cloud", "flow", "pay", "base", "works", "mail", "sign")
MAX_PRODUCTS = len(_STEMS) * len(_SUFFIXES)

ON_VERBS = {"doc": ("turn on", "set up", "enable"), "colloquial": ("switch on", "get", "start using", "activate")}
OFF_VERBS = {"doc": ("turn off", "disable"), "colloquial": ("get rid of", "stop", "switch off")}

QUESTION_KINDS: tuple[str, ...] = ("error code", "doc wording", "alias", "colloquial")
"""How a question names what it is about: by an error code, or by a setting in the docs' words, in a
name the docs use now and then, or in a customer's own words."""
QUESTION_MIX: tuple[float, ...] = (0.35, 0.2, 0.2, 0.25)
"""Share of each kind among questions (an assumption about the ticket mix)."""


# --- the knowledge base -------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    """One help-centre article: a title and sections, each a heading and the ids of its sentences."""

    id: int
    kind: str
    """"how-to" (a setting) or "error" (an error code)."""
    product: str
    title: str
    topic: str
    """Setting key, or the error code."""
    sections: tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Question:
    """An evaluation question and the sentences of the knowledge base that answer it."""

    text: str
    kind: str
    """One of QUESTION_KINDS."""
    intent: str
    """"enable", "disable", "plan", "role", "option", "fix" or "meaning"."""
    article: int
    support: tuple[int, ...]
    """Sentence ids an answer needs (ground truth)."""


@dataclass
class KnowledgeBase:
    """Every sentence of the help centre, the articles that group them, and what questions can ask."""

    sentences: list[str] = field(default_factory=list)
    sentence_article: list[int] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    products: tuple[str, ...] = ()
    codes: dict[str, tuple[int, str, Cause, Operation]] = field(default_factory=dict)
    """Error code → (article id, product, cause, operation)."""
    facts: dict[tuple[int, str], tuple[int, ...]] = field(default_factory=dict)
    """(article id, intent) → the sentences that answer it."""
    article_setting: dict[int, SettingConcept] = field(default_factory=dict)
    article_option: dict[int, str] = field(default_factory=dict)

    @property
    def n_words(self) -> int:
        """Words in all sentences (headings and titles not counted)."""
        return sum(len(s.split()) for s in self.sentences)


DEFAULT_ARTICLES = 1_200
MIN_ARTICLES = 100
ARTICLES_PER_DIM = 10
"""With more dimensions than one per ten articles, LSA starts giving single articles (and their
error codes) directions of their own: it would index the corpus instead of summarising it."""
MAX_ARTICLES = 6_000
"""Largest --items: about 40 s and 0.6 GB on a busy 2-core machine."""


@dataclass(frozen=True)
class LlmDemoConfig:
    """Sizes and settings of one run; the defaults are the CLI's default run."""

    n_articles: int = DEFAULT_ARTICLES
    """Articles in the help centre, rounded to whole products (``--items`` sets it)."""
    settings_per_product: int = 14
    errors_per_product: int = 36
    n_questions: int = 1_500
    """Labelled evaluation questions; the first third is the dev split, the rest the test split."""
    n_searches: int = 12_000
    """Past help-centre searches with the article clicked: what the dense encoder learns words from."""
    chunk_words: int = 80
    """Default chunk size in words (sentence-aligned, about 110 tokens), fixed before any result."""
    chunk_sweep: tuple[int, ...] = (40, 80, 150, 300)
    lsa_dim: int = 128
    """Encoder dimensions, a common default (not tuned); capped at one per ``ARTICLES_PER_DIM`` articles."""
    fusion_depth: int = 50
    """Results taken from each retriever before fusion."""
    rrf_k: int = 60
    """The usual reciprocal-rank-fusion constant (not tuned)."""
    k: int = 5
    """Chunks put into the prompt."""
    groundedness_answers: int = 600
    """Answers (from dev and test questions) in the labelled groundedness set."""
    latency_queries: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if not 1 <= self.settings_per_product <= len(SETTINGS):
            raise ValueError(f"settings_per_product must be between 1 and {len(SETTINGS)}")
        if self.errors_per_product < 2:
            raise ValueError("errors_per_product must be at least 2")
        if not 2 <= self.n_products <= MAX_PRODUCTS:
            raise ValueError(f"n_articles gives {self.n_products} products; between 2 and {MAX_PRODUCTS} are possible")
        if self.n_questions < 30 or self.n_searches < 0 or self.groundedness_answers < 20:
            raise ValueError("need at least 30 questions, 20 groundedness answers and a non-negative search log")
        if self.chunk_words not in self.chunk_sweep or min(self.chunk_sweep) < 1:
            raise ValueError("chunk_words must be one of chunk_sweep, all positive")
        if (
            min(self.k, self.fusion_depth, self.lsa_dim, self.latency_queries, self.rrf_k) < 1
            or self.k > self.fusion_depth
        ):
            raise ValueError("k, fusion_depth, lsa_dim, rrf_k and latency_queries must be positive, k <= fusion_depth")

    @property
    def encoder_dim(self) -> int:
        """Dimensions actually used: a small corpus gets fewer, so the encoder summarises rather than memorises."""
        return max(
            8,
            min(
                self.lsa_dim,
                self.n_products * (self.settings_per_product + self.errors_per_product) // ARTICLES_PER_DIM,
            ),
        )

    @property
    def n_products(self) -> int:
        """Whole products giving about ``n_articles`` articles."""
        return max(1, round(self.n_articles / (self.settings_per_product + self.errors_per_product)))


def llm_config(options: DemoOptions) -> LlmDemoConfig:
    """Run configuration for the CLI options: ``--items`` is the number of help-centre articles.

    Questions and past searches grow with the help centre (1.25 and 10 per article, as in the default).
    """
    if options.users is not None:
        raise DemoError("the llm demo has no users; size it with --items (help-centre articles)")
    articles = DEFAULT_ARTICLES if options.items is None else options.items
    if not MIN_ARTICLES <= articles <= MAX_ARTICLES:
        raise DemoError(
            f"--items (help-centre articles) must be between {MIN_ARTICLES} and {MAX_ARTICLES}, got {articles}"
        )
    questions = int(np.clip(round(1.25 * articles), 240, 3_000))
    return LlmDemoConfig(
        n_articles=articles,
        n_questions=questions,
        n_searches=10 * articles,
        groundedness_answers=min(600, int(0.4 * questions)),
        seed=options.seed,
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def product_names(n: int, rng: np.random.Generator) -> tuple[str, ...]:
    """``n`` distinct made-up one-word product names."""
    if not 1 <= n <= MAX_PRODUCTS:
        raise ValueError(f"between 1 and {MAX_PRODUCTS} products, got {n}")
    picks = rng.choice(MAX_PRODUCTS, size=n, replace=False)
    return tuple(_STEMS[i // len(_SUFFIXES)] + _SUFFIXES[i % len(_SUFFIXES)] for i in picks.tolist())


GOOD_TO_KNOW: tuple[str, ...] = (
    "Admins get an email whenever someone changes this setting.",
    "The setting is saved per workspace, not per person.",
    "Mobile apps pick up the change the next time they open.",
    "Settings you change here also apply to workspaces you create later.",
    "You can undo a change within one hour from the activity panel.",
    "If your company manages devices centrally, your IT team may lock this setting.",
    "Browser extensions that block scripts can hide this page, so try a private window.",
    "Screen readers announce the state of the toggle as On or Off.",
)
"""Generic sentences every how-to article may carry: realistic filler that matches no question."""


class _Writer:
    """Appends sentences to the knowledge base, one article at a time."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.article_id = len(kb.articles)
        self.sections: list[tuple[str, tuple[int, ...]]] = []

    def section(self, heading: str, sentences: Sequence[str]) -> tuple[int, ...]:
        start = len(self.kb.sentences)
        for sentence in sentences:
            self.kb.sentences.append(sentence)
            self.kb.sentence_article.append(self.article_id)
        ids = tuple(range(start, len(self.kb.sentences)))
        self.sections.append((heading, ids))
        return ids

    def fact(self, intent: str, sentence_ids: tuple[int, ...]) -> None:
        self.kb.facts[(self.article_id, intent)] = sentence_ids

    def finish(self, kind: str, product: str, title: str, topic: str) -> int:
        self.kb.articles.append(Article(self.article_id, kind, product, title, topic, tuple(self.sections)))
        return self.article_id


def _error_title(code: str, op: Operation) -> str:
    return f"Error {code}: {op.title}"


def _write_error_article(
    kb: KnowledgeBase,
    product: str,
    code: str,
    cause: Cause,
    op: Operation,
    related_titles: Sequence[str],
    rng: np.random.Generator,
) -> None:
    n = int(rng.choice(cause.numbers)) if cause.numbers else 0
    values = {
        "product": product,
        "gerund": op.gerund,
        "n": n,
        "plan": _pick(rng, PLANS[1:]),
        "role": _pick(rng, ROLES[2:]),
        "domain": f"api.{product.lower()}.com",
    }
    writer = _Writer(kb)
    meaning = cause.meaning.format(**values)
    what = writer.section(
        "What this error means",
        [
            _pick(
                rng,
                (
                    f"{product} shows error {code} when {op.gerund} fails because {meaning}.",
                    f"Error {code} means that {op.gerund} stopped because {meaning}.",
                ),
            ),
            _pick(
                rng,
                (
                    "The message appears at the top of the screen and in the activity panel.",
                    "You may also get an email that names the record that was affected.",
                    "Nothing is lost: the change is kept and can be retried.",
                ),
            ),
            _pick(
                rng,
                (
                    "It can show up in the web, desktop and mobile apps alike.",
                    f"Only the person {op.gerund} sees it; other members can keep working.",
                ),
            ),
        ],
    )
    writer.fact("meaning", what[:1])
    writer.fact("fix", writer.section("How to fix it", [step.format(**values) for step in cause.fixes]))
    writer.section(
        "If the error persists",
        [
            f"If {code} still appears after these steps, contact support with the time of the error.",
            _pick(rng, ("Include your workspace name and a screenshot.", "Tell us which device and browser you use.")),
        ],
    )
    writer.section("Related articles", [f"See also: {'; '.join(related_titles)}."])
    article = writer.finish("error", product, _error_title(code, op), code)
    kb.codes[code] = (article, product, cause, op)


def _name(setting: SettingConcept, rng: np.random.Generator, alias_share: float = 0.3) -> str:
    """The setting as one writer names it: mostly the official name, sometimes an alias."""
    return _pick(rng, setting.aliases) if rng.random() < alias_share else setting.name


def _howto_title(setting: SettingConcept, product: str, rng: np.random.Generator) -> str:
    return _pick(rng, (f"Use {setting.name} in {product}", f"{_cap(setting.name)} in {product}"))


def _write_howto_article(
    kb: KnowledgeBase,
    product: str,
    setting: SettingConcept,
    title: str,
    related_codes: Sequence[str],
    related_titles: Sequence[str],
    rng: np.random.Generator,
) -> None:
    s = setting
    writer = _Writer(kb)
    overview = [f"{_cap(_name(s, rng))} in {product} {s.purpose}."]
    if rng.random() < 0.6:
        overview.append(
            _pick(rng, (f"You may also see it called {s.aliases[0]}.", f"Some screens call it {s.aliases[1]}."))
        )
    overview.append(f"This article covers the {s.context[0]}, the {s.context[1]} and the {s.context[2]}.")
    writer.section(_pick(rng, (f"About {s.name}", f"What {s.name} does", "Overview")), overview)

    plan, role = _pick(rng, PLANS), _pick(rng, ROLES)
    requirements = writer.section(
        "Before you begin",
        [
            _pick(
                rng,
                (
                    f"{_cap(_name(s, rng))} is available on the {plan} plan and above.",
                    f"You need the {plan} plan or higher to use {_name(s, rng)}.",
                ),
            ),
            _pick(
                rng,
                (
                    f"Only members with the {role} role can change this setting.",
                    f"To change it you need the {role} role.",
                ),
            ),
        ],
    )
    writer.fact("plan", requirements[:1])
    writer.fact("role", requirements[1:2])
    enable = writer.section(
        _pick(rng, (f"Set up {s.name}", f"Turn on {s.name}")),
        [
            _pick(rng, (f"Open Settings > {s.menu} in {product}.", f"In {product}, go to Settings > {s.menu}.")),
            _pick(
                rng,
                (f"Select {_name(s, rng)} and switch the toggle to On.", f"Find {_name(s, rng)} and click Turn on."),
            ),
            f"{s.enable_step}.",
            f"Changes take effect within {int(rng.choice(EFFECT_MINUTES))} minutes.",
        ],
    )
    writer.fact("enable", enable[:3])
    if s.disable_effect is not None:
        writer.fact(
            "disable",
            writer.section(
                f"Turn off {s.name}",
                [f"Go back to Settings > {s.menu} and switch {_name(s, rng)} off.", f"{s.disable_effect}."],
            ),
        )
    option = writer.section(
        f"Change {s.option}",
        [
            f"To change {s.option}, open Settings > {s.menu} > {_cap(s.name)} and click Edit.",
            "Save your changes; they apply to everyone in the workspace.",
        ],
    )
    writer.fact("option", option[:1])
    writer.section(
        "Limits",
        [
            f"Each workspace has one {_name(s, rng)} configuration, shared by all members.",
            f"Changes to {_name(s, rng)} stay in the activity panel for {int(rng.choice((30, 90, 180, 365)))} days.",
        ],
    )
    good = rng.choice(len(GOOD_TO_KNOW), size=2, replace=False)
    writer.section("Good to know", [GOOD_TO_KNOW[i] for i in sorted(good.tolist())])
    trouble = [
        f"If you see error {code} while {kb.codes[code][3].gerund}, follow the steps in the article on {code}."
        for code in related_codes
    ]
    trouble.append(f"If you cannot find {_name(s, rng)}, ask a workspace admin to check your plan.")
    writer.section("Troubleshooting", trouble)
    major = int(rng.integers(3, 8))
    writer.section(
        "Version notes",
        [
            _pick(
                rng,
                (
                    f"Since version {major}.{int(rng.integers(0, 10))}, {_name(s, rng)} is also in the desktop app.",
                    f"In versions before {major}.0, this setting lived under Settings > Advanced.",
                ),
            ),
            f"Does {_name(s, rng)} work in the mobile app? Yes, it uses the same settings as the web app.",
        ],
    )
    writer.section("Related articles", [f"See also: {'; '.join(related_titles)}."])
    article = writer.finish("how-to", product, title, s.key)
    kb.article_setting[article] = s
    kb.article_option[article] = s.option


def build_knowledge_base(config: LlmDemoConfig) -> KnowledgeBase:
    """Generate the help centre: per product, error-code articles and how-to articles for its settings."""
    rng = rng_for(config.seed, "llm/knowledge-base")
    kb = KnowledgeBase()
    kb.products = product_names(config.n_products, rng)
    used_codes: set[int] = set()
    pairs = [(c, o) for c in range(len(CAUSES)) for o in range(len(OPERATIONS))]
    for product in kb.products:
        n_errors = min(config.errors_per_product, len(pairs))
        errors: list[tuple[str, Cause, Operation]] = []
        for pair in rng.choice(len(pairs), size=n_errors, replace=False).tolist():
            number = int(rng.integers(1000, 10_000))
            while number in used_codes:
                number = int(rng.integers(1000, 10_000))
            used_codes.add(number)
            errors.append((f"E-{number}", CAUSES[pairs[pair][0]], OPERATIONS[pairs[pair][1]]))
        settings = [
            SETTINGS[i]
            for i in sorted(rng.choice(len(SETTINGS), size=config.settings_per_product, replace=False).tolist())
        ]
        titles = [_howto_title(setting, product, rng) for setting in settings]
        for code, cause, op in errors:
            same_op = [_error_title(c, o) for c, _, o in errors if o is op and c != code][:1]
            related = [titles[int(rng.integers(len(titles)))], *same_op]
            _write_error_article(kb, product, code, cause, op, related, rng)
        codes = [code for code, _, _ in errors]
        for index, setting in enumerate(settings):
            related_codes = rng.choice(codes, size=min(2, len(codes)), replace=False).tolist()
            others = [t for j, t in enumerate(titles) if j != index]
            related_titles = [
                others[i] for i in rng.choice(len(others), size=min(2, len(others)), replace=False).tolist()
            ]
            _write_howto_article(kb, product, setting, titles[index], related_codes, related_titles, rng)
    return kb


# --- questions ----------------------------------------------------------------------------------


def _code_as_typed(code: str, rng: np.random.Generator) -> str:
    # Customers paste the code as shown most of the time, or type just "error" and the number.
    return code if rng.random() < 0.8 else f"error {code.split('-')[1]}"


def _error_question(kb: KnowledgeBase, code: str, intent: str, rng: np.random.Generator) -> str:
    _, product, _, op = kb.codes[code]
    typed = _code_as_typed(code, rng)
    if intent == "meaning":
        return _pick(
            rng,
            (
                f"What does {typed} mean?",
                f"What is {typed} in {product}?",
                f"{product} says {typed}, what does that mean?",
            ),
        )
    return _pick(
        rng,
        (
            f"How do I fix {typed} in {product}?",
            f"{product} keeps showing {typed} when I {op.verb}. What should I do?",
            f"Getting {typed}, help!",
            f"{typed} when I try to {op.verb}",
            f"I get {typed} every time I {op.verb} in {product}",
        ),
    )


def _setting_term(setting: SettingConcept, kind: str, rng: np.random.Generator) -> str:
    if kind == "doc wording":
        return setting.name
    if kind == "alias":
        return _pick(rng, setting.aliases)
    return _pick(rng, setting.colloquial)


def _setting_question(
    setting: SettingConcept, product: str, option: str, kind: str, intent: str, rng: np.random.Generator
) -> str:
    term = _setting_term(setting, kind, rng)
    register = "colloquial" if kind == "colloquial" else "doc"
    on, off = _pick(rng, ON_VERBS[register]), _pick(rng, OFF_VERBS[register])
    templates = {
        "enable": (
            f"How do I {on} {term} in {product}?",
            f"Can I {on} {term} for my {product} workspace?",
            f"{product}: how to {on} {term}",
            f"I'd like to {on} {term} on {product}, what are the steps?",
        ),
        "disable": (
            f"How do I {off} {term} in {product}?",
            f"Is there a way to {off} {term} in {product}?",
            f"Please help me {off} {term}, we use {product}",
        ),
        "plan": (
            f"Which plan do I need for {term} in {product}?",
            f"Is {term} included in my {product} plan?",
            f"Does {term} cost extra in {product}?",
        ),
        "role": (
            f"Why can't I change {term} in {product}?",
            f"{_cap(term)} is greyed out for me in {product}",
            f"Who is allowed to change {term} in {product}?",
        ),
        "option": (
            f"How do I change {option} for {term} in {product}?",
            f"Where can I edit {option} ({term}) in {product}?",
        ),
    }
    return _pick(rng, templates[intent])


def make_questions(kb: KnowledgeBase, n: int, rng: np.random.Generator) -> list[Question]:
    """``n`` questions in the QUESTION_MIX of kinds, each with its supporting sentences."""
    kinds = rng.choice(len(QUESTION_KINDS), size=n, p=QUESTION_MIX)
    error_articles = [a for a in kb.articles if a.kind == "error"]
    howto_articles = [a for a in kb.articles if a.kind == "how-to"]
    questions: list[Question] = []
    for kind_index in kinds.tolist():
        kind = QUESTION_KINDS[kind_index]
        if kind == "error code":
            article = error_articles[int(rng.integers(len(error_articles)))]
            intent = "fix" if rng.random() < 0.7 else "meaning"
            text = _error_question(kb, article.topic, intent, rng)
        else:
            article = howto_articles[int(rng.integers(len(howto_articles)))]
            intents = [i for i in ("enable", "disable", "plan", "role", "option") if (article.id, i) in kb.facts]
            intent = intents[int(rng.choice(len(intents), p=_intent_weights(intents)))]
            setting = kb.article_setting[article.id]
            text = _setting_question(setting, article.product, kb.article_option[article.id], kind, intent, rng)
        questions.append(Question(text, kind, intent, article.id, kb.facts[(article.id, intent)]))
    return questions


def _intent_weights(intents: Sequence[str]) -> NDArray[np.float64]:
    # Most how-to questions ask how to turn something on; plans, roles and options come up less.
    base = {"enable": 4.0, "disable": 2.0, "plan": 1.5, "role": 1.5, "option": 1.0}
    weights = np.array([base[i] for i in intents])
    return weights / weights.sum()


def make_search_log(kb: KnowledgeBase, n: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """Past help-centre searches: the query and the article the customer clicked (no passage labels).

    Customers sometimes name a setting twice ("login codes 2FA") and add what they use with it, and
    a click ties their words to an article title; that co-occurrence is the only way the dense
    encoder can learn that customers' words mean the docs' words. One click in five is a mis-click
    on another article of the same product.
    """
    by_product: dict[str, list[int]] = {}
    for article in kb.articles:
        by_product.setdefault(article.product, []).append(article.id)
    log: list[tuple[str, int]] = []
    for question in make_questions(kb, n, rng):
        text = question.text
        setting = kb.article_setting.get(question.article)
        if setting is not None:
            if rng.random() < 0.2:
                text = f"{text} {_pick(rng, (setting.name, *setting.aliases, *setting.colloquial))}"
            if rng.random() < 0.3:
                text = f"{text} We use the {_pick(rng, setting.context)}."
        clicked = question.article
        if rng.random() < 0.2:
            same = by_product[kb.articles[clicked].product]
            clicked = same[int(rng.integers(len(same)))]
        log.append((text, clicked))
    return log


# --- chunking -----------------------------------------------------------------------------------

TOKENS_PER_WORD = 1.3
"""Approximate sub-word tokens per English word (a typical BPE ratio); no tokenizer is downloaded."""


@dataclass(frozen=True)
class Chunks:
    """The retrievable units: sentence-aligned pieces of articles, with the text that gets indexed."""

    texts: tuple[str, ...]
    sentences: tuple[tuple[int, ...], ...]
    """Knowledge-base sentence ids in each chunk."""
    article: NDArray[np.int64]
    chunk_of_sentence: NDArray[np.int64]
    """The chunk that holds each sentence (every sentence is in exactly one)."""
    tokens: NDArray[np.float64]
    """Approximate tokens of each chunk's text (what it costs in a prompt)."""
    max_words: int
    with_title: bool


def chunk_articles(kb: KnowledgeBase, max_words: int, with_title: bool = True) -> Chunks:
    """Pack each article's sentences, in order, into chunks of at most ``max_words`` words.

    A sentence is never split (one longer than the limit gets a chunk of its own); a section's heading
    goes with its first sentence. ``with_title`` starts every chunk with "article title › heading",
    so a chunk cut from the middle of an article still says what it is about.
    """
    if max_words < 1:
        raise ValueError(f"max_words must be positive, got {max_words}")
    texts: list[str] = []
    members: list[tuple[int, ...]] = []
    articles: list[int] = []
    chunk_of_sentence = np.full(len(kb.sentences), -1, dtype=np.int64)
    for article in kb.articles:
        units: list[tuple[int, str, str, bool]] = []  # sentence id, heading, sentence, starts section
        for heading, ids in article.sections:
            units.extend((sid, heading, kb.sentences[sid], j == 0) for j, sid in enumerate(ids))
        start = 0
        while start < len(units):
            stop, words = start, 0
            while stop < len(units):
                sid, heading, sentence, first = units[stop]
                size = len(sentence.split()) + (len(heading.split()) if first else 0)
                if stop > start and words + size > max_words:
                    break
                words += size
                stop += 1
            lines: list[str] = []
            if with_title:
                lines.append(f"{article.title} › {units[start][1]}")
            elif start == 0:
                lines.append(article.title)
            for sid, heading, sentence, first in units[start:stop]:
                if first and not (with_title and sid == units[start][0]):
                    lines.append(heading)
                lines.append(sentence)
            chunk_id = len(texts)
            texts.append("\n".join(lines))
            members.append(tuple(unit[0] for unit in units[start:stop]))
            articles.append(article.id)
            chunk_of_sentence[[unit[0] for unit in units[start:stop]]] = chunk_id
            start = stop
    tokens = np.array([len(text.split()) * TOKENS_PER_WORD for text in texts])
    return Chunks(
        tuple(texts),
        tuple(members),
        np.asarray(articles, dtype=np.int64),
        chunk_of_sentence,
        tokens,
        max_words,
        with_title,
    )


# --- retrieval ----------------------------------------------------------------------------------

TOKEN_PATTERN = r"(?u)\b\w+\b"
"""Keeps one-character and digit-only tokens, so "E-4012" still yields the token "4012"."""
STOP_WORDS: tuple[str, ...] = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "of",
    "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will",
    "with", "i", "my", "me", "we", "our", "you", "your", "do", "does", "how", "what", "can", "s",
)  # fmt: skip
"""A short, Lucene-like list: "on" and "off" stay, because they tell turning on from turning off."""


class LsaEncoder:
    """Deterministic dense text embeddings: TF-IDF → TruncatedSVD (latent semantic analysis) → unit length.

    It stands in for a pretrained sentence encoder. It learns that two words are related only from
    the texts it is fitted on, and it keeps only the frequent directions of the vocabulary, so a
    token that occurs a handful of times (an error code) barely moves a vector.
    """

    def __init__(self, n_components: int = 128, seed: int = 0) -> None:
        if n_components < 2:
            raise ValueError("n_components must be at least 2")
        self.n_components = n_components
        self.seed = seed
        self.vectorizer_: TfidfVectorizer | None = None
        self.svd_: TruncatedSVD | None = None

    def fit(self, texts: Sequence[str]) -> LsaEncoder:
        """Learn the vocabulary and the latent directions from ``texts``."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            token_pattern=TOKEN_PATTERN, stop_words=list(STOP_WORDS), sublinear_tf=True, min_df=2, dtype=np.float32
        )
        matrix = vectorizer.fit_transform(texts)
        dim = min(self.n_components, matrix.shape[1] - 1, matrix.shape[0] - 1)
        self.svd_ = TruncatedSVD(n_components=dim, random_state=self.seed).fit(matrix)
        self.vectorizer_ = vectorizer
        return self

    @property
    def explained_variance(self) -> float:
        """Share of the TF-IDF variance the kept directions explain."""
        if self.svd_ is None:
            raise ValueError("LsaEncoder is not fitted")
        return float(self.svd_.explained_variance_ratio_.sum())

    def transform(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit-length embeddings, one row per text (all-zero for a text with no known word)."""
        if self.vectorizer_ is None or self.svd_ is None:
            raise ValueError("LsaEncoder is not fitted; call fit(texts) first")
        return normalize_rows(self.svd_.transform(self.vectorizer_.transform(texts)))


def support_chunks(questions: Sequence[Question], chunks: Chunks) -> NDArray[np.int64]:
    """The chunk of each supporting sentence, one row per question, padded with −2 (never an id)."""
    width = max((len(q.support) for q in questions), default=1)
    table = np.full((len(questions), width), -2, dtype=np.int64)
    for row, question in enumerate(questions):
        table[row, : len(question.support)] = chunks.chunk_of_sentence[list(question.support)]
    return table


def support_recall_at_k(
    ranked_chunks: NDArray[np.int64], questions: Sequence[Question], chunks: Chunks, k: int
) -> NDArray[np.float64]:
    """Per question: share of its supporting sentences whose chunk is among the first k retrieved."""
    support = support_chunks(questions, chunks)
    hit = (support[:, :, None] == ranked_chunks[:, None, :k]).any(axis=2)
    return hit.sum(axis=1) / (support != -2).sum(axis=1)


def first_hit_reciprocal_rank(
    ranked_chunks: NDArray[np.int64], questions: Sequence[Question], chunks: Chunks
) -> NDArray[np.float64]:
    """Per question: 1 / rank of the first chunk holding any supporting sentence (0 if none retrieved)."""
    support = support_chunks(questions, chunks)
    relevant = (ranked_chunks[:, :, None] == support[:, None, :]).any(axis=2)
    first = np.argmax(relevant, axis=1)
    return np.where(relevant.any(axis=1), 1.0 / (first + 1), 0.0)


CODE_PATTERN = re.compile(r"\b(?:e-\d{4}|error \d{4})\b", re.IGNORECASE)
"""How customers quote an error code: "E-4012" or "error 4012"."""


def has_identifier(text: str) -> bool:
    """Whether a question quotes an error code, the case where exact matching matters most."""
    return CODE_PATTERN.search(text) is not None


def _minmax_rows(values: NDArray[np.float64], valid: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Scale each row's valid entries to [0, 1] (a row whose valid entries are all equal becomes 0)."""
    lo = np.where(valid, values, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, values, -np.inf).max(axis=1, keepdims=True)
    lo = np.where(np.isfinite(lo), lo, 0.0)
    span = np.where(np.isfinite(hi) & (hi > lo), hi - lo, 1.0)
    return np.where(valid, (values - lo) / span, 0.0)


def weighted_fusion(
    candidates: NDArray[np.int64],
    lexical: NDArray[np.float64],
    dense: NDArray[np.float64],
    alpha: float | NDArray[np.float64],
    depth: int,
) -> NDArray[np.int64]:
    """Rank each query's candidate ids by α · lexical + (1 − α) · dense, both min-max scaled per query.

    ``candidates`` may repeat an id (found by both retrievers) and hold −1 padding; ``alpha`` is one
    weight or one per query. Returns ``depth`` distinct ids per query, best first, −1 padded.
    """
    if candidates.shape != lexical.shape or candidates.shape != dense.shape:
        raise ValueError("candidates, lexical and dense must have the same shape")
    weight = np.broadcast_to(np.asarray(alpha, dtype=np.float64).reshape(-1, 1), (candidates.shape[0], 1))
    if np.any((weight < 0) | (weight > 1)):
        raise ValueError("alpha must lie in [0, 1]")
    valid = candidates >= 0
    order = np.argsort(np.where(valid, candidates, np.iinfo(np.int64).max), axis=1, kind="stable")
    ordered = np.take_along_axis(candidates, order, axis=1)
    repeat_sorted = np.zeros(candidates.shape, dtype=bool)
    repeat_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    repeat = np.zeros(candidates.shape, dtype=bool)
    np.put_along_axis(repeat, order, repeat_sorted, axis=1)
    keep = valid & ~repeat
    fused = weight * _minmax_rows(lexical, valid) + (1 - weight) * _minmax_rows(dense, valid)
    best = top_k(np.where(keep, fused, -np.inf), min(depth, candidates.shape[1]))
    return np.where(np.take_along_axis(keep, best, axis=1), np.take_along_axis(candidates, best, axis=1), -1)


def lexical_top(scores: NDArray[np.float32], depth: int) -> NDArray[np.int64]:
    """Top ``depth`` ids of a BM25 score matrix, −1 where a document shares no word with the query."""
    ids = top_k(scores, depth)
    return np.where(np.take_along_axis(scores, ids, axis=1) > 0, ids, -1)


def fusion_inputs(
    lexical_scores: NDArray[np.float32],
    lexical: NDArray[np.int64],
    dense: NDArray[np.int64],
    question_vectors: NDArray[np.float32],
    embeddings: NDArray[np.float32],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Both retrievers' candidates per question, with each candidate's BM25 score and dense cosine."""
    candidates = np.hstack([lexical, dense])
    safe = np.maximum(candidates, 0)
    cand_lexical = np.take_along_axis(lexical_scores, safe, axis=1).astype(np.float64)
    cand_dense = np.einsum("qd,qcd->qc", question_vectors, embeddings[safe]).astype(np.float64)
    return candidates, cand_lexical, cand_dense


# --- encoder training data ----------------------------------------------------------------------


def article_text(kb: KnowledgeBase, article: Article) -> str:
    """An article as one text: title, then each heading and its sentences."""
    lines = [article.title]
    for heading, ids in article.sections:
        lines.append(heading)
        lines.extend(kb.sentences[i] for i in ids)
    return "\n".join(lines)


def encoder_corpus(kb: KnowledgeBase, searches: Sequence[tuple[str, int]]) -> list[str]:
    """One text per article: the article plus every past search that clicked it (click-through expansion)."""
    clicked: dict[int, list[str]] = {}
    for query, article in searches:
        clicked.setdefault(article, []).append(query)
    return [article_text(kb, a) + "\n" + "\n".join(clicked.get(a.id, ())) for a in kb.articles]


def fit_encoder(corpus: Sequence[str], n_components: int, seed: int) -> LsaEncoder:
    """Fit the LSA encoder with BLAS on one thread: the matrices are small, and on a busy 2-core
    machine spinning BLAS threads make the SVD several times slower."""
    with single_threaded():
        return LsaEncoder(n_components, seed).fit(corpus)


# --- the retrieval experiment -------------------------------------------------------------------

SYSTEMS: tuple[str, ...] = ("lexical", "dense", "hybrid_rrf", "hybrid_weighted", "hybrid_routed")
SYSTEM_NAMES: dict[str, str] = {
    "lexical": "BM25 (lexical only)",
    "dense": "dense (LSA + faiss)",
    "hybrid_rrf": "hybrid: RRF",
    "hybrid_weighted": "hybrid: weighted",
    "hybrid_routed": "hybrid: weighted, codes routed",
}
ALPHA_GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
SCORE_BATCH = 512
"""Questions scored by BM25 at once."""


@dataclass
class RetrievalRun:
    """One chunking of the help centre, its indexes, and every system's ranked chunks per question."""

    chunks: Chunks
    rankings: dict[str, NDArray[np.int64]]
    """System → (questions × fusion_depth) chunk ids, −1 padded."""
    alpha: float
    """Weighted fusion's lexical weight, chosen on the dev questions."""
    alpha_code: float
    alpha_text: float
    """The routed variant's weights for questions with and without an error code."""
    build_seconds: float
    bm25: BM25Retriever
    dense_index: ExactRetriever
    embeddings: NDArray[np.float32]


def _best_alpha(recall_by_alpha: dict[float, float]) -> float:
    best = max(recall_by_alpha.values())
    # Among equally good weights, the most balanced one.
    return min((a for a, r in recall_by_alpha.items() if r >= best - 1e-12), key=lambda a: abs(a - 0.5))


def run_retrieval(
    kb: KnowledgeBase,
    encoder: LsaEncoder,
    questions: Sequence[Question],
    question_vectors: NDArray[np.float32],
    dev: NDArray[np.bool_],
    max_words: int,
    config: LlmDemoConfig,
    with_title: bool = True,
) -> RetrievalRun:
    """Chunk, index (BM25 + faiss), retrieve for every question, and fuse with weights set on dev."""
    started = time.perf_counter()
    chunks = chunk_articles(kb, max_words, with_title)
    bm25 = BM25Retriever(token_pattern=TOKEN_PATTERN, stop_words=STOP_WORDS).fit(chunks.texts)
    embeddings = encoder.transform(chunks.texts)
    dense_index = ExactRetriever()
    dense_index.fit(embeddings)
    build_seconds = time.perf_counter() - started

    depth = min(config.fusion_depth, len(chunks.texts))
    texts = [q.text for q in questions]
    _, dense = dense_index.search(question_vectors, depth)
    parts: list[tuple[NDArray[Any], ...]] = []
    # In batches, so a large help centre never holds a full questions × chunks score matrix.
    for start in range(0, len(texts), SCORE_BATCH):
        stop = start + SCORE_BATCH
        scores = bm25.score(texts[start:stop])
        top = lexical_top(scores, depth)
        parts.append((top, *fusion_inputs(scores, top, dense[start:stop], question_vectors[start:stop], embeddings)))
    lexical, candidates, cand_lexical, cand_dense = (np.concatenate(column) for column in zip(*parts, strict=True))

    def fuse(alpha: float | NDArray[np.float64], rows: NDArray[np.int64] | slice = slice(None)) -> NDArray[np.int64]:
        return weighted_fusion(candidates[rows], cand_lexical[rows], cand_dense[rows], alpha, depth)

    is_code = np.array([has_identifier(t) for t in texts])
    dev_rows = np.flatnonzero(dev)
    dev_questions = [questions[i] for i in dev_rows.tolist()]
    recall_by_alpha: dict[float, NDArray[np.float64]] = {
        a: support_recall_at_k(fuse(a, dev_rows), dev_questions, chunks, config.k) for a in ALPHA_GRID
    }
    code_dev = is_code[dev]
    alpha = _best_alpha({a: float(r.mean()) for a, r in recall_by_alpha.items()})
    alpha_code = _best_alpha(
        {a: float(r[code_dev].mean()) if code_dev.any() else 0.0 for a, r in recall_by_alpha.items()}
    )
    alpha_text = _best_alpha(
        {a: float(r[~code_dev].mean()) if (~code_dev).any() else 0.0 for a, r in recall_by_alpha.items()}
    )
    rankings = {
        "lexical": lexical,
        "dense": dense,
        "hybrid_rrf": reciprocal_rank_fusion([lexical, dense], depth, config.rrf_k),
        "hybrid_weighted": fuse(alpha),
        "hybrid_routed": fuse(np.where(is_code, alpha_code, alpha_text)),
    }
    return RetrievalRun(chunks, rankings, alpha, alpha_code, alpha_text, build_seconds, bm25, dense_index, embeddings)


# --- the generator stand-in ---------------------------------------------------------------------


class ExtractiveReader:
    """The stand-in for the LLM: copies the retrieved sentences that answer the question, nothing else.

    A small learned reader: logistic regression on hashed features (question word × heading word
    pairs, the sentence's words, the words it shares with the question, its place in its section),
    trained
    on the labelled supporting sentences of the dev questions. Numbers are folded into one token so
    "fix E-4012" teaches "fix" rather than one code. It can only be as good as retrieval, and being
    extractive it cannot invent anything; an LLM would paraphrase and connect the sentences instead.
    """

    def __init__(self, kb: KnowledgeBase, max_sentences: int = 4, seed: int = 0) -> None:
        if max_sentences < 1:
            raise ValueError("max_sentences must be positive")
        self.kb = kb
        self.max_sentences = max_sentences
        self.seed = seed
        self.heading_of: list[str] = [""] * len(kb.sentences)
        self.position_of = np.zeros(len(kb.sentences), dtype=np.int64)
        for article in kb.articles:
            for heading, ids in article.sections:
                for position, i in enumerate(ids):
                    self.heading_of[i] = heading
                    self.position_of[i] = position
        self.model_: Any = None
        self._cache: dict[int, tuple[list[str], list[str]]] = {}

    @staticmethod
    def _words(text: str) -> list[str]:
        return sorted({"<num>" if t.isdigit() else t for t in _content_tokens(text)})

    def _sentence_words(self, sid: int) -> tuple[list[str], list[str]]:
        if sid not in self._cache:
            self._cache[sid] = (self._words(self.kb.sentences[sid]), self._words(self.heading_of[sid]))
        return self._cache[sid]

    def _candidates(
        self, questions: Sequence[str], retrieved: NDArray[np.int64], chunks: Chunks
    ) -> tuple[list[list[str]], list[int], list[int]]:
        """Hashed-feature token lists, sentence ids and question rows of every retrieved sentence."""
        features: list[list[str]] = []
        sentence_ids: list[int] = []
        rows: list[int] = []
        for row, (question, ranked) in enumerate(zip(questions, retrieved, strict=True)):
            q_words = self._words(question)
            q_set = set(q_words)
            for rank, chunk in enumerate(ranked.tolist()):
                if chunk < 0:
                    continue
                for sid in chunks.sentences[chunk]:
                    s_words, h_words = self._sentence_words(sid)
                    shared = q_set.intersection(s_words)
                    tokens = [f"h:{q}|{h}" for q in q_words for h in h_words]
                    tokens += [f"w:{w}" for w in s_words] + [f"shared:{w}" for w in shared]
                    tokens += [
                        f"overlap:{min(3, len(shared))}",
                        f"heading_overlap:{min(2, len(q_set.intersection(h_words)))}",
                        f"position:{min(3, int(self.position_of[sid]))}",
                        f"rank:{min(rank, 3)}",
                    ]
                    features.append(tokens)
                    sentence_ids.append(sid)
                    rows.append(row)
        return features, sentence_ids, rows

    def _matrix(self, features: list[list[str]]) -> Any:
        from sklearn.feature_extraction import FeatureHasher

        return FeatureHasher(n_features=2**18, input_type="string", alternate_sign=False).transform(features)

    def fit(self, questions: Sequence[Question], retrieved: NDArray[np.int64], chunks: Chunks) -> ExtractiveReader:
        """Learn which retrieved sentences answer a question from labelled questions and their retrievals."""
        from sklearn.linear_model import SGDClassifier

        features, sentence_ids, rows = self._candidates([q.text for q in questions], retrieved, chunks)
        labels = np.array([sid in questions[row].support for sid, row in zip(sentence_ids, rows, strict=True)])
        if labels.all() or not labels.any():
            raise ValueError("the training retrievals need both supporting and other sentences")
        # Logistic loss by SGD: the same model as LogisticRegression, a hundred times faster on these rows.
        self.model_ = SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=30, tol=None, random_state=self.seed)
        self.model_.fit(self._matrix(features), labels)
        return self

    def answer(self, questions: Sequence[str], retrieved: NDArray[np.int64], chunks: Chunks) -> list[tuple[int, ...]]:
        """Sentence ids of each answer, in document order: every retrieved sentence the reader believes
        answers the question (at most ``max_sentences``), or the single most likely one."""
        if self.model_ is None:
            raise ValueError("ExtractiveReader is not fitted; call fit(...) first")
        features, sentence_ids, rows = self._candidates(questions, retrieved, chunks)
        answers: list[tuple[int, ...]] = [()] * len(questions)
        if not features:
            return answers
        probability = self.model_.predict_proba(self._matrix(features))[:, 1]
        ids, owners = np.asarray(sentence_ids), np.asarray(rows)
        for row in np.unique(owners).tolist():
            mine = np.flatnonzero(owners == row)
            ranked = mine[np.argsort(-probability[mine], kind="stable")]
            keep = ranked[probability[ranked] >= 0.5][: self.max_sentences]
            chosen = keep if keep.size else ranked[:1]
            answers[row] = tuple(sorted(set(ids[chosen].tolist())))
        return answers


def answer_support_recall(answers: Sequence[tuple[int, ...]], questions: Sequence[Question]) -> NDArray[np.float64]:
    """Per question: share of its supporting sentences the answer contains."""
    return np.array([np.isin(q.support, a).mean() if a else 0.0 for a, q in zip(answers, questions, strict=True)])


# --- groundedness -------------------------------------------------------------------------------

INJECTION_KINDS: tuple[str, ...] = ("wrong detail", "other article", "made up")
"""Unsupported sentences slipped into answers: a retrieved sentence with one detail changed (number,
plan, role, menu, code); a real sentence from an article that was not retrieved; a plausible claim
that no article makes."""
MADE_UP: tuple[str, ...] = (
    "Clearing your browser cache and cookies usually fixes this.",
    "This feature is free on every plan.",
    "Support can turn this on for you within 24 hours.",
    "You can also do this from the mobile app under Account > Advanced.",
    "Reinstalling the app resets this to its default.",
    "The change applies to every workspace in your organisation at once.",
    "Most customers see this only on the first day after an upgrade.",
    "An administrator has to approve the request by email first.",
)
_REWORDINGS: tuple[tuple[str, str], ...] = (
    ("Open ", "Go to "),
    ("click ", "select "),
    ("Click ", "Select "),
    ("switch the toggle to On", "turn the toggle on"),
    ("Choose ", "Pick "),
    ("try again", "retry"),
    ("You need", "You will need"),
    ("Only members with", "Only people with"),
    ("is available on", "comes with"),
    ("Changes take effect", "The change takes effect"),
    ("contact support", "get in touch with support"),
    ("on every device", "on all your devices"),
)
_MENUS = tuple(sorted({s.menu for s in SETTINGS}))
_DETAIL = re.compile(r"\d+|[A-Z][\w-]*")


def reword(sentence: str, rng: np.random.Generator) -> str:
    """A meaning-preserving rewording, as an LLM might phrase a retrieved sentence in its answer."""
    text = sentence
    for old, new in _REWORDINGS:
        if old in text and rng.random() < 0.7:
            text = text.replace(old, new, 1)
    for setting in SETTINGS:
        # Sometimes the model names the setting by another of its names.
        if setting.name in text.lower() and rng.random() < 0.3:
            text = re.sub(re.escape(setting.name), setting.aliases[0], text, count=1, flags=re.IGNORECASE)
    if rng.random() < 0.3:
        text = (
            _pick(rng, ("First, ", "Then ", "Next, ", "To do this, ", "According to the article, "))
            + text[:1].lower()
            + text[1:]
        )
    return text


def swap_detail(sentence: str, rng: np.random.Generator) -> str | None:
    """The sentence with one checkable detail changed (number, code, plan, role or menu), or None."""
    options: list[tuple[re.Match[str], list[str]]] = []
    for match in re.finditer(r"E-\d{4}", sentence):
        options.append((match, [f"E-{int(rng.integers(1000, 10_000))}"]))
    for match in re.finditer(r"(?<![\w-])\d{1,3}(?![\w-])", sentence):
        value = int(match.group())
        options.append((match, [str(v) for v in (value * 2, value + 10, max(1, value // 2) + 3) if v != value]))
    for words in (PLANS, ROLES, _MENUS):
        for word in words:
            for match in re.finditer(rf"\b{re.escape(word)}\b", sentence):
                options.append((match, [w for w in words if w != word]))
    if not options:
        return None
    match, replacements = options[int(rng.integers(len(options)))]
    return sentence[: match.start()] + _pick(rng, replacements) + sentence[match.end() :]


def _content_tokens(text: str) -> set[str]:
    return {t for t in re.findall(TOKEN_PATTERN, text.lower()) if t not in STOP_WORDS}


def _details(text: str) -> set[str]:
    """Checkable specifics: numbers, codes and capitalised words after the first word."""
    words = text.split(maxsplit=1)
    rest = words[1] if len(words) > 1 else ""
    return {t for span in _DETAIL.findall(rest) for t in _content_tokens(span)}


class GroundednessChecker:
    """Flags answer sentences the retrieved passages do not support.

    Support of a sentence = the best, over retrieved sentences, of ½ · word coverage (share of its
    content words in the passage sentence) + ½ · dense cosine; a sentence naming a number, code or
    name that appears nowhere in the retrieved text gets support 0. Sentences with support below the
    threshold are flagged. A transparent stand-in for an NLI model or an LLM judge.
    """

    def __init__(self, encoder: LsaEncoder, threshold: float = 0.5) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self._vectors: dict[str, NDArray[np.float32]] = {}
        self._tokens: dict[str, set[str]] = {}

    def prepare(self, texts: Sequence[str]) -> None:
        """Embed and tokenise texts ahead of time, in one batch (retrieved passages can be cached)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.encoder.transform(missing), strict=True))
            self._tokens.update((t, _content_tokens(t)) for t in missing)

    def clear(self) -> None:
        """Forget prepared texts."""
        self._vectors.clear()
        self._tokens.clear()

    def support(self, sentences: Sequence[str], context: Sequence[str]) -> NDArray[np.float64]:
        """Support score in [0, 1] of each answer sentence against the context sentences."""
        if not sentences:
            return np.zeros(0)
        if not context:
            return np.zeros(len(sentences))
        self.prepare([*sentences, *context])
        context_tokens = [self._tokens[c] for c in context]
        context_words = set().union(*context_tokens)
        cosine = np.array([self._vectors[t] for t in sentences]) @ np.array([self._vectors[c] for c in context]).T
        scores = np.zeros(len(sentences))
        for i, sentence in enumerate(sentences):
            if not _details(sentence) <= context_words:
                continue
            tokens = self._tokens[sentence]
            coverage = np.array([len(tokens & c) / max(1, len(tokens)) for c in context_tokens])
            scores[i] = float(np.max(0.5 * coverage + 0.5 * np.clip(cosine[i], 0.0, 1.0)))
        return scores

    def flag(self, sentences: Sequence[str], context: Sequence[str]) -> NDArray[np.bool_]:
        """True for each sentence the context does not support."""
        return self.support(sentences, context) < self.threshold


@dataclass(frozen=True)
class LabelledAnswer:
    """An answer as the LLM might write it, with the truth about each sentence."""

    question: int
    sentences: tuple[str, ...]
    unsupported: tuple[bool, ...]
    kinds: tuple[str, ...]
    """"grounded" or one of INJECTION_KINDS, per sentence."""
    context: tuple[str, ...]
    """The retrieved sentences the answer must stay within."""


def make_labelled_answers(
    kb: KnowledgeBase,
    answers: Sequence[tuple[int, ...]],
    retrieved: NDArray[np.int64],
    chunks: Chunks,
    rows: Sequence[int],
    rng: np.random.Generator,
    inject_share: float = 0.5,
) -> list[LabelledAnswer]:
    """Reworded extractive answers, about half with one unsupported sentence injected at a random place."""
    fact_sentences = sorted({s for ids in kb.facts.values() for s in ids})
    labelled: list[LabelledAnswer] = []
    for row in rows:
        picked = answers[row]
        if not picked:
            continue
        context_ids = [s for c in retrieved[row] if c >= 0 for s in chunks.sentences[c]]
        context = tuple(kb.sentences[s] for s in context_ids)
        seen = set(context)
        sentences = [reword(kb.sentences[s], rng) for s in picked]
        if len(sentences) >= 2 and rng.random() < 0.3:
            # LLMs also join steps into one sentence, which no single passage sentence covers.
            at = int(rng.integers(len(sentences) - 1))
            joined = f"{sentences[at].rstrip('.')}, then {sentences[at + 1][:1].lower()}{sentences[at + 1][1:]}"
            sentences[at : at + 2] = [joined]
        unsupported = [False] * len(sentences)
        kinds = ["grounded"] * len(sentences)
        if rng.random() < inject_share:
            kind = INJECTION_KINDS[int(rng.integers(len(INJECTION_KINDS)))]
            fake: str | None = None
            if kind == "wrong detail":
                for s in rng.permutation(context_ids[: 4 * len(picked)] or context_ids).tolist():
                    fake = swap_detail(kb.sentences[s], rng)
                    if fake is not None and fake not in seen:
                        break
                    fake = None
            elif kind == "other article":
                retrieved_articles = set(chunks.article[retrieved[row][retrieved[row] >= 0]].tolist())
                for _ in range(50):
                    s = fact_sentences[int(rng.integers(len(fact_sentences)))]
                    if kb.sentence_article[s] not in retrieved_articles and kb.sentences[s] not in seen:
                        fake = kb.sentences[s]
                        break
            else:
                fake = _pick(rng, MADE_UP)
            if fake is not None:
                at = int(rng.integers(len(sentences) + 1))
                sentences.insert(at, fake)
                unsupported.insert(at, True)
                kinds.insert(at, kind)
        labelled.append(LabelledAnswer(row, tuple(sentences), tuple(unsupported), tuple(kinds), context))
    return labelled


# --- cost and latency ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LlmTier:
    """Assumed price and latency of one hosted LLM class (not measured: no model runs here)."""

    name: str
    usd_per_1k_input: float
    usd_per_1k_output: float
    overhead_ms: float
    """Network, queueing and the first decoding step."""
    prefill_ms_per_1k: float
    """Time to read 1K prompt tokens before the first answer token."""
    ms_per_output_token: float

    def cost(self, tokens_in: float, tokens_out: float) -> float:
        """Dollars for one call."""
        return tokens_in / 1000 * self.usd_per_1k_input + tokens_out / 1000 * self.usd_per_1k_output

    def time_to_first_token_ms(self, tokens_in: float) -> float:
        """Simulated milliseconds from the call to the first answer token (linear in prompt length)."""
        return self.overhead_ms + tokens_in / 1000 * self.prefill_ms_per_1k


TIERS: tuple[LlmTier, ...] = (
    LlmTier("large LLM", 0.0025, 0.010, 350.0, 120.0, 25.0),
    LlmTier("small LLM", 0.00015, 0.0006, 200.0, 40.0, 8.0),
)
"""Round numbers in the range of today's hosted-model list prices and speeds; change them freely."""
PROMPT_OVERHEAD_TOKENS = 300
"""System prompt, instructions and citation format sent with every question."""
OUTPUT_TOKENS = 250
"""Assumed length of an answer."""
QUESTIONS_PER_DAY = 150_000
BUDGET_USD = 0.02
TTFT_BUDGET_MS = 1_500.0
REAL_SCALE = {"articles": 32_000, "tokens": 40_000_000, "questions_per_day": QUESTIONS_PER_DAY}
"""The prompt's real-world numbers, which the demo scales down."""


# --- the run ------------------------------------------------------------------------------------

_STAGES: tuple[tuple[str, float], ...] = (
    ("Writing the help centre", 1),
    ("Simulating questions and past searches", 1),
    ("Fitting the dense encoder (LSA)", 1),
    ("Chunking, indexing and retrieving at each chunk size", 5),
    ("Answering and checking groundedness", 2),
    ("Measuring retrieval latency", 1),
)
HYBRIDS: tuple[str, ...] = ("hybrid_rrf", "hybrid_weighted", "hybrid_routed")
LATENCY_CHECKS = 50
"""Answers whose groundedness check is timed from cold."""


@dataclass
class LlmResults:
    """Everything one run measured; the report is built from this and nothing else."""

    config: LlmDemoConfig
    stage_seconds: dict[str, float]
    kb_stats: dict[str, float]
    question_counts: dict[str, dict[str, int]]
    """Kind → {"dev": n, "test": n}."""
    examples: list[tuple[str, str, str]]
    """(kind, question, first supporting sentence) per kind."""
    encoder: dict[str, float]
    retrieval: dict[str, dict[str, float]]
    """System → recall@1/5/10 and MRR on the test questions (default chunking)."""
    recall_by_kind: dict[str, dict[str, float]]
    """Question kind → system → recall@k on the test questions."""
    fusion: dict[str, float]
    chosen: str
    """The hybrid with the best dev recall@k (reported on test)."""
    chunking: list[dict[str, float]]
    no_title: dict[str, float]
    dense_without_clicks: dict[str, float]
    """Question kind → dense recall@k with an encoder fitted on the articles alone."""
    answers: dict[str, float]
    groundedness: dict[str, Any]
    example_answer: dict[str, Any]
    cost: list[dict[str, Any]]
    latency: dict[str, dict[str, float]]
    index_build_seconds: float
    n_chunks: int


def _recall_table(
    run: RetrievalRun, questions: Sequence[Question], rows: NDArray[np.int64], k: int
) -> dict[str, dict[str, float]]:
    test_questions = [questions[i] for i in rows]
    table: dict[str, dict[str, float]] = {}
    for system, ranked in run.rankings.items():
        part = ranked[rows]
        table[system] = {
            "recall_at_1": float(support_recall_at_k(part, test_questions, run.chunks, 1).mean()),
            f"recall_at_{k}": float(support_recall_at_k(part, test_questions, run.chunks, k).mean()),
            "recall_at_10": float(support_recall_at_k(part, test_questions, run.chunks, 10).mean()),
            "mrr": float(first_hit_reciprocal_rank(part, test_questions, run.chunks).mean()),
        }
    return table


def _by_kind(values: NDArray[np.float64], kinds: NDArray[np.str_]) -> dict[str, float]:
    return {kind: float(values[kinds == kind].mean()) if np.any(kinds == kind) else 0.0 for kind in QUESTION_KINDS}


def _tokens(text: str) -> float:
    return len(text.split()) * TOKENS_PER_WORD


def _groundedness(
    checker: GroundednessChecker, labelled: Sequence[LabelledAnswer], dev_questions: NDArray[np.bool_]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    """Score every labelled sentence, pick the threshold on dev answers (best F1), report on test."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, precision_score, recall_score

    # Latency of a cold check (nothing cached), as for a new answer, on a sample of answers.
    check_ms: list[float] = []
    for item in labelled[:LATENCY_CHECKS]:
        checker.clear()
        started = time.perf_counter()
        checker.support(item.sentences, item.context)
        check_ms.append((time.perf_counter() - started) * 1e3)
    checker.prepare([text for item in labelled for text in (*item.sentences, *item.context)])
    support: list[float] = []
    truth: list[bool] = []
    kinds: list[str] = []
    answer_of: list[int] = []
    for index, item in enumerate(labelled):
        support.extend(checker.support(item.sentences, item.context).tolist())
        truth.extend(item.unsupported)
        kinds.extend(item.kinds)
        answer_of.extend([index] * len(item.sentences))
    score = 1.0 - np.asarray(support)
    y = np.asarray(truth)
    kind = np.asarray(kinds)
    answers = np.asarray(answer_of)
    dev = np.array([dev_questions[item.question] for item in labelled])[answers]
    precision, recall, thresholds = precision_recall_curve(y[dev], score[dev])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1])) if thresholds.size else 0
    cut = float(thresholds[best]) if thresholds.size else 0.5
    checker.threshold = 1.0 - cut + 1e-12  # flag when 1 − support >= cut, i.e. support < threshold
    flagged = score >= cut
    test = ~dev
    answer_truth = np.zeros(len(labelled), dtype=bool)
    answer_flag = np.zeros(len(labelled), dtype=bool)
    np.logical_or.at(answer_truth, answers, y)
    np.logical_or.at(answer_flag, answers, flagged)
    answer_test = np.array([not dev_questions[item.question] for item in labelled])
    result: dict[str, Any] = {
        "support_threshold": 1.0 - cut,
        "sentences": {"dev": int(dev.sum()), "test": int(test.sum()), "unsupported_test": int(y[test].sum())},
        "precision": float(precision_score(y[test], flagged[test], zero_division=0)),
        "recall": float(recall_score(y[test], flagged[test], zero_division=0)),
        "average_precision": float(average_precision_score(y[test], score[test])) if y[test].any() else 0.0,
        "catch_rate": {
            k: float(flagged[test & (kind == k)].mean()) if np.any(test & (kind == k)) else 0.0 for k in INJECTION_KINDS
        },
        "false_flag_rate": float(flagged[test & ~y].mean()) if np.any(test & ~y) else 0.0,
        "answers": {
            "test": int(answer_test.sum()),
            "precision": float(precision_score(answer_truth[answer_test], answer_flag[answer_test], zero_division=0)),
            "recall": float(recall_score(answer_truth[answer_test], answer_flag[answer_test], zero_division=0)),
        },
    }
    result["f1"] = 2 * result["precision"] * result["recall"] / max(result["precision"] + result["recall"], 1e-12)
    # The example: a test answer with an injected sentence, flagged or not, shown sentence by sentence.
    example: dict[str, Any] = {}
    for index, item in enumerate(labelled):
        if answer_test[index] and answer_truth[index] and len(item.sentences) >= 3:
            mask = answers == index
            example = {
                "question": item.question,
                "sentences": list(item.sentences),
                "kinds": list(item.kinds),
                "support": [float(v) for v in np.asarray(support)[mask]],
                "flagged": [bool(v) for v in flagged[mask]],
            }
            break
    return result, example, metrics.latency_percentiles(check_ms) if check_ms else {"p50": 0.0, "p99": 0.0}


def simulate_llm(config: LlmDemoConfig, progress: ProgressCallback | None = None) -> LlmResults:
    """Run the whole scenario on a help centre built from ``config`` and return what it measured."""
    stages = Stages(progress, _STAGES)
    lap, stage_seconds = stages.lap, stages.seconds

    seed, k = config.seed, config.k
    stages.start("Writing the help centre")
    kb = build_knowledge_base(config)
    lap("knowledge_base")

    stages.start("Simulating questions and past searches")
    questions = make_questions(kb, config.n_questions, rng_for(seed, "llm/questions"))
    searches = make_search_log(kb, config.n_searches, rng_for(seed, "llm/search-log"))
    n_dev = config.n_questions // 3
    dev = np.arange(config.n_questions) < n_dev
    test_rows = np.flatnonzero(~dev)
    test_questions = [questions[i] for i in test_rows]
    kinds = np.array([q.kind for q in questions])
    test_kinds = kinds[test_rows]
    lap("questions")

    stages.start("Fitting the dense encoder (LSA)")
    encoder = fit_encoder(encoder_corpus(kb, searches), config.encoder_dim, seed)
    texts = [q.text for q in questions]
    question_vectors = encoder.transform(texts)
    lap("encoder")

    stages.start("Chunking, indexing and retrieving at each chunk size")
    runs = {
        size: run_retrieval(kb, encoder, questions, question_vectors, dev, size, config) for size in config.chunk_sweep
    }
    main = runs[config.chunk_words]
    untitled = run_retrieval(
        kb, encoder, questions, question_vectors, dev, config.chunk_words, config, with_title=False
    )
    dev_questions = [questions[i] for i in np.flatnonzero(dev)]
    dev_recall = {
        h: float(support_recall_at_k(main.rankings[h][dev], dev_questions, main.chunks, k).mean()) for h in HYBRIDS
    }
    chosen = max(HYBRIDS, key=lambda h: (dev_recall[h], -HYBRIDS.index(h)))
    retrieval = _recall_table(main, questions, test_rows, k)
    recall_by_kind: dict[str, dict[str, float]] = {kind: {} for kind in QUESTION_KINDS}
    for system, ranked in main.rankings.items():
        per_question = support_recall_at_k(ranked[test_rows], test_questions, main.chunks, k)
        for kind, value in _by_kind(per_question, test_kinds).items():
            recall_by_kind[kind][system] = value

    def sweep_row(run: RetrievalRun) -> dict[str, float]:
        row: dict[str, float] = {
            "words": float(run.chunks.max_words),
            "chunks": float(len(run.chunks.texts)),
            "tokens_per_chunk": float(run.chunks.tokens.mean()),
        }
        for system in ("lexical", "dense", chosen):
            row[system] = float(
                support_recall_at_k(run.rankings[system][test_rows], test_questions, run.chunks, k).mean()
            )
        row["mrr"] = float(
            first_hit_reciprocal_rank(run.rankings[chosen][test_rows], test_questions, run.chunks).mean()
        )
        top = run.rankings[chosen][test_rows, :k]
        row["context_tokens"] = float(np.mean([run.chunks.tokens[r[r >= 0]].sum() for r in top]))
        return row

    chunking = [sweep_row(runs[size]) for size in config.chunk_sweep]
    no_title = sweep_row(untitled)
    # What the encoder owes to the click log: the same encoder fitted on the articles alone.
    plain = fit_encoder(encoder_corpus(kb, []), config.encoder_dim, seed)
    _, plain_dense = (
        ExactRetriever()
        .fit(plain.transform(main.chunks.texts))
        .search(plain.transform([q.text for q in test_questions]), k)
    )
    dense_without_clicks = _by_kind(support_recall_at_k(plain_dense, test_questions, main.chunks, k), test_kinds)
    dense_without_clicks["all"] = float(support_recall_at_k(plain_dense, test_questions, main.chunks, k).mean())
    lap("retrieval")

    stages.start("Answering and checking groundedness")
    dev_rows = np.flatnonzero(dev)
    top_k_chunks = {system: ranked[:, :k] for system, ranked in main.rankings.items()}
    reader = ExtractiveReader(kb, seed=seed).fit(dev_questions, top_k_chunks[chosen][dev_rows], main.chunks)
    # The groundedness set: answers to some dev questions (to set the threshold) and test questions.
    n_dev_answers = min(dev_rows.size, config.groundedness_answers // 3)
    answer_test_rows = test_rows[: config.groundedness_answers - n_dev_answers]
    answer_test_questions = [questions[i] for i in answer_test_rows]
    answers_by_system: dict[str, float] = {}
    for system in ("lexical", "dense", chosen):
        picked = reader.answer(
            [texts[i] for i in answer_test_rows], top_k_chunks[system][answer_test_rows], main.chunks
        )
        answers_by_system[system] = float(answer_support_recall(picked, answer_test_questions).mean())
    rows = np.concatenate([dev_rows[:n_dev_answers], answer_test_rows])
    all_answers: list[tuple[int, ...]] = [()] * len(questions)
    for row, picked_ids in zip(
        rows.tolist(), reader.answer([texts[i] for i in rows], top_k_chunks[chosen][rows], main.chunks), strict=True
    ):
        all_answers[row] = picked_ids
    labelled = make_labelled_answers(
        kb, all_answers, top_k_chunks[chosen], main.chunks, rows.tolist(), rng_for(seed, "llm/answers")
    )
    checker = GroundednessChecker(encoder)
    groundedness, example, check_ms = _groundedness(checker, labelled, dev)
    if example:
        example["question_text"] = texts[example["question"]]
    lap("groundedness")

    stages.start("Measuring retrieval latency")
    latency = _measure_latency(main, encoder, [texts[i] for i in test_rows], config, chosen)
    latency["groundedness_check"] = check_ms
    cost = _cost_rows(runs, main, test_rows, test_questions, texts, config, chosen)
    lap("latency")
    stages.finish()

    how_to = sum(1 for a in kb.articles if a.kind == "how-to")
    n_words = kb.n_words
    return LlmResults(
        config=config,
        stage_seconds=stage_seconds,
        kb_stats={
            "articles": float(len(kb.articles)),
            "how_to": float(how_to),
            "error": float(len(kb.articles) - how_to),
            "products": float(len(kb.products)),
            "error_codes": float(len(kb.codes)),
            "sentences": float(len(kb.sentences)),
            "words": float(n_words),
            "tokens": float(n_words * TOKENS_PER_WORD),
            "searches": float(len(searches)),
        },
        question_counts={
            kind: {"dev": int(np.sum(dev & (kinds == kind))), "test": int(np.sum(~dev & (kinds == kind)))}
            for kind in QUESTION_KINDS
        },
        examples=[
            (q.kind, q.text, kb.sentences[q.support[0]])
            for q in [
                next(q for q in test_questions if q.kind == kind) for kind in QUESTION_KINDS if kind in test_kinds
            ]
        ],
        encoder={
            "dim": float(encoder.svd_.n_components if encoder.svd_ is not None else 0),
            "explained_variance": encoder.explained_variance,
            "vocabulary": float(len(encoder.vectorizer_.vocabulary_) if encoder.vectorizer_ is not None else 0),
        },
        retrieval=retrieval,
        recall_by_kind=recall_by_kind,
        fusion={
            "alpha": main.alpha,
            "alpha_code": main.alpha_code,
            "alpha_text": main.alpha_text,
            "rrf_k": float(config.rrf_k),
            **{f"dev_recall_{h}": dev_recall[h] for h in HYBRIDS},
        },
        chosen=chosen,
        chunking=chunking,
        no_title=no_title,
        dense_without_clicks=dense_without_clicks,
        answers=answers_by_system,
        groundedness=groundedness,
        example_answer=example,
        cost=cost,
        latency=latency,
        index_build_seconds=main.build_seconds,
        n_chunks=len(main.chunks.texts),
    )


def _measure_latency(
    run: RetrievalRun, encoder: LsaEncoder, texts: Sequence[str], config: LlmDemoConfig, chosen: str
) -> dict[str, dict[str, float]]:
    """Serve questions one at a time, as the endpoint would, and time each retrieval stage."""
    depth = min(config.fusion_depth, len(run.chunks.texts))
    n = min(config.latency_queries, len(texts))
    warmup = min(5, n)
    names = ("embed_query", "dense_search", "bm25", "fusion", "retrieval_total")
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in [*range(warmup), *range(n)]:
        text = texts[i]
        t0 = time.perf_counter()
        vector = encoder.transform([text])
        t1 = time.perf_counter()
        _, dense = run.dense_index.search(vector, depth)
        t2 = time.perf_counter()
        scores = run.bm25.score([text])
        lexical = lexical_top(scores, depth)
        t3 = time.perf_counter()
        if chosen == "hybrid_rrf":
            reciprocal_rank_fusion([lexical, dense], depth, config.rrf_k)
        else:
            alpha = (
                run.alpha
                if chosen == "hybrid_weighted"
                else (run.alpha_code if has_identifier(text) else run.alpha_text)
            )
            weighted_fusion(*fusion_inputs(scores, lexical, dense, vector, run.embeddings), alpha, depth)
        t4 = time.perf_counter()
        for name, value in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
            samples[name].append(value * 1e3)
    return {name: metrics.latency_percentiles(values[warmup:]) for name, values in samples.items()}


def _cost_rows(
    runs: dict[int, RetrievalRun],
    main: RetrievalRun,
    test_rows: NDArray[np.int64],
    test_questions: Sequence[Question],
    texts: Sequence[str],
    config: LlmDemoConfig,
    chosen: str,
) -> list[dict[str, Any]]:
    """Prompt size, recall, cost and the LLM's simulated latency for each context configuration."""
    question_tokens = float(np.mean([_tokens(texts[i]) for i in test_rows]))
    settings = [(config.chunk_words, kk) for kk in (1, 3, config.k, 10, 20) if kk <= main.rankings[chosen].shape[1]]
    settings += [(size, config.k) for size in config.chunk_sweep if size != config.chunk_words]
    rows: list[dict[str, Any]] = []
    for size, kk in dict.fromkeys(settings):
        run = runs[size]
        top = run.rankings[chosen][test_rows, :kk]
        context = float(np.mean([run.chunks.tokens[r[r >= 0]].sum() for r in top]))
        tokens_in = PROMPT_OVERHEAD_TOKENS + question_tokens + context
        rows.append(
            {
                "chunk_words": size,
                "k": kk,
                "tokens_in": tokens_in,
                "recall": float(
                    support_recall_at_k(run.rankings[chosen][test_rows], test_questions, run.chunks, kk).mean()
                ),
                "usd_per_question": {tier.name: tier.cost(tokens_in, OUTPUT_TOKENS) for tier in TIERS},
                "usd_per_day": {tier.name: tier.cost(tokens_in, OUTPUT_TOKENS) * QUESTIONS_PER_DAY for tier in TIERS},
                "llm_ttft_ms_simulated": {tier.name: tier.time_to_first_token_ms(tokens_in) for tier in TIERS},
                "llm_answer_ms_simulated": {
                    tier.name: tier.time_to_first_token_ms(tokens_in) + OUTPUT_TOKENS * tier.ms_per_output_token
                    for tier in TIERS
                },
            }
        )
    return rows


# --- the report ---------------------------------------------------------------------------------

KIND_NOTES: dict[str, str] = {
    "error code": "quotes an error code",
    "doc wording": "names the setting as the docs do",
    "alias": "uses another name the docs mention now and then",
    "colloquial": "describes the setting in a customer's words",
}


def _usd(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.0f}"


def _context_label(row: dict[str, Any]) -> str:
    return f"{row['k']} × {row['chunk_words']}-word chunks"


def build_report(results: LlmResults) -> DemoReport:
    """Turn a run's measurements into the seven-step report (formatting only, no new measurement)."""
    from mlsd_coach.demo.report import BarChart, DemoReport, Headline, KeyValues, Section, Table, Text

    r, cfg = results, results.config
    k = cfg.k
    chosen, chosen_name = r.chosen, SYSTEM_NAMES[r.chosen]
    recall_key = f"recall_at_{k}"
    lexical, hybrid = r.retrieval["lexical"][recall_key], r.retrieval[chosen][recall_key]
    rrf = r.retrieval["hybrid_rrf"][recall_key]
    kb = r.kb_stats
    default_row = next(row for row in r.chunking if row["words"] == cfg.chunk_words)
    default_cost = next(row for row in r.cost if row["k"] == k and row["chunk_words"] == cfg.chunk_words)
    default_usd = default_cost["usd_per_question"]
    large, small = TIERS[0].name, TIERS[1].name
    g = r.groundedness
    n_test = sum(c["test"] for c in r.question_counts.values())
    n_dev = sum(c["dev"] for c in r.question_counts.values())

    clarify = Section(
        "clarify",
        (
            Text(
                "An assistant that answers customers from the help centre and product docs, cites its sources, "
                "and hands off to a human when unsure. The numbers that shape the design, real and scaled down:"
            ),
            Table(
                ("", "real system (the prompt)", "this demo"),
                (
                    (
                        "articles",
                        f"{REAL_SCALE['articles']:,}",
                        f"{kb['articles']:,.0f} across {kb['products']:.0f} products",
                    ),
                    ("tokens in the docs", f"~{REAL_SCALE['tokens'] / 1e6:.0f}M", f"~{kb['tokens'] / 1e3:,.0f}K"),
                    (
                        "questions",
                        f"{QUESTIONS_PER_DAY:,} a day",
                        f"{n_dev + n_test:,} labelled ({n_dev:,} dev, {n_test:,} test)",
                    ),
                    ("first token", f"< {TTFT_BUDGET_MS / 1000:.1f} s at p95", "retrieval measured, LLM simulated"),
                    ("cost", f"≤ {BUDGET_USD * 100:.0f} cents a question", "tokens × assumed prices"),
                ),
            ),
            Text(
                "[bold]Stand-ins, said up front.[/bold] No model is downloaded. The dense encoder is LSA "
                f"(TF-IDF → {r.encoder['dim']:.0f}-dim TruncatedSVD) fitted on the articles plus "
                f"{kb['searches']:,.0f} past searches and the articles they clicked; it plays a pretrained sentence "
                "encoder. The 'generator' is an extractive reader (logistic regression choosing retrieved "
                "sentences): it copies, where an LLM would write. Tokens ≈ "
                f"{TOKENS_PER_WORD} × words. LLM prices and LLM latency are assumptions (two tiers); retrieval "
                "latency, recall, MRR and the groundedness check's precision/recall are measured."
            ),
        ),
    )

    frame = Section(
        "frame",
        (
            Text(
                "Retrieval-augmented generation, not fine-tuning: the docs change weekly and every answer must "
                "cite them. Retrieval is ranking (question → chunks), judged against the sentences that answer "
                "each question; generation must stay inside the retrieved text; the groundedness check is a "
                "binary classifier over answer sentences (supported or not). Its errors are not equal: a missed "
                "hallucination can break a customer's setup, a false flag only sends the question to an agent."
            ),
            Table(
                ("stage", "here", "in production"),
                (
                    (
                        "chunking",
                        f"sentence-aligned, {cfg.chunk_words} words, 'title › heading' prefix",
                        "same idea, ~300–500 tokens",
                    ),
                    ("lexical", "BM25 (k1 1.2, b 0.75)", "BM25 in the search engine"),
                    ("dense", f"LSA {r.encoder['dim']:.0f}-d + faiss exact inner product", "trained encoder + HNSW"),
                    ("fusion", "score fusion, weights set on dev", "same, then a cross-encoder re-rank"),
                    ("generator", "extractive reader (copies sentences)", "LLM writing a cited answer"),
                    ("groundedness", "word coverage + cosine + detail check", "NLI model / LLM judge on human labels"),
                ),
            ),
        ),
    )

    examples = tuple((kind, question, support) for kind, question, support in r.examples)
    data = Section(
        "data",
        (
            KeyValues(
                (
                    (
                        "articles",
                        f"{kb['articles']:,.0f}: {kb['how_to']:,.0f} how-to (settings), {kb['error']:,.0f} error codes",
                    ),
                    (
                        "products",
                        f"{kb['products']:.0f}, each with {cfg.settings_per_product} of {len(SETTINGS)} settings",
                    ),
                    ("sentences", f"{kb['sentences']:,.0f} ({kb['words']:,.0f} words, ~{kb['tokens']:,.0f} tokens)"),
                    ("chunks", f"{r.n_chunks:,} at {cfg.chunk_words} words"),
                    (
                        "past searches",
                        f"{kb['searches']:,.0f}, with the clicked article (1 in 5 a mis-click), no passage labels",
                    ),
                ),
                title="The help centre (generated from templates)",
            ),
            Table(
                ("question kind", "what it does", "dev", "test"),
                tuple(
                    (kind, KIND_NOTES[kind], str(r.question_counts[kind]["dev"]), str(r.question_counts[kind]["test"]))
                    for kind in QUESTION_KINDS
                ),
                title="Labelled questions",
            ),
            Table(
                ("kind", "question", "supporting sentence (ground truth)"),
                examples,
                title="One test question of each kind",
            ),
            Text(
                "Every question carries the ids of the sentences that answer it (a how-to's steps, an error's "
                "fix). Recall@k = share of those sentences inside the top-k chunks; MRR = 1 / rank of the first "
                "chunk holding one. The dev third sets everything that is tuned (fusion weights, the reader, the "
                "groundedness threshold); every number below is on the test questions. The search log trains "
                "only the encoder, and precedes the questions in time."
            ),
        ),
    )

    best_size = max(r.chunking, key=lambda row: row[chosen])
    smallest = r.chunking[0]
    features = Section(
        "features",
        (
            Table(
                ("chunk size", "chunks", "tokens/chunk", "BM25", "dense", "hybrid", "MRR", f"prompt tokens @{k}"),
                tuple(
                    (
                        f"{row['words']:.0f} words" + ("" if row is not r.no_title else ", no title"),
                        f"{row['chunks']:,.0f}",
                        f"{row['tokens_per_chunk']:.0f}",
                        f"{row['lexical']:.3f}",
                        f"{row['dense']:.3f}",
                        f"{row[chosen]:.3f}",
                        f"{row['mrr']:.3f}",
                        f"{row['context_tokens']:,.0f}",
                    )
                    for row in (*r.chunking, r.no_title)
                ),
                title=f"Chunk size vs recall@{k} (test; hybrid = {chosen_name})",
            ),
            BarChart(
                tuple((f"{row['words']:.0f} words", row[chosen]) for row in r.chunking),
                title=f"Hybrid recall@{k} by chunk size",
            ),
            Text(
                f"Small chunks cut an answer's steps apart: at {smallest['words']:.0f} words hybrid recall@{k} is "
                f"{smallest[chosen]:.3f}, at {default_row['words']:.0f} words {default_row[chosen]:.3f}; the best, "
                f"{best_size[chosen]:.3f} at {best_size['words']:.0f} words, sends {best_size['context_tokens']:,.0f} "
                f"tokens of context per question instead of {default_row['context_tokens']:,.0f}. The 'title › "
                f"heading' prefix is worth {default_row[chosen] - r.no_title[chosen]:+.3f} recall at "
                f"{cfg.chunk_words} words: a chunk from the middle of an article still says what it is about. "
                "Real articles are about ten times longer than these, so whole-article chunks would cost far more."
            ),
            KeyValues(
                (
                    (
                        "dense encoder",
                        f"LSA, {r.encoder['dim']:.0f} dims (at most one per {ARTICLES_PER_DIM} articles), "
                        f"vocabulary {r.encoder['vocabulary']:,.0f} words",
                    ),
                    ("variance kept", f"{r.encoder['explained_variance']:.0%} of the TF-IDF variance"),
                    ("tokenizer", "keeps digits, so 'E-4012' yields the token '4012' for BM25"),
                ),
            ),
            Table(
                ("question kind", "fitted on articles + search log", "articles only"),
                tuple(
                    (kind, f"{r.recall_by_kind[kind]['dense']:.3f}", f"{r.dense_without_clicks[kind]:.3f}")
                    for kind in QUESTION_KINDS
                ),
                title=f"What the encoder learned from past searches: dense recall@{k}",
            ),
            Text(
                "The encoder knows customers' words only where past searches tied them to an article: without "
                f"the search log, dense recall@{k} on colloquial questions is "
                f"{r.dense_without_clicks['colloquial']:.3f} instead of {r.recall_by_kind['colloquial']['dense']:.3f}. "
                "An error code occurs in a handful of chunks, and LSA keeps only the strongest directions of "
                f"the vocabulary, so a code barely moves a vector: dense recall@{k} on code questions is "
                f"{r.recall_by_kind['error code']['dense']:.3f}."
            ),
        ),
    )

    fusion = r.fusion
    model = Section(
        "model",
        (
            KeyValues(
                (
                    ("lexical", "BM25 over chunk text (k1 1.2, b 0.75, short stop-word list keeping 'on'/'off')"),
                    ("dense", "LSA query vector → faiss IndexFlatIP (exact cosine) over chunk vectors"),
                    ("hybrid: RRF", f"Σ 1/({cfg.rrf_k} + rank) over both top-{cfg.fusion_depth} lists (no tuning)"),
                    (
                        "hybrid: weighted",
                        f"α·BM25 + (1−α)·cosine, min-max scaled per question; α = {fusion['alpha']:.1f} (dev)",
                    ),
                    (
                        "hybrid: routed",
                        f"same, α = {fusion['alpha_code']:.1f} when the question quotes an error code, "
                        f"{fusion['alpha_text']:.1f} otherwise (dev)",
                    ),
                    ("used downstream", f"{chosen_name}: best dev recall@{k} ({fusion[f'dev_recall_{chosen}']:.3f})"),
                ),
                title="Retrievers",
            ),
            Text(
                f"[bold]Generator stand-in.[/bold] The reader reads the top {k} chunks and copies the sentences it "
                "believes answer the question (logistic regression on question-word × heading-word pairs, the "
                "sentence's words and its overlap with the question, trained on the dev questions' labelled "
                "sentences). It cannot invent anything; an LLM can, which is what the check below is for."
            ),
            Text(
                "[bold]Groundedness check.[/bold] For each answer sentence: best over retrieved sentences of ½ · "
                "share of its content words found + ½ · dense cosine; a number, code or name absent from the "
                f"retrieved text makes support 0. Flag below {g['support_threshold']:.2f} (threshold: best F1 on dev "
                "answers). Flagged answers are withheld and handed to an agent."
            ),
        ),
    )

    by_kind_rows = tuple(
        (kind, str(r.question_counts[kind]["test"]), *(f"{r.recall_by_kind[kind][s]:.3f}" for s in SYSTEMS))
        for kind in QUESTION_KINDS
    )
    hardest = min(INJECTION_KINDS, key=lambda kind: g["catch_rate"][kind])
    example_rows: tuple[tuple[str, ...], ...] = ()
    if r.example_answer:
        ex = r.example_answer
        example_rows = tuple(
            (sentence, "unsupported" if kind != "grounded" else "grounded", f"{support:.2f}", "FLAG" if flag else "ok")
            for sentence, kind, support, flag in zip(
                ex["sentences"], ex["kinds"], ex["support"], ex["flagged"], strict=True
            )
        )
    evaluation_blocks: list[Any] = [
        Table(
            ("system", "recall@1", f"recall@{k}", "recall@10", "MRR"),
            tuple(
                (
                    SYSTEM_NAMES[s],
                    f"{r.retrieval[s]['recall_at_1']:.3f}",
                    f"{r.retrieval[s][recall_key]:.3f}",
                    f"{r.retrieval[s]['recall_at_10']:.3f}",
                    f"{r.retrieval[s]['mrr']:.3f}",
                )
                for s in SYSTEMS
            ),
            title=f"Retrieval on {n_test:,} test questions ({cfg.chunk_words}-word chunks)",
        ),
        BarChart(tuple((SYSTEM_NAMES[s], r.retrieval[s][recall_key]) for s in SYSTEMS), title=f"Recall@{k}"),
        Table(
            ("question kind", "n", *(SYSTEM_NAMES[s] for s in SYSTEMS)),
            by_kind_rows,
            title=f"Recall@{k} by question kind",
        ),
        Text(
            f"Lexical search nails error codes ({r.recall_by_kind['error code']['lexical']:.3f}) and fails on "
            f"customers' own words ({r.recall_by_kind['colloquial']['lexical']:.3f}); dense is the mirror image "
            f"({r.recall_by_kind['error code']['dense']:.3f} vs {r.recall_by_kind['colloquial']['dense']:.3f}). "
            f"The chosen hybrid ({chosen_name}) reaches recall@{k} {hybrid:.3f} against BM25's {lexical:.3f} "
            f"({hybrid - lexical:+.3f}); on questions in the docs' own words it gives up "
            f"{r.recall_by_kind['doc wording']['lexical'] - r.recall_by_kind['doc wording'][chosen]:.3f} to BM25. "
            f"Plain RRF gives {rrf:.3f}: with equal votes, dense's confident neighbours (same product, same "
            f"symptom, wrong code) push exact matches out of the top {k}, and code questions fall from "
            f"{r.recall_by_kind['error code']['lexical']:.3f} to {r.recall_by_kind['error code']['hybrid_rrf']:.3f}. "
            "Fusion weights belong on a labelled dev set."
        ),
        Table(
            ("retriever feeding the reader", "supporting sentences in the answer"),
            tuple((SYSTEM_NAMES[s], f"{r.answers[s]:.3f}") for s in ("lexical", "dense", chosen) if s in r.answers),
            title=f"End to end, on {g['answers']['test']} test questions (top {k} chunks)",
        ),
        KeyValues(
            (
                (
                    "labelled sentences (test)",
                    f"{g['sentences']['test']:,} ({g['sentences']['unsupported_test']} unsupported)",
                ),
                ("precision", f"{g['precision']:.3f} of flagged sentences really unsupported"),
                ("recall", f"{g['recall']:.3f} of unsupported sentences flagged"),
                ("F1 / average precision", f"{g['f1']:.3f} / {g['average_precision']:.3f}"),
                ("false flags", f"{g['false_flag_rate']:.1%} of grounded (reworded) sentences"),
                (
                    "per answer",
                    f"precision {g['answers']['precision']:.3f}, recall {g['answers']['recall']:.3f} "
                    f"({g['answers']['test']} test answers, about half with one injected sentence)",
                ),
            ),
            title="Groundedness check on a labelled set (test answers)",
        ),
        Table(
            ("injected sentence", "caught"),
            tuple((kind, f"{g['catch_rate'][kind]:.3f}") for kind in INJECTION_KINDS),
            title="What the check catches",
        ),
        Text(
            "Grounded sentences are the reader's, reworded as an LLM might (other verbs, another name of the "
            "setting, two steps joined into one sentence). Injected ones: a retrieved sentence with one detail "
            "changed (number, plan, role, menu, code), a real sentence from an article that was not retrieved, "
            f"or a plausible claim no article makes. Hardest here: {hardest} (caught {g['catch_rate'][hardest]:.3f}); "
            "a changed value that appears elsewhere in the retrieved text passes a word-overlap check. A real "
            "LLM rewords more freely than this set does, so expect more false flags in production."
        ),
    ]
    if example_rows:
        evaluation_blocks.append(
            Table(
                ("answer sentence", "truth", "support", "check"),
                example_rows,
                title=f"Example — “{r.example_answer['question_text']}”",
            )
        )
    evaluation_blocks.append(
        Text(
            "Online (not simulated here): A/B test by account on resolved deflection, with CSAT, escalations, "
            "repeat contacts, cost and time to first token as guardrails; offline recall does not guarantee it."
        )
    )
    evaluation = Section("evaluation", tuple(evaluation_blocks))

    latency_rows = tuple((stage, f"{values['p50']:.2f}", f"{values['p99']:.2f}") for stage, values in r.latency.items())
    # The measured part of time to first token; the LLM's part is simulated.
    retrieval_p50 = r.latency["retrieval_total"]["p50"]
    cost_rows = tuple(
        (
            _context_label(row),
            f"{row['tokens_in']:,.0f}",
            f"{row['recall']:.3f}",
            f"{row['usd_per_question'][large]:.4f}",
            f"{row['usd_per_question'][small]:.5f}",
            f"{row['usd_per_day'][large]:,.0f}",
            f"{retrieval_p50 + row['llm_ttft_ms_simulated'][large]:,.0f}",
            f"{(retrieval_p50 + row['llm_answer_ms_simulated'][large]) / 1000:.1f}",
        )
        for row in r.cost
    )
    # What each step up in context buys: recall gained and dollars added per question.
    ladder = sorted((row for row in r.cost if row["chunk_words"] == cfg.chunk_words), key=lambda row: row["k"])
    steps = [
        f"{low['k']} → {high['k']} chunks adds {high['recall'] - low['recall']:+.3f} recall for "
        f"{_usd(high['usd_per_question'][large] - low['usd_per_question'][large])}"
        for low, high in itertools.pairwise(ladder)
    ]
    marginal = f"What each step up in context buys: {'; '.join(steps)}. " if steps else ""
    serving = Section(
        "serving",
        (
            Table(
                (
                    "context",
                    "tokens in",
                    "recall",
                    f"$/q {large}",
                    f"$/q {small}",
                    f"$/day {large}",
                    "TTFT ms*",
                    "answer s*",
                ),
                cost_rows,
                title=f"Cost and latency by context size (hybrid; {QUESTIONS_PER_DAY:,} questions a day)",
            ),
            BarChart(
                tuple((_context_label(row), row["usd_per_question"][large] * 1000) for row in r.cost),
                title=f"Dollars per 1,000 questions, {large}",
                value_format="{:.2f}",
            ),
            Text(
                f"* TTFT = retrieval (measured p50, {retrieval_p50:.1f} ms) + the LLM, simulated: "
                f"{TIERS[0].overhead_ms:.0f} ms + "
                f"{TIERS[0].prefill_ms_per_1k:.0f} ms per 1K prompt tokens; answer adds {OUTPUT_TOKENS} output "
                f"tokens at {TIERS[0].ms_per_output_token:.0f} ms each. Prices assumed: {large} "
                f"${TIERS[0].usd_per_1k_input}/1K in, ${TIERS[0].usd_per_1k_output}/1K out; {small} "
                f"${TIERS[1].usd_per_1k_input}/1K in, ${TIERS[1].usd_per_1k_output}/1K out; plus "
                f"{PROMPT_OVERHEAD_TOKENS} tokens of instructions per call."
            ),
            Text(
                f"At {k} × {cfg.chunk_words}-word chunks a question costs {_usd(default_usd[large])} on the "
                f"{large} ({default_usd[large] / BUDGET_USD:.0%} of the 2-cent budget) and "
                f"{_usd(default_usd[small])} on the {small}; output tokens are "
                f"{OUTPUT_TOKENS * TIERS[0].usd_per_1k_output / 1000 / default_usd[large]:.0%} "
                f"of the {large}'s bill. {marginal}Simulated time to first token is "
                f"{retrieval_p50 + default_cost['llm_ttft_ms_simulated'][large]:,.0f} ms against the "
                f"{TTFT_BUDGET_MS / 1000:.1f} s budget, and the whole {OUTPUT_TOKENS}-token answer "
                f"{(retrieval_p50 + default_cost['llm_answer_ms_simulated'][large]) / 1000:.1f} s: decoding, not "
                "retrieval or the prompt, is where the user waits, so stream the answer."
            ),
            Table(
                ("stage (measured, one question at a time)", "p50 ms", "p99 ms"),
                latency_rows,
                title=f"Retrieval latency over {r.n_chunks:,} chunks",
            ),
            Text(
                f"Re-indexing every chunk (chunk, BM25, embed, faiss) took {r.index_build_seconds:.2f} s here; "
                "in production re-embed only the articles published or edited, keep the encoder version fixed "
                "per index, and watch the flag rate, the share of questions with no good chunk, and recall on a "
                "weekly labelled sample; new product lines arrive without search logs, so the dense side is weak "
                "there until customers' words are learned."
            ),
        ),
    )

    metrics_out: dict[str, Any] = {
        "retrieval": {name: dict(values) for name, values in r.retrieval.items()},
        f"recall_at_{k}_by_kind": r.recall_by_kind,
        "fusion": {**fusion, "chosen": chosen},
        "chunking": {f"{row['words']:.0f}": row for row in r.chunking} | {f"{cfg.chunk_words}_no_title": r.no_title},
        "encoder": {**r.encoder, "dense_recall_without_search_log": r.dense_without_clicks},
        "answer_support_recall": r.answers,
        "groundedness": g,
        "cost": [{key: value for key, value in row.items()} | {"context": _context_label(row)} for row in r.cost],
        "knowledge_base": kb,
        "questions": r.question_counts,
    }
    return DemoReport(
        scenario="llm",
        title="LLM help-centre assistant: hybrid retrieval, grounded answers, cost per question",
        seed=cfg.seed,
        sections=(clarify, frame, data, features, model, evaluation, serving),
        headline=Headline(
            metric=f"recall@{k}",
            model=hybrid,
            baseline=lexical,
            higher_is_better=True,
            model_name=chosen_name,
            baseline_name=SYSTEM_NAMES["lexical"],
        ),
        metrics=metrics_out,
        latency_ms=r.latency,
        params={
            "articles": int(kb["articles"]),
            "products": int(kb["products"]),
            "questions": cfg.n_questions,
            "searches": cfg.n_searches,
            "chunk_words": cfg.chunk_words,
            "k": k,
            "lsa_dim": cfg.encoder_dim,
        },
    )


def run(options: DemoOptions, progress: ProgressCallback | None = None) -> DemoReport:
    """The llm demo for the CLI: ``--items`` = help-centre articles (default 1,200)."""
    options.validate()
    return build_report(simulate_llm(llm_config(options), progress))
