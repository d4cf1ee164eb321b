"""The feed demo: a miniature two-stage news-feed ranker on a synthetic world with known truth.

Laptop-scale version of the classic prompt (rank ~100K fresh articles for ~10M users in < 150 ms,
for long-term engagement rather than clicks): an old click-tuned feed writes position-biased logs;
a popularity baseline and a two-stage system (embedding ANN candidates → gradient-boosted ranker)
learn from them; an oracle that knows the truth bounds what is possible. Every printed lesson —
clickbait, position bias, the time split, offline vs online, drift — is measured in the simulation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlsd_coach.demo import metrics
from mlsd_coach.demo.options import DemoError, DemoOptions
from mlsd_coach.demo.ranking import (
    GradientBoostedRanker,
    PopularityRanker,
    single_threaded,
    team_draft_interleave,
    top_k,
)
from mlsd_coach.demo.report import (
    BarChart,
    DemoReport,
    FeatureSpec,
    Headline,
    KeyValues,
    ProgressCallback,
    Section,
    Stages,
    Table,
    Text,
)
from mlsd_coach.demo.retrieval import ExactRetriever, HNSWRetriever, IVFPQRetriever, Retriever
from mlsd_coach.demo.world import (
    EventLog,
    FeedWorld,
    FeedWorldConfig,
    available_memory_bytes,
    examination_probability,
    make_feed_world,
    normalize_rows,
    rng_for,
    rowwise_dot,
)

DEFAULT_USERS = 20_000
DEFAULT_ITEMS = 100_000
MIN_USERS = 200
MIN_ITEMS = 2_000
TOP_K = 20
"""Articles in a served feed (and the NDCG cut-off)."""
CANDIDATES = 500
"""Articles the candidate stage hands to the ranker."""
MAX_TEST_USERS = 1_200
LATENCY_REQUESTS = 200
PROBE_REQUESTS = 300
"""Requests sampled to measure candidate recall and coverage."""
MAX_TRAIN_ROWS = 250_000
SEED_SCALE = {"users": 10_000_000, "items_per_day": 100_000, "latency_ms": 150}
"""The prompt's real-world numbers, which the demo scales down."""
RANKING_BUDGET_MS = 15.0
"""Our share of the 150 ms end-to-end budget: candidates + features + ranking."""


# --- features -------------------------------------------------------------------------------------


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("user_article_similarity", "user×article", "cosine of the user's reading profile and the article"),
    FeatureSpec("user_topic_share", "user×article", "share of the user's recent engaged reads in the article's topic"),
    FeatureSpec("user_history", "user", "log of the user's recent engaged reads (decayed count)"),
    FeatureSpec("user_ctr", "user", "the user's smoothed click-through rate"),
    FeatureSpec("article_age_hours", "article", "hours since publication at request time"),
    FeatureSpec("article_impressions", "article", "log of times the article was shown"),
    FeatureSpec("article_ctr_at_top", "article", "clicks per position-weighted impression (debiased CTR)"),
    FeatureSpec("article_engaged_at_top", "article", "engaged reads per position-weighted impression"),
    FeatureSpec("article_engaged_per_click", "article", "share of the article's clicks that became engaged reads"),
    FeatureSpec("article_trend", "article", "log of the article's engaged reads, half-life one day"),
    FeatureSpec("source_ctr", "article", "the source's smoothed click-through rate"),
    FeatureSpec("source_engaged_per_click", "article", "share of the source's clicks that became engaged reads"),
    FeatureSpec("article_read_minutes", "article", "estimated reading time"),
    FeatureSpec("device_mobile", "context", "request comes from a phone"),
    FeatureSpec("hour_of_day", "context", "local hour of the request"),
    FeatureSpec("position", "context", "slot the article was shown in (training only; 1 at serving)"),
)
FEATURE_NAMES = tuple(spec.name for spec in FEATURES)
MONOTONIC: dict[str, int] = {
    "user_article_similarity": 1,
    "user_topic_share": 1,
    "article_age_hours": -1,
    "article_engaged_at_top": 1,
    "article_trend": 1,
    "position": -1,
}
"""Directions the ranker may not contradict. The logs come from the old feed's choices, not from
the ANN candidates the ranker scores at serving time; the constraints keep it from learning quirks
of that selection which would not transfer (e.g. "more similar is worse")."""


MONITORED: tuple[str, ...] = tuple(
    name for name in FEATURE_NAMES if not name.startswith("source_") and name != "position"
)
"""Features the drift check watches. Source-level rates are left out: each source has one value that
wobbles a little every day, so a big source's whole mass hops across a bin edge and PSI cries wolf."""


@dataclass(frozen=True)
class CounterPriors:
    """What the feature store assumes before it has data: fixed once, from the warm-up day.

    Fixed priors keep smoothed rates comparable from day to day (a prior that moved daily would
    show up as drift), and the examination curve turns impressions into position-weighted views.
    """

    examination: NDArray[np.float64]
    """Relative chance of being looked at, per slot (slot 1 = 1.0)."""
    ctr: float
    ctr_at_top: float
    engaged_at_top: float
    engaged_per_click: float

    @classmethod
    def from_log(cls, log: EventLog, slate_size: int) -> CounterPriors:
        """Estimate the priors from one day of the old feed's logs (its shuffled slates for the curve)."""
        shuffled = log.select(log["explore"])
        ctr_by_slot = np.array(
            [
                _rate(shuffled["clicked"][shuffled["position"] == p].sum(), (shuffled["position"] == p).sum())
                for p in range(1, slate_size + 1)
            ]
        )
        if ctr_by_slot[0] > 0:
            # Few shuffled sessions make the tail noisy; attention never rises further down the slate.
            examination = np.clip(np.minimum.accumulate(ctr_by_slot / ctr_by_slot[0]), 0.02, 1.0)
        else:
            examination = np.ones(slate_size)
        views = float(examination[np.minimum(log["position"], slate_size) - 1].sum()) if len(log) else 0.0
        clicks, engaged = float(log["clicked"].sum()), float(log["engaged"].sum())
        return cls(
            examination=examination,
            ctr=(clicks + 1.0) / (len(log) + 20.0),
            ctr_at_top=(clicks + 1.0) / (views + 20.0),
            engaged_at_top=(engaged + 0.5) / (views + 20.0),
            engaged_per_click=(engaged + 1.0) / (clicks + 2.0),
        )


