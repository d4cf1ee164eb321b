"""Metrics as pure functions of arrays: ranking, calibration, drift, A/B lift and latency.

Ranking metrics follow trec_eval's definitions (gain = relevance grade, log2 discount, the ideal
ranking built from *all* judged documents of the query), so a run exported in TREC format and scored
by a standard tool reproduces the numbers printed by the demos.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "LiftEstimate",
    "Preference",
    "average_precision",
    "cuped_adjust",
    "dcg_at_k",
    "expected_calibration_error",
    "interleaving_preference",
    "latency_percentiles",
    "lift_confidence_interval",
    "mean_distinct",
    "mean_ndcg_at_k",
    "mean_reciprocal_rank",
    "ndcg_at_k",
    "neighbor_recall",
    "population_stability_index",
    "psi_from_proportions",
    "recall_at_k",
    "reciprocal_rank",
]


def _check_k(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def dcg_at_k(ranked_gains: ArrayLike, k: int) -> float:
    """Discounted cumulative gain of the first k gains of a ranked list (rank 1 first)."""
    _check_k(k)
    gains = np.asarray(ranked_gains, dtype=float)[:k]
    if gains.ndim != 1:
        raise ValueError("ranked_gains must be one-dimensional")
    discounts = np.log2(np.arange(2, gains.size + 2))
    return float(np.sum(gains / discounts))


def ndcg_at_k(ranked_gains: ArrayLike, k: int, ideal_gains: ArrayLike | None = None) -> float:
    """NDCG@k of one ranked list; ``ideal_gains`` are all judged gains of the query (trec_eval's ideal).

    Without ``ideal_gains`` the ideal is built from the ranked gains themselves, which is what
    scikit-learn's ``ndcg_score`` does when every judged document is scored.
    """
    ideal = np.asarray(ranked_gains if ideal_gains is None else ideal_gains, dtype=float)
    ideal = np.sort(ideal[ideal > 0])[::-1]
    ideal_dcg = dcg_at_k(ideal, k) if ideal.size else 0.0
    if ideal_dcg == 0.0:
        return 0.0
    return dcg_at_k(ranked_gains, k) / ideal_dcg


def _gains_of(ranked_ids: Iterable[Hashable], qrels: Mapping[Hashable, float]) -> list[float]:
    return [float(qrels.get(doc, 0.0)) for doc in ranked_ids]


def mean_ndcg_at_k(rankings: Sequence[Sequence[Hashable]], qrels: Sequence[Mapping[Hashable, float]], k: int) -> float:
    """Mean NDCG@k over queries: ``rankings[i]`` is ranked doc ids, ``qrels[i]`` maps doc id → grade."""
    if len(rankings) != len(qrels):
        raise ValueError("rankings and qrels must have one entry per query")
    if not rankings:
        raise ValueError("need at least one query")
    scores = [
        ndcg_at_k(_gains_of(list(ranked)[:k], judged), k, list(judged.values()))
        for ranked, judged in zip(rankings, qrels, strict=True)
    ]
    return float(np.mean(scores))


def recall_at_k(ranked_ids: Sequence[Hashable], relevant: Iterable[Hashable], k: int) -> float:
    """Share of the relevant documents found in the first k of a ranked list (0 if none are relevant)."""
    _check_k(k)
    relevant_set = set(relevant)
    if not relevant_set:
        return 0.0
    return len(relevant_set.intersection(list(ranked_ids)[:k])) / len(relevant_set)


def reciprocal_rank(ranked_ids: Sequence[Hashable], relevant: Iterable[Hashable]) -> float:
    """1 / rank of the first relevant document (0 if none is retrieved)."""
    relevant_set = set(relevant)
    for rank, doc in enumerate(ranked_ids, start=1):
        if doc in relevant_set:
            return 1.0 / rank
    return 0.0


def mean_reciprocal_rank(rankings: Sequence[Sequence[Hashable]], relevant: Sequence[Iterable[Hashable]]) -> float:
    """Mean reciprocal rank over queries."""
    if len(rankings) != len(relevant) or not rankings:
        raise ValueError("rankings and relevant must be non-empty with one entry per query")
    return float(np.mean([reciprocal_rank(r, rel) for r, rel in zip(rankings, relevant, strict=True)]))


def average_precision(ranked_ids: Sequence[Hashable], relevant: Iterable[Hashable]) -> float:
    """Average precision as trec_eval's ``map``: unretrieved relevant documents count as precision 0."""
    relevant_set = set(relevant)
    if not relevant_set:
        return 0.0
    hits = 0
    total = 0.0
    for rank, doc in enumerate(ranked_ids, start=1):
        if doc in relevant_set:
            hits += 1
            total += hits / rank
    return total / len(relevant_set)


def neighbor_recall(approx_ids: ArrayLike, exact_ids: ArrayLike) -> float:
    """Mean share of each query's exact top-k neighbours that an approximate index also returned."""
    approx = np.asarray(approx_ids)
    exact = np.asarray(exact_ids)
    if approx.ndim != 2 or exact.ndim != 2 or approx.shape[0] != exact.shape[0]:
        raise ValueError("approx_ids and exact_ids must be 2-D with one row per query")
    if exact.shape[0] == 0:
        raise ValueError("need at least one query")
    found = [
        np.intersect1d(a[a >= 0], e[e >= 0]).size / max(1, int(np.sum(e >= 0)))
        for a, e in zip(approx, exact, strict=True)
    ]
    return float(np.mean(found))


def mean_distinct(labels_per_list: ArrayLike) -> float:
    """Mean number of distinct labels per row (e.g. distinct sources in each user's feed)."""
    rows = np.asarray(labels_per_list)
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError("labels_per_list must be a non-empty 2-D array")
    ordered = np.sort(rows, axis=1)
    distinct = 1 + np.sum(ordered[:, 1:] != ordered[:, :-1], axis=1)
    return float(np.mean(distinct))


def expected_calibration_error(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> float:
    """ECE over equal-width probability bins: the bin-size-weighted mean |observed rate − mean prediction|."""
    truth = np.asarray(y_true, dtype=float)
    prob = np.asarray(y_prob, dtype=float)
    if truth.shape != prob.shape or truth.ndim != 1 or truth.size == 0:
        raise ValueError("y_true and y_prob must be non-empty 1-D arrays of the same length")
    if np.any((prob < 0) | (prob > 1)):
        raise ValueError("y_prob must lie in [0, 1]")
    _check_k(n_bins)
    # Same binning as sklearn.calibration.calibration_curve(strategy="uniform").
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], prob, side="right")
    counts = np.bincount(bins, minlength=n_bins)
    observed = np.bincount(bins, weights=truth, minlength=n_bins)
    predicted = np.bincount(bins, weights=prob, minlength=n_bins)
    filled = counts > 0
    gaps = np.abs(observed[filled] - predicted[filled]) / counts[filled]
    return float(np.sum(gaps * counts[filled]) / truth.size)


