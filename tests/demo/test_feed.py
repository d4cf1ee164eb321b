"""The feed demo end to end on a tiny world: contract, determinism, TREC export, lessons, CLI errors."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mlsd_coach.cli import app
from mlsd_coach.demo.feed import DEFAULT_ITEMS, DEFAULT_USERS, FeedResults, build_report, feed_config, simulate_feed
from mlsd_coach.demo.options import STEP_IDS, DemoError, DemoOptions
from mlsd_coach.demo.report import DemoReport, render_report

runner = CliRunner()
TINY = ["--seed", "3", "--users", "300", "--items", "2000"]
"""Small enough for a few seconds; every section still has something to show."""


@pytest.fixture(scope="module")
def results() -> FeedResults:
    return simulate_feed(feed_config(DemoOptions(seed=3, users=300, items=2000)))


@pytest.fixture(scope="module")
def report(results: FeedResults) -> DemoReport:
    return build_report(results)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """The same tiny run through the command line, with --json and --export."""
    folder = tmp_path_factory.mktemp("export")
    result = runner.invoke(app, ["demo", "feed", *TINY, "--json", "--export", str(folder)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), folder


def _without_timings(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key != "latency_ms"}


def test_json_contract(cli_run: tuple[dict, Path]) -> None:
    payload, _ = cli_run
    ndcg = payload["metrics"]["ndcg@20"]
    assert set(ndcg) >= {"popularity", "two_stage", "oracle"}
    assert set(payload["metrics"]["recall@500"]) >= {"hnsw", "ivf_pq"}
    for stage in ("candidate_generation", "ranking", "total"):
        assert set(payload["latency_ms"][stage]) >= {"p50", "p99"}
        assert payload["latency_ms"][stage]["p99"] >= payload["latency_ms"][stage]["p50"] > 0
    headline = payload["headline"]
    assert headline["metric"] == "ndcg@20" and headline["higher_is_better"] is True
    assert headline["model"] == ndcg["two_stage"] and headline["baseline"] == ndcg["popularity"]


def test_same_seed_same_numbers(cli_run: tuple[dict, Path], report: DemoReport) -> None:
    # Latency is wall-clock time; every other number must repeat exactly.
    payload, _ = cli_run
    assert _without_timings(payload) == _without_timings(json.loads(json.dumps(report.to_dict())))


def _trec_ndcg_at_20(run_path: Path, qrels_path: Path) -> float:
    """NDCG@20 the way trec_eval's ndcg_cut.20 computes it, from the two files alone."""
    judged: dict[str, dict[str, int]] = defaultdict(dict)
    for line in qrels_path.read_text().splitlines():
        qid, _, doc, rel = line.split()
        judged[qid][doc] = int(rel)
    ranked: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for line in run_path.read_text().splitlines():
        qid, q0, doc, _rank, score, _tag = line.split()
        assert q0 == "Q0"
        ranked[qid].append((float(score), doc))
    values = []
    for qid, docs in ranked.items():
        # trec_eval sorts by score, then by docid, both descending; the rank column is ignored.
        order = sorted(docs, key=lambda pair: (pair[0], pair[1]), reverse=True)[:20]
        dcg = sum(judged[qid].get(doc, 0) / math.log2(i + 2) for i, (_, doc) in enumerate(order))
        ideal = sorted(judged[qid].values(), reverse=True)[:20]
        idcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))
        values.append(dcg / idcg if idcg else 0.0)
    return sum(values) / len(values)


def test_trec_export_reproduces_the_reported_ndcg(cli_run: tuple[dict, Path]) -> None:
    payload, folder = cli_run
    run_file, qrels_file = folder / "run.trec", folder / "qrels.trec"
    assert run_file.exists() and qrels_file.exists()
    first = run_file.read_text().splitlines()[0].split()
    assert len(first) == 6 and first[1] == "Q0" and first[3] == "1"
    assert _trec_ndcg_at_20(run_file, qrels_file) == pytest.approx(payload["metrics"]["ndcg@20"]["two_stage"], abs=2e-6)


def test_the_oracle_bounds_the_two_stage_system_which_beats_popularity(results: FeedResults) -> None:
    ndcg = results.ndcg
    assert ndcg["oracle"] >= ndcg["two_stage"] >= ndcg["popularity"]
    assert results.recall["oracle"] >= results.recall["two_stage"]


