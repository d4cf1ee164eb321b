"""Tests for the fraud demo: the payment world, point-in-time features, scorers, late labels and the report."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from mlsd_coach.demo.fraud import (
    COLUMN,
    FEATURE_NAMES,
    FRAUD_TYPES,
    FraudResults,
    FraudWorldConfig,
    Payments,
    assemble_features,
    build_report,
    cheapest_threshold,
    fraud_config,
    make_payments,
    raw_aggregates,
    rule_points,
    run,
    simulate_fraud,
)
from mlsd_coach.demo.options import STEP_IDS, DemoError, DemoOptions, parse_steps
from mlsd_coach.demo.report import DemoReport, render_report
from mlsd_coach.demo.world import trailing_window_sums

TINY = FraudWorldConfig(n_cards=1_500, n_merchants=300, stream_payments=400, latency_requests=20)
"""About 35,000 payments: a run takes one to three seconds and the lessons checked below hold."""


@pytest.fixture(scope="module")
def payments() -> Payments:
    return make_payments(TINY)


@pytest.fixture(scope="module")
def results() -> FraudResults:
    return simulate_fraud(TINY)


@pytest.fixture(scope="module")
def report(results: FraudResults) -> DemoReport:
    return build_report(results)


def _prefix(p: Payments, n: int) -> Payments:
    """The first n payments (the log is in time order), as if the rest had not happened yet."""
    return Payments(**{f.name: getattr(p, f.name)[:n] for f in fields(p)})


# --- the world ------------------------------------------------------------------------------------


def test_payments_have_a_realistic_fraud_rate_and_late_labels(payments: Payments) -> None:
    assert np.all(np.diff(payments.time) >= 0)
    assert 0.002 < payments.is_fraud.mean() < 0.01
    delay = payments.chargeback_time - payments.time
    assert np.all(delay[payments.is_fraud] > 0) and np.all(np.isinf(delay[~payments.is_fraud]))
    assert 20 < np.median(delay[payments.is_fraud]) < 40  # chargebacks: about a month late
    assert set(np.unique(payments.fraud_type[payments.is_fraud])) == set(range(len(FRAUD_TYPES)))
    ring = payments.fraud_type == FRAUD_TYPES.index("ring")
    assert payments.time[ring].min() >= TINY.ring_start
    assert np.array_equal(payments.device < 0, ~payments.online)


def test_labels_known_on_a_day_are_the_frauds_whose_chargeback_arrived(payments: Payments) -> None:
    early, late = payments.known_fraud(60.0), payments.known_fraud(120.0)
    assert not np.any(early & ~payments.is_fraud)
    assert np.all(late[early])  # a label once known stays known
    recent = payments.time >= 120.0 - 14
    assert late[recent].sum() < 0.1 * payments.is_fraud[recent].sum()


def test_the_world_is_reproducible_from_its_seed(payments: Payments) -> None:
    again = make_payments(TINY)
    assert np.array_equal(again.amount, payments.amount) and np.array_equal(again.is_fraud, payments.is_fraud)
    other = make_payments(FraudWorldConfig(n_cards=1_500, n_merchants=300, seed=1))
    assert len(other) != len(payments) or not np.array_equal(other.amount, payments.amount)


def test_config_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError, match="n_merchants"):
        FraudWorldConfig(n_merchants=10)
    with pytest.raises(ValueError, match="latency_requests"):
        FraudWorldConfig(stream_payments=10, latency_requests=20)
    with pytest.raises(ValueError, match="legit_sample"):
        FraudWorldConfig(legit_sample=0.0)


# --- point-in-time features -----------------------------------------------------------------------


def test_trailing_window_sums_hand_case() -> None:
    keys = [1, 1, 1, 2, 1, -1]
    times = [0.0, 0.5, 0.5, 0.6, 2.0, 2.0]
    values = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    counts, sums = trailing_window_sums(keys, times, [1.0, None], values)
    # Same-instant events never see each other; the window is open at (t - 1); key -1 is "no entity".
    assert counts[0].tolist() == [0, 1, 1, 0, 0, 0]
    assert sums[0].tolist() == [0.0, 10.0, 10.0, 0.0, 0.0, 0.0]
    assert counts[1].tolist() == [0, 1, 1, 0, 3, 0]
    assert sums[1].tolist() == [0.0, 10.0, 10.0, 0.0, 60.0, 0.0]


def test_trailing_window_sums_matches_a_brute_force() -> None:
    rng = np.random.default_rng(0)
    keys = rng.integers(-1, 15, 600)
    times = np.round(rng.random(600) * 3, 2)  # many exact ties
    values = rng.random(600)
    windows = [0.05, 1.0, None]
    counts, sums = trailing_window_sums(keys, times, windows, values)
    for row, window in enumerate(windows):
        for i in range(600):
            mask = (keys == keys[i]) & (times < times[i])
            if window is not None:
                mask &= times > times[i] - window
            mask &= keys[i] >= 0
            assert counts[row, i] == mask.sum()
            assert sums[row, i] == pytest.approx(values[mask].sum())


def test_trailing_window_sums_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="windows"):
        trailing_window_sums([1], [0.0], [0.0])
    with pytest.raises(ValueError, match="same length"):
        trailing_window_sums([1, 2], [0.0], [1.0])


def test_features_never_see_the_future(payments: Payments) -> None:
    n = int(np.searchsorted(payments.time, 60.0))
    full = assemble_features(raw_aggregates(payments, TINY.n_cards))
    truncated = assemble_features(raw_aggregates(_prefix(payments, n), TINY.n_cards))
    # Deleting everything after day 60 changes no feature of any payment before it.
    np.testing.assert_array_equal(full[:n], truncated)


def test_a_card_testing_burst_lights_up_the_velocity_features(payments: Payments) -> None:
    x = assemble_features(raw_aggregates(payments, TINY.n_cards))
    first_seen = np.unique(payments.card, return_index=True)[1]
    assert np.all(x[first_seen, COLUMN["card_count_24h"]] == 0)
    testing = payments.fraud_type == FRAUD_TYPES.index("testing_cashout")
    legit = ~payments.is_fraud
    for name in ("card_count_1h", "device_new_cards_24h"):
        assert x[testing, COLUMN[name]].mean() > 5 * x[legit, COLUMN[name]].mean()
    assert x.shape[1] == len(FEATURE_NAMES)


def test_streaming_store_reproduces_the_batch_features(results: FraudResults) -> None:
    assert results.serving["replayed"] == TINY.stream_payments
    assert results.serving["mismatched_rows"] == 0
    assert results.serving["max_abs_diff"] < 1e-4
    assert results.latency["total"]["p50"] > 0


# --- scorers and decisions ------------------------------------------------------------------------


def test_rule_points_count_the_rules_that_fire() -> None:
    x = np.zeros((2, len(FEATURE_NAMES)), dtype=np.float32)
    x[:, COLUMN["amount_log"]] = np.log1p([500.0, 20.0])
    x[:, COLUMN["amount_vs_card_mean"]] = [6.0, 1.0]
    x[:, COLUMN["device_new_for_card"]] = [1.0, 0.0]
    x[:, COLUMN["hour_of_day"]] = [3.0, 14.0]
    x[:, COLUMN["online"]] = [1.0, 1.0]
    # Big vs usual, new device with a big amount, online at night: three points; the second payment none.
    assert rule_points(x).tolist() == [3.0, 0.0]


def test_cheapest_threshold_weighs_missed_dollars_against_false_declines() -> None:
    y = np.array([True, False, True, False])
    score = np.array([0.9, 0.8, 0.6, 0.1])
    # Declining down to 0.6 stops both frauds ($500 + $20 fee, $30 + fee) at one $12 false decline.
    assert cheapest_threshold(y, score, np.array([500.0, 50.0, 30.0, 50.0])) == 0.6
    # If the second fraud is only $1, declining it is still worth its $21 against a $12 false decline.
    assert cheapest_threshold(y, score, np.array([500.0, 50.0, 1.0, 50.0])) == 0.6
    # A $1 fraud ($21 with the fee) ranked under two good payments is not worth $24 of false declines.
    y, score = np.array([False, False, True]), np.array([0.9, 0.8, 0.1])
    assert cheapest_threshold(y, score, np.array([50.0, 50.0, 1.0])) == np.inf


def test_the_lessons_hold_at_the_tiny_size(results: FraudResults) -> None:
    q, d, pol = results.scorers, results.decisions, results.policies
    assert q["boosting"]["pr_auc"] > q["rules"]["pr_auc"] + 0.2
    assert q["logistic"]["pr_auc"] > q["rules"]["pr_auc"]
    for quality in q.values():
        assert quality["roc_auc"] > quality["pr_auc"]  # ROC-AUC flatters every scorer at ~0.5 % fraud
    assert d["approve_all"]["accuracy"] > 0.99 and d["approve_all"]["recall"] == 0
    assert d["boosting_cost_threshold"]["cost_per_1k"] < d["approve_all"]["cost_per_1k"]
    # Late labels: same rows with every label beat the labels known today, and the fresh pipeline's
    # threshold, tuned on weeks whose frauds are mostly unlabelled, costs more than the matured one.
    assert pol["fresh_instant"]["pr_auc"] > pol["fresh_known"]["pr_auc"]
    assert pol["fresh_known"]["train_labelled_frauds"] < pol["fresh_known"]["train_frauds"]
    assert pol["fresh_known"]["test_cost_per_1k"] > pol["matured"]["test_cost_per_1k"]
    freshest = results.maturity["by_age"][0]
    assert freshest["known_rate"] < 0.2 * freshest["true_rate"]


# --- the report -----------------------------------------------------------------------------------


def test_report_has_every_step_in_order_and_the_json_contract(report: DemoReport) -> None:
    assert [s.step for s in report.sections] == list(STEP_IDS)
    data = report.to_dict()
    assert set(data["headline"]) >= {"metric", "model", "baseline", "higher_is_better"}
    assert data["headline"]["higher_is_better"] is True
    assert data["headline"]["model"] == pytest.approx(data["metrics"]["pr_auc"]["boosting"], abs=1e-6)
    assert data["headline"]["baseline"] == pytest.approx(data["metrics"]["pr_auc"]["rules"], abs=1e-6)
    for key in ("pr_auc", "roc_auc", "thresholds", "cost_per_1k", "label_delay", "approve_all_accuracy"):
        assert key in data["metrics"]
    assert set(data["latency_ms"]) == {"features", "scoring", "total"}
    json.dumps(data, allow_nan=False)  # thresholds of "decline nothing" become null, not Infinity


def test_same_seed_gives_the_same_numbers(report: DemoReport) -> None:
    again = build_report(simulate_fraud(TINY)).to_dict()
    first = report.to_dict()
    # Latency is measured, not simulated; everything else must repeat exactly.
    again.pop("latency_ms"), first.pop("latency_ms")
    assert again == first


def test_render_shows_only_the_requested_steps(report: DemoReport) -> None:
    console = Console(record=True, width=120)
    render_report(report, console, parse_steps("1,6"))
    text = console.export_text()
    assert "1. Clarify requirements" in text and "6. Evaluation" in text
    assert "3. Data & labels" not in text and "7. Serve" not in text
    assert "Headline pr_auc" in text
    full = Console(record=True, width=120)
    render_report(report, full)
    everything = full.export_text()
    for needle in ("precision at recall", "Expected cost", "Retraining with late labels", "point-in-time"):
        assert needle.lower() in everything.lower()


def test_options_map_to_cards_and_merchants() -> None:
    assert fraud_config(DemoOptions()).n_cards == 20_000
    cfg = fraud_config(DemoOptions(seed=3, users=800, items=150))
    assert (cfg.n_cards, cfg.n_merchants, cfg.seed) == (800, 150, 3)
    with pytest.raises(DemoError, match="at least"):
        fraud_config(DemoOptions(users=10))
    with pytest.raises(DemoError, match="merchants"):
        fraud_config(DemoOptions(items=5))
    with pytest.raises(DemoError, match="export"):
        fraud_config(DemoOptions(export_dir=Path("out")))


@pytest.mark.slow
def test_default_run_shows_the_lessons() -> None:
    report = run(DemoOptions(seed=0))
    data = report.to_dict()
    metrics = data["metrics"]
    assert data["headline"]["model"] > 2 * data["headline"]["baseline"]
    assert 0.003 < metrics["fraud_rate_test"] < 0.007
    assert metrics["cost_per_1k"]["boosting_cost_threshold"] < metrics["cost_per_1k"]["boosting_at_0.5"]
    policies = metrics["label_delay"]["policies"]
    assert policies["fresh_instant"]["pr_auc"] > policies["fresh_known"]["pr_auc"] + 0.03
    assert policies["fresh_known"]["test_cost_per_1k"] > policies["matured"]["test_cost_per_1k"]
    assert metrics["streaming_parity"]["mismatched_rows"] == 0
    # The ring is invisible in the scores but shows up in the partial labels of its merchant category.
    assert metrics["score_psi"] < 0.1
    assert metrics["segment_alert"]["category"] == "wallet_topup"