def psi_from_proportions(expected: ArrayLike, actual: ArrayLike, floor: float = 1e-4) -> float:
    """Population stability index of two binned distributions: Σ (a − e) · ln(a / e)."""
    exp_p = np.asarray(expected, dtype=float)
    act_p = np.asarray(actual, dtype=float)
    if exp_p.shape != act_p.shape or exp_p.ndim != 1 or exp_p.size == 0:
        raise ValueError("expected and actual must be 1-D arrays with the same bins")
    # Empty bins would make the log infinite; a small floor is the usual convention.
    exp_p = np.maximum(exp_p / exp_p.sum(), floor)
    act_p = np.maximum(act_p / act_p.sum(), floor)
    return float(np.sum((act_p - exp_p) * np.log(act_p / exp_p)))


def population_stability_index(expected: ArrayLike, actual: ArrayLike, n_bins: int = 10) -> float:
    """PSI of a feature between a reference sample and a new one, binned at the reference's quantiles.

    Rule of thumb: < 0.1 stable, 0.1–0.25 worth a look, > 0.25 shifted enough to retrain.
    """
    ref = np.asarray(expected, dtype=float)
    new = np.asarray(actual, dtype=float)
    if ref.ndim != 1 or new.ndim != 1 or ref.size == 0 or new.size == 0:
        raise ValueError("expected and actual must be non-empty 1-D arrays")
    _check_k(n_bins)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, n_bins + 1))[1:-1])
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    new_counts = np.bincount(np.searchsorted(edges, new, side="right"), minlength=edges.size + 1)
    return psi_from_proportions(ref_counts, new_counts)


