"""Rankers with the scikit-learn shape: a popularity baseline and a gradient-boosted ranker.

Both expose ``fit`` and ``predict`` (a score per item or per feature row); every random choice sits
behind ``seed`` and bad parameters raise ``ValueError`` with a readable message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = ["GradientBoostedRanker", "PopularityRanker", "single_threaded", "team_draft_interleave", "top_k"]


def top_k(scores: ArrayLike, k: int) -> NDArray[np.int64]:
    """Indices of the k highest scores along the last axis, best first; ties go to the lower index."""
    values = np.asarray(scores)
    if isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = min(int(k), values.shape[-1])
    # A stable sort on the negated scores keeps tie-breaking independent of argpartition's internals.
    if values.shape[-1] > 4 * k:
        part = np.argpartition(-values, k - 1, axis=-1)[..., :k]
        part = np.sort(part, axis=-1)
        order = np.argsort(-np.take_along_axis(values, part, axis=-1), axis=-1, kind="stable")
        return np.take_along_axis(part, order, axis=-1).astype(np.int64)
    return np.argsort(-values, axis=-1, kind="stable")[..., :k].astype(np.int64)


def team_draft_interleave(
    first: ArrayLike, second: ArrayLike, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """Team-draft interleaving of two rankings per row (Radlinski et al., 2008).

    In each round a coin decides which ranker drafts first; each then adds its best item not yet
    in the merged list. Returns the merged lists (same length as the inputs) and, per slot, the
    team that contributed it (0 = first, 1 = second); credit users' engagement to teams to see
    which ranker they prefer.
    """
    lists = (np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64))
    if lists[0].shape != lists[1].shape or lists[0].ndim != 2:
        raise ValueError("both rankings must be 2-D arrays of the same shape (one row per user)")
    n_rows, width = lists[0].shape
    merged = np.empty((n_rows, width), dtype=np.int64)
    team = np.empty((n_rows, width), dtype=np.int8)
    coins = rng.random((n_rows, width)) < 0.5
    for row in range(n_rows):
        chosen: set[int] = set()
        cursor = [0, 0]
        slot = 0
        for round_index in range(width):
            order = (1, 0) if coins[row, round_index] else (0, 1)
            for side in order:
                ranking = lists[side][row]
                while cursor[side] < width and int(ranking[cursor[side]]) in chosen:
                    cursor[side] += 1
                if slot < width and cursor[side] < width:
                    item = int(ranking[cursor[side]])
                    chosen.add(item)
                    merged[row, slot], team[row, slot] = item, side
                    slot += 1
            if slot >= width:
                break
        if slot < width:
            raise ValueError("rankings ran out of distinct items to interleave")
    return merged, team


_THREADPOOLS: Any = None


def _openmp_threads(n_threads: int | None) -> AbstractContextManager[Any]:
    """A context capping scikit-learn's OpenMP threads (no-op for None).

    threadpoolctl is the library scikit-learn itself depends on and documents for this.
    """
    global _THREADPOOLS
    if n_threads is None:
        return nullcontext()
    from threadpoolctl import ThreadpoolController

    if _THREADPOOLS is None:
        # Created after scikit-learn's OpenMP runtime is loaded, so it can see it.
        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS.limit(limits=n_threads, user_api="openmp")


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run numerical code on one thread: scikit-learn's OpenMP, BLAS and faiss alike.

    Two reasons. OpenMP barriers spin; when other processes hold the cores, a tree ensemble that
    takes seconds on one thread can take minutes on two. And float sums reduced by a different
    number of threads round differently, so one thread keeps "same seed, same numbers" true on
    every machine.
    """
    # The cap reaches only thread pools already loaded: load faiss's and scikit-learn's OpenMP and SciPy's
    # BLAS first, or the first run in a process would still train on every core.
    import faiss
    import scipy.linalg  # noqa: F401
    import sklearn.ensemble
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import ThreadpoolController

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        with ThreadpoolController().limit(limits=1):
            yield
    finally:
        faiss.omp_set_num_threads(previous)


