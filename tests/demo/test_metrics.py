"""Metric functions against hand-computed cases and against scikit-learn where it has one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, ndcg_score

from mlsd_coach.demo import metrics

# --- ranking ----------------------------------------------------------------------------------------


def test_ndcg_by_hand_uses_every_judged_document_for_the_ideal() -> None:
    # Ranked gains 1, 0, 1; a third relevant document was never retrieved.
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at_k([1, 0, 1], 3, ideal_gains=[1, 1, 1]) == pytest.approx(dcg / ideal)
    assert metrics.ndcg_at_k([1, 0, 1], 3, ideal_gains=[1, 1, 1]) == pytest.approx(0.703918, abs=1e-6)


def test_ndcg_of_a_perfect_ranking_is_one_and_of_no_relevant_documents_zero() -> None:
    assert metrics.ndcg_at_k([3, 2, 1, 0], 4) == pytest.approx(1.0)
    assert metrics.ndcg_at_k([0, 0, 0], 3) == 0.0
    assert metrics.ndcg_at_k([0, 0], 2, ideal_gains=[]) == 0.0


def test_ndcg_cuts_both_the_ranking_and_the_ideal_at_k() -> None:
    # Relevant at rank 3 only; k = 2 sees nothing even though the ideal has one document.
    assert metrics.ndcg_at_k([0, 0, 1], 2, ideal_gains=[1]) == 0.0


@pytest.mark.parametrize("k", [1, 3, 5, 10])
def test_ndcg_matches_sklearn_when_every_judged_document_is_scored(k: int) -> None:
    rng = np.random.default_rng(k)
    y_true = rng.integers(0, 4, size=(50, 12))
    y_score = rng.random((50, 12))
    ours = [
        metrics.ndcg_at_k(truth[np.argsort(-score)], k, ideal_gains=truth)
        for truth, score in zip(y_true, y_score, strict=True)
    ]
    # sklearn scores an all-zero query as 0 too, so the means agree.
    assert np.mean(ours) == pytest.approx(ndcg_score(y_true, y_score, k=k), abs=1e-12)


def test_mean_ndcg_over_queries_with_ids() -> None:
    rankings = [["a", "b", "c"], ["x", "y"]]
    qrels = [{"b": 1.0}, {"x": 2.0, "z": 1.0}]
    first = (1 / math.log2(3)) / 1.0
    second = (2.0) / (2.0 + 1 / math.log2(3))
    assert metrics.mean_ndcg_at_k(rankings, qrels, 3) == pytest.approx((first + second) / 2)
    with pytest.raises(ValueError):
        metrics.mean_ndcg_at_k(rankings, qrels[:1], 3)


def test_recall_reciprocal_rank_and_average_precision_by_hand() -> None:
    ranked = ["a", "b", "c", "d"]
    relevant = {"a", "c", "e"}
    assert metrics.recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert metrics.recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert metrics.reciprocal_rank(["x", "a"], {"a"}) == 0.5
    assert metrics.mean_reciprocal_rank([["x", "a"], ["b", "c"]], [{"a"}, {"z"}]) == pytest.approx(0.25)
    # Hits at ranks 1 and 3 (precisions 1 and 2/3), three relevant documents in all.
    assert metrics.average_precision(ranked, relevant) == pytest.approx((1 + 2 / 3) / 3)
    assert metrics.recall_at_k(ranked, set(), 3) == 0.0


def test_average_precision_matches_sklearn_when_all_relevant_are_ranked() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        y_true = rng.random(30) < 0.3
        if not y_true.any():
            continue
        y_score = rng.random(30)
        ranked = list(np.argsort(-y_score))
        ours = metrics.average_precision(ranked, set(np.flatnonzero(y_true)))
        assert ours == pytest.approx(average_precision_score(y_true, y_score), abs=1e-12)


def test_neighbor_recall_and_distinct_labels() -> None:
    assert metrics.neighbor_recall([[1, 2, 3]], [[1, 2, 4]]) == pytest.approx(2 / 3)
    assert metrics.neighbor_recall([[1, -1, 3], [7, 8, 9]], [[1, 3, 5], [9, 8, 7]]) == pytest.approx((2 / 3 + 1) / 2)
    assert metrics.mean_distinct([[1, 1, 2], [3, 4, 5]]) == pytest.approx(2.5)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_cutoffs_are_refused(k: object) -> None:
    with pytest.raises(ValueError):
        metrics.dcg_at_k([1, 0], k)  # type: ignore[arg-type]


# --- calibration and drift --------------------------------------------------------------------------


def test_expected_calibration_error_by_hand() -> None:
    # Two bins: [0, .5) holds p = .1, .3 (mean .2, observed 0); [.5, 1] holds .9, .8 (mean .85, observed 1).
    ece = metrics.expected_calibration_error([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], n_bins=2)
    assert ece == pytest.approx(0.5 * 0.2 + 0.5 * 0.15)


def test_expected_calibration_error_matches_sklearn_calibration_curve() -> None:
    rng = np.random.default_rng(3)
    prob = rng.random(5000)
    truth = rng.random(5000) < prob**1.5  # miscalibrated on purpose
    observed, predicted = calibration_curve(truth, prob, n_bins=10, strategy="uniform")
    counts = np.histogram(prob, bins=np.linspace(0, 1, 11))[0]
    expected = np.sum(np.abs(observed - predicted) * counts[counts > 0]) / prob.size
    assert metrics.expected_calibration_error(truth, prob, n_bins=10) == pytest.approx(expected, abs=1e-12)


def test_psi_by_hand_and_its_rule_of_thumb() -> None:
    expected = 0.1 * math.log(0.6 / 0.5) + (-0.1) * math.log(0.4 / 0.5)
    assert metrics.psi_from_proportions([0.5, 0.5], [0.6, 0.4]) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    reference = rng.normal(size=20_000)
    assert metrics.population_stability_index(reference, rng.normal(size=20_000)) < 0.01
    assert metrics.population_stability_index(reference, rng.normal(1.0, 1.0, size=20_000)) > 0.25


# --- online experiments -----------------------------------------------------------------------------


def test_lift_normal_interval_by_hand() -> None:
    # Means 2.5 and 3.5, sample variances 5/3, four users per arm; interval on the log ratio.
    estimate = metrics.lift_confidence_interval([1, 2, 3, 4], [2, 3, 4, 5])
    assert estimate.lift == pytest.approx(0.4)
    assert estimate.low == pytest.approx(-0.248307, abs=1e-5)
    assert estimate.high == pytest.approx(1.607448, abs=1e-5)
    assert not estimate.significant


def test_bootstrap_interval_agrees_with_the_normal_one_on_a_large_sample() -> None:
    rng = np.random.default_rng(11)
    control = rng.poisson(1.0, 4000).astype(float)
    treatment = rng.poisson(1.2, 4000).astype(float)
    normal = metrics.lift_confidence_interval(control, treatment, method="normal")
    boot = metrics.lift_confidence_interval(control, treatment, method="bootstrap", n_resamples=800, seed=1)
    assert boot.lift == pytest.approx(normal.lift)
    assert boot.low == pytest.approx(normal.low, abs=0.02)
    assert boot.high == pytest.approx(normal.high, abs=0.02)
    assert normal.significant and boot.significant


def test_lift_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(ValueError):
        metrics.lift_confidence_interval([0, 0], [1, 2])
    with pytest.raises(ValueError):
        metrics.lift_confidence_interval([1, 2], [1, 2], method="bayes")


def test_cuped_keeps_the_mean_and_removes_what_the_covariate_explains() -> None:
    assert np.allclose(metrics.cuped_adjust([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), [2.0, 2.0, 2.0])
    rng = np.random.default_rng(5)
    activity = rng.gamma(2.0, 1.0, 3000)
    metric = activity + rng.normal(0, 0.5, 3000)
    adjusted = metrics.cuped_adjust(metric, activity)
    assert adjusted.mean() == pytest.approx(metric.mean())
    assert adjusted.var() < 0.2 * metric.var()


def test_interleaving_preference_counts_decisive_users() -> None:
    result = metrics.interleaving_preference([1, 0, 0, 2], [0, 1, 1, 2])
    assert result.share_second == pytest.approx(2 / 3)
    assert (result.decisive, result.ties) == (2 + 1, 1)
    assert not result.significant
    strong = metrics.interleaving_preference(np.zeros(400), np.ones(400))
    assert strong.share_second == 1.0 and strong.significant


def test_latency_percentiles_by_hand() -> None:
    assert metrics.latency_percentiles(range(1, 11)) == {"p50": 5.5, "p99": pytest.approx(9.91)}
    assert metrics.latency_percentiles([2.0], (50, 90)) == {"p50": 2.0, "p90": 2.0}
    with pytest.raises(ValueError):
        metrics.latency_percentiles([])