@dataclass(frozen=True)
class LiftEstimate:
    """Relative lift of a treatment mean over a control mean, with a confidence interval."""

    lift: float
    """treatment mean / control mean − 1."""
    low: float
    """Lower end of the interval (same scale as ``lift``)."""
    high: float
    """Upper end of the interval."""
    confidence: float
    """Coverage of the interval, e.g. 0.95."""
    method: str
    """"normal" (delta method on the log ratio) or "bootstrap" (percentile)."""

    @property
    def significant(self) -> bool:
        """True when the interval excludes zero lift."""
        return self.low > 0 or self.high < 0


def lift_confidence_interval(
    control: ArrayLike,
    treatment: ArrayLike,
    confidence: float = 0.95,
    method: str = "normal",
    n_resamples: int = 2000,
    seed: int = 0,
) -> LiftEstimate:
    """Relative lift of mean(treatment) over mean(control) with a normal or bootstrap interval."""
    ctrl = np.asarray(control, dtype=float)
    treat = np.asarray(treatment, dtype=float)
    if ctrl.ndim != 1 or treat.ndim != 1 or ctrl.size < 2 or treat.size < 2:
        raise ValueError("control and treatment need at least two observations each")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    mean_c, mean_t = ctrl.mean(), treat.mean()
    if mean_c <= 0 or mean_t <= 0:
        raise ValueError("relative lift needs positive means in both arms")
    lift = mean_t / mean_c - 1
    alpha = 1 - confidence
    if method == "normal":
        # The log of a ratio of means is close to normal much sooner than the ratio itself.
        se = np.sqrt(ctrl.var(ddof=1) / (ctrl.size * mean_c**2) + treat.var(ddof=1) / (treat.size * mean_t**2))
        z = NormalDist().inv_cdf(1 - alpha / 2)
        log_ratio = np.log(mean_t / mean_c)
        low, high = np.exp(log_ratio - z * se) - 1, np.exp(log_ratio + z * se) - 1
    elif method == "bootstrap":
        _check_k(n_resamples)
        rng = np.random.default_rng(seed)
        boot_c = np.array([rng.choice(ctrl, ctrl.size).mean() for _ in range(n_resamples)])
        boot_t = np.array([rng.choice(treat, treat.size).mean() for _ in range(n_resamples)])
        lifts = boot_t / np.maximum(boot_c, np.finfo(float).tiny) - 1
        low, high = np.quantile(lifts, [alpha / 2, 1 - alpha / 2])
    else:
        raise ValueError(f"method must be 'normal' or 'bootstrap', got {method!r}")
    return LiftEstimate(float(lift), float(low), float(high), confidence, method)


def cuped_adjust(metric: ArrayLike, covariate: ArrayLike) -> NDArray[np.float64]:
    """CUPED: remove from a per-user metric the part a pre-experiment covariate predicts.

    Returns metric − θ·(covariate − mean(covariate)) with θ = cov(metric, covariate) / var(covariate),
    estimated on all users pooled; the mean is unchanged, the variance shrinks by corr².
    """
    y = np.asarray(metric, dtype=float)
    x = np.asarray(covariate, dtype=float)
    if y.shape != x.shape or y.ndim != 1 or y.size < 2:
        raise ValueError("metric and covariate must be 1-D arrays of the same length (at least 2)")
    spread = x.var()
    if spread == 0:
        return y.copy()
    theta = np.mean((y - y.mean()) * (x - x.mean())) / spread
    return y - theta * (x - x.mean())


@dataclass(frozen=True)
class Preference:
    """Outcome of an interleaving experiment between two rankers."""

    share_second: float
    """Among users whose engagement favoured one side, the share that favoured the second ranker."""
    low: float
    high: float
    decisive: int
    """Users who engaged more with one ranker's contributions than the other's."""
    ties: int

    @property
    def significant(self) -> bool:
        """True when the interval excludes an even split."""
        return self.low > 0.5 or self.high < 0.5


