"""Seeded synthetic worlds with known ground truth, and the generic helpers they are built from.

The helpers at the top (named random streams, time-stamped event logs, time-based splits,
Plackett-Luce sampling, position bias) are scenario-independent; the feed world below uses them to
simulate users, articles, an old feed's position-biased impression logs and organic reading, all
from hidden rules (:class:`FeedTruth`) that only the oracle gets to see.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EventLog",
    "FeedTruth",
    "FeedWorld",
    "FeedWorldConfig",
    "OrganicReading",
    "available_memory_bytes",
    "examination_probability",
    "make_feed_world",
    "normalize_rows",
    "rng_for",
    "rowwise_dot",
    "sample_without_replacement",
    "sigmoid",
    "time_split",
    "top_k_rows",
    "zipf_weights",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


# --- generic helpers ------------------------------------------------------------------------------


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """A generator for one named random stream; streams are independent, so adding one shifts no other."""
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def sigmoid(x: ArrayLike) -> FloatArray:
    """Logistic function, written with tanh so large |x| never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x)))


def _sigmoid_inplace(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """Logistic function overwriting a large float32 array (no temporaries)."""
    values *= 0.5
    np.tanh(values, out=values)
    values += 1.0
    values *= 0.5
    return values


def zipf_weights(n: int, exponent: float) -> FloatArray:
    """Normalised weights ∝ 1 / rank**exponent: a few popular categories and a long tail."""
    if n < 1:
        raise ValueError("n must be positive")
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def normalize_rows(matrix: ArrayLike) -> NDArray[np.float32]:
    """Rows scaled to unit length (all-zero rows stay zero)."""
    values = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(values, axis=-1, keepdims=True)
    scaled: NDArray[np.float32] = (values / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return scaled


def rowwise_dot(
    left: NDArray[np.float32],
    left_rows: ArrayLike,
    right: NDArray[np.float32],
    right_rows: ArrayLike,
    chunk: int = 262_144,
) -> NDArray[np.float32]:
    """⟨left[left_rows[i]], right[right_rows[i]]⟩ for every i, in chunks so the gathers stay small."""
    lrows = np.asarray(left_rows)
    rrows = np.asarray(right_rows)
    out = np.empty(lrows.shape[0], dtype=np.float32)
    for start in range(0, lrows.shape[0], chunk):
        stop = start + chunk
        out[start:stop] = np.einsum("ij,ij->i", left[lrows[start:stop]], right[rrows[start:stop]])
    return out


def examination_probability(positions: ArrayLike, eta: float) -> FloatArray:
    """Position bias: the chance a user even looks at slot ``position`` (1 = top) is position**-eta."""
    pos = np.asarray(positions, dtype=float)
    if np.any(pos < 1):
        raise ValueError("positions start at 1")
    return pos**-eta


def sample_without_replacement(
    weights: NDArray[np.float64], n: int, rng: np.random.Generator, max_rounds: int = 50
) -> IntArray:
    """Draw ``n`` distinct indices with probability ∝ weights (Plackett-Luce order, first draw first).

    Rejecting repeats of a draw from the full distribution is exactly sampling from what is left,
    and far cheaper than Gumbel noise on every element when n is small next to len(weights).
    """
    positive = int(np.count_nonzero(weights > 0))
    n = min(n, positive)
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    cdf = np.cumsum(weights, dtype=np.float64)
    chosen: list[int] = []
    seen: set[int] = set()
    for _ in range(max_rounds):
        draws = np.searchsorted(cdf, rng.random(2 * (n - len(chosen))) * cdf[-1], side="right")
        for index in np.minimum(draws, cdf.size - 1).tolist():
            if index not in seen:
                seen.add(index)
                chosen.append(index)
                if len(chosen) == n:
                    return np.asarray(chosen, dtype=np.int64)
    # Mass concentrated on very few items: finish with a direct draw among those left.
    rest = np.flatnonzero(weights > 0)
    rest = rest[~np.isin(rest, chosen)]
    extra = rng.choice(rest, size=n - len(chosen), replace=False, p=weights[rest] / weights[rest].sum())
    return np.asarray(chosen + extra.tolist(), dtype=np.int64)


def time_split(
    times: ArrayLike, split_time: float, end_time: float | None = None
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Masks for a time-based split: train = before ``split_time``, test = from it (until ``end_time``)."""
    stamps = np.asarray(times, dtype=float)
    train = stamps < split_time
    test = stamps >= split_time
    if end_time is not None:
        if end_time <= split_time:
            raise ValueError("end_time must come after split_time")
        test &= stamps < end_time
    return train, test


def available_memory_bytes() -> int | None:
    """Memory the OS says is available now (Linux /proc/meminfo, else total RAM), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class EventLog:
    """A columnar, time-stamped event log: one numpy array per column, all of the same length."""

    columns: Mapping[str, np.ndarray]
    time_column: str = "time"

    def __post_init__(self) -> None:
        if self.time_column not in self.columns:
            raise ValueError(f"an event log needs a {self.time_column!r} column")
        lengths = {name: len(values) for name, values in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"event log columns differ in length: {lengths}")

    def __len__(self) -> int:
        return len(self.columns[self.time_column])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    @property
    def times(self) -> np.ndarray:
        """The time stamps."""
        return self.columns[self.time_column]

    def select(self, rows: ArrayLike) -> EventLog:
        """The rows picked by a boolean mask or an index array."""
        picked = np.asarray(rows)
        return EventLog({name: values[picked] for name, values in self.columns.items()}, self.time_column)

    def between(self, start: float, end: float) -> EventLog:
        """Events with start <= time < end.

        A log in time order (as the simulators write them) gives read-only views of its columns
        instead of copies: scenarios cut a long log into days and parts many times over.
        """
        times = self.times
        if times.size < 2 or bool(np.all(times[1:] >= times[:-1])):
            lo, hi = np.searchsorted(times, [start, end], side="left")
            columns = {}
            for name, values in self.columns.items():
                view = values[lo:hi]
                view.flags.writeable = False
                columns[name] = view
            return EventLog(columns, self.time_column)
        return self.select((times >= start) & (times < end))

    def sorted_by_time(self) -> EventLog:
        """The same events in time order (stable for equal stamps)."""
        return self.select(np.argsort(self.times, kind="stable"))

    @staticmethod
    def concat(logs: Sequence[EventLog]) -> EventLog:
        """One log holding the events of several logs with the same columns."""
        if not logs:
            raise ValueError("nothing to concatenate")
        names = list(logs[0].columns)
        if any(list(log.columns) != names for log in logs):
            raise ValueError("logs must share the same columns")
        return EventLog({name: np.concatenate([log[name] for log in logs]) for name in names}, logs[0].time_column)


# --- the feed world -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedTruth:
    """The hidden rules of the feed world. Models never see them; the oracle ranks with them.

    A user examines slot k with probability k**-position_bias_eta, clicks an examined article with
    probability sigmoid(click log-odds) and then reads for a logistic-distributed log-dwell; the
    article is *engaged* when the dwell passes the threshold (FeedWorldConfig.engaged_dwell_seconds).
    """

    click_bias: float = -7.5
    """Click log-odds of an examined article with nothing going for it."""
    affinity_weight: float = 8.0
    """Click log-odds per unit of cosine between the user's taste and the article's latent topic vector."""
    virality_weight: float = 1.0
    """Click log-odds per unit of the article's broad appeal (shared by all users: what popularity sees)."""
    virality_scale: float = 0.8
    """Scale of the right-skewed (Gumbel) appeal: a few articles become the day's big stories."""
    clickbait_click_boost: float = 1.1
    """Extra click log-odds of clickbait headlines."""
    age_penalty_per_day: float = 2.5
    """Click log-odds lost per day since publication: news goes stale."""
    dwell_bias: float = 0.15
    """Base of the dwell margin (log-dwell above the engaged threshold)."""
    quality_weight: float = 1.2
    """Dwell margin per unit of source quality (centred at 0.5)."""
    dwell_affinity_weight: float = 0.6
    """Dwell margin per unit of taste·article cosine: people read what they care about."""
    clickbait_dwell_penalty: float = 1.6
    """Dwell margin lost by clickbait: the click happens, the reading does not."""
    long_read_weight: float = 0.5
    """Dwell margin per log(read minutes / 4), positive on desktop or in the evening, negative otherwise."""
    dwell_scale: float = 0.6
    """Scale of the logistic noise on log-dwell."""
    position_bias_eta: float = 0.9
    """Exponent of the examination curve over slate positions."""
    breaking_interest_boost: float = 1.5
    """On the drift day, extra click log-odds for the breaking story's topic."""
    breaking_virality_boost: float = 1.5
    """Extra appeal of the breaking story's articles."""


@dataclass(frozen=True)
class FeedWorldConfig:
    """Sizes and shape of a feed world. Times are in days; day 0 is the first logged day."""

    n_users: int = 20_000
    """Regular users (some sign up late: cold start); campaign users of the drift day come on top."""
    n_items: int = 100_000
    """Articles in the catalog at the split, all indexable; later articles exist but are not in it."""
    seed: int = 0
    dim: int = 32
    """Size of the latent and content embeddings."""
    n_topics: int = 20
    subtopics_per_topic: int = 12
    """Fine-grained interests inside each topic; users follow one to three of them."""
    n_sources: int = 400
    history_days: float = 2.0
    """Articles already published before logging starts."""
    train_days: int = 5
    """Logged days before the split."""
    test_days: int = 2
    """Held-out days after the split."""
    slate_size: int = 10
    """Slots the old feed shows per session."""
    sessions_per_day: float = 2.0
    """Mean sessions per user per day (activity is heavy-tailed across users)."""
    new_user_share: float = 0.08
    """Users who sign up during the held-out days: no history at all."""
    late_user_share: float = 0.07
    """Users who sign up during the training days: little history."""
    campaign_users: float = 1.0
    """Extra users a marketing push brings on the drift day's morning, per regular user (mostly on
    phones, no history): a population shift. They exist only from that day on."""
    clickbait_share: float = 0.10
    """Mean share of clickbait articles (more of it from low-quality sources)."""
    engaged_dwell_seconds: float = 30.0
    """Engaged = click and dwell above this many seconds."""
    organic_clicks_per_session: float = 2.0
    """Articles a user opens per session when reading on their own (the held-out engagements)."""
    feed_window_days: float = 2.0
    """How far back the old feed looks for articles."""
    explore_session_share: float = 0.10
    """Sessions where the old feed shuffles its slate (what makes position bias measurable)."""
    breaking_share: float = 1.0
    """Breaking-news articles on the drift day, as a share of a normal day's articles."""
    audience_scale: float = 1.0
    """People each simulated user stands for in the audience-wide traffic. Every logged impression
    is also shown to ``audience_scale − 1`` unlogged readers like the user (same taste, slot and
    moment), whose clicks and engaged reads are drawn from the same hidden rules and logged only as
    counts (``crowd_clicks``, ``crowd_engaged``): what article-level counters see at full scale."""
    truth: FeedTruth = field(default_factory=FeedTruth)

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name in {"seed", "truth"}:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{spec.name} must be a non-negative number, got {value!r}")
        for name in (
            "n_users",
            "n_items",
            "dim",
            "n_topics",
            "subtopics_per_topic",
            "n_sources",
            "train_days",
            "test_days",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.seed < 0:
            raise ValueError("seed must be non-negative")
        if self.train_days < 2:
            raise ValueError("train_days must be at least 2 (one warm-up day for the features)")
        if self.new_user_share + self.late_user_share >= 1:
            raise ValueError("new_user_share + late_user_share must stay below 1")
        if self.audience_scale < 1:
            raise ValueError("audience_scale must be at least 1 (each user stands for at least one person)")

    @property
    def split_time(self) -> float:
        """Start of the held-out days."""
        return float(self.train_days)

    @property
    def end_time(self) -> float:
        """End of the held-out days."""
        return float(self.train_days + self.test_days)

    @property
    def drift_day(self) -> float:
        """Start of the day after the held-out days, when a breaking story shifts the world."""
        return self.end_time

    @property
    def items_per_day(self) -> float:
        """Publishing rate implied by the catalog size."""
        return self.n_items / (self.history_days + self.train_days)

    @property
    def n_later_items(self) -> int:
        """Articles published after the split (held-out days and drift day, incl. breaking news)."""
        normal = round(self.items_per_day * (self.test_days + 1))
        return normal + self.n_breaking_items

    @property
    def n_breaking_items(self) -> int:
        """Breaking-news articles published on the drift day."""
        return max(1, round(self.items_per_day * self.breaking_share))


@dataclass(frozen=True)
class OrganicReading:
    """What a set of users read on their own over the catalog, plus the oracle's ranking for each."""

    clicked: tuple[IntArray, ...]
    """Articles each user opened, in the order opened."""
    engaged: tuple[IntArray, ...]
    """The opened articles read past the engaged threshold."""
    oracle_top: IntArray
    """Per user, the catalog articles with the highest true engagement probability, best first."""
    oracle_scores: NDArray[np.float32]
    """Their true engagement probabilities."""


@dataclass(frozen=True, eq=False)
class FeedWorld:
    """Users, articles and sources of a feed world, with the truth needed to simulate behaviour.

    Article ids are sorted by publication time; ids below ``config.n_items`` form the catalog at the
    split, later ids are published after it (normal news and, on the drift day, a breaking story).
    """

    config: FeedWorldConfig
    topic_centroids: NDArray[np.float32]
    user_taste: NDArray[np.float32]
    """Hidden unit taste vector of each user."""
    user_subtopics: NDArray[np.int32]
    """Subtopics each user follows (−1 = none), most-followed first; the old feed serves them."""
    user_subtopic_weights: NDArray[np.float32]
    user_activity: NDArray[np.float32]
    """Mean sessions per day."""
    user_signup: FloatArray
    user_mobile: NDArray[np.bool_]
    """Whether the user's usual device is a phone."""
    item_topic: NDArray[np.int16]
    item_subtopic: NDArray[np.int32]
    """Fine-grained cluster (story, team, region) inside the topic."""
    item_source: NDArray[np.int32]
    item_latent: NDArray[np.float32]
    """Hidden unit topic vector of each article."""
    item_embedding: NDArray[np.float32]
    """What a content encoder would see: the latent vector plus noise (observable)."""
    item_clickbait: NDArray[np.bool_]
    item_virality: NDArray[np.float32]
    item_read_minutes: NDArray[np.float32]
    item_published: FloatArray
    source_quality: NDArray[np.float32]
    breaking_topic: int

    @property
    def n_users(self) -> int:
        """Number of users."""
        return int(self.user_taste.shape[0])

    @property
    def n_items_total(self) -> int:
        """Articles including those published after the split."""
        return int(self.item_topic.shape[0])

    @property
    def n_catalog(self) -> int:
        """Articles in the catalog at the split."""
        return self.config.n_items

    @cached_property
    def _item_click_static(self) -> NDArray[np.float32]:
        truth = self.config.truth
        static = (
            truth.click_bias
            + truth.virality_weight * self.item_virality
            + truth.clickbait_click_boost * self.item_clickbait
            + truth.age_penalty_per_day * self.item_published
        )
        return static.astype(np.float32)

    @cached_property
    def _item_dwell_static(self) -> NDArray[np.float32]:
        truth = self.config.truth
        quality = self.source_quality[self.item_source]
        static = (
            truth.dwell_bias
            + truth.quality_weight * (quality - 0.5)
            - truth.clickbait_dwell_penalty * self.item_clickbait
        )
        return static.astype(np.float32)

    @cached_property
    def _item_long_read(self) -> NDArray[np.float32]:
        return (self.config.truth.long_read_weight * np.log(self.item_read_minutes / 4.0)).astype(np.float32)

    @staticmethod
    def _context_sign(mobile: ArrayLike, hours: ArrayLike) -> FloatArray:
        # Long reads work at a desk or in the evening, not on a phone during the day.
        relaxed = ~np.asarray(mobile, dtype=bool) | (np.asarray(hours) >= 18)
        return np.where(relaxed, 1.0, -1.0)

    def _breaking_boost(self, topics: ArrayLike, times: ArrayLike) -> FloatArray:
        truth = self.config.truth
        hit = (np.asarray(topics) == self.breaking_topic) & (np.asarray(times) >= self.config.drift_day)
        return truth.breaking_interest_boost * hit

    def affinity(self, users: ArrayLike, items: ArrayLike) -> NDArray[np.float32]:
        """Hidden cosine between each (user, article) pair's taste and topic vectors."""
        return rowwise_dot(self.user_taste, users, self.item_latent, items)

    def click_logit(
        self, users: ArrayLike, items: ArrayLike, times: ArrayLike, affinity: ArrayLike | None = None
    ) -> FloatArray:
        """True click log-odds of examined (user, article) pairs at the given times."""
        items_arr = np.asarray(items)
        times_arr = np.asarray(times, dtype=float)
        truth = self.config.truth
        aff = self.affinity(users, items_arr) if affinity is None else np.asarray(affinity)
        return (
            self._item_click_static[items_arr]
            - truth.age_penalty_per_day * times_arr
            + truth.affinity_weight * aff
            + self._breaking_boost(self.item_topic[items_arr], times_arr)
        )

    def dwell_margin(
        self,
        users: ArrayLike,
        items: ArrayLike,
        mobile: ArrayLike,
        hours: ArrayLike,
        affinity: ArrayLike | None = None,
    ) -> FloatArray:
        """Expected log-dwell above the engaged threshold for each (user, article, context)."""
        items_arr = np.asarray(items)
        truth = self.config.truth
        aff = self.affinity(users, items_arr) if affinity is None else np.asarray(affinity)
        return (
            self._item_dwell_static[items_arr]
            + truth.dwell_affinity_weight * aff
            + self._item_long_read[items_arr] * self._context_sign(mobile, hours)
        )

    def engagement_probability(
        self, users: ArrayLike, items: ArrayLike, times: ArrayLike, mobile: ArrayLike, hours: ArrayLike
    ) -> FloatArray:
        """True P(click and dwell > threshold) for an examined article: what the oracle ranks by."""
        scale = self.config.truth.dwell_scale
        aff = self.affinity(users, items)
        return sigmoid(self.click_logit(users, items, times, aff)) * sigmoid(
            self.dwell_margin(users, items, mobile, hours, aff) / scale
        )

    def outcome_probabilities(
        self,
        users: ArrayLike,
        items: ArrayLike,
        positions: ArrayLike,
        times: ArrayLike,
        mobile: ArrayLike,
        hours: ArrayLike,
    ) -> tuple[FloatArray, FloatArray]:
        """True P(click) of articles shown in slots, and the dwell margin of each (log-dwell above the threshold)."""
        users_arr = np.asarray(users)
        see = examination_probability(positions, self.config.truth.position_bias_eta)
        aff = self.affinity(users_arr, items)
        p_click = see * sigmoid(self.click_logit(users_arr, items, times, aff))
        return p_click, self.dwell_margin(users_arr, items, mobile, hours, aff)

    def draw_outcomes(
        self,
        users: ArrayLike,
        items: ArrayLike,
        positions: ArrayLike,
        times: ArrayLike,
        mobile: ArrayLike,
        hours: ArrayLike,
        rng: np.random.Generator,
    ) -> tuple[NDArray[np.bool_], NDArray[np.float32], NDArray[np.bool_]]:
        """Simulate impressions: (clicked, dwell seconds, engaged) for articles shown in slots."""
        return self._draw_given(*self.outcome_probabilities(users, items, positions, times, mobile, hours), rng)

    def _draw_given(
        self, p_click: FloatArray, margin: FloatArray, rng: np.random.Generator
    ) -> tuple[NDArray[np.bool_], NDArray[np.float32], NDArray[np.bool_]]:
        """Clicks, dwell and engaged reads drawn from known click probabilities and dwell margins."""
        cfg = self.config
        n = p_click.shape[0]
        clicked = rng.random(n) < p_click
        log_dwell = math.log(cfg.engaged_dwell_seconds) + margin + cfg.truth.dwell_scale * rng.logistic(size=n)
        dwell = np.where(clicked, np.exp(log_dwell), 0.0).astype(np.float32)
        engaged = clicked & (dwell > cfg.engaged_dwell_seconds)
        return clicked, dwell, engaged

    def serve_sessions(
        self,
        users: ArrayLike,
        ranked: NDArray[np.int64],
        n_sessions: ArrayLike,
        start: ArrayLike,
        end: float,
        rng: np.random.Generator,
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Users visit a feed serving ``ranked`` (one list per user) ``n_sessions`` times in [start, end).

        Each visit shows the articles not opened yet, in list order, with position bias. Returns
        which list entries were clicked and which were read past the engaged threshold, as
        (users × list length) masks: sum them per user for an A/B test, per team for interleaving.
        """
        user_arr = np.asarray(users, dtype=np.int64)
        sessions = np.asarray(n_sessions, dtype=np.int64)
        first = np.broadcast_to(np.asarray(start, dtype=float), user_arr.shape)
        n_users, width = ranked.shape
        clicked = np.zeros((n_users, width), dtype=bool)
        engaged = np.zeros((n_users, width), dtype=bool)
        for visit in range(int(sessions.max(initial=0))):
            times = rng.uniform(first, end)
            usual = rng.random(n_users) < 0.85
            mobile = np.where(usual, self.user_mobile[user_arr], ~self.user_mobile[user_arr])
            hours = ((times % 1.0) * 24).astype(np.float32)
            position = np.cumsum(~clicked, axis=1)
            rows, cols = np.nonzero((sessions > visit)[:, None] & ~clicked)
            click, _, read = self.draw_outcomes(
                user_arr[rows], ranked[rows, cols], position[rows, cols], times[rows], mobile[rows], hours[rows], rng
            )
            clicked[rows[click], cols[click]] = True
            engaged[rows[read], cols[read]] = True
        return clicked, engaged

    def simulate_old_feed(self, start: float, end: float, rng: np.random.Generator) -> EventLog:
        """Impression logs of the old feed between two times: sessions, slates, positions and outcomes.

        The old feed fills each slot from one of three sources: trending articles, the user's
        followed subtopics (both favouring what draws clicks) or a uniform exploration pick; it orders
        the slate by click appeal, except in a small share of sessions where it shuffles it. With an
        ``audience_scale`` above 1, each row also counts the clicks and engaged reads of the unlogged
        readers it stands for (drawn last, so the logged columns do not depend on the scale).
        """
        cfg = self.config
        days = np.arange(math.floor(start), math.ceil(end))
        counts = rng.poisson(np.repeat(self.user_activity[:, None], days.size, axis=1))
        flat = counts.ravel()
        session_user = np.repeat(np.repeat(np.arange(self.n_users), days.size), flat)
        session_time = np.repeat(np.tile(days, self.n_users), flat) + rng.random(int(flat.sum()))
        keep = (session_time >= self.user_signup[session_user]) & (session_time >= start) & (session_time < end)
        order = np.argsort(session_time[keep], kind="stable")
        session_user = session_user[keep][order]
        session_time = session_time[keep][order]
        n_sessions = session_user.size
        on_usual_device = rng.random(n_sessions) < 0.85
        session_mobile = np.where(on_usual_device, self.user_mobile[session_user], ~self.user_mobile[session_user])
        session_explore = rng.random(n_sessions) < cfg.explore_session_share

        slot_session = np.repeat(np.arange(n_sessions), cfg.slate_size)
        slot_item = self._old_feed_picks(session_user[slot_session], session_time[slot_session], rng)
        valid = slot_item >= 0
        slot_session, slot_item = slot_session[valid], slot_item[valid]
        # A slot source can repeat an article within a slate; keep its first pick only.
        _, first = np.unique(slot_session * self.n_items_total + slot_item, return_index=True)
        slot_session, slot_item = slot_session[first], slot_item[first]

        appeal = np.log(self._old_feed_weights[slot_item])
        noise = rng.gumbel(size=slot_item.size)
        score = np.where(session_explore[slot_session], noise, appeal + noise)
        # Order each slate by score. Slates are short, so a (sessions × slots) table sorted row by row
        # does what a lexsort on (session, −score) does, several times faster.
        first = np.searchsorted(slot_session, np.arange(n_sessions))
        column = np.arange(slot_session.size) - first[slot_session]
        table = np.full((n_sessions, cfg.slate_size), np.inf)
        table[slot_session, column] = -score
        ranked = np.argsort(table, axis=1, kind="stable")
        filled = np.isfinite(np.take_along_axis(table, ranked, axis=1))
        order = (first[:, None] + ranked)[filled]
        position = np.broadcast_to(np.arange(1, cfg.slate_size + 1, dtype=np.int16), filled.shape)[filled]
        slot_session, slot_item = slot_session[order], slot_item[order]

        users = session_user[slot_session].astype(np.int32)
        times = session_time[slot_session]
        mobile = session_mobile[slot_session]
        hours = ((times % 1.0) * 24).astype(np.float32)
        p_click, margin = self.outcome_probabilities(users, slot_item, position, times, mobile, hours)
        clicked, dwell, engaged = self._draw_given(p_click, margin, rng)
        p_read = sigmoid(margin / cfg.truth.dwell_scale)  # P(dwell past the threshold | click)
        crowd = round(cfg.audience_scale) - 1
        crowd_clicks = rng.binomial(crowd, p_click).astype(np.int32) if crowd else np.zeros(times.size, np.int32)
        crowd_engaged = rng.binomial(crowd_clicks, p_read).astype(np.int32) if crowd else crowd_clicks.copy()
        return EventLog(
            {
                "time": times,
                "session": slot_session.astype(np.int64),
                "user": users,
                "item": slot_item.astype(np.int32),
                "position": position,
                "mobile": mobile,
                "hour": hours,
                "explore": session_explore[slot_session],
                "clicked": clicked,
                "dwell": dwell,
                "engaged": engaged,
                "crowd_clicks": crowd_clicks,
                "crowd_engaged": crowd_engaged,
            }
        )

    @cached_property
    def _old_feed_weights(self) -> FloatArray:
        # The old feed was tuned on clicks, so it favours broad appeal and clickbait alike; the
        # damping exponent keeps one huge story from taking every trending slot.
        truth = self.config.truth
        appeal = truth.virality_weight * self.item_virality + truth.clickbait_click_boost * self.item_clickbait
        return np.exp(0.7 * appeal)

    @cached_property
    def _old_feed_cumulative(self) -> FloatArray:
        return np.concatenate([[0.0], np.cumsum(self._old_feed_weights)])

    @cached_property
    def _subtopic_pools(self) -> tuple[IntArray, FloatArray, FloatArray]:
        order = np.lexsort((self.item_published, self.item_subtopic))
        keys = self.item_subtopic[order].astype(np.float64) * 1_000.0 + self.item_published[order]
        cumulative = np.concatenate([[0.0], np.cumsum(self._old_feed_weights[order])])
        return order.astype(np.int64), keys, cumulative

    def _old_feed_picks(self, users: IntArray, times: FloatArray, rng: np.random.Generator) -> IntArray:
        """One article per slot (−1 when nothing is live), by the old feed's three slot sources."""
        cfg = self.config
        window = cfg.feed_window_days
        source = rng.choice(3, size=users.size, p=[0.35, 0.50, 0.15])  # trending, followed, explore
        picks = np.full(users.size, -1, dtype=np.int64)

        # Followed subtopics: pick one of the user's follows by weight, then an article of it by appeal;
        # a follow with nothing live falls back to trending.
        followed = np.flatnonzero(source == 1)
        weights = self.user_subtopic_weights[users[followed]]
        draw = rng.random(followed.size)[:, None]
        pick = (draw > np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)).sum(axis=1)
        subtopic = self.user_subtopics[users[followed], np.minimum(pick, weights.shape[1] - 1)]
        order, keys, pool_cumulative = self._subtopic_pools
        query = subtopic * 1_000.0 + times[followed]
        uniform = rng.random(followed.size)
        # Binary searches run several times faster on sorted queries (the pools stay in cache); slots
        # come in time order, so a stable (radix) sort by subtopic usually sorts them completely.
        by_key = np.argsort(subtopic.astype(np.int16), kind="stable")
        if np.any(np.diff(query[by_key]) < 0):
            by_key = np.argsort(query, kind="stable")
        in_pool = np.empty(followed.size, dtype=np.int64)
        in_pool[by_key] = _weighted_in_range(
            pool_cumulative,
            np.searchsorted(keys, query[by_key] - window),
            np.searchsorted(keys, query[by_key]),
            uniform[by_key],
        )
        picks[followed] = np.where(in_pool >= 0, order[np.maximum(in_pool, 0)], -1)
        source[followed[in_pool < 0]] = 0

        for kind in (0, 2):
            slots = np.flatnonzero(source == kind)
            lo = np.searchsorted(self.item_published, times[slots] - window)
            hi = np.searchsorted(self.item_published, times[slots])
            if kind == 0:
                picks[slots] = _weighted_in_range(self._old_feed_cumulative, lo, hi, rng.random(slots.size))
            else:
                anywhere = lo + np.floor(rng.random(slots.size) * (hi - lo)).astype(np.int64)
                picks[slots] = np.where(hi > lo, anywhere, -1)
        return picks

    def read_catalog(
        self,
        users: ArrayLike,
        times: ArrayLike,
        mobile: ArrayLike,
        hours: ArrayLike,
        n_clicks: ArrayLike,
        oracle_k: int,
        rng: np.random.Generator,
        chunk_elements: int = 8_000_000,
    ) -> OrganicReading:
        """Simulate users reading on their own over the whole catalog, and rank it for them by the truth.

        Each user opens ``n_clicks`` distinct articles, drawn with probability ∝ their true click
        probability (Plackett-Luce), and engages with each by the dwell rule; the oracle ranks all
        catalog articles by true engagement probability at the same moment.
        """
        cfg = self.config
        truth = cfg.truth
        user_arr = np.asarray(users, dtype=np.int64)
        time_arr = np.asarray(times, dtype=float)
        clicks_arr = np.asarray(n_clicks, dtype=np.int64)
        context = self._context_sign(mobile, hours)
        n_cat = self.n_catalog
        latent = self.item_latent[:n_cat]
        click_static = self._item_click_static[:n_cat]
        dwell_static = self._item_dwell_static[:n_cat]
        long_read = self._item_long_read[:n_cat]
        is_breaking_topic = (self.item_topic[:n_cat] == self.breaking_topic).astype(np.float32)
        clicked: list[IntArray] = []
        engaged: list[IntArray] = []
        oracle_top = np.empty((user_arr.size, oracle_k), dtype=np.int64)
        oracle_scores = np.empty((user_arr.size, oracle_k), dtype=np.float32)
        rows = max(1, chunk_elements // n_cat)
        for start in range(0, user_arr.size, rows):
            part = slice(start, start + rows)
            aff = self.user_taste[user_arr[part]] @ latent.T
            logit = truth.affinity_weight * aff
            logit += click_static[None, :]
            logit -= (truth.age_penalty_per_day * time_arr[part]).astype(np.float32)[:, None]
            boost = truth.breaking_interest_boost * (time_arr[part] >= cfg.drift_day)
            logit += boost.astype(np.float32)[:, None] * is_breaking_topic[None, :]
            p_click = _sigmoid_inplace(logit)
            aff *= truth.dwell_affinity_weight
            aff += dwell_static[None, :]
            aff += context[part].astype(np.float32)[:, None] * long_read[None, :]
            aff /= truth.dwell_scale
            p_dwell = _sigmoid_inplace(aff)
            for row in range(p_click.shape[0]):
                opened = sample_without_replacement(p_click[row].astype(np.float64), int(clicks_arr[part][row]), rng)
                clicked.append(opened)
                engaged.append(opened[rng.random(opened.size) < p_dwell[row, opened]])
            p_click *= p_dwell
            oracle_top[part] = top_k_rows(p_click, oracle_k)
            oracle_scores[part] = np.take_along_axis(p_click, oracle_top[part], axis=1)
        return OrganicReading(tuple(clicked), tuple(engaged), oracle_top, oracle_scores)


def top_k_rows(values: NDArray[np.floating], k: int) -> IntArray:
    """Column indices of the k largest values of each row, largest first (ties: lower index first).

    Equivalent to a full sort per row, but it only sorts the few entries that can make the cut: the
    k-th largest of the block maxima is a floor that at least k entries reach. Several times faster
    than ``argpartition`` on long rows; values must not be NaN.
    """
    matrix = np.atleast_2d(values)
    rows, n = matrix.shape
    if k < 1 or n < 1:
        raise ValueError("top_k_rows needs k ≥ 1 and at least one column")
    k = min(k, n)
    block = max(1, min(256, n // (4 * k)))
    whole = n // block * block
    maxima = matrix[:, :whole].reshape(rows, -1, block).max(axis=2)
    if whole < n:
        maxima = np.hstack([maxima, matrix[:, whole:].max(axis=1, keepdims=True)])
    floor = -np.partition(-maxima, k - 1, axis=1)[:, k - 1]
    row_of, column = np.nonzero(matrix >= floor[:, None])
    bounds = np.searchsorted(row_of, np.arange(rows + 1))
    top = np.empty((rows, k), dtype=np.int64)
    for row in range(rows):
        contenders = column[bounds[row] : bounds[row + 1]]
        top[row] = contenders[np.argsort(-matrix[row, contenders], kind="stable")[:k]]
    return top


def _weighted_in_range(cumulative: FloatArray, lo: IntArray, hi: IntArray, uniform: FloatArray) -> IntArray:
    """For each [lo, hi) range of an array, an index drawn ∝ its weights (−1 for empty ranges).

    ``uniform`` holds one U(0, 1) draw per range.
    """
    target = cumulative[lo] + uniform * (cumulative[hi] - cumulative[lo])
    index = np.searchsorted(cumulative, target, side="right") - 1
    index = np.clip(index, lo, np.maximum(hi - 1, lo))
    return np.where(hi > lo, index, -1)


def make_feed_world(config: FeedWorldConfig) -> FeedWorld:
    """Generate a feed world; the same config (including its seed) always gives the same world."""
    cfg = config
    seed = cfg.seed
    n_subtopics = cfg.n_topics * cfg.subtopics_per_topic
    rng = rng_for(seed, "feed/topics")
    centroids = normalize_rows(rng.standard_normal((cfg.n_topics, cfg.dim)))
    sub_centroids = normalize_rows(rng.standard_normal((n_subtopics, cfg.dim)))
    # A subtopic (a story, a team, a region) sits inside its topic: topic direction + its own.
    cluster = normalize_rows(np.repeat(centroids, cfg.subtopics_per_topic, axis=0) + 0.9 * sub_centroids)
    within = zipf_weights(cfg.subtopics_per_topic, 0.6)
    subtopic_weights = np.outer(zipf_weights(cfg.n_topics, 0.7), within).ravel()

    # Sources: quality drives dwell; low-quality sources publish more clickbait.
    rng = rng_for(seed, "feed/sources")
    quality = rng.beta(4.0, 3.0, cfg.n_sources).astype(np.float32)
    source_weights = zipf_weights(cfg.n_sources, 0.9)[rng.permutation(cfg.n_sources)]

    rng = rng_for(seed, "feed/items")
    breaking_topic = int(rng.integers(cfg.n_topics // 4, cfg.n_topics))
    n_later = cfg.n_later_items
    n_breaking = cfg.n_breaking_items
    published = np.concatenate(
        [
            np.sort(rng.uniform(-cfg.history_days, cfg.split_time, cfg.n_items)),
            np.sort(rng.uniform(cfg.split_time, cfg.drift_day + 1, n_later)),
        ]
    )
    n_total = published.size
    subtopic = rng.choice(n_subtopics, size=n_total, p=subtopic_weights)
    # The drift day has its usual articles plus the breaking ones; which are which is a random pick.
    on_drift_day = np.flatnonzero(published >= cfg.drift_day)
    breaking = np.zeros(n_total, dtype=bool)
    breaking[rng.choice(on_drift_day, size=min(n_breaking, on_drift_day.size), replace=False)] = True
    breaking_subtopics = breaking_topic * cfg.subtopics_per_topic + np.arange(3)
    subtopic[breaking] = rng.choice(breaking_subtopics, size=int(breaking.sum()))
    topic = (subtopic // cfg.subtopics_per_topic).astype(np.int16)
    source = rng.choice(cfg.n_sources, size=n_total, p=source_weights).astype(np.int32)
    noise = rng.standard_normal((n_total, cfg.dim)).astype(np.float32) / np.float32(math.sqrt(cfg.dim))
    latent = normalize_rows(cluster[subtopic] + 0.35 * noise)
    del noise
    encoder_noise = rng.standard_normal((n_total, cfg.dim)).astype(np.float32) / np.float32(math.sqrt(cfg.dim))
    embedding = normalize_rows(latent + 0.35 * encoder_noise)
    del encoder_noise
    bait_rate = cfg.clickbait_share * (1.0 - quality) / float(np.mean(1.0 - quality))
    clickbait = rng.random(n_total) < np.clip(bait_rate[source], 0.0, 0.9)
    # Right-skewed appeal: most articles are ordinary, a few are the day's big stories.
    virality = rng.gumbel(0.0, cfg.truth.virality_scale, n_total).astype(np.float32)
    virality[breaking] += cfg.truth.breaking_virality_boost
    read_minutes = np.exp(rng.normal(math.log(4.0), 0.5, n_total)).astype(np.float32)

    rng = rng_for(seed, "feed/users")
    n_regular = cfg.n_users
    n_users = n_regular + round(cfg.campaign_users * n_regular)
    n_followed = 1 + rng.binomial(2, 0.4, n_users)
    # Gumbel top-3 on log weights = three distinct subtopics drawn by popularity (in chunks: the
    # key matrix is users × subtopics).
    followed = np.empty((n_users, 3), dtype=np.int64)
    for start in range(0, n_users, 20_000):
        keys = np.log(subtopic_weights)[None, :] + rng.gumbel(size=(min(20_000, n_users - start), n_subtopics))
        top3 = np.argpartition(-keys, 2, axis=1)[:, :3]
        order = np.argsort(-np.take_along_axis(keys, top3, axis=1), axis=1)
        followed[start : start + keys.shape[0]] = np.take_along_axis(top3, order, axis=1)
    mix = -np.sort(-rng.dirichlet(np.full(3, 2.0), n_users), axis=1)
    slot = np.arange(3)[None, :]
    mix = np.where(slot < n_followed[:, None], mix, 0.0)
    mix /= mix.sum(axis=1, keepdims=True)
    taste = np.einsum("uk,ukd->ud", mix, cluster[followed])
    taste = normalize_rows(taste + 0.3 * rng.standard_normal((n_users, cfg.dim)) / math.sqrt(cfg.dim))
    activity = np.exp(rng.normal(0.0, 0.8, n_users))
    activity = (activity * cfg.sessions_per_day / activity.mean()).astype(np.float32)
    cohort = rng.random(n_users)
    campaign = np.arange(n_users) >= n_regular
    new_users = ~campaign & (cohort < cfg.new_user_share)
    late_users = ~campaign & ~new_users & (cohort < cfg.new_user_share + cfg.late_user_share)
    signup = np.zeros(n_users)
    signup[new_users] = rng.uniform(cfg.split_time, cfg.end_time, int(new_users.sum()))
    signup[late_users] = rng.uniform(0.0, cfg.split_time, int(late_users.sum()))
    signup[campaign] = rng.uniform(cfg.drift_day, cfg.drift_day + 0.25, int(campaign.sum()))
    mobile = rng.random(n_users) < np.where(campaign, 0.95, 0.6)

    return FeedWorld(
        config=cfg,
        topic_centroids=centroids,
        user_taste=taste,
        user_subtopics=np.where(slot < n_followed[:, None], followed, -1).astype(np.int32),
        user_subtopic_weights=mix.astype(np.float32),
        user_activity=activity,
        user_signup=signup,
        user_mobile=mobile,
        item_topic=topic,
        item_subtopic=subtopic.astype(np.int32),
        item_source=source,
        item_latent=latent,
        item_embedding=embedding,
        item_clickbait=clickbait,
        item_virality=virality,
        item_read_minutes=read_minutes,
        item_published=published,
        source_quality=quality,
        breaking_topic=breaking_topic,
    )


# --- point-in-time aggregates ---------------------------------------------------------------------


def trailing_window_sums(
    keys: ArrayLike, times: ArrayLike, windows: Sequence[float | None], values: ArrayLike | None = None
) -> tuple[IntArray, FloatArray]:
    """Per event and window: the count and value sum of earlier same-key events in (time − window, time).

    Point-in-time correct: an event never counts itself, a later event or one at the same instant, so
    the aggregates are what a streaming store could have answered when the event happened. A window of
    ``None`` takes every earlier event; negative keys mean "no entity" and get zeros. Returns two
    arrays of shape (len(windows), len(keys)); one sort serves all windows.
    """
    key = np.asarray(keys, dtype=np.int64)
    stamp = np.asarray(times, dtype=np.float64)
    value = np.ones(key.size) if values is None else np.asarray(values, dtype=np.float64)
    if key.ndim != 1 or stamp.shape != key.shape or value.shape != key.shape:
        raise ValueError("keys, times and values must be 1-D arrays of the same length")
    if any(window is not None and not window > 0 for window in windows):
        raise ValueError(f"windows must be positive (or None for all history), got {list(windows)!r}")
    counts = np.zeros((len(windows), key.size), dtype=np.int64)
    sums = np.zeros((len(windows), key.size))
    if key.size == 0:
        return counts, sums
    # Ranking the times (ties share a rank) packs (key, time) into one exact, sortable integer.
    distinct, rank = np.unique(stamp, return_inverse=True)
    span = np.int64(distinct.size + 1)
    if key.max() >= np.iinfo(np.int64).max // span:
        raise ValueError("keys are too large to pack with this many distinct times")
    order = np.argsort(key * span + rank, kind="stable")
    ordered_key = key[order]
    ordered = ordered_key * span + rank[order]
    cumulative = np.concatenate([[0.0], np.cumsum(value[order])])
    # Queries in sorted order keep the binary searches cache-friendly.
    end = np.searchsorted(ordered, ordered, side="left")
    present = ordered_key >= 0
    for row, window in enumerate(windows):
        if window is None:
            first_rank = np.zeros(key.size, dtype=np.int64)
        else:
            # Searching in the caller's order is cheap when events come in time order, as logs do.
            first_rank = np.searchsorted(distinct, stamp - window, side="right")[order]
        start = np.searchsorted(ordered, ordered_key * span + first_rank, side="left")
        counts[row, order] = np.where(present, end - start, 0)
        sums[row, order] = np.where(present, cumulative[end] - cumulative[start], 0.0)
    return counts, sums