class FeedFeatureStore:
    """Decayed per-user, per-article and per-source counters, updated a day at a time.

    Features are always read *as of* the store's time, from events strictly before it, so training
    rows never see their own outcome or the future (point-in-time correctness).
    """

    def __init__(
        self,
        world: FeedWorld,
        priors: CounterPriors,
        half_life_days: float = 3.0,
        trend_half_life_days: float = 1.0,
    ) -> None:
        self.world = world
        if priors.examination.shape != (world.config.slate_size,):
            raise ValueError(f"the examination curve needs one value per slot ({world.config.slate_size})")
        self.priors = priors
        self.examination = priors.examination
        self.half_life_days = half_life_days
        self.trend_half_life_days = trend_half_life_days
        self.now = 0.0
        n_users, n_items, dim = world.n_users, world.n_items_total, world.config.dim
        n_sources, n_topics = world.source_quality.size, world.config.n_topics
        # Columns: impressions, clicks, engaged, position-weighted impressions.
        self.user_counts = np.zeros((n_users, 4), dtype=np.float64)
        self.user_profile = np.zeros((n_users, dim), dtype=np.float32)
        self.user_topic = np.zeros((n_users, n_topics), dtype=np.float32)
        self.item_counts = np.zeros((n_items, 4), dtype=np.float32)
        self.item_trend = np.zeros(n_items, dtype=np.float32)
        self.source_counts = np.zeros((n_sources, 4), dtype=np.float64)
        self._user_vectors: NDArray[np.float32] | None = None

    def ingest(self, log: EventLog, until: float) -> None:
        """Add the log's events (all in [now, until)) and move the store's clock to ``until``."""
        times = log.times
        if len(log) and (times.min() < self.now or times.max() >= until):
            raise ValueError("ingest events in time order, each batch within [now, until)")
        step = until - self.now
        decay = 0.5 ** (step / self.half_life_days)
        for table in (self.user_counts, self.user_profile, self.user_topic, self.item_counts, self.source_counts):
            table *= decay
        self.item_trend *= 0.5 ** (step / self.trend_half_life_days)
        weight = 0.5 ** ((until - times) / self.half_life_days)
        seen = self.examination[np.minimum(log["position"], self.examination.size) - 1]
        outcome = np.stack([np.ones(len(log)), log["clicked"], log["engaged"], seen], axis=1) * weight[:, None]
        users, items = log["user"], log["item"]
        np.add.at(self.user_counts, users, outcome)
        np.add.at(self.item_counts, items, outcome.astype(np.float32))
        np.add.at(self.source_counts, self.world.item_source[items], outcome)
        engaged = log["engaged"]
        eng_users, eng_items, eng_weight = users[engaged], items[engaged], weight[engaged].astype(np.float32)
        np.add.at(self.user_profile, eng_users, self.world.item_embedding[eng_items] * eng_weight[:, None])
        np.add.at(self.user_topic, (eng_users, self.world.item_topic[eng_items]), eng_weight)
        trend_weight = (0.5 ** ((until - times[engaged]) / self.trend_half_life_days)).astype(np.float32)
        np.add.at(self.item_trend, eng_items, trend_weight)
        self.now = until
        self._user_vectors = None

    def copy(self) -> FeedFeatureStore:
        """A frozen snapshot of the store (the serving copy)."""
        clone = FeedFeatureStore.__new__(FeedFeatureStore)
        clone.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()})
        return clone

    def user_vectors(self) -> NDArray[np.float32]:
        """Unit reading-profile vector per user (zero for users with no engaged reads): the ANN query."""
        if self._user_vectors is None:
            self._user_vectors = normalize_rows(self.user_profile)
        return self._user_vectors

    def has_profile(self, users: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether each user has any engaged read to build a profile from (else: cold start)."""
        return self.user_counts[users, 2] > 1e-6

    def features(
        self,
        users: NDArray[np.int64],
        items: NDArray[np.int64],
        times: NDArray[np.float64],
        mobile: NDArray[np.bool_],
        hours: NDArray[np.float32],
        positions: NDArray[np.int16] | None = None,
        user_vectors: NDArray[np.float32] | None = None,
    ) -> NDArray[np.float32]:
        """Feature rows (columns = FEATURE_NAMES) for (user, article, context) triples."""
        world = self.world
        ctr, ctr_at_top = self.priors.ctr, self.priors.ctr_at_top
        engaged_at_top, per_click = self.priors.engaged_at_top, self.priors.engaged_per_click
        vectors = self.user_vectors() if user_vectors is None else user_vectors
        u = self.user_counts[users]
        a = self.item_counts[items]
        s = self.source_counts[world.item_source[items]]
        columns: dict[str, Any] = {
            "user_article_similarity": rowwise_dot(vectors, users, world.item_embedding, items),
            "user_topic_share": (self.user_topic[users, world.item_topic[items]] + 0.05) / (u[:, 2] + 1.0),
            "user_history": np.log1p(u[:, 2]),
            "user_ctr": (u[:, 1] + ctr * 10) / (u[:, 0] + 10),
            "article_age_hours": (times - world.item_published[items]) * 24.0,
            "article_impressions": np.log1p(a[:, 0]),
            "article_ctr_at_top": (a[:, 1] + ctr_at_top * 5) / (a[:, 3] + 5),
            "article_engaged_at_top": (a[:, 2] + engaged_at_top * 5) / (a[:, 3] + 5),
            "article_engaged_per_click": (a[:, 2] + per_click * 10) / (a[:, 1] + 10),
            "article_trend": np.log1p(self.item_trend[items]),
            "source_ctr": (s[:, 1] + ctr * 50) / (s[:, 0] + 50),
            "source_engaged_per_click": (s[:, 2] + per_click * 50) / (s[:, 1] + 50),
            "article_read_minutes": world.item_read_minutes[items],
            "device_mobile": mobile,
            "hour_of_day": hours,
            "position": 1 if positions is None else positions,
        }
        out = np.empty((items.shape[0], len(FEATURES)), dtype=np.float32)
        for j, name in enumerate(FEATURE_NAMES):
            out[:, j] = columns[name]
        return out


# --- sizes and memory -----------------------------------------------------------------------------


def estimate_memory_bytes(n_users: int, n_items: int) -> int:
    """Peak memory of a run, fitted to measured peaks (benchmarks/demo_feed.py) with some headroom.

    Per catalog article: world arrays for it and the ~0.6 later articles it implies, feature-store
    counters and the exact, HNSW and IVF-PQ indexes (~0.9 KB measured). Per user: the old feed's
    logs and their generation temporaries, profiles, and the campaign user it implies (~26 KB).
    """
    per_article = 1_000
    per_user = 28_000
    fixed = 350_000_000  # interpreter, numpy/scikit-learn/faiss, training matrix, oracle chunks
    return fixed + n_items * per_article + n_users * per_user


def feed_config(options: DemoOptions) -> FeedWorldConfig:
    """World configuration for the requested sizes, refusing sizes that cannot run here."""
    users = DEFAULT_USERS if options.users is None else options.users
    items = DEFAULT_ITEMS if options.items is None else options.items
    if users < MIN_USERS:
        raise DemoError(f"--users must be at least {MIN_USERS} for the feed demo, got {users}")
    if items < MIN_ITEMS:
        raise DemoError(f"--items must be at least {MIN_ITEMS} for the feed demo, got {items}")
    need = estimate_memory_bytes(users, items)
    have = available_memory_bytes()
    if have is not None and need > 0.9 * have:
        raise DemoError(
            f"--users {users} --items {items} needs about {need / 2**30:.1f} GiB of memory; "
            f"only {have / 2**30:.1f} GiB is available"
        )
    return FeedWorldConfig(n_users=users, n_items=items, seed=options.seed)


# --- the pipeline ---------------------------------------------------------------------------------

RECENCY_SCALE = 1.0
"""Days per unit of the recency coordinate in the index. Scores do not depend on it (the query's
coordinate carries the inverse), but the HNSW graph does: at one unit a day recency spreads items as
much as topics do, so the graph links fresh articles to fresh ones and greedy search can walk towards
"fresh". At a tenth of that, recall@500 against exact search fell to 0.34 at 1M articles (0.90 now)."""
RECENCY_GRID: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4)
"""Recency weights tried on the last training day."""
N_TRENDING = 50
"""Trending articles added to every candidate set (the second candidate source)."""


def retrieval_vectors(world: FeedWorld, items: slice, now: float) -> NDArray[np.float32]:
    """Index vectors: the content embedding plus a recency coordinate, (publication time − now) / scale."""
    recency = ((world.item_published[items] - now) / RECENCY_SCALE).astype(np.float32)
    return np.hstack([world.item_embedding[items], recency[:, None]])


def query_vectors(profiles: NDArray[np.float32], recency_weight: float) -> NDArray[np.float32]:
    """Query vectors: the user's unit reading profile plus the weight given to freshness.

    Inner product with an index vector = cosine(profile, article) + recency_weight × (publication − now).
    """
    extra = np.full((profiles.shape[0], 1), recency_weight * RECENCY_SCALE, dtype=np.float32)
    return np.hstack([profiles, extra])


def tune_recency_weight(
    world: FeedWorld,
    profiles: NDArray[np.float32],
    day_log: EventLog,
    day_start: float,
    k: int,
    rng: np.random.Generator,
    max_users: int = 300,
) -> tuple[float, dict[float, float]]:
    """Pick the recency weight whose exact top-k best covers one training day's engaged reads."""
    available = int(np.searchsorted(world.item_published, day_start))
    engaged = day_log.select(day_log["engaged"] & (day_log["item"] < available))
    users = np.unique(engaged["user"])
    users = users[np.linalg.norm(profiles[users], axis=1) > 0]
    if users.size == 0 or available <= k:
        return RECENCY_GRID[0], {}
    users = np.sort(rng.choice(users, size=min(max_users, users.size), replace=False))
    order = np.argsort(engaged["user"], kind="stable")
    eng_users, eng_items = engaged["user"][order], engaged["item"][order]
    bounds = np.searchsorted(eng_users, np.stack([users, users + 1]))
    index = ExactRetriever().fit(retrieval_vectors(world, slice(0, available), day_start))
    recall: dict[float, float] = {}
    for weight in RECENCY_GRID:
        ids = index.search(query_vectors(profiles[users], weight), k)[1]
        found = [np.isin(eng_items[lo:hi], row).mean() for lo, hi, row in zip(*bounds, ids, strict=True)]
        recall[weight] = float(np.mean(found))
    best = max(RECENCY_GRID, key=lambda weight: (recall[weight], -weight))
    return best, recall


class TwoStageFeed:
    """The serving path: ANN + trending candidates → gradient-boosted ranker → top 20.

    Users without any engaged read have no profile to search with; they get the popularity list.
    """

    def __init__(
        self,
        store: FeedFeatureStore,
        index: Retriever,
        ranker: GradientBoostedRanker,
        popularity: PopularityRanker,
        recency_weight: float,
        n_candidates: int,
        n_trending: int = N_TRENDING,
    ) -> None:
        self.store = store
        self.index = index
        self.ranker = ranker
        self.recency_weight = recency_weight
        self.n_candidates = n_candidates
        self.trending = popularity.recommend(n_trending)
        self.popular = popularity.recommend(TOP_K)
        self.popular_scores = popularity.predict(self.popular)
        self.user_vectors = store.user_vectors()

    def candidates(self, users: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Stage 1: ANN neighbours of each user's profile plus the trending list; False marks repeats."""
        _, ann = self.index.search(query_vectors(self.user_vectors[users], self.recency_weight), self.n_candidates)
        repeated = (self.trending[None, :, None] == ann[:, None, :]).any(axis=2)
        ids = np.hstack([ann, np.broadcast_to(self.trending, (users.size, self.trending.size))])
        valid = np.hstack([ann >= 0, ~repeated])
        return np.where(valid, ids, 0), valid

    def features(
        self,
        users: NDArray[np.int64],
        ids: NDArray[np.int64],
        times: NDArray[np.float64],
        mobile: NDArray[np.bool_],
        hours: NDArray[np.float32],
    ) -> NDArray[np.float32]:
        """Feature rows for every (user, candidate) pair, in row-major order of ``ids``."""
        width = ids.shape[1]
        return self.store.features(
            np.repeat(users, width),
            ids.ravel(),
            np.repeat(times, width),
            np.repeat(mobile, width),
            np.repeat(hours, width),
            user_vectors=self.user_vectors,
        )

    def rank_candidates(
        self,
        x: NDArray[np.float32],
        ids: NDArray[np.int64],
        valid: NDArray[np.bool_],
        ranker: GradientBoostedRanker | None = None,
        k: int = TOP_K,
        n_threads: int | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Stage 2: score the candidates (with this feed's ranker unless another is given), keep the best k."""
        model = self.ranker if ranker is None else ranker
        scores = np.where(valid, model.predict(x, n_threads=n_threads).reshape(ids.shape), -np.inf)
        best = top_k(scores, k)
        return np.take_along_axis(ids, best, axis=1), np.take_along_axis(scores, best, axis=1)

    def rank(
        self,
        users: NDArray[np.int64],
        times: NDArray[np.float64],
        mobile: NDArray[np.bool_],
        hours: NDArray[np.float32],
        rankers: Sequence[GradientBoostedRanker] | None = None,
        chunk: int = 200,
    ) -> tuple[list[tuple[NDArray[np.int64], NDArray[np.float64]]], NDArray[np.bool_]]:
        """Top-20 ids and scores per ranker for many requests, and which users had a profile.

        Candidates and features are computed once and shared by all ``rankers`` (default: this
        feed's ranker); users without a profile get the popularity list.
        """
        models = [self.ranker] if rankers is None else list(rankers)
        warm = self.store.has_profile(users)
        results = [
            (np.tile(self.popular, (users.size, 1)), np.tile(self.popular_scores, (users.size, 1))) for _ in models
        ]
        rows = np.flatnonzero(warm)
        for start in range(0, rows.size, chunk):
            part = rows[start : start + chunk]
            ids, valid = self.candidates(users[part])
            x = self.features(users[part], ids, times[part], mobile[part], hours[part])
            for (ids_out, scores_out), model in zip(results, models, strict=True):
                ids_out[part], scores_out[part] = self.rank_candidates(x, ids, valid, model)
        return results, warm


@dataclass(frozen=True)
class IndexStats:
    """One candidate-generation index: recall against exact search, speed and size."""

    name: str
    settings: str
    recall: float
    build_seconds: float
    query_ms_p50: float
    memory_mb: float


@dataclass
class FeedResults:
    """Everything one feed run measured; the report is built from this and nothing else."""

    config: FeedWorldConfig
    stage_seconds: dict[str, float]
    logs: dict[str, float]
    clickbait: dict[str, dict[str, float]]
    clickbait_in_top: dict[str, float]
    ctr_by_position: NDArray[np.float64]
    ctr_by_position_shuffled: NDArray[np.float64]
    true_examination: NDArray[np.float64]
    estimated_examination: NDArray[np.float64]
    """Position-bias curve the feature store uses (warm-up day's shuffled slates)."""
    impressions_per_article_day: float
    split_rows: dict[str, int]
    random_split_ndcg: float
    train_rows: int
    train_positives: int
    ranker_iterations: int
    heldout_auc: float
    importance: dict[str, float]
    trending: dict[str, float]
    recency_weight: float
    recency_recall: dict[float, float]
    n_candidates: int
    index_stats: tuple[IndexStats, ...]
    sampled_users: int
    """Held-out users drawn for evaluation and the online tests."""
    cold_new_users: int
    """Evaluated users without history who signed up during the held-out days."""
    users: NDArray[np.int64]
    """Held-out users with at least one engaged read (the evaluation queries)."""
    warm: NDArray[np.bool_]
    qrels: tuple[NDArray[np.int64], ...]
    two_stage: NDArray[np.int64]
    two_stage_scores: NDArray[np.float64]
    ndcg: dict[str, float]
    recall: dict[str, float]
    ndcg_by_cohort: dict[str, dict[str, float]]
    candidate_coverage: dict[str, float]
    replay_ndcg: dict[str, float]
    replay_users: int
    ab: dict[str, Any]
    proxy: dict[str, Any]
    """Click-trained vs engaged-trained ranker: offline on clicks, online on engaged reads."""
    latency: dict[str, dict[str, float]]
    latency_samples_ms: NDArray[np.float64]
    popularity_latency: dict[str, float]
    user_vector_us: dict[str, float]
    new_article_share: float
    drift: dict[str, dict[str, float]]
    calibration: dict[str, dict[str, float]]


_STAGES: tuple[tuple[str, float], ...] = (
    ("Generating users and articles", 1),
    ("Simulating the old feed's impression logs", 4),
    ("Building point-in-time features", 2),
    ("Training the gradient-boosted ranker", 5),
    ("Building the ANN indexes (exact, HNSW, IVF-PQ)", 5),
    ("Simulating held-out reading and the oracle", 4),
    ("Ranking held-out users in two stages", 3),
    ("Simulating the A/B test", 1),
    ("Measuring per-request latency", 2),
    ("Checking for drift", 1),
)


def _index_settings(retriever: Retriever) -> str:
    if isinstance(retriever, HNSWRetriever):
        return f"M={retriever.m}, efC={retriever.ef_construction}, efS={retriever.ef_search}"
    if isinstance(retriever, IVFPQRetriever):
        return (
            f"{retriever.n_lists_} lists, {retriever.n_subquantizers}×{retriever.n_bits}-bit codes, "
            f"nprobe={retriever.n_probe}"
        )
    return "brute force"


def _rate(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def _row_features(store: FeedFeatureStore, log: EventLog, rows: NDArray[np.int64]) -> NDArray[np.float32]:
    return store.features(
        log["user"][rows].astype(np.int64),
        log["item"][rows].astype(np.int64),
        log["time"][rows],
        log["mobile"][rows],
        log["hour"][rows],
        log["position"][rows],
    )


def _offline(lists: NDArray[np.int64], qrels: Sequence[NDArray[np.int64]]) -> tuple[float, float]:
    """Mean NDCG@20 and Recall@20 of ranked lists against binary held-out engagements."""
    if len(qrels) == 0:
        return 0.0, 0.0
    ranked = [row.tolist() for row in lists]
    ndcg = metrics.mean_ndcg_at_k(ranked, [dict.fromkeys(q.tolist(), 1.0) for q in qrels], TOP_K)
    recall = [metrics.recall_at_k(r, q.tolist(), TOP_K) for r, q in zip(ranked, qrels, strict=True)]
    return ndcg, float(np.mean(recall))


def _describe_logs(world: FeedWorld, train_log: EventLog) -> dict[str, Any]:
    """What the training logs say about labels, clickbait and position bias."""
    cfg = world.config
    clicked, engaged = train_log["clicked"], train_log["engaged"]
    bait = world.item_clickbait[train_log["item"]]
    clickbait = {
        name: {
            "share": _rate(mask.sum(), len(train_log)),
            "ctr": _rate(clicked[mask].sum(), mask.sum()),
            "engaged_rate": _rate(engaged[mask].sum(), mask.sum()),
            "engaged_per_click": _rate(engaged[mask].sum(), clicked[mask].sum()),
            "median_dwell_s": float(np.median(train_log["dwell"][clicked & mask])) if (clicked & mask).any() else 0.0,
        }
        for name, mask in (("clickbait", bait), ("other", ~bait))
    }
    # Among articles with enough traffic, which ranking fills its top with clickbait?
    n_total = world.n_items_total
    shown = np.bincount(train_log["item"], minlength=n_total)
    busy = np.flatnonzero(shown >= 30)
    in_top: dict[str, float] = {"n": 0.0, "by_ctr": 0.0, "by_engaged_rate": 0.0}
    if busy.size:
        n_top = max(1, min(100, busy.size // 10))
        for key, outcome in (("by_ctr", clicked), ("by_engaged_rate", engaged)):
            rate = np.bincount(train_log["item"], weights=outcome, minlength=n_total)[busy] / shown[busy]
            in_top[key] = float(world.item_clickbait[busy[top_k(rate, n_top)]].mean())
        in_top["n"] = float(n_top)
        in_top["articles"] = float(busy.size)
    positions, shuffled = train_log["position"], train_log["explore"]
    slots = range(1, cfg.slate_size + 1)
    return {
        "logs": {
            "impressions": float(len(train_log)),
            "sessions": float(np.unique(train_log["session"]).size),
            "users": float(np.unique(train_log["user"]).size),
            "ctr": _rate(clicked.sum(), len(train_log)),
            "engaged_rate": _rate(engaged.sum(), len(train_log)),
            "engaged_per_click": _rate(engaged.sum(), clicked.sum()),
        },
        "clickbait": clickbait,
        "clickbait_in_top": in_top,
        "ctr_by_position": np.array([clicked[positions == p].mean() for p in slots]),
        "ctr_by_position_shuffled": np.array(
            [clicked[(positions == p) & shuffled].mean() if ((positions == p) & shuffled).any() else 0.0 for p in slots]
        ),
        "true_examination": np.arange(1, cfg.slate_size + 1, dtype=float) ** -cfg.truth.position_bias_eta,
    }


def simulate_feed(config: FeedWorldConfig, progress: ProgressCallback | None = None) -> FeedResults:
    """Run the whole feed scenario on a world built from ``config`` and return what it measured."""
    with single_threaded():
        return _simulate_feed(config, progress)


def _simulate_feed(config: FeedWorldConfig, progress: ProgressCallback | None) -> FeedResults:
    from sklearn.metrics import roc_auc_score

    stages = Stages(progress, _STAGES)
    lap, stage_seconds = stages.lap, stages.seconds

    seed = config.seed
    split, end, drift_day = config.split_time, config.end_time, int(config.drift_day)
    n_catalog = config.n_items
    last_train_day = config.train_days - 1

    stages.start("Generating users and articles")
    world = make_feed_world(config)
    lap("world")

    stages.start("Simulating the old feed's impression logs")
    log = world.simulate_old_feed(0.0, drift_day + 1, rng_for(seed, "feed/old-feed"))
    train_log = log.between(0.0, split)
    described = _describe_logs(world, train_log)
    lap("logs")

    # Replay the logs a day at a time through the feature store: each day's rows read features as
    # of that morning, then the day is ingested. Day 0 only warms the counters up.
    stages.start("Building point-in-time features")
    sample_rng = rng_for(seed, "feed/train-sample")
    monitor_rng = rng_for(seed, "feed/monitor-sample")
    labelled = log.between(1.0, split)
    n_pos = int(labelled["engaged"].sum())
    keep_negative = min(1.0, (MAX_TRAIN_ROWS - n_pos) / max(1, len(labelled) - n_pos))
    # The position-bias curve comes from the warm-up day's shuffled slates; the counters use it to
    # turn raw impressions into "how often was this article really looked at".
    priors = CounterPriors.from_log(log.between(0.0, 1.0), config.slate_size)
    store = FeedFeatureStore(world, priors)
    train_x: list[NDArray[np.float32]] = []
    train_y: list[NDArray[np.bool_]] = []
    train_clicked: list[NDArray[np.bool_]] = []
    train_drawn: list[NDArray[np.bool_]] = []
    monitor_x: dict[str, NDArray[np.float32]] = {}
    monitor_y: dict[str, NDArray[np.bool_]] = {}
    history_parts: list[EventLog] = []
    tuning_profiles = np.zeros((0, config.dim), dtype=np.float32)
    serving: FeedFeatureStore | None = None
    monitored = {last_train_day: "last training day", config.train_days: "held-out day", drift_day: "shifted day"}
    for day in range(drift_day + 1):
        day_log = log.between(float(day), float(day + 1))
        if 1 <= day < config.train_days:
            # One draw serves two samples: engaged rows + drawn rows for the engaged ranker, clicked
            # rows + drawn rows for the click ranker; features are computed once for their union.
            drawn = sample_rng.random(len(day_log)) < keep_negative
            rows = np.flatnonzero(day_log["engaged"] | day_log["clicked"] | drawn)
            train_x.append(_row_features(store, day_log, rows))
            train_y.append(day_log["engaged"][rows])
            train_clicked.append(day_log["clicked"][rows])
            train_drawn.append(drawn[rows])
        if day == last_train_day:
            tuning_profiles = store.user_vectors().copy()
            tuning_log = day_log
        if day == config.train_days:
            serving = store.copy()
        if day in monitored:
            name = monitored[day]
            rows = np.sort(monitor_rng.choice(len(day_log), size=min(len(day_log), 40_000), replace=False))
            monitor_x[name] = _row_features(store, day_log, rows)
            monitor_y[name] = day_log["engaged"][rows]
        if day < config.train_days:
            history_parts.append(day_log.select(day_log["engaged"]))
        store.ingest(day_log, float(day + 1))
    assert serving is not None
    del store
    x_union, engaged_union = np.concatenate(train_x), np.concatenate(train_y)
    clicked_union, drawn_union = np.concatenate(train_clicked), np.concatenate(train_drawn)
    for_engaged = engaged_union | drawn_union
    for_clicks = clicked_union | drawn_union
    x_train, y_train = x_union[for_engaged], engaged_union[for_engaged]
    history = EventLog.concat(history_parts)
    lap("features")

    stages.start("Training the gradient-boosted ranker")
    ranker = GradientBoostedRanker(
        max_iter=100,
        learning_rate=0.15,
        max_leaf_nodes=31,
        min_samples_leaf=100,
        monotonic=MONOTONIC,
        seed=seed,
    )
    # Rows that are not engaged were subsampled; the ranker corrects its probabilities for that.
    ranker.fit(x_train, y_train, feature_names=FEATURE_NAMES, negative_rate=keep_negative)
    # The same model trained on the abundant proxy label: what optimising clicks would give.
    click_ranker = GradientBoostedRanker(
        max_iter=100,
        learning_rate=0.15,
        max_leaf_nodes=31,
        min_samples_leaf=100,
        monotonic=MONOTONIC,
        seed=seed,
    )
    click_ranker.fit(
        x_union[for_clicks], clicked_union[for_clicks], feature_names=FEATURE_NAMES, negative_rate=keep_negative
    )
    heldout_x, heldout_y = monitor_x["held-out day"], monitor_y["held-out day"]
    both_classes = 0 < heldout_y.sum() < heldout_y.size
    heldout_auc = float(roc_auc_score(heldout_y, ranker.predict(heldout_x))) if both_classes else float("nan")
    n_importance = min(heldout_y.size, 6_000)
    importance = (
        ranker.feature_importance(heldout_x[:n_importance], heldout_y[:n_importance], n_repeats=1, seed=seed)
        if 0 < heldout_y[:n_importance].sum() < n_importance
        else dict.fromkeys(FEATURE_NAMES, 0.0)
    )
    popularity = PopularityRanker(half_life_days=1.0)
    popularity.fit(history["item"], history["time"], now=split, n_items=n_catalog)
    lap("ranker")

    stages.start("Building the ANN indexes (exact, HNSW, IVF-PQ)")
    k_candidates = min(CANDIDATES, n_catalog // 4)
    recency_weight, recency_recall = tune_recency_weight(
        world, tuning_profiles, tuning_log, float(last_train_day), k_candidates, rng_for(seed, "feed/recency")
    )
    vectors = retrieval_vectors(world, slice(0, n_catalog), split)
    n_bits = min(8, int(math.log2(n_catalog / 39)))
    retrievers: dict[str, Retriever] = {
        "exact": ExactRetriever(),
        # A beam twice the candidate count keeps recall against exact search near 0.9.
        "hnsw": HNSWRetriever(m=16, ef_construction=32, ef_search=2 * k_candidates),
        "ivf_pq": IVFPQRetriever(
            n_lists=max(1, min(int(math.sqrt(n_catalog)), n_catalog // 39)),
            n_subquantizers=vectors.shape[1] // 3,
            n_bits=n_bits,
            n_probe=32,
            seed=seed,
        ),
    }
    build_seconds: dict[str, float] = {}
    for name, retriever in retrievers.items():
        started = time.perf_counter()
        retriever.fit(vectors)
        build_seconds[name] = time.perf_counter() - started
    del vectors
    feed = TwoStageFeed(serving, retrievers["hnsw"], ranker, popularity, recency_weight, k_candidates)
    lap("indexes")

    stages.start("Simulating held-out reading and the oracle")
    rng = rng_for(seed, "feed/held-out")
    eligible = np.flatnonzero(world.user_signup < end)
    budget = min(MAX_TEST_USERS, max(200, int(2e8 // n_catalog)))
    sampled = np.sort(rng.choice(eligible, size=min(budget, eligible.size), replace=False))
    times = np.maximum(rng.uniform(split, end, sampled.size), world.user_signup[sampled])
    mobile = world.user_mobile[sampled]
    hours = ((times % 1.0) * 24).astype(np.float32)
    n_clicks = np.minimum(
        rng.poisson(world.user_activity[sampled] * config.test_days * config.organic_clicks_per_session), 40
    )
    reading = world.read_catalog(sampled, times, mobile, hours, n_clicks, TOP_K, rng)
    lap("reading")

    stages.start("Ranking held-out users in two stages")
    # Offline protocol: rank once as of the split, judge against what users read afterwards.
    request_times = np.full(sampled.size, split)
    ranked, warm = feed.rank(sampled, request_times, mobile, hours, rankers=[ranker, click_ranker])
    (two_stage, two_stage_scores), (click_trained, _) = ranked
    popular = np.tile(feed.popular, (sampled.size, 1))
    judged = np.array([q.size > 0 for q in reading.engaged])
    qrels = tuple(q for q, j in zip(reading.engaged, judged, strict=True) if j)
    systems = {"popularity": popular, "two_stage": two_stage, "oracle": reading.oracle_top}
    ndcg: dict[str, float] = {}
    recall: dict[str, float] = {}
    for name, lists in systems.items():
        ndcg[name], recall[name] = _offline(lists[judged], qrels)
    ndcg_by_cohort: dict[str, dict[str, float]] = {}
    for cohort, mask in (("with history", warm[judged]), ("cold start", ~warm[judged])):
        cohort_qrels = [q for q, m in zip(qrels, mask, strict=True) if m]
        ndcg_by_cohort[cohort] = {
            name: _offline(lists[judged][mask], cohort_qrels)[0] for name, lists in systems.items()
        }
        ndcg_by_cohort[cohort]["users"] = float(mask.sum())

    # Candidate stage, on a sample of requests: recall of each index against exact search, query
    # speed, and how much of what users went on to read (and of the oracle's picks) it handed over.
    probe_rows = np.flatnonzero(warm)[:PROBE_REQUESTS]
    probe_users = sampled[probe_rows]
    queries = query_vectors(feed.user_vectors[probe_users], recency_weight)
    exact_ids = retrievers["exact"].search(queries, k_candidates)[1] if probe_users.size else None
    index_stats: list[IndexStats] = []
    for name, retriever in retrievers.items():
        recall_vs_exact, query_ms = 1.0, [0.0]
        if exact_ids is not None:
            ids = exact_ids if name == "exact" else retriever.search(queries, k_candidates)[1]
            recall_vs_exact = metrics.neighbor_recall(ids, exact_ids)
            query_ms = []
            for row in queries[:100]:
                started = time.perf_counter()
                retriever.search(row[None, :], k_candidates)
                query_ms.append((time.perf_counter() - started) * 1e3)
        index_stats.append(
            IndexStats(
                name=name,
                settings=_index_settings(retriever),
                recall=recall_vs_exact,
                build_seconds=build_seconds[name],
                query_ms_p50=float(np.median(query_ms)),
                memory_mb=retriever.memory_bytes() / 2**20,
            )
        )
    coverage = {"engaged": 0.0, "oracle_top20": 0.0}
    if probe_users.size:
        cand, valid = feed.candidates(probe_users)
        pools = [c[v] for c, v in zip(cand, valid, strict=True)]
        engaged_in = [
            np.isin(reading.engaged[r], pool).mean()
            for r, pool in zip(probe_rows, pools, strict=True)
            if reading.engaged[r].size
        ]
        oracle_in = [np.isin(reading.oracle_top[r], pool).mean() for r, pool in zip(probe_rows, pools, strict=True)]
        coverage = {
            "engaged": float(np.mean(engaged_in)) if engaged_in else 0.0,
            "oracle_top20": float(np.mean(oracle_in)),
        }

    # A random split lets the baseline count engagements from the very days it is tested on.
    everything = log.between(0.0, end)
    everything = everything.select(everything["engaged"] & (everything["item"] < n_catalog))
    leak = everything.select(rng_for(seed, "feed/random-split").random(len(everything)) < 0.8)
    leaky = PopularityRanker(half_life_days=1.0).fit(
        leak["item"], np.minimum(leak["time"], np.nextafter(split, 0.0)), now=split, n_items=n_catalog
    )
    random_split_ndcg = _offline(np.tile(leaky.recommend(TOP_K), (len(qrels), 1)), qrels)[0]

    # Replay: the same lists scored against what users engaged with in the old feed's held-out logs.
    test_log = log.between(split, end)
    replay = test_log.select(test_log["engaged"] & (test_log["item"] < n_catalog) & np.isin(test_log["user"], sampled))
    replay_rows = np.searchsorted(sampled, np.unique(replay["user"]))
    order = np.argsort(replay["user"], kind="stable")
    bounds = np.searchsorted(replay["user"][order], np.stack([sampled[replay_rows], sampled[replay_rows] + 1]))
    replay_qrels = [np.unique(replay["item"][order][lo:hi]) for lo, hi in zip(*bounds, strict=True)]
    replay_ndcg = {name: _offline(systems[name][replay_rows], replay_qrels)[0] for name in ("popularity", "two_stage")}
    lap("evaluation")

    stages.start("Simulating the A/B test")
    # Each held-out user visits the feed a few times over the held-out days; a visit shows the
    # articles of the user's list not opened yet. Randomised arms, per-user totals, as in a real test.
    visits = np.clip(rng_for(seed, "feed/visits").poisson(world.user_activity[sampled] * config.test_days), 1, 20)
    first_visit = np.maximum(split, world.user_signup[sampled])
    arms = {"popularity": popular, "two_stage": two_stage, "click_model": click_trained}
    # CUPED covariate: each user's sessions before the split (known before the test starts).
    pre_sessions = np.bincount(
        train_log["user"][np.unique(train_log["session"], return_index=True)[1]], minlength=world.n_users
    )[sampled].astype(float)

    def ab_test(control: str, treatment: str, stream: str) -> dict[str, Any]:
        rng = rng_for(seed, stream)
        treated = rng.permutation(sampled.size) < sampled.size // 2
        shown = np.where(treated[:, None], arms[treatment], arms[control])
        clicked, engaged_reads = world.serve_sessions(sampled, shown, visits, first_visit, end, rng)
        clicks, reads = clicked.sum(axis=1).astype(float), engaged_reads.sum(axis=1).astype(float)
        adjusted = metrics.cuped_adjust(reads, pre_sessions)
        raw = metrics.lift_confidence_interval(reads[~treated], reads[treated], method="normal")
        normal = metrics.lift_confidence_interval(adjusted[~treated], adjusted[treated], method="normal")
        boot = metrics.lift_confidence_interval(
            adjusted[~treated], adjusted[treated], method="bootstrap", n_resamples=1000, seed=seed
        )
        return {
            "control": control,
            "treatment": treatment,
            "users": {"control": int((~treated).sum()), "treatment": int(treated.sum())},
            "engaged_per_user": {"control": float(reads[~treated].mean()), "treatment": float(reads[treated].mean())},
            "clicks_per_user": {"control": float(clicks[~treated].mean()), "treatment": float(clicks[treated].mean())},
            "lift": normal.lift,
            "ci_low": normal.low,
            "ci_high": normal.high,
            "bootstrap_ci_low": boot.low,
            "bootstrap_ci_high": boot.high,
            "significant": normal.significant,
            "unadjusted": {"lift": raw.lift, "ci_low": raw.low, "ci_high": raw.high},
            "distinct_sources": {
                "control": metrics.mean_distinct(world.item_source[arms[control][~treated]]),
                "treatment": metrics.mean_distinct(world.item_source[arms[treatment][treated]]),
            },
        }

    ab = ab_test("popularity", "two_stage", "feed/ab-test")
    # The proxy-label example: judged offline on held-out clicks, online on engaged reads.
    proxy_ab = ab_test("two_stage", "click_model", "feed/ab-test-click-model")
    # Interleaving: every held-out user gets one list drafted from both rankers; each engaged read
    # (or click) is credited to the ranker that contributed the article.
    interleave_rng = rng_for(seed, "feed/interleaving")
    merged, team = team_draft_interleave(two_stage, click_trained, interleave_rng)
    merged_clicks, merged_reads = world.serve_sessions(sampled, merged, visits, first_visit, end, interleave_rng)
    interleaving = {}
    for outcome, mask in (("engaged", merged_reads), ("clicks", merged_clicks)):
        result = metrics.interleaving_preference((mask & (team == 0)).sum(axis=1), (mask & (team == 1)).sum(axis=1))
        interleaving[outcome] = {
            "click_model_share": result.share_second,
            "ci_low": result.low,
            "ci_high": result.high,
            "decisive_users": result.decisive,
            "significant": result.significant,
        }
    clicked_rows = np.array([c.size > 0 for c in reading.clicked])
    click_qrels = [c for c in reading.clicked if c.size]
    # What each list is worth under the hidden rules: only a simulator can compute this.
    slots = examination_probability(np.arange(1, TOP_K + 1), config.truth.position_bias_eta)

    def expected_reads(lists: NDArray[np.int64]) -> float:
        width = lists.shape[1]
        probability = world.engagement_probability(
            np.repeat(sampled, width),
            lists.ravel(),
            np.repeat(times, width),
            np.repeat(mobile, width),
            np.repeat(hours, width),
        ).reshape(lists.shape)
        return float(np.mean(probability @ slots[:width]))

    proxy: dict[str, Any] = {
        "true_engaged_per_visit": {
            "engaged_model": expected_reads(two_stage),
            "click_model": expected_reads(click_trained),
        },
        "offline_ndcg_clicks": {
            "engaged_model": _offline(two_stage[clicked_rows], click_qrels)[0],
            "click_model": _offline(click_trained[clicked_rows], click_qrels)[0],
        },
        "offline_ndcg_engaged": {
            "engaged_model": ndcg["two_stage"],
            "click_model": _offline(click_trained[judged], qrels)[0],
        },
        "clickbait_share": {
            "engaged_model": float(world.item_clickbait[two_stage[warm]].mean()) if warm.any() else 0.0,
            "click_model": float(world.item_clickbait[click_trained[warm]].mean()) if warm.any() else 0.0,
        },
        "ab": proxy_ab,
        "interleaving": interleaving,
    }
    lap("ab_test")

    stages.start("Measuring per-request latency")
    latency, samples, popularity_latency, user_vector_us = _measure_latency(
        feed, sampled[warm], request_times[warm], mobile[warm], hours[warm], history, split
    )
    ab["latency_p99_ms"] = {"control": popularity_latency["p99"], "treatment": latency["total"]["p99"]}
    never_shown = serving.item_counts[:, 0] < 1e-6
    new_article_share = float(never_shown[two_stage[warm]].mean()) if warm.any() else 0.0
    lap("latency")

    stages.start("Checking for drift")
    drift: dict[str, dict[str, float]] = {}
    calibration: dict[str, dict[str, float]] = {}
    reference_x = monitor_x["last training day"]
    reference_scores = ranker.predict(reference_x)
    for name in ("held-out day", "shifted day"):
        x = monitor_x[name]
        psi = {
            f: metrics.population_stability_index(reference_x[:, j], x[:, j])
            for j, f in enumerate(FEATURE_NAMES)
            if f in MONITORED
        }
        predicted = ranker.predict(x)
        psi["model_score"] = metrics.population_stability_index(reference_scores, predicted)
        drift[name] = psi
        calibration[name] = {"predicted": float(predicted.mean()), "observed": float(monitor_y[name].mean())}
    lap("drift")
    stages.finish()

    trending = feed.popular
    return FeedResults(
        config=config,
        stage_seconds=stage_seconds,
        logs=described["logs"],
        clickbait=described["clickbait"],
        clickbait_in_top=described["clickbait_in_top"],
        ctr_by_position=described["ctr_by_position"],
        ctr_by_position_shuffled=described["ctr_by_position_shuffled"],
        true_examination=described["true_examination"],
        estimated_examination=priors.examination,
        impressions_per_article_day=len(train_log) / config.train_days / config.items_per_day / config.feed_window_days,
        split_rows={
            "warm-up": int(np.sum(train_log.times < 1.0)),
            "train": len(labelled),
            "held-out": len(test_log),
            "drift": len(log.between(float(drift_day), float(drift_day + 1))),
        },
        random_split_ndcg=random_split_ndcg,
        train_rows=int(y_train.size),
        train_positives=int(y_train.sum()),
        ranker_iterations=ranker.n_iter_,
        heldout_auc=heldout_auc,
        importance=importance,
        trending={
            "clickbait_share": float(world.item_clickbait[trending].mean()),
            "mean_age_hours": float(np.mean(split - world.item_published[trending]) * 24),
        },
        recency_weight=recency_weight,
        recency_recall=recency_recall,
        n_candidates=k_candidates,
        index_stats=tuple(index_stats),
        sampled_users=int(sampled.size),
        cold_new_users=int(np.sum(~warm[judged] & (world.user_signup[sampled[judged]] >= split))),
        users=sampled[judged],
        warm=warm[judged],
        qrels=qrels,
        two_stage=two_stage[judged],
        two_stage_scores=two_stage_scores[judged],
        ndcg=ndcg,
        recall=recall,
        ndcg_by_cohort=ndcg_by_cohort,
        candidate_coverage=coverage,
        replay_ndcg=replay_ndcg,
        replay_users=int(replay_rows.size),
        ab=ab,
        proxy=proxy,
        latency=latency,
        latency_samples_ms=samples,
        popularity_latency=popularity_latency,
        user_vector_us=user_vector_us,
        new_article_share=new_article_share,
        drift=drift,
        calibration=calibration,
    )


def _measure_latency(
    feed: TwoStageFeed,
    users: NDArray[np.int64],
    times: NDArray[np.float64],
    mobile: NDArray[np.bool_],
    hours: NDArray[np.float32],
    history: EventLog,
    now: float,
) -> tuple[dict[str, dict[str, float]], NDArray[np.float64], dict[str, float], dict[str, float]]:
    """Serve requests one at a time, as an endpoint sees them, and time each stage.

    Each request runs on one thread (the whole run does), as in a server that handles concurrent
    requests on separate workers.
    """
    n = min(LATENCY_REQUESTS, users.size)
    warmup = min(10, n)
    stages = ("candidate_generation", "features", "ranking", "total")
    stage_ms: dict[str, list[float]] = {stage: [] for stage in stages}
    for i in [*range(warmup), *range(n)]:
        request = users[i : i + 1]
        t0 = time.perf_counter()
        ids, valid = feed.candidates(request)
        t1 = time.perf_counter()
        x = feed.features(request, ids, times[i : i + 1], mobile[i : i + 1], hours[i : i + 1])
        t2 = time.perf_counter()
        feed.rank_candidates(x, ids, valid)
        t3 = time.perf_counter()
        for stage, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
            stage_ms[stage].append(value * 1e3)
    if n == 0:
        empty = {"p50": 0.0, "p99": 0.0}
        return {stage: dict(empty) for stage in stages}, np.zeros(0), dict(empty), {"cached": 0.0, "rebuilt": 0.0}
    latency = {stage: metrics.latency_percentiles(values[warmup:]) for stage, values in stage_ms.items()}
    samples = np.asarray(stage_ms["total"][warmup:])

    # Cold start serves the trending list computed once per refresh, not per request.
    popular_ms = []
    for _ in range(n):
        t0 = time.perf_counter()
        feed.popular.copy()
        popular_ms.append((time.perf_counter() - t0) * 1e3)

    # Without the cache, each request rebuilds the user vector from the user's engaged-read history.
    order = np.argsort(history["user"], kind="stable")
    hist_users, hist_items = history["user"][order], history["item"][order]
    hist_weight = (0.5 ** ((now - history["time"][order]) / feed.store.half_life_days)).astype(np.float32)
    embedding = feed.store.world.item_embedding
    cached_us, rebuilt_us = [], []
    for user in users[:n].tolist():
        t0 = time.perf_counter()
        cached = feed.user_vectors[user].copy()
        t1 = time.perf_counter()
        lo, hi = np.searchsorted(hist_users, [user, user + 1])
        vector = hist_weight[lo:hi] @ embedding[hist_items[lo:hi]]
        rebuilt = vector / max(float(np.linalg.norm(vector)), 1e-12)
        t2 = time.perf_counter()
        cached_us.append((t1 - t0) * 1e6)
        rebuilt_us.append((t2 - t1) * 1e6)
        del cached, rebuilt
    user_vector_us = {"cached": float(np.median(cached_us)), "rebuilt": float(np.median(rebuilt_us))}
    return latency, samples, metrics.latency_percentiles(popular_ms), user_vector_us


# --- the report -----------------------------------------------------------------------------------

SUMMARY = "News feed: two-stage ranker (ANN candidates → gradient boosting) on a synthetic world with known truth"
"""One-line description shown by ``mlsd demo``."""


def _pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}%"


def _signed_pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:+.{digits}f}%"


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base > 0 else "—"


def _prefers(first: float, second: float, names: tuple[str, str], higher_is_better: bool = True) -> str:
    if first == second:
        return "tie"
    return names[0] if (first > second) == higher_is_better else names[1]


def _psi_verdict(value: float) -> str:
    if value > 0.25:
        return "retrain"
    return "watch" if value > 0.1 else "stable"


def _section_clarify(r: FeedResults) -> Section:
    cfg = r.config
    scale = SEED_SCALE["users"] / cfg.n_users
    # Live articles per day at full scale vs here: the prompt publishes 100K a day.
    full_scale_per_article = r.impressions_per_article_day * scale * cfg.items_per_day / SEED_SCALE["items_per_day"]
    return Section(
        "clarify",
        (
            Text(
                "[bold]Prompt:[/bold] rank articles for each user's home feed — about 10M users and 100K fresh "
                "articles a day, under 150 ms per request, for long-term engagement rather than clicks."
            ),
            Table(
                ("", "the prompt", "this run"),
                (
                    ("users", f"{SEED_SCALE['users']:,}", f"{cfg.n_users:,} (1 : {scale:,.0f})"),
                    ("articles", f"~{SEED_SCALE['items_per_day']:,} fresh a day", f"{cfg.n_items:,} in the catalog"),
                    (
                        "requests",
                        "10M users × a few visits a day",
                        f"{r.logs['sessions']:,.0f} logged sessions, {r.sampled_users:,} users ranked",
                    ),
                    (
                        "latency",
                        f"< {SEED_SCALE['latency_ms']} ms end to end",
                        f"≤ {RANKING_BUDGET_MS:.0f} ms p99 for our part",
                    ),
                    (
                        "objective",
                        "long-term engagement",
                        f"engaged read: click + dwell > {cfg.engaged_dwell_seconds:.0f} s",
                    ),
                ),
            ),
            Text(
                "Users are scaled down; the catalog keeps its size, because retrieval cost grows with articles, "
                "not users. Latency is measured per request (throughput scales with replicas); our part is "
                "candidates + features + ranking, the rest of the 150 ms goes to the network, feature fetches "
                "and rendering."
            ),
            Text(
                f"The price of scaling users down: each live article gets about {r.impressions_per_article_day:.0f} "
                f"impressions a day here instead of ~{full_scale_per_article:,.0f}, so a fresh article's appeal is "
                "far harder to measure than at full scale (it shows in step 6)."
            ),
        ),
    )


def _section_frame(r: FeedResults) -> Section:
    cfg = r.config
    bait, other = r.clickbait["clickbait"], r.clickbait["other"]
    rows = tuple(
        (
            name,
            _pct(group["share"]),
            _pct(group["ctr"], 2),
            _pct(group["engaged_rate"], 2),
            _pct(group["engaged_per_click"]),
            f"{group['median_dwell_s']:.0f}",
        )
        for name, group in (("clickbait", bait), ("other articles", other))
    )
    wins_ctr = bait["ctr"] > other["ctr"]
    loses_engaged = bait["engaged_rate"] < other["engaged_rate"]
    if wins_ctr and loses_engaged:
        lesson = (
            f"Clickbait wins on clicks (CTR {_pct(bait['ctr'], 2)} vs {_pct(other['ctr'], 2)}) and loses on "
            f"what we want (engaged rate {_pct(bait['engaged_rate'], 2)} vs {_pct(other['engaged_rate'], 2)}): "
            "a click label would teach the ranker to promote it."
        )
    else:
        lesson = (
            "In this run clickbait does not both win on CTR and lose on engaged rate; "
            "the engaged label still guards against it."
        )
    top = r.clickbait_in_top
    if top.get("n", 0):
        lesson += (
            f" Of the {top['n']:.0f} busiest articles ranked by CTR, {_pct(top['by_ctr'], 0)} are clickbait; "
            f"ranked by engaged rate, {_pct(top['by_engaged_rate'], 0)}."
        )
    return Section(
        "frame",
        (
            KeyValues(
                (
                    ("predict", "P(engaged | user, article, context) for every candidate article"),
                    (
                        "label",
                        f"engaged = click and dwell > {cfg.engaged_dwell_seconds:.0f} s "
                        "(a click alone rewards clickbait)",
                    ),
                    ("task", "ranking fed by retrieval: candidates → score → sort → top 20"),
                    ("simplest version", "one popularity (trending) list for everyone: the baseline to beat"),
                )
            ),
            Table(
                (
                    "old feed's logs, training days",
                    "impressions",
                    "CTR",
                    "engaged rate",
                    "engaged per click",
                    "median dwell s",
                ),
                rows,
            ),
            Text(lesson),
        ),
    )


def _section_data(r: FeedResults) -> Section:
    cfg = r.config
    slots = range(1, cfg.slate_size + 1)
    position_rows = tuple(
        (
            str(slot),
            _pct(r.ctr_by_position[slot - 1], 2),
            _pct(r.ctr_by_position_shuffled[slot - 1], 2),
            f"{r.estimated_examination[slot - 1]:.2f}",
            f"{r.true_examination[slot - 1]:.2f}",
        )
        for slot in slots
    )
    last = cfg.slate_size - 1
    shuffled_ratio = (
        r.ctr_by_position_shuffled[last] / r.ctr_by_position_shuffled[0] if r.ctr_by_position_shuffled[0] else 0.0
    )
    honest_ndcg = r.ndcg["popularity"]
    inflation = r.random_split_ndcg / honest_ndcg - 1 if honest_ndcg > 0 else 0.0
    return Section(
        "data",
        (
            KeyValues(
                (
                    ("source", "the old feed's impression logs: implicit feedback (shown, clicked, dwell)"),
                    (
                        "training days",
                        f"{r.logs['impressions']:,.0f} impressions, {r.logs['sessions']:,.0f} sessions, "
                        f"{r.logs['users']:,.0f} users",
                    ),
                    ("rates", f"CTR {_pct(r.logs['ctr'], 2)}, engaged rate {_pct(r.logs['engaged_rate'], 2)}"),
                )
            ),
            BarChart(
                tuple((f"slot {slot}", float(r.ctr_by_position[slot - 1])) for slot in slots),
                title="CTR by slot, all sessions",
                value_format="{:.2%}",
            ),
            Table(
                ("slot", "CTR, all sessions", "CTR, shuffled slates", "estimated attention", "true attention"),
                position_rows,
                title="Position bias",
            ),
            Text(
                "In ordered sessions the old feed puts its favourites on top, so the curve mixes position bias "
                f"with its choices. Sessions with a shuffled slate isolate the bias: slot {cfg.slate_size} gets about "
                f"{shuffled_ratio:.2f} of slot 1's clicks (true attention ratio: {r.true_examination[last]:.2f}). "
                "The ranker learns with the slot as a feature and scores with slot 1; the article counters "
                "divide clicks by this curve."
            ),
            Table(
                ("part", "days", "impressions", "used for"),
                (
                    ("warm-up", "0", f"{r.split_rows['warm-up']:,}", "counters and priors only"),
                    (
                        "training",
                        f"1–{cfg.train_days - 1}",
                        f"{r.split_rows['train']:,}",
                        "ranker rows, features as of each morning",
                    ),
                    (
                        "held-out",
                        f"{cfg.train_days}–{cfg.train_days + cfg.test_days - 1}",
                        f"{r.split_rows['held-out']:,}",
                        "offline evaluation, online tests",
                    ),
                    ("shifted day", f"{int(cfg.drift_day)}", f"{r.split_rows['drift']:,}", "drift check"),
                ),
                title="Split by time, never at random",
            ),
            Text(
                "A random split would let the baseline count engagements from the very days it is tested on: "
                f"popularity's NDCG@20 would read {r.random_split_ndcg:.4f} instead of {honest_ndcg:.4f} "
                f"({_signed_pct(inflation, 0)})."
            ),
        ),
    )


def _section_features(r: FeedResults) -> Section:
    ranked = sorted(r.importance.items(), key=lambda item: -item[1])[:8]
    return Section(
        "features",
        (
            Table(("feature", "group", "what it measures"), tuple((f.name, f.group, f.description) for f in FEATURES)),
            Text(
                "Counters decay with a 3-day half-life and are read as of the start of the request's day, so a "
                "training row never sees its own outcome (point-in-time features); smoothing priors and the "
                "position curve are fixed on the warm-up day. Production would refresh article counters every "
                "few minutes and user vectors from a cache."
            ),
            BarChart(
                tuple((name, max(0.0, value)) for name, value in ranked),
                title="Top features: drop in ROC AUC when shuffled (held-out day)",
                value_format="{:.4f}",
            ),
            KeyValues((("ranker ROC AUC on the held-out day's impressions", f"{r.heldout_auc:.3f}"),)),
        ),
    )


def _section_model(r: FeedResults) -> Section:
    cfg = r.config
    grid = ", ".join(f"{w:g}: {recall:.2f}" for w, recall in r.recency_recall.items())
    index_rows = tuple(
        (
            stats.name,
            stats.settings,
            f"{stats.recall:.3f}",
            f"{stats.query_ms_p50:.2f} ms",
            f"{stats.build_seconds:.1f} s",
            f"{stats.memory_mb:.1f} MB",
        )
        for stats in r.index_stats
    )
    return Section(
        "model",
        (
            Text(
                "[bold]Baseline — popularity:[/bold] every article's engaged reads, halved each day, as of the "
                f"split; everyone gets the same top 20 ({_pct(r.trending['clickbait_share'], 0)} clickbait, mean age "
                f"{r.trending['mean_age_hours']:.0f} h)."
            ),
            Table(
                ("index", "settings", f"recall@{r.n_candidates} vs exact", "query p50", "build", "memory"),
                index_rows,
                title=(
                    f"Stage 1 — candidate generation: {cfg.n_items:,} articles → {r.n_candidates} by ANN "
                    f"(+{N_TRENDING} trending)"
                ),
            ),
            Text(
                "The query is the user's reading profile (decayed sum of engaged-read embeddings) plus a recency "
                "coordinate, so score = cosine + w × (published − now) in days. "
                f"w = {r.recency_weight:g} was picked on the last training day by exact-search recall of that day's "
                f"engaged reads ({grid}). HNSW serves the candidates; IVF-PQ is the memory-saving alternative."
            ),
            KeyValues(
                (
                    ("model", "scikit-learn HistGradientBoostingClassifier, label = engaged"),
                    (
                        "training rows",
                        f"{r.train_rows:,} ({r.train_positives:,} engaged; the rest subsampled, "
                        "probabilities corrected for it)",
                    ),
                    ("trees", f"{r.ranker_iterations} (31 leaves, early stopping)"),
                    ("monotonic", ", ".join(f"{name} {'↑' if sign > 0 else '↓'}" for name, sign in MONOTONIC.items())),
                    ("cold start", "users without an engaged read get the popularity list (step 7)"),
                ),
                title=f"Stage 2 — gradient-boosted ranker: ~{r.n_candidates + N_TRENDING} candidates → top {TOP_K}",
            ),
        ),
    )


def _section_evaluation(r: FeedResults) -> Section:
    ndcg, recall = r.ndcg, r.recall
    pop, oracle = ndcg["popularity"], ndcg["oracle"]
    offline_rows = tuple(
        (label, f"{ndcg[key]:.4f}", f"{recall[key]:.3f}", _ratio(ndcg[key], pop), _ratio(ndcg[key], oracle))
        for key, label in (
            ("popularity", "popularity"),
            ("two_stage", "two-stage"),
            ("oracle", "oracle (knows the truth)"),
        )
    )
    cohort_rows = tuple(
        (
            cohort,
            f"{values['users']:.0f}",
            f"{values['popularity']:.4f}",
            f"{values['two_stage']:.4f}",
            f"{values['oracle']:.4f}",
        )
        for cohort, values in r.ndcg_by_cohort.items()
    )
    recall_500 = {s.name: s.recall for s in r.index_stats if s.name != "exact"}
    ab = r.ab
    control, treatment = ab["engaged_per_user"]["control"], ab["engaged_per_user"]["treatment"]
    latency_ok = ab["latency_p99_ms"]["treatment"] <= SEED_SCALE["latency_ms"]
    diversity_ok = ab["distinct_sources"]["treatment"] >= 0.9 * ab["distinct_sources"]["control"]
    ship = ab["significant"] and ab["lift"] > 0 and latency_ok and diversity_ok
    proxy = r.proxy
    proxy_ab = proxy["ab"]
    names = ("engaged-trained", "click-trained")
    inter_engaged, inter_clicks = proxy["interleaving"]["engaged"], proxy["interleaving"]["clicks"]

    def interleaving_cell(result: dict[str, Any], model: str) -> str:
        share = result["click_model_share"] if model == "click" else 1 - result["click_model_share"]
        return _pct(share, 0)

    def interleaving_winner(result: dict[str, Any]) -> str:
        if not result["significant"]:
            return "no clear winner"
        return names[1] if result["click_model_share"] > 0.5 else names[0]

    offline_clicks = proxy["offline_ndcg_clicks"]
    truth = proxy["true_engaged_per_visit"]
    offline_engaged = proxy["offline_ndcg_engaged"]
    proxy_rows = (
        (
            "offline NDCG@20 on held-out clicks",
            f"{offline_clicks['engaged_model']:.4f}",
            f"{offline_clicks['click_model']:.4f}",
            _prefers(offline_clicks["engaged_model"], offline_clicks["click_model"], names),
        ),
        (
            "offline NDCG@20 on held-out engaged reads",
            f"{offline_engaged['engaged_model']:.4f}",
            f"{offline_engaged['click_model']:.4f}",
            _prefers(offline_engaged["engaged_model"], offline_engaged["click_model"], names),
        ),
        (
            "online interleaving: users preferring it, by clicks",
            interleaving_cell(inter_clicks, "engaged"),
            interleaving_cell(inter_clicks, "click"),
            interleaving_winner(inter_clicks),
        ),
        (
            "online interleaving: users preferring it, by engaged reads",
            interleaving_cell(inter_engaged, "engaged"),
            interleaving_cell(inter_engaged, "click"),
            interleaving_winner(inter_engaged),
        ),
        (
            "online A/B: engaged reads per user",
            f"{proxy_ab['engaged_per_user']['control']:.3f}",
            f"{proxy_ab['engaged_per_user']['treatment']:.3f}",
            _prefers(proxy_ab["engaged_per_user"]["control"], proxy_ab["engaged_per_user"]["treatment"], names),
        ),
        (
            "truth (simulator only): expected engaged reads per visit",
            f"{truth['engaged_model']:.3f}",
            f"{truth['click_model']:.3f}",
            _prefers(truth["engaged_model"], truth["click_model"], names),
        ),
        (
            "clickbait share of the feeds",
            _pct(proxy["clickbait_share"]["engaged_model"], 0),
            _pct(proxy["clickbait_share"]["click_model"], 0),
            "",
        ),
    )
    offline_says = _prefers(offline_clicks["engaged_model"], offline_clicks["click_model"], names)
    online_says = interleaving_winner(inter_engaged)
    # The interleaving interval is on the click-trained share; turn it round when the other side wins.
    share, low, high = inter_engaged["click_model_share"], inter_engaged["ci_low"], inter_engaged["ci_high"]
    if online_says == names[0]:
        share, low, high = 1 - share, 1 - high, 1 - low
    if online_says != "no clear winner" and offline_says != online_says:
        ab_agrees = (proxy_ab["lift"] < 0) == (online_says == names[0])
        if ab_agrees and proxy_ab["significant"]:
            ab_note = "the A/B test agrees"
        elif ab_agrees:
            arm = proxy_ab["users"]["treatment"]
            ab_note = f"the A/B test points the same way but, with {arm:,} users an arm, is not conclusive"
        else:
            ab_note = "the A/B test, much less sensitive, points the other way"
        disagreement = (
            f"Offline, on clicks — the label every log has in bulk — the {offline_says} ranker looks better. "
            f"Online, on engaged reads, users prefer the {online_says} one: {_pct(share, 0)} of the "
            f"{inter_engaged['decisive_users']} users whose interleaved feed showed a preference "
            f"(95% CI {_pct(low, 0)}–{_pct(high, 0)}); {ab_note} ({_signed_pct(proxy_ab['lift'])} engaged reads "
            f"per user for the click-trained arm, 95% CI {_signed_pct(proxy_ab['ci_low'])} to "
            f"{_signed_pct(proxy_ab['ci_high'])}). Offline and online disagree, and online wins."
        )
    else:
        disagreement = (
            f"In this run the offline metric prefers the {offline_says} ranker and the online tests say "
            f"'{online_says}': no disagreement to show for this seed."
        )
    gap = truth["click_model"] / truth["engaged_model"] - 1 if truth["engaged_model"] > 0 else 0.0
    disagreement += (
        f" Only a simulator can check the truth: the click-trained lists are worth {_signed_pct(gap)} "
        "engaged reads per visit."
    )
    replay = r.replay_ndcg
    replay_text = (
        f"Replaying the old feed's held-out logs ({r.replay_users:,} users; credit only for articles it chose to show) "
        f"gives popularity {replay['popularity']:.4f} and two-stage {replay['two_stage']:.4f}: "
        + (
            "it agrees with the A/B here."
            if (replay["two_stage"] > replay["popularity"]) == (ab["lift"] > 0)
            else "it disagrees with the A/B — the old feed's choices limit what a replay can credit."
        )
    )
    return Section(
        "evaluation",
        (
            Table(
                ("system", "NDCG@20", "Recall@20", "× popularity", "× oracle"),
                offline_rows,
                title=f"Offline, held-out days: {len(r.users):,} users with at least one engaged read",
            ),
            Table(("cohort", "users", "popularity", "two-stage", "oracle"), cohort_rows, title="NDCG@20 by cohort"),
            KeyValues(
                (
                    (
                        f"recall@{r.n_candidates} vs exact search",
                        ", ".join(f"{name} {value:.3f}" for name, value in recall_500.items()),
                    ),
                    ("held-out engaged reads inside the candidates", _pct(r.candidate_coverage["engaged"])),
                    ("oracle's top 20 inside the candidates", _pct(r.candidate_coverage["oracle_top20"])),
                ),
                title="Candidate stage",
            ),
            Table(
                ("", "popularity (control)", "two-stage (treatment)"),
                (
                    ("users", f"{ab['users']['control']:,}", f"{ab['users']['treatment']:,}"),
                    ("engaged reads per user", f"{control:.3f}", f"{treatment:.3f}"),
                    (
                        "clicks per user",
                        f"{ab['clicks_per_user']['control']:.3f}",
                        f"{ab['clicks_per_user']['treatment']:.3f}",
                    ),
                    (
                        "distinct sources in a feed",
                        f"{ab['distinct_sources']['control']:.1f}",
                        f"{ab['distinct_sources']['treatment']:.1f}",
                    ),
                    (
                        "p99 latency",
                        f"{ab['latency_p99_ms']['control']:.2f} ms",
                        f"{ab['latency_p99_ms']['treatment']:.2f} ms",
                    ),
                ),
                title="Online: simulated A/B test over the held-out days",
            ),
            KeyValues(
                (
                    (
                        "engaged reads per user",
                        f"{_signed_pct(ab['lift'])} "
                        f"(95% CI {_signed_pct(ab['ci_low'])} to {_signed_pct(ab['ci_high'])}; "
                        f"bootstrap {_signed_pct(ab['bootstrap_ci_low'])} to {_signed_pct(ab['bootstrap_ci_high'])}; "
                        "CUPED on pre-period sessions)",
                    ),
                    (
                        "guardrail: latency",
                        f"p99 {ab['latency_p99_ms']['treatment']:.2f} ms vs {SEED_SCALE['latency_ms']} ms budget — "
                        + ("pass" if latency_ok else "FAIL"),
                    ),
                    (
                        "guardrail: source diversity",
                        f"{ab['distinct_sources']['treatment']:.1f} vs "
                        f"{ab['distinct_sources']['control']:.1f} distinct "
                        "sources per feed (≥ 90% of control) — " + ("pass" if diversity_ok else "FAIL"),
                    ),
                    ("decision", "ship" if ship else "do not ship"),
                )
            ),
            Table(
                ("evaluation", *names, "prefers"),
                proxy_rows,
                title="Offline and online can disagree: the same two-stage system trained on clicks",
            ),
            Text(disagreement),
            Text(replay_text),
        ),
    )


def _latency_histogram(samples: NDArray[np.float64]) -> BarChart:
    if samples.size == 0:
        return BarChart((), title="Total latency per request")
    top = float(np.quantile(samples, 0.995))
    edges = np.linspace(float(samples.min()), max(top, float(samples.min()) + 1e-3), 9)
    counts = np.histogram(np.minimum(samples, edges[-1]), bins=edges)[0]
    return BarChart(
        tuple((f"{lo:5.2f}–{hi:5.2f} ms", float(c)) for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)),
        title="Total latency per request (requests per bucket)",
        value_format="{:.0f}",
    )


def _section_serving(r: FeedResults) -> Section:
    lat = r.latency
    budget_ok = lat["total"]["p99"] <= RANKING_BUDGET_MS
    cache = r.user_vector_us
    saved_us = cache["rebuilt"] - cache["cached"]
    cold = r.ndcg_by_cohort["cold start"]
    n_cold = int(cold["users"])
    drift_rows = []
    monitored = [name for name in (*MONITORED, "model_score") if name in r.drift["shifted day"]]
    worst = sorted(monitored, key=lambda name: -r.drift["shifted day"][name])[:6]
    if "model_score" not in worst:
        worst.append("model_score")
    for name in worst:
        drift_rows.append((name, f"{r.drift['held-out day'][name]:.3f}", f"{r.drift['shifted day'][name]:.3f}"))
    verdicts = []
    for day, values in r.drift.items():
        feature, value = max(values.items(), key=lambda item: item[1])
        calib = r.calibration[day]
        verdicts.append(
            (
                day,
                f"max PSI {value:.3f} ({feature}) → {_psi_verdict(value)}; engaged rate predicted "
                f"{_pct(calib['predicted'], 2)}, observed {_pct(calib['observed'], 2)}",
            )
        )
    return Section(
        "serving",
        (
            Table(
                ("stage", "p50", "p99"),
                (
                    *(
                        (stage.replace("_", " "), f"{lat[stage]['p50']:.2f} ms", f"{lat[stage]['p99']:.2f} ms")
                        for stage in ("candidate_generation", "features", "ranking", "total")
                    ),
                    (
                        "popularity list (precomputed; cold start)",
                        f"{r.popularity_latency['p50']:.2f} ms",
                        f"{r.popularity_latency['p99']:.2f} ms",
                    ),
                ),
                title=f"Per-request latency, {r.latency_samples_ms.size} requests served one at a time",
            ),
            _latency_histogram(r.latency_samples_ms),
            Text(
                f"Target p99 ≤ {RANKING_BUDGET_MS:.0f} ms for candidates + features + ranking at {r.config.n_items:,} "
                f"articles: {'met' if budget_ok else 'missed'} ({lat['total']['p99']:.2f} ms). "
                "benchmarks/demo_feed.py shows how it grows at 1,000,000 articles."
            ),
            KeyValues(
                (
                    ("cached user vector", f"{cache['cached']:.1f} µs per lookup (p50)"),
                    ("rebuilt from the read history", f"{cache['rebuilt']:.1f} µs per request (p50)"),
                    (
                        "saving",
                        f"{saved_us:.1f} µs per request ({_pct(saved_us / 1000 / lat['total']['p50'])} of the p50); "
                        "here the 'user tower' is a weighted mean, a real encoder costs far more",
                    ),
                ),
                title="Caching the user embedding",
            ),
            KeyValues(
                (
                    (
                        "users without an engaged read",
                        f"{n_cold:,} of {len(r.users):,} evaluated ({_pct(n_cold / max(1, len(r.users)))}; "
                        f"{r.cold_new_users:,} signed up after the split) → popularity list",
                    ),
                    (
                        "their NDCG@20",
                        f"popularity {cold['popularity']:.4f} vs oracle {cold['oracle']:.4f}: onboarding questions "
                        "or session signals would be the next step",
                    ),
                    (
                        "new articles",
                        f"{_pct(r.new_article_share)} of two-stage slots go to articles never shown before the split — "
                        "content embeddings let them in without any clicks",
                    ),
                ),
                title="Cold start",
            ),
            Table(
                ("feature", "held-out day", "shifted day"),
                tuple(drift_rows),
                title="Drift check: PSI against the last training day (>0.1 watch, >0.25 retrain)",
            ),
            KeyValues(
                tuple(verdicts),
                title="On the shifted day a breaking story dominates and a marketing push brings a wave of new users",
            ),
        ),
    )


def _trec_files(r: FeedResults) -> dict[str, str]:
    """The two-stage top 20 per evaluated user as a TREC run, and the held-out engagements as qrels."""
    run_lines: list[str] = []
    for user, ids, scores in zip(r.users.tolist(), r.two_stage.tolist(), r.two_stage_scores.tolist(), strict=True):
        previous = math.inf
        for rank, (item, score) in enumerate(zip(ids, scores, strict=True), start=1):
            # trec_eval orders by score (ties by docid), not by rank: keep the scores strictly falling.
            value = min(round(float(score), 6), previous - 1e-6)
            previous = value
            run_lines.append(f"u{user} Q0 a{item} {rank} {value:.6f} two_stage")
    qrel_lines = [
        f"u{user} 0 a{item} 1"
        for user, items in zip(r.users.tolist(), r.qrels, strict=True)
        for item in sorted(items.tolist())
    ]
    return {"run.trec": "\n".join(run_lines) + "\n", "qrels.trec": "\n".join(qrel_lines) + "\n"}


def build_report(r: FeedResults) -> DemoReport:
    """Turn a feed run's measurements into the seven-step report."""
    cfg = r.config
    metrics_json: dict[str, Any] = {
        "ndcg@20": dict(r.ndcg),
        "recall@20": dict(r.recall),
        "recall@500": {s.name: s.recall for s in r.index_stats if s.name != "exact"},
        "ndcg@20_by_cohort": r.ndcg_by_cohort,
        "candidate_coverage": r.candidate_coverage,
        "replay_ndcg@20": r.replay_ndcg,
        "random_split_popularity_ndcg@20": r.random_split_ndcg,
        "ab_test": {key: r.ab[key] for key in ("lift", "ci_low", "ci_high", "significant", "engaged_per_user")},
        "offline_vs_online": {
            "offline_ndcg@20_clicks": r.proxy["offline_ndcg_clicks"],
            "offline_ndcg@20_engaged": r.proxy["offline_ndcg_engaged"],
            "interleaving_click_model_share": {
                key: value["click_model_share"] for key, value in r.proxy["interleaving"].items()
            },
            "ab_lift_click_model": r.proxy["ab"]["lift"],
        },
        "drift_psi_max": {day: max(values.values()) for day, values in r.drift.items()},
        "heldout_auc": r.heldout_auc,
    }
    latency_json = {stage: dict(values) for stage, values in r.latency.items()}
    return DemoReport(
        scenario="feed",
        title="mlsd demo feed — a miniature two-stage news-feed ranker",
        seed=cfg.seed,
        sections=(
            _section_clarify(r),
            _section_frame(r),
            _section_data(r),
            _section_features(r),
            _section_model(r),
            _section_evaluation(r),
            _section_serving(r),
        ),
        headline=Headline(
            metric="ndcg@20",
            model=r.ndcg["two_stage"],
            baseline=r.ndcg["popularity"],
            higher_is_better=True,
            model_name="two_stage",
            baseline_name="popularity",
        ),
        metrics=metrics_json,
        latency_ms=latency_json,
        params={
            "users": cfg.n_users,
            "items": cfg.n_items,
            "held_out_users": r.sampled_users,
            "evaluated_users": len(r.users),
            "candidates": r.n_candidates,
            "trending_candidates": N_TRENDING,
            "top_k": TOP_K,
            "recency_weight": r.recency_weight,
            "train_rows": r.train_rows,
        },
        artifacts=_trec_files(r),
    )


def run(options: DemoOptions, progress: ProgressCallback | None = None) -> DemoReport:
    """Entry point used by the demo registry: validate sizes, simulate, report."""
    return build_report(simulate_feed(feed_config(options), progress))