def interleaving_preference(credit_first: ArrayLike, credit_second: ArrayLike, confidence: float = 0.95) -> Preference:
    """Per-user winner of an interleaved list, with a Wilson interval on the second ranker's share of wins."""
    first = np.asarray(credit_first, dtype=float)
    second = np.asarray(credit_second, dtype=float)
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError("credits must be 1-D arrays with one entry per user")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    wins = int(np.sum(second > first))
    losses = int(np.sum(first > second))
    decisive = wins + losses
    if decisive == 0:
        return Preference(0.5, 0.0, 1.0, 0, int(first.size))
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    share = wins / decisive
    centre = (share + z * z / (2 * decisive)) / (1 + z * z / decisive)
    half = z * np.sqrt(share * (1 - share) / decisive + z * z / (4 * decisive**2)) / (1 + z * z / decisive)
    return Preference(share, float(centre - half), float(centre + half), decisive, int(first.size) - decisive)


def latency_percentiles(samples_ms: ArrayLike, percentiles: Sequence[float] = (50, 99)) -> dict[str, float]:
    """Latency percentiles, keyed "p50", "p99", … (linear interpolation between samples)."""
    samples: NDArray[np.float64] = np.asarray(samples_ms, dtype=float)
    if samples.ndim != 1 or samples.size == 0:
        raise ValueError("need a non-empty 1-D array of latency samples")
    if any(not 0 <= p <= 100 for p in percentiles):
        raise ValueError("percentiles must lie in [0, 100]")
    values = np.percentile(samples, list(percentiles))
    return {f"p{p:g}": float(v) for p, v in zip(percentiles, values, strict=True)}


@dataclass(frozen=True)
class OperatingPoint:
    """A decision threshold on a score (act when score >= threshold) and what it achieves."""

    threshold: float
    """``inf`` when no threshold reaches the requested precision (act on nothing)."""
    precision: float
    recall: float


def operating_point_at_precision(y_true: ArrayLike, scores: ArrayLike, min_precision: float) -> OperatingPoint:
    """The lowest threshold whose precision reaches ``min_precision``: the most recall at that precision.

    Thresholds sit at distinct score values, so tied scores are acted on together (a count rule
    cannot split posts that share a count). Precision is not monotone in the threshold, but recall
    is, hence the lowest qualifying threshold is the best one.
    """
    from sklearn.metrics import precision_recall_curve

    truth = np.asarray(y_true).astype(bool)
    score = np.asarray(scores, dtype=float)
    if truth.shape != score.shape or truth.ndim != 1 or truth.size == 0:
        raise ValueError("y_true and scores must be non-empty 1-D arrays of the same length")
    if not 0 < min_precision <= 1:
        raise ValueError(f"min_precision must be in (0, 1], got {min_precision!r}")
    if not truth.any():
        raise ValueError("y_true has no positive example; recall is undefined")
    precision, recall, thresholds = precision_recall_curve(truth, score)
    # The curve's last point (precision 1, recall 0) has no threshold: it means "act on nothing".
    ok = np.flatnonzero(precision[:-1] >= min_precision)
    if ok.size == 0:
        return OperatingPoint(float("inf"), 1.0, 0.0)
    best = ok[np.argmax(recall[ok])]
    return OperatingPoint(float(thresholds[best]), float(precision[best]), float(recall[best]))


def recall_at_precision(y_true: ArrayLike, scores: ArrayLike, min_precision: float) -> float:
    """Highest recall any threshold reaches while keeping precision >= ``min_precision`` (0 if none does)."""
    return operating_point_at_precision(y_true, scores, min_precision).recall


@dataclass(frozen=True)
class ReliabilityTable:
    """Predicted vs observed positive rate per probability bin (empty bins dropped)."""

    edges: NDArray[np.float64]
    """Bin edges (n_bins + 1), uniform on [0, 1] or at the predictions' quantiles."""
    count: NDArray[np.int64]
    """Rows per non-empty bin."""
    mean_predicted: NDArray[np.float64]
    observed_rate: NDArray[np.float64]

    @property
    def ece(self) -> float:
        """Expected calibration error: the count-weighted mean |observed rate − mean prediction|."""
        gaps = np.abs(self.observed_rate - self.mean_predicted)
        return float(np.sum(gaps * self.count) / np.sum(self.count))