def test_lessons_come_out_of_the_simulation(results: FeedResults) -> None:
    bait, other = results.clickbait["clickbait"], results.clickbait["other"]
    assert bait["ctr"] > other["ctr"] and bait["engaged_rate"] < other["engaged_rate"]
    assert results.ctr_by_position[0] > results.ctr_by_position[-1]
    assert results.random_split_ndcg > results.static_popularity_ndcg  # the leak flatters the baseline
    # 300 users make a normal day's PSI noisy; the shifted day still stands far above it.
    shifted, normal = max(results.drift["shifted day"].values()), max(results.drift["held-out day"].values())
    assert shifted > 0.25 and shifted > 2 * normal


def test_every_step_is_rendered_and_steps_can_be_selected(report: DemoReport) -> None:
    assert [s.step for s in report.sections] == list(STEP_IDS)
    console = Console(record=True, width=110)
    render_report(report, console, steps=("model", "evaluation"))
    text = console.export_text()
    assert "5. Model" in text and "6. Evaluation" in text and "1. Clarify" not in text
    assert "hnsw" in text and "NDCG@20" in text


def test_steps_option_through_the_cli(report: DemoReport, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlsd_coach.demo

    monkeypatch.setattr(mlsd_coach.demo, "run_demo", lambda prompt, options, progress: report)
    result = runner.invoke(app, ["demo", "feed", "--steps", "1,evaluation"])
    assert result.exit_code == 0, result.output
    assert "1. Clarify requirements" in result.stdout and "6. Evaluation" in result.stdout
    assert "2. Frame" not in result.stdout and "Headline ndcg@20" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "0"], "--users must be a positive integer"),
        (["--items", "-3"], "--items must be a positive integer"),
        (["--users", "50"], "at least"),
        (["--items", "100"], "at least"),
        (["--items", str(10**12)], "memory"),
        (["--steps", "0,9"], "not a step"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_input_gets_a_one_line_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["demo", "feed", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_listing_and_unknown_demos() -> None:
    listing = runner.invoke(app, ["demo"])
    assert listing.exit_code == 0
    for prompt in ("feed", "search", "fraud", "ctr", "moderation", "llm"):
        assert prompt in listing.stdout
    as_json = json.loads(runner.invoke(app, ["demo", "--json"]).stdout)
    assert as_json[0]["id"] == "feed" and len(as_json) == 6
    unknown = runner.invoke(app, ["demo", "recsys"])
    assert unknown.exit_code == 2 and "unknown demo" in unknown.stderr


def test_default_sizes_fit_in_memory() -> None:
    config = feed_config(DemoOptions())
    assert (config.n_users, config.n_items) == (DEFAULT_USERS, DEFAULT_ITEMS)
    with pytest.raises(DemoError, match="memory"):
        feed_config(DemoOptions(users=10**9))


@pytest.mark.slow
def test_full_size_run_keeps_its_promises() -> None:
    report = build_report(simulate_feed(feed_config(DemoOptions())))
    payload = report.to_dict()
    ndcg = payload["metrics"]["ndcg@20"]
    assert ndcg["oracle"] > ndcg["two_stage"] >= 1.25 * ndcg["popularity"]
    assert payload["metrics"]["recall@500"]["hnsw"] > 0.85
    assert payload["latency_ms"]["total"]["p99"] < 50
    proxy = payload["metrics"]["offline_vs_online"]
    assert proxy["offline_ndcg@20_clicks"]["click_model"] > proxy["offline_ndcg@20_clicks"]["engaged_model"]
    assert proxy["interleaving_click_model_share"]["engaged"] < 0.5 < proxy["interleaving_click_model_share"]["clicks"]
    drift = payload["metrics"]["drift_psi_max"]
    assert drift["held-out day"] < 0.1 < 0.25 < drift["shifted day"]
    fresh = payload["metrics"]["freshness"]["ndcg@20"]
    assert fresh["realtime"] > fresh["batch"]  # the stream's counters are worth something
    assert payload["metrics"]["random_split_popularity_ndcg@20"] > payload["metrics"]["static_popularity_ndcg@20"]
