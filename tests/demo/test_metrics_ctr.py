"""Tests for the metrics the ctr demo appended to the shared layer: reliability tables and normalized entropy."""

from __future__ import annotations

import numpy as np
import pytest

from mlsd_coach.demo.metrics import normalized_entropy, reliability_table


def _sample(n: int = 3_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    prob = rng.beta(0.5, 8.0, n)
    return (rng.random(n) < prob).astype(int), prob


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_table_matches_calibration_curve(strategy: str) -> None:
    from sklearn.calibration import calibration_curve

    labels, prob = _sample()
    observed, predicted = calibration_curve(labels, prob, n_bins=10, strategy=strategy)
    table = reliability_table(labels, prob, n_bins=10, strategy=strategy)
    assert np.allclose(table.observed_rate, observed) and np.allclose(table.mean_predicted, predicted)
    assert table.count.sum() == labels.size


def test_reliability_table_hand_case() -> None:
    # Bins [0, 0.5) and [0.5, 1]: {0.1, 0.2 | no click, click} and {0.8 | click}.
    table = reliability_table([0, 1, 1], [0.1, 0.2, 0.8], n_bins=2)
    assert table.count.tolist() == [2, 1]
    assert table.mean_predicted.tolist() == pytest.approx([0.15, 0.8])
    assert table.observed_rate.tolist() == pytest.approx([0.5, 1.0])
    # ECE = (2 × |0.5 − 0.15| + 1 × |1 − 0.8|) / 3
    assert table.ece == pytest.approx((2 * 0.35 + 0.2) / 3)


def test_quantile_bins_are_readable_when_positives_are_rare() -> None:
    labels, prob = _sample()
    prob = prob * 0.1  # a 1-2 % click rate
    assert reliability_table(labels, prob, strategy="uniform").count.size == 1
    assert reliability_table(labels, prob, strategy="quantile").count.size == 10


def test_reliability_table_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        reliability_table([0, 1], [0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability_table([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="strategy"):
        reliability_table([0, 1], [0.5, 0.5], strategy="kmeans")


def test_normalized_entropy_against_log_loss() -> None:
    from sklearn.metrics import log_loss

    labels, prob = _sample()
    rate = labels.mean()
    entropy = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
    assert normalized_entropy(labels, prob) == pytest.approx(log_loss(labels, prob) / entropy)
    assert normalized_entropy(labels, np.full(labels.size, rate)) == pytest.approx(1.0)
    # Hand case: always predicting 0.5 on a 50 % rate is exactly the entropy of that rate.
    assert normalized_entropy([0, 1], [0.5, 0.5]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="both classes"):
        normalized_entropy([1, 1], [0.5, 0.5])
