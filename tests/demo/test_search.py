"""The search demo on a tiny world: contract, determinism, lessons, building blocks by hand and vs scikit-learn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from mlsd_coach.cli import app
from mlsd_coach.demo.options import STEP_IDS, DemoError, DemoOptions, parse_steps
from mlsd_coach.demo.report import DemoReport, render_report
from mlsd_coach.demo.search import (
    CATEGORIES,
    COLORS,
    Catalogue,
    QuerySet,
    SearchConfig,
    SearchResults,
    SwapCounts,
    WordVectorEncoder,
    build_report,
    examination_from_swaps,
    judge,
    make_catalogue,
    make_queries,
    paired_interval,
    relevance_grades,
    rng_for,
    run,
    search_config,
    simulate_click_logs,
    simulate_interleaving,
    simulate_search,
    smooth_examination,
    team_draft_interleave,
)

runner = CliRunner()
TINY = ["--seed", "3", "--items", "2000"]
"""2,000 listings, 300 logged queries, 100 judged ones: a few seconds, and every lesson still shows."""


@pytest.fixture(scope="module")
def results() -> SearchResults:
    return simulate_search(search_config(DemoOptions(seed=3, items=2000)))


@pytest.fixture(scope="module")
def report(results: SearchResults) -> DemoReport:
    return build_report(results)


@pytest.fixture(scope="module")
def cli_payload() -> dict:
    result = runner.invoke(app, ["demo", "search", *TINY, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- the contract ---------------------------------------------------------------------------------


def test_json_contract(cli_payload: dict) -> None:
    headline = cli_payload["headline"]
    assert {"metric", "model", "baseline", "higher_is_better"} <= set(headline)
    assert headline["metric"] == "ndcg@10" and headline["higher_is_better"] is True
    ndcg = cli_payload["metrics"]["ndcg@10"]
    assert set(ndcg) >= {"lexical", "dense", "fused", "naive", "ipw", "grades_all"}
    assert headline["model"] == ndcg["ipw"] and headline["baseline"] == ndcg["lexical"]
    assert set(cli_payload["metrics"]["recall@100"]) >= {"lexical", "dense", "fused"}
    for stage in ("lexical", "dense", "fusion", "features", "rerank", "total"):
        assert cli_payload["latency_ms"][stage]["p99"] >= cli_payload["latency_ms"][stage]["p50"] > 0
    assert cli_payload["params"]["listings"] == 2000


def test_same_seed_same_numbers(cli_payload: dict, report: DemoReport) -> None:
    # Latency is wall-clock time; every other number must repeat exactly.
    ours = json.loads(json.dumps(report.to_dict()))
    del ours["latency_ms"]
    theirs = dict(cli_payload)
    del theirs["latency_ms"]
    assert theirs == ours


def test_the_seed_changes_the_world() -> None:
    first, second = make_catalogue(SearchConfig(n_listings=2000, seed=1)), make_catalogue(SearchConfig(n_listings=2000))
    assert first.texts != second.texts


def test_every_step_is_rendered_and_steps_can_be_selected(report: DemoReport) -> None:
    assert [section.step for section in report.sections] == list(STEP_IDS)
    console = Console(record=True, width=110)
    render_report(report, console, steps=parse_steps("1,evaluation"))
    text = console.export_text()
    assert "1. Clarify requirements" in text and "6. Evaluation" in text
    assert "3. Data" not in text and "7. Serve" not in text
    assert "Headline ndcg@10" in text and "Recall@100" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--items", "10"], "--items must be between"),
        (["--items", "0"], "--items must be a positive integer"),
        (["--users", "500"], "does not support --users"),
        (["--steps", "8"], "not a step"),
    ],
)
def test_bad_input_gets_a_one_line_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["demo", "search", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_config_scales_with_the_catalogue() -> None:
    tiny, default = search_config(DemoOptions(items=2000)), search_config(DemoOptions())
    assert (tiny.n_listings, tiny.n_train_queries, tiny.n_test_queries, tiny.n_sessions) == (2000, 300, 100, 20_000)
    assert default == SearchConfig()
    for options in (DemoOptions(users=10), DemoOptions(items=10**7)):
        with pytest.raises(DemoError):
            search_config(options)


# --- the lessons, at the tiny size where they are robust ------------------------------------------


def test_the_re_ranker_beats_todays_engine_and_fusion_adds_recall(results: SearchResults) -> None:
    ndcg, recall = results.ndcg, results.recall
    assert ndcg["ipw"] > ndcg["lexical"]
    assert results.intervals["ipw_vs_lexical"][1] > 0
    assert recall["fused"] > max(recall["lexical"], recall["dense"])


def test_each_retriever_has_its_failure_mode(results: SearchResults) -> None:
    by_kind = results.ndcg_by_kind
    assert by_kind["colour + type"]["dense"] > by_kind["colour + type"]["lexical"]
    assert by_kind["model number"]["lexical"] > by_kind["model number"]["dense"] + 0.3


def test_position_bias_hurts_the_naive_re_ranker(results: SearchResults) -> None:
    assert results.ndcg["ipw"] > results.ndcg["naive"]
    # Raw clicks teach the re-ranker today's best-seller boost back; the corrected clicks do not.
    assert results.bestseller_share["naive"] > results.bestseller_share["ipw"]
    assert results.lexical_overlap["naive"] > results.lexical_overlap["ipw"]


def test_the_report_quotes_the_measured_numbers(report: DemoReport, results: SearchResults) -> None:
    console = Console(record=True, width=200)
    render_report(report, console, steps=("evaluation",))
    text = console.export_text()
    assert f"{results.ndcg['ipw']:.3f}" in text and f"{results.ndcg['naive']:.3f}" in text
    assert f"{results.recall['fused']:.3f}" in text


# --- building blocks ------------------------------------------------------------------------------


def test_examination_from_swaps_by_hand() -> None:
    # θ = (1, 0.5); the result at slot 1 is clicked 60% of the times it is seen, the one at slot 2 20%.
    swaps = SwapCounts(
        swapped_sessions=np.array([100.0]),
        swapped_top=np.array([20.0]),  # the slot-2 result, moved to slot 1: 1.0 × 0.2 × 100
        swapped_k=np.array([30.0]),  # the slot-1 result, moved to slot 2: 0.5 × 0.6 × 100
        control_sessions=np.array([200.0]),
        control_top=np.array([120.0]),  # 1.0 × 0.6 × 200
        control_k=np.array([20.0]),  # 0.5 × 0.2 × 200
    )
    assert examination_from_swaps(swaps) == pytest.approx([1.0, 0.5])
    empty = SwapCounts(*(np.zeros(1) for _ in range(6)))
    assert math.isnan(examination_from_swaps(empty)[1])


def test_smooth_examination_is_a_clipped_non_increasing_curve() -> None:
    raw = np.array([1.0, 0.55, 0.6, 0.2, np.nan, 0.01])
    curve = smooth_examination(raw, np.full(raw.size - 1, 10.0), floor=0.05)
    assert curve[0] == pytest.approx(1.0)
    assert np.all(np.diff(curve) <= 1e-12)
    assert curve.min() >= 0.05 and curve[-1] == pytest.approx(0.05)


def test_the_swap_slice_recovers_the_hidden_examination_curve() -> None:
    config = SearchConfig(n_listings=2000, n_sessions=200_000, swap_share=0.2, slate_size=6, seed=5)
    catalogue = make_catalogue(config)
    queries = make_queries(catalogue, 200, rng_for(5, "test/queries"), config.query_mix)
    # A decent engine: best grades first, ties broken at random.
    noise = rng_for(5, "test/slates").random((len(queries), catalogue.n_listings))
    slates = np.argsort(-(relevance_grades(catalogue, queries) + noise), axis=1)[:, : config.slate_size]
    log = simulate_click_logs(catalogue, queries, slates, config, rng_for(5, "test/logs"))
    truth = np.arange(1, 7, dtype=float) ** -config.examination_eta
    assert examination_from_swaps(log.swaps) == pytest.approx(truth, abs=0.04)
    # Raw click-through by slot mixes relevance in: it falls faster than the examination curve.
    ctr = np.array([log.clicks[log.position == p].sum() / log.impressions[log.position == p].sum() for p in (1, 6)])
    assert ctr[1] / ctr[0] < truth[5] - 0.03
    assert log.impressions.sum() == pytest.approx(config.slate_size * log.sessions.sum())


def test_judge_matches_scikit_learn_ndcg() -> None:
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(0)
    grades = rng.integers(0, 4, size=(5, 40)).astype(np.int8)
    scores = rng.random((5, 40))
    ranked = np.argsort(-scores, axis=1)
    ours, _ = judge(grades, ranked, k_ndcg=10)
    gains = 2.0**grades - 1
    for row in range(5):
        assert ours[row] == pytest.approx(ndcg_score(gains[row : row + 1], scores[row : row + 1], k=10))


def test_judge_by_hand() -> None:
    grades = np.array([[3, 0, 2, 1]], dtype=np.int8)
    ndcg, recall = judge(grades, np.array([[1, 0, 2, -1]]), k_ndcg=10, k_recall=2)
    dcg = 0 + 7 / math.log2(3) + 3 / 2
    ideal = 7 + 3 / math.log2(3) + 1 / 2
    assert ndcg[0] == pytest.approx(dcg / ideal)
    assert recall[0] == 1.0
    _, none = judge(np.zeros((1, 4), dtype=np.int8), np.array([[0, 1, 2, 3]]))
    assert math.isnan(none[0])


def _tiny_catalogue() -> Catalogue:
    """Six hand-written listings: two grey sofas (brand 0), a red sofa (brand 1), a sofa cover, two tvs."""
    index = {spec.name: i for i, spec in enumerate(CATEGORIES)}
    grey, red = (
        next(i for i, c in enumerate(COLORS) if "grey" in c),
        next(i for i, c in enumerate(COLORS) if "red" in c),
    )
    category = np.array([index["sofa"], index["sofa"], index["sofa"], index["sofa cover"], index["tv"], index["tv"]])
    return Catalogue(
        texts=("a", "b", "c", "d", "e", "f"),
        category=category,
        brand=np.array([0, 0, 1, 0, 2, 2]),
        color=np.array([grey, grey, red, grey, grey, grey]),
        product=np.array([0, 1, 2, 3, 4, 5]),
        sales=np.zeros(6),
        brand_names=("b0", "b1", "b2"),
        brand_department=("furniture", "furniture", "electronics"),
        product_category=category,
        product_brand=np.array([0, 0, 1, 0, 2, 2]),
        product_model=("m0", "m1", "m2", "m3", "m4", "m5"),
    )


def test_relevance_grades_by_hand() -> None:
    catalogue = _tiny_catalogue()
    sofa, tv = catalogue.category[0], catalogue.category[4]
    grey = catalogue.color[0]
    queries = QuerySet(
        texts=("grey couch", "b0 sofa", "m4"),
        kind=np.array([0, 1, 2]),
        category=np.array([sofa, sofa, tv]),
        color=np.array([grey, -1, -1]),
        brand=np.array([-1, 0, 2]),
        product=np.array([-1, -1, 4]),
    )
    grades = relevance_grades(catalogue, queries)
    assert grades.tolist() == [
        [3, 3, 2, 1, 0, 0],  # grey sofas exact, the red one a substitute, the cover related
        [3, 3, 2, 1, 0, 0],  # b0's sofas exact, b1's a substitute, b0's sofa cover related
        [0, 0, 0, 0, 3, 1],  # the very model, then its sister model
    ]
    picked = relevance_grades(catalogue, queries, np.array([[2, -1], [0, 3], [5, 4]]))
    assert picked.tolist() == [[2, 0], [3, 1], [1, 3]]


def test_word_vectors_learn_synonyms_and_know_no_rare_model_number() -> None:
    catalogue = make_catalogue(SearchConfig(n_listings=2000, seed=2))
    encoder = WordVectorEncoder(dim=32, seed=2).fit(catalogue.texts)
    couch, sofa, laptop = encoder.encode(["couch", "sofa", "laptop"])
    assert float(couch @ sofa) > float(couch @ laptop) + 0.3
    rare = next(model for p, model in enumerate(catalogue.product_model) if np.sum(catalogue.product == p) == 1)
    assert not np.any(encoder.encode([rare]))


def test_team_draft_interleaving_is_balanced_and_complete() -> None:
    rng = np.random.default_rng(1)
    merged, team = team_draft_interleave([1, 2, 3, 4, 5], [3, 6, 1, 7, 8], 6, rng)
    assert len(merged) == 6 == len(set(merged))
    assert abs(team.count(0) - team.count(1)) <= 1
    assert {1, 3} <= set(merged[:2])  # each side's first pick leads
    assert team_draft_interleave([], [], 3, rng) == ([], [])


def test_interleaving_prefers_the_better_ranking() -> None:
    grades = np.tile(np.array([3, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=np.int8), (40, 1))
    good = np.tile(np.arange(12), (40, 1))
    bad = good[:, ::-1].copy()
    outcome = simulate_interleaving(grades, good, bad, 10, SearchConfig(), rng_for(0, "test/interleave"))
    assert outcome["preference_low"] > 0.5 and outcome["first"] > outcome["second"]


def test_paired_interval() -> None:
    mean, low, high = paired_interval(np.array([0.1, 0.2, 0.3]), np.array([0.2, 0.3, 0.4]), seed=0)
    assert (mean, low, high) == pytest.approx((0.1, 0.1, 0.1))
    noisy = paired_interval(np.zeros(50), np.random.default_rng(0).normal(0, 1, 50), seed=0)
    assert noisy[1] < noisy[0] < noisy[2]


# --- the default size -----------------------------------------------------------------------------


@pytest.mark.slow
def test_default_run_keeps_its_promises() -> None:
    report = run(DemoOptions(seed=0))
    metrics = report.metrics
    ndcg, recall, diff = metrics["ndcg@10"], metrics["recall@100"], metrics["ndcg@10_difference"]
    assert report.params["listings"] == 30_000
    assert diff["ipw_vs_lexical"]["low"] > 0 and diff["ipw_vs_naive"]["low"] > 0
    assert recall["fused"] > max(recall["lexical"], recall["dense"]) + 0.1
    assert ndcg["grades_all"] > ndcg["ipw"]
    assert diff["fused_vs_lexical_candidates_graded"]["low"] > 0
    assert metrics["bestseller_share_top10"]["naive"] > metrics["bestseller_share_top10"]["ipw"] + 0.1
    assert np.max(np.abs(np.subtract(metrics["examination"]["estimated"], metrics["examination"]["true"]))) < 0.05


def test_swap_cost_matches_swapping_by_hand() -> None:
    from mlsd_coach.demo import metrics
    from mlsd_coach.demo.search import _swap_cost

    config = SearchConfig(n_listings=2000, seed=4)
    catalogue = make_catalogue(config)
    queries = make_queries(catalogue, 30, rng_for(4, "test/queries"), config.query_mix)
    slates = rng_for(4, "test/slates").integers(0, catalogue.n_listings, (30, 12))
    slates[0, 5:] = -1  # a short page: only slots 2..5 can be swapped with slot 1
    gains = 2.0 ** relevance_grades(catalogue, queries, slates) - 1
    losses = []
    for row, page in zip(gains, slates, strict=True):
        base = metrics.dcg_at_k(row, 10)
        for k in range(2, int((page >= 0).sum()) + 1):
            if base > 0:
                swapped = row.copy()
                swapped[[0, k - 1]] = swapped[[k - 1, 0]]
                losses.append(1 - metrics.dcg_at_k(swapped, 10) / base)
    assert _swap_cost(catalogue, queries, slates) == pytest.approx(np.mean(losses))
