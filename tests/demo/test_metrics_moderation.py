"""Tests for the metrics the moderation demo appended: operating points at a fixed precision."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from mlsd_coach.demo.metrics import OperatingPoint, operating_point_at_precision, recall_at_precision


def _brute_force(y: np.ndarray, s: np.ndarray, min_precision: float) -> tuple[float, float]:
    """Best recall (and its threshold) over every distinct score, scored by scikit-learn."""
    best = (0.0, math.inf)
    for threshold in np.unique(s):
        predicted = s >= threshold
        if precision_score(y, predicted, zero_division=0) >= min_precision:
            recall = recall_score(y, predicted)
            if recall > best[0] or (recall == best[0] and threshold < best[1]):
                best = (float(recall), float(threshold))
    return best


def test_hand_computed_operating_points() -> None:
    y = np.array([1, 0, 1, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.1])
    # Thresholds: 0.9 → P 1, R 1/3; 0.8 → P 1/2; 0.7 → P 2/3; 0.6 → P 3/4, R 1; 0.1 → P 3/5.
    assert operating_point_at_precision(y, s, 0.75) == OperatingPoint(0.6, 0.75, 1.0)
    assert operating_point_at_precision(y, s, 0.9) == OperatingPoint(0.9, 1.0, pytest.approx(1 / 3))
    assert recall_at_precision(y, s, 0.6) == 1.0
    # Precision is not monotone: 0.7 fails at threshold 0.7 (2/3) yet holds again at 0.6 (3/4).
    assert operating_point_at_precision(y, s, 0.7).threshold == 0.6
    assert operating_point_at_precision(y, s, 0.5) == OperatingPoint(0.1, 0.6, 1.0)


def test_tied_scores_are_acted_on_together() -> None:
    y = np.array([1, 0, 1, 0])
    counts = np.array([3, 3, 1, 0])
    # Acting on "3 reports" takes both tied posts: precision 1/2, so 90 % is out of reach.
    point = operating_point_at_precision(y, counts, 0.9)
    assert math.isinf(point.threshold) and point.recall == 0.0
    assert recall_at_precision(y, counts, 0.5) == 1.0


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("min_precision", [0.5, 0.8, 0.95])
def test_matches_brute_force_over_sklearn_metrics(seed: int, min_precision: float) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(300) < 0.2
    s = np.round(y * rng.normal(0.6, 0.2, 300) + rng.normal(0.3, 0.2, 300), 2)  # rounding makes ties
    recall, threshold = _brute_force(y, s, min_precision)
    point = operating_point_at_precision(y, s, min_precision)
    assert point.recall == pytest.approx(recall)
    assert point.threshold == threshold
    if math.isfinite(threshold):
        assert point.precision == pytest.approx(precision_score(y, s >= threshold))


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="no positive"):
        operating_point_at_precision([0, 0], [0.1, 0.2], 0.9)
    with pytest.raises(ValueError, match="min_precision"):
        operating_point_at_precision([1, 0], [0.1, 0.2], 0.0)
    with pytest.raises(ValueError, match="same length"):
        operating_point_at_precision([1, 0], [0.1], 0.9)
