"""Tests for the metrics the fraud demo added: precision at recall and the decision-cost curve."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from mlsd_coach.demo.metrics import decision_cost_curve, precision_at_recall

Y = np.array([1, 0, 1, 0, 0, 1])
S = np.array([0.9, 0.8, 0.7, 0.3, 0.3, 0.1])


def test_precision_at_recall_hand_case() -> None:
    # Flag top 1: P=1, R=1/3; top 3: P=2/3, R=2/3; top 5 (tie at 0.3): P=2/5; all: P=1/2, R=1.
    got = precision_at_recall(Y, S, [0.3, 0.6, 1.0])
    assert got == pytest.approx([1.0, 2 / 3, 0.5])


def test_precision_at_recall_matches_a_brute_force_over_thresholds() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.1
    s = np.round(rng.random(400) + 0.4 * y, 2)  # ties on purpose
    levels = [0.0, 0.25, 0.5, 0.75, 1.0]
    expected = []
    for level in levels:
        best = 0.0
        for t in np.unique(s):
            flag = s >= t
            recall = (flag & y).sum() / y.sum()
            if recall >= level:
                best = max(best, (flag & y).sum() / flag.sum())
        expected.append(best)
    # Recall 0 is also reached by flagging nothing, which scikit-learn scores as precision 1.
    expected[0] = 1.0
    assert precision_at_recall(y, s, levels) == pytest.approx(expected)
    precision, recall, _ = precision_recall_curve(y, s)
    assert precision_at_recall(y, s, [0.5])[0] == pytest.approx(precision[recall >= 0.5].max())


def test_precision_at_recall_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="positive"):
        precision_at_recall([0, 0, 0], [0.1, 0.2, 0.3], [0.5])
    with pytest.raises(ValueError, match="recall levels"):
        precision_at_recall(Y, S, [1.5])
    with pytest.raises(ValueError, match="same length"):
        precision_at_recall(Y, S[:3], [0.5])


def test_decision_cost_curve_hand_case() -> None:
    thresholds, costs = decision_cost_curve(Y, S, miss_cost=10.0, false_alarm_cost=1.0)
    assert thresholds.tolist() == [np.inf, 0.9, 0.8, 0.7, 0.3, 0.1]
    # Nothing flagged: three misses. Each step either saves a miss (-10) or pays a false alarm (+1);
    # the two examples tied at 0.3 are flagged together.
    assert costs.tolist() == [30.0, 20.0, 21.0, 11.0, 13.0, 3.0]


def test_decision_cost_curve_matches_a_brute_force_with_per_example_costs() -> None:
    rng = np.random.default_rng(7)
    y = rng.random(300) < 0.05
    s = np.round(rng.random(300), 2)
    miss = rng.uniform(1, 500, 300)
    thresholds, costs = decision_cost_curve(y, s, miss, 12.0)
    assert thresholds[0] == np.inf and costs[0] == pytest.approx(miss[y].sum())
    for t, cost in zip(thresholds, costs, strict=True):
        flag = s >= t
        assert cost == pytest.approx(miss[y & ~flag].sum() + 12.0 * (~y & flag).sum())
    assert np.all(np.diff(thresholds) < 0)


def test_decision_cost_curve_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        decision_cost_curve(Y, S, -1.0, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        decision_cost_curve(Y, np.array([0.1, np.nan, 0.3, 0.4, 0.5, 0.6]), 1.0, 1.0)
    thresholds, costs = decision_cost_curve(np.zeros(0, dtype=bool), np.zeros(0), 1.0, 1.0)
    assert thresholds.tolist() == [np.inf] and costs.tolist() == [0.0]