class PopularityRanker:
    """Scores items by time-decayed engagement counts ("trending"): the baseline every model must beat."""

    def __init__(self, half_life_days: float = 1.0) -> None:
        if not half_life_days > 0:
            raise ValueError(f"half_life_days must be positive, got {half_life_days!r}")
        self.half_life_days = float(half_life_days)
        self.scores_: NDArray[np.float64] | None = None

    def fit(
        self,
        item_ids: ArrayLike,
        event_times: ArrayLike,
        now: float,
        n_items: int,
        weights: ArrayLike | None = None,
    ) -> PopularityRanker:
        """Count each item's engagement events, each weighted by 0.5 ** (age / half-life) at ``now``.

        ``weights`` counts an event several times (e.g. an aggregated row of many engagements).
        """
        items = np.asarray(item_ids, dtype=np.int64)
        times = np.asarray(event_times, dtype=float)
        if items.shape != times.shape or items.ndim != 1:
            raise ValueError("item_ids and event_times must be 1-D arrays of the same length")
        counts = np.ones(items.shape) if weights is None else np.asarray(weights, dtype=float)
        if counts.shape != items.shape or np.any(counts < 0):
            raise ValueError("weights must be non-negative, one per event")
        if n_items < 1 or (items.size and (items.min() < 0 or items.max() >= n_items)):
            raise ValueError("item ids must lie in [0, n_items)")
        if times.size and times.max() >= now:
            raise ValueError("events at or after `now` would leak the future into the baseline")
        decayed = counts * 0.5 ** ((now - times) / self.half_life_days)
        self.scores_ = np.bincount(items, weights=decayed, minlength=n_items).astype(np.float64)
        return self

    def predict(self, item_ids: ArrayLike) -> NDArray[np.float64]:
        """Popularity score of each item id."""
        if self.scores_ is None:
            raise ValueError("PopularityRanker is not fitted; call fit(...) first")
        return self.scores_[np.asarray(item_ids, dtype=np.int64)]

    def recommend(self, k: int, candidates: ArrayLike | None = None) -> NDArray[np.int64]:
        """The k most popular item ids (among ``candidates`` if given), most popular first."""
        if self.scores_ is None:
            raise ValueError("PopularityRanker is not fitted; call fit(...) first")
        if candidates is None:
            return top_k(self.scores_, k)
        pool = np.asarray(candidates, dtype=np.int64)
        return pool[top_k(self.scores_[pool], k)]