def reliability_table(
    y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10, strategy: str = "uniform"
) -> ReliabilityTable:
    """Reliability diagram data, binned exactly as ``sklearn.calibration.calibration_curve``.

    ``strategy="quantile"`` gives bins of equal count, the readable choice when positives are rare
    (a 2 % click rate puts nearly every prediction in the first of ten uniform bins).
    """
    truth = np.asarray(y_true, dtype=float)
    prob = np.asarray(y_prob, dtype=float)
    if truth.shape != prob.shape or truth.ndim != 1 or truth.size == 0:
        raise ValueError("y_true and y_prob must be non-empty 1-D arrays of the same length")
    if np.any((prob < 0) | (prob > 1)):
        raise ValueError("y_prob must lie in [0, 1]")
    _check_k(n_bins)
    if strategy == "quantile":
        edges = np.percentile(prob, np.linspace(0, 1, n_bins + 1) * 100)
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    bins = np.searchsorted(edges[1:-1], prob)
    counts = np.bincount(bins, minlength=n_bins)
    filled = counts > 0
    predicted = np.bincount(bins, weights=prob, minlength=n_bins)[filled] / counts[filled]
    observed = np.bincount(bins, weights=truth, minlength=n_bins)[filled] / counts[filled]
    return ReliabilityTable(edges, counts[filled].astype(np.int64), predicted, observed)


def normalized_entropy(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Log loss divided by the entropy of the observed positive rate: below 1 beats always predicting that rate."""
    truth = np.asarray(y_true, dtype=float)
    prob = np.clip(np.asarray(y_prob, dtype=float), 1e-15, 1 - 1e-15)
    if truth.shape != prob.shape or truth.ndim != 1 or truth.size == 0:
        raise ValueError("y_true and y_prob must be non-empty 1-D arrays of the same length")
    rate = truth.mean()
    if rate in (0.0, 1.0):
        raise ValueError("normalized entropy needs both classes in y_true")
    loss = -np.mean(truth * np.log(prob) + (1 - truth) * np.log(1 - prob))
    entropy = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
    return float(loss / entropy)


def precision_at_recall(y_true: ArrayLike, y_score: ArrayLike, recall_levels: Sequence[float]) -> NDArray[np.float64]:
    """Best precision reachable at recall ≥ each level, read off scikit-learn's precision-recall curve.

    This is the interpolated precision of the PR curve: the operating point a team would pick to
    catch at least that share of positives with the fewest false alarms.
    """
    from sklearn.metrics import precision_recall_curve

    truth = np.asarray(y_true)
    score = np.asarray(y_score, dtype=float)
    if truth.ndim != 1 or truth.shape != score.shape or truth.size == 0:
        raise ValueError("y_true and y_score must be non-empty 1-D arrays of the same length")
    if not np.any(truth):
        raise ValueError("precision at recall needs at least one positive")
    levels = np.asarray(recall_levels, dtype=float)
    if np.any((levels < 0) | (levels > 1)):
        raise ValueError("recall levels must lie in [0, 1]")
    precision, recall, _ = precision_recall_curve(truth, score)
    return np.array([float(precision[recall >= level].max()) for level in levels])


def decision_cost_curve(
    y_true: ArrayLike, y_score: ArrayLike, miss_cost: ArrayLike, false_alarm_cost: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Total cost of flagging every example scoring ≥ t, for each distinct threshold t (highest first).

    Cost = Σ miss_cost over unflagged positives + Σ false_alarm_cost over flagged negatives; both
    costs may be scalars or one value per example (e.g. a missed fraud costs its amount). The first
    threshold is +inf: flag nothing.
    """
    truth = np.asarray(y_true).astype(bool)
    score = np.asarray(y_score, dtype=float)
    if truth.ndim != 1 or truth.shape != score.shape:
        raise ValueError("y_true and y_score must be 1-D arrays of the same length")
    miss = np.broadcast_to(np.asarray(miss_cost, dtype=float), truth.shape)
    alarm = np.broadcast_to(np.asarray(false_alarm_cost, dtype=float), truth.shape)
    if np.any(miss < 0) or np.any(alarm < 0):
        raise ValueError("costs must be non-negative")
    if np.any(np.isnan(score)):
        raise ValueError("y_score contains NaN")
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    # Flagging everything down to a score saves the misses above it and pays for the false alarms.
    saved = np.cumsum(np.where(truth[order], miss[order], 0.0))
    paid = np.cumsum(np.where(truth[order], 0.0, alarm[order]))
    last_of_tie = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), ranked.size - 1] if ranked.size else np.zeros(0, int)
    total_miss = float(miss[truth].sum())
    thresholds = np.r_[np.inf, ranked[last_of_tie]]
    costs = np.r_[total_miss, total_miss - saved[last_of_tie] + paid[last_of_tie]]
    return thresholds, costs
