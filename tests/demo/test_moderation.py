"""Tests for the moderation demo: the world, the classifier, the two-threshold policy and the report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from mlsd_coach.demo.moderation import (
    CLASSES,
    ModerationConfig,
    ModerationResults,
    ModerationWorld,
    PolicyClassifier,
    TwoThresholdPolicy,
    build_report,
    fit_policy,
    make_moderation_world,
    moderation_config,
    run_queue,
    simulate_moderation,
)
from mlsd_coach.demo.options import STEP_IDS, DemoError, DemoOptions, parse_steps
from mlsd_coach.demo.report import DemoReport, render_report

TINY = ModerationConfig(posts_per_day=400, drift_weeks=2)
"""Small enough to run in about two seconds; the lessons checked below hold at this size."""


@pytest.fixture(scope="module")
def world() -> ModerationWorld:
    return make_moderation_world(TINY)


@pytest.fixture(scope="module")
def results() -> ModerationResults:
    return simulate_moderation(TINY)


@pytest.fixture(scope="module")
def report(results: ModerationResults) -> DemoReport:
    return build_report(results)


# --- the world ------------------------------------------------------------------------------------


def test_world_has_the_configured_shape_and_truth(world: ModerationWorld) -> None:
    cfg = world.config
    assert len(world.texts) == world.day.size == cfg.posts_per_day * cfg.n_days
    assert world.labels.shape == (world.day.size, len(CLASSES))
    shares = world.labels.mean(axis=0)
    for share, prevalence in zip(shares, cfg.truth.prevalence, strict=True):
        assert share == pytest.approx(prevalence, abs=0.01)
    # Nobody rewords before the drift; plenty do after it.
    assert not world.evasive[world.day < cfg.drift_start].any()
    assert world.evasive[world.days(cfg.drift_start + 3, cfg.n_days)].sum() > 100
    evasion = set(world.vocabulary.evasion_words().tolist())
    before = world.tokens[: world.token_bounds[cfg.drift_start * cfg.posts_per_day]]
    assert not evasion.intersection(before.tolist())


def test_reports_are_a_biased_noisy_label(world: ModerationWorld) -> None:
    reported = world.reports > 0
    # Most reported posts are benign, and most violations are never reported.
    assert world.harmful[reported].mean() < 0.5
    assert (world.reports[world.harmful] == 0).mean() > 0.5
    # Reported benign posts are the widely seen ones.
    benign = ~world.harmful
    assert np.median(world.views[benign & reported]) > 3 * np.median(world.views[benign])


def test_other_seed_other_world(world: ModerationWorld) -> None:
    other = make_moderation_world(ModerationConfig(posts_per_day=400, drift_weeks=2, seed=1))
    assert other.texts != world.texts


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="drift_weeks"):
        ModerationConfig(drift_weeks=1)
    with pytest.raises(ValueError, match="reviewer_capacity_share"):
        ModerationConfig(reviewer_capacity_share=0.0)


# --- the classifier and the policy ----------------------------------------------------------------


def test_classifier_learns_words_and_is_blind_to_new_ones() -> None:
    texts = ["buy cheap pills now", "cheap pills here", "lovely walk today", "walk the dog today"] * 5
    labels = np.array([[True, False], [True, False], [False, True], [False, False]] * 5)
    model = PolicyClassifier().fit(texts, labels)
    proba = model.predict_proba(["cheap pills", "lovely dog walk", "ch34p p1lls"])
    assert proba.shape == (3, 2)
    assert proba[0, 0] > 0.5 > proba[1, 0]
    # A misspelling is a word it has never seen: the post looks like an empty one.
    assert model.known(["cheap", "ch34p"]).tolist() == [True, False]
    assert proba[2, 0] < proba[0, 0]
    assert model.top_terms(0, 2)[0] in {"cheap", "pills"}
    single = PolicyClassifier().fit(texts, labels[:, :1])
    assert single.predict_proba(["cheap pills"]).shape == (1, 1)


def test_classifier_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        PolicyClassifier().predict_proba(["x"])
    with pytest.raises(ValueError, match="positive and negative"):
        PolicyClassifier().fit(["a b", "b c"], np.array([[True], [True]]))


def test_fit_policy_thresholds_and_capacity_by_hand() -> None:
    # One class: precision at score >= 0.8 is 2/2, at >= 0.6 it is 2/3, so the high threshold is 0.8.
    proba = np.array([[0.9], [0.8], [0.6], [0.3], [0.2]])
    labels = np.array([[True], [True], [False], [True], [False]])
    traffic = np.array([[0.95], [0.7], [0.5], [0.4], [0.1], [0.05]])
    policy = fit_policy(proba, labels, traffic, band_per_day=2, n_traffic_days=1, severity=[1.0])
    assert policy.auto_remove.tolist() == [0.8]
    # Below 0.8 the two highest traffic scores (0.7, 0.5) fill the band; 0.4 must stay out.
    assert 0.4 < policy.review_cutoff <= 0.5
    assert policy.removed(traffic).tolist() == [True, False, False, False, False, False]
    assert policy.in_band(traffic).tolist() == [False, True, True, False, False, False]


def test_run_queue_respects_capacity_and_serves_reports_first() -> None:
    policy = TwoThresholdPolicy(np.array([0.9]), 0.3, np.array([1.0]))
    proba = np.array([[0.95], [0.8], [0.7], [0.6], [0.1], [0.8], [0.1]])
    day = np.array([0, 0, 0, 0, 0, 1, 1])
    reports = np.array([0, 0, 0, 0, 9, 0, 5])
    out = run_queue(policy, proba, day, reports, capacity=2, report_lane=1, min_reports=3)
    assert out.removed_auto.tolist() == [True, False, False, False, False, False, False]
    # Day 0: the reported post takes the lane, then the best band post fills the last slot.
    assert out.reviewed_reports.tolist() == [False, False, False, False, True, False, True]
    assert out.reviewed_band.tolist() == [False, True, False, False, False, True, False]
    assert out.in_band.sum() == 4 and all(out.reviewed[day == d].sum() <= 2 for d in (0, 1))
    harmful = np.array([True, True, False, True, True, False, False])
    assert out.removed(harmful).tolist() == [True, True, False, False, True, False, False]


# --- the run and its lessons at a tiny size -------------------------------------------------------


def test_model_beats_the_report_count_rule(report: DemoReport) -> None:
    head = report.headline
    assert head.higher_is_better
    assert head.model > 0.4
    assert head.model > head.baseline + 0.3


def test_label_source_matters(results: ModerationResults) -> None:
    headline = results.model["headline"]
    assert headline["classifier"] > headline["report_trained_classifier"] + 0.2


def test_queue_fits_capacity_and_more_reviewers_catch_more(results: ModerationResults) -> None:
    pol = results.policy
    assert pol["queue"]["reviewed_per_day"] <= pol["capacity_per_day"]
    for row in pol["per_class"].values():
        assert row["review_threshold"] <= row["auto_threshold"]
    recalls = [row["recall"] for row in results.capacity]
    assert recalls == sorted(recalls) and recalls[-1] > recalls[0] + 0.05
    assert all(row["reviewed_per_day"] <= row["capacity_per_day"] for row in results.capacity)
    # The model's policy catches far more than today's report queue with the same reviewers.
    assert pol["queue"]["recall"] > pol["report_rule_queue"]["recall"] + 0.3


def test_new_wording_costs_recall(results: ModerationResults) -> None:
    weeks = results.drift["weeks"]
    held, last = weeks[0]["frozen"], weeks[-1]["frozen"]
    assert last["recall"] < held["recall"] - 0.1
    assert last["recall_at_precision"] < held["recall_at_precision"] - 0.1
    # The random expert sample sees the drop too.
    assert weeks[1]["frozen"]["sample_recall"] < held["sample_recall"]


def test_same_seed_same_numbers_with_progress(report: DemoReport) -> None:
    seen: list[tuple[str, float]] = []
    again = build_report(simulate_moderation(TINY, lambda name, done: seen.append((name, done))))
    # Everything but the measured wall-clock latency is a function of the seed.
    assert {**again.to_dict(), "latency_ms": None} == {**report.to_dict(), "latency_ms": None}
    fractions = [done for _, done in seen]
    assert fractions == sorted(fractions) and len(seen) > 5 and seen[-1] == ("Done", 1.0)


def test_json_contract(report: DemoReport) -> None:
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert {"metric", "model", "baseline", "higher_is_better"} <= set(data["headline"])
    assert data["scenario"] == "moderation" and data["seed"] == 0
    metrics = data["metrics"]
    assert set(metrics["per_class"]) == set(CLASSES) == set(metrics["operating_points"])
    assert set(metrics["recall_at_precision"]) == {"classifier", "report_count_rule", "report_trained_classifier"}
    assert {"queue", "capacity_trade_off", "drift", "label_sources"} <= set(metrics)
    assert data["latency_ms"]["classifier"]["p99"] >= data["latency_ms"]["classifier"]["p50"] > 0
    assert data["headline"]["model"] == metrics["recall_at_precision"]["classifier"]["0.90"]


def test_sections_follow_the_framework(report: DemoReport) -> None:
    assert tuple(section.step for section in report.sections) == STEP_IDS
    assert all(section.blocks for section in report.sections)


def test_render_only_the_requested_steps(report: DemoReport) -> None:
    console = Console(record=True, width=100)
    render_report(report, console, parse_steps("1,6"))
    text = console.export_text()
    assert "1. Clarify requirements" in text and "6. Evaluation" in text
    assert "3. Data" not in text and "7. Serve" not in text
    assert "Headline" in text and "report-count rule" in text


def test_full_render_shows_the_lessons(report: DemoReport) -> None:
    console = Console(record=True, width=120)
    render_report(report, console)
    text = console.export_text()
    for phrase in ("two thresholds", "capacity trade-off", "change their wording", "retrained", "report lane"):
        assert phrase in text


# --- options --------------------------------------------------------------------------------------


def test_options_map_items_to_posts_per_day() -> None:
    assert moderation_config(DemoOptions(seed=3, items=500)) == ModerationConfig(posts_per_day=500, seed=3)
    with pytest.raises(DemoError, match="--users"):
        moderation_config(DemoOptions(users=10))
    with pytest.raises(DemoError, match="posts per day"):
        moderation_config(DemoOptions(items=10))


def test_cli_runs_the_demo_as_json_and_rejects_bad_sizes() -> None:
    from typer.testing import CliRunner

    from mlsd_coach.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["demo", "moderation", "--items", "300", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scenario"] == "moderation" and data["params"]["posts_per_day"] == 300
    assert data["headline"]["model"] > data["headline"]["baseline"]
    bad = runner.invoke(app, ["demo", "moderation", "--items", "10"])
    assert bad.exit_code != 0 and "posts per day" in bad.output and "Traceback" not in bad.output


# --- the default size (slow) ----------------------------------------------------------------------


@pytest.mark.slow
def test_default_run_shows_every_lesson() -> None:
    from mlsd_coach.demo.moderation import run

    report = run(DemoOptions())
    assert report.headline.model > report.headline.baseline + 0.4
    metrics = report.metrics
    weeks = list(metrics["drift"].values())
    held, last = weeks[0], weeks[-1]
    assert last["frozen"]["recall"] < held["frozen"]["recall"] - 0.1
    # Weekly retraining on the queue's fresh labels wins recall back, more each week.
    retrained = [week["retrained"]["recall_at_precision"] for week in weeks[2:]]
    assert retrained == sorted(retrained)
    assert last["retrained"]["recall"] > last["frozen"]["recall"] + 0.05
    assert last["retrained"]["recall_at_precision"] > last["frozen"]["recall_at_precision"] + 0.1
    sources = metrics["label_sources"]
    assert sources["report lane"]["evasive_share"] > sources["band"]["evasive_share"]