class GradientBoostedRanker:
    """Pointwise ranker: P(positive | features) from scikit-learn's HistGradientBoostingClassifier.

    ``monotonic`` maps feature names to +1 / −1: the prediction may only rise / fall with them.
    ``n_threads`` caps scikit-learn's OpenMP threads for fit and predict (None: all cores).
    """

    def __init__(
        self,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 100,
        l2_regularization: float = 1.0,
        monotonic: Mapping[str, int] | None = None,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        for name, value in (
            ("max_iter", max_iter),
            ("max_leaf_nodes", max_leaf_nodes),
            ("min_samples_leaf", min_samples_leaf),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if max_leaf_nodes < 2:
            raise ValueError("max_leaf_nodes must be at least 2")
        if not 0 < learning_rate <= 1:
            raise ValueError(f"learning_rate must be in (0, 1], got {learning_rate!r}")
        if l2_regularization < 0:
            raise ValueError("l2_regularization must be non-negative")
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        if monotonic and any(direction not in (-1, 0, 1) for direction in monotonic.values()):
            raise ValueError("monotonic directions must be -1, 0 or 1")
        self.monotonic = dict(monotonic or {})
        if n_threads is not None and (isinstance(n_threads, bool) or n_threads < 1):
            raise ValueError(f"n_threads must be a positive integer or None, got {n_threads!r}")
        self.n_threads = n_threads
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.seed = seed
        self.model_: HistGradientBoostingClassifier | None = None
        self.feature_names_: tuple[str, ...] = ()
        self.negative_rate_ = 1.0

    def fit(
        self,
        features: ArrayLike,
        labels: ArrayLike,
        sample_weight: ArrayLike | None = None,
        feature_names: Sequence[str] | None = None,
        negative_rate: float = 1.0,
    ) -> GradientBoostedRanker:
        """Train on feature rows and binary labels (1 = the outcome we rank for).

        ``negative_rate`` is the share of negative rows kept when the training set was built
        (all positives kept). Predictions are corrected for it, p = p'r / (p'r + 1 − p'), which
        keeps them calibrated without re-weighting: weights of 1/r would also shrink the L2
        penalty's relative pull, growing every tree to full size and fitting several times slower.
        """
        from sklearn.ensemble import HistGradientBoostingClassifier

        if not 0 < negative_rate <= 1:
            raise ValueError(f"negative_rate must be in (0, 1], got {negative_rate!r}")
        self.negative_rate_ = float(negative_rate)

        x = np.asarray(features, dtype=float)
        y = np.asarray(labels)
        if x.ndim != 2 or y.shape != (x.shape[0],):
            raise ValueError("features must be 2-D with one label per row")
        if np.unique(y).size != 2:
            raise ValueError("labels must contain both classes (0 and 1)")
        if feature_names is not None and len(feature_names) != x.shape[1]:
            raise ValueError("feature_names must name every column")
        self.feature_names_ = tuple(feature_names or (f"f{i}" for i in range(x.shape[1])))
        unknown = set(self.monotonic) - set(self.feature_names_)
        if unknown:
            raise ValueError(f"monotonic constraints name unknown features: {', '.join(sorted(unknown))}")
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=10,
            monotonic_cst=[self.monotonic.get(name, 0) for name in self.feature_names_],
            random_state=self.seed,
        )
        with _openmp_threads(self.n_threads):
            self.model_.fit(x, y, sample_weight=None if sample_weight is None else np.asarray(sample_weight))
        return self

    def predict(self, features: ArrayLike, n_threads: int | None = None) -> NDArray[np.float64]:
        """Predicted probability of the positive label for each row (the ranking score).

        ``n_threads=1`` is how a serving path should call it: one request per thread, because a
        parallel region per tree costs more than it saves on a few hundred rows and stalls badly
        when the machine is busy. ``None`` uses the constructor's setting (default: all cores).
        """
        if self.model_ is None:
            raise ValueError("GradientBoostedRanker is not fitted; call fit(...) first")
        x = np.asarray(features, dtype=float)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names_):
            raise ValueError(f"features must be 2-D with {len(self.feature_names_)} columns")
        with _openmp_threads(self.n_threads if n_threads is None else n_threads):
            raw = self.model_.predict_proba(x)[:, 1]
        if self.negative_rate_ == 1.0:
            return raw
        kept = raw * self.negative_rate_
        return kept / (kept + 1.0 - raw)

    @property
    def n_iter_(self) -> int:
        """Boosting iterations actually run (early stopping may end before max_iter)."""
        if self.model_ is None:
            raise ValueError("GradientBoostedRanker is not fitted")
        return int(self.model_.n_iter_)

    def feature_importance(
        self, features: ArrayLike, labels: ArrayLike, n_repeats: int = 3, seed: int = 0
    ) -> dict[str, float]:
        """Permutation importance on held-out rows: the mean drop in ROC AUC when a feature is shuffled."""
        from sklearn.metrics import roc_auc_score

        if self.model_ is None:
            raise ValueError("GradientBoostedRanker is not fitted; call fit(...) first")
        x = np.asarray(features, dtype=float)
        y = np.asarray(labels)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names_) or y.shape != (x.shape[0],):
            raise ValueError(f"features must be 2-D with {len(self.feature_names_)} columns and one label per row")
        if np.unique(y).size != 2:
            raise ValueError("labels must contain both classes to measure a drop in AUC")
        if isinstance(n_repeats, bool) or n_repeats < 1:
            raise ValueError(f"n_repeats must be a positive integer, got {n_repeats!r}")
        # Same computation as sklearn.inspection.permutation_importance(scoring="roc_auc"); a plain
        # loop avoids joblib's per-call dispatch, which dominates on a few thousand rows.
        rng = np.random.default_rng(seed)
        baseline = roc_auc_score(y, self.predict(x))
        importance: dict[str, float] = {}
        for column, name in enumerate(self.feature_names_):
            drops = []
            for _ in range(n_repeats):
                shuffled = x.copy()
                shuffled[:, column] = rng.permutation(shuffled[:, column])
                drops.append(baseline - roc_auc_score(y, self.predict(shuffled)))
            importance[name] = float(np.mean(drops))
        return importance
