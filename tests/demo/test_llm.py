"""The llm demo: the help-centre world, chunking, retrieval and fusion, groundedness, report and CLI."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from mlsd_coach.cli import app
from mlsd_coach.demo import metrics
from mlsd_coach.demo.llm import (
    INJECTION_KINDS,
    QUESTION_KINDS,
    SYSTEMS,
    TIERS,
    BM25Retriever,
    Chunks,
    GroundednessChecker,
    KnowledgeBase,
    LlmDemoConfig,
    LlmResults,
    Question,
    build_knowledge_base,
    build_report,
    chunk_articles,
    first_hit_reciprocal_rank,
    fit_encoder,
    has_identifier,
    llm_config,
    make_questions,
    run,
    simulate_llm,
    support_recall_at_k,
    swap_detail,
    weighted_fusion,
)
from mlsd_coach.demo.options import STEP_IDS, DemoError, DemoOptions
from mlsd_coach.demo.report import DemoReport, render_report
from mlsd_coach.demo.retrieval import reciprocal_rank_fusion
from mlsd_coach.demo.world import rng_for

TINY = LlmDemoConfig(
    n_articles=150,
    n_questions=240,
    n_searches=1_500,
    chunk_sweep=(40, 80, 300),
    groundedness_answers=120,
    latency_queries=20,
)
"""Three products: the whole scenario in about a second and a half."""


@pytest.fixture(scope="module")
def results() -> LlmResults:
    """One tiny run, shared by the tests that only read it."""
    return simulate_llm(TINY)


@pytest.fixture(scope="module")
def report(results: LlmResults) -> DemoReport:
    """The report of the tiny run."""
    return build_report(results)


# --- the world ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """A small help centre."""
    return build_knowledge_base(TINY)


def test_every_question_is_answered_by_sentences_of_its_own_article(kb: KnowledgeBase) -> None:
    questions = make_questions(kb, 300, rng_for(0, "test"))
    assert {q.kind for q in questions} == set(QUESTION_KINDS)
    for q in questions:
        assert q.support
        assert all(kb.sentence_article[s] == q.article for s in q.support)
    # An error-code question quotes its article's code; no other kind does.
    for q in questions:
        code = kb.articles[q.article].topic
        if q.kind == "error code":
            assert code.split("-")[1] in q.text
            assert has_identifier(q.text)
        else:
            assert not has_identifier(q.text)


def test_error_codes_are_unique_and_colloquial_words_stay_out_of_the_docs(kb: KnowledgeBase) -> None:
    codes = [a.topic for a in kb.articles if a.kind == "error"]
    assert len(codes) == len(set(codes)) == len(kb.codes)
    text = " ".join(kb.sentences).lower()
    assert "login codes" not in text  # a customer's phrase, never the docs'
    assert "two-factor authentication" in text or "2fa" in text


# --- chunking -------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_words", [10, 40, 300])
def test_chunks_cover_every_sentence_once_and_respect_the_size(kb: KnowledgeBase, max_words: int) -> None:
    chunks = chunk_articles(kb, max_words)
    members = [s for group in chunks.sentences for s in group]
    assert sorted(members) == list(range(len(kb.sentences)))
    for chunk_id, group in enumerate(chunks.sentences):
        assert np.all(chunks.chunk_of_sentence[list(group)] == chunk_id)
        words = sum(len(kb.sentences[s].split()) for s in group)
        assert words <= max_words or len(group) == 1
        title = kb.articles[int(chunks.article[chunk_id])].title
        assert chunks.texts[chunk_id].startswith(f"{title} › ")


def test_without_titles_only_an_articles_first_chunk_names_it(kb: KnowledgeBase) -> None:
    chunks = chunk_articles(kb, 30, with_title=False)
    first = {int(a): i for i, a in reversed(list(enumerate(chunks.article)))}
    for chunk_id, article in enumerate(chunks.article.tolist()):
        starts_with_title = chunks.texts[chunk_id].startswith(kb.articles[article].title + "\n")
        assert starts_with_title == (first[article] == chunk_id)


def _toy_chunks() -> tuple[Chunks, list[Question]]:
    # Sentences 0-5 in chunks [0, 1], [2], [3, 4], [5].
    chunk_of_sentence = np.array([0, 0, 1, 2, 2, 3])
    chunks = Chunks(
        texts=("a", "b", "c", "d"),
        sentences=((0, 1), (2,), (3, 4), (5,)),
        article=np.zeros(4, dtype=np.int64),
        chunk_of_sentence=chunk_of_sentence,
        tokens=np.ones(4),
        max_words=10,
        with_title=True,
    )
    questions = [
        Question("q1", "alias", "enable", 0, (2, 3, 4)),  # chunks 1 and 2
        Question("q2", "alias", "plan", 0, (5,)),  # chunk 3
        Question("q3", "alias", "plan", 0, (0,)),  # chunk 0
    ]
    return chunks, questions


def test_support_recall_and_reciprocal_rank_by_hand() -> None:
    chunks, questions = _toy_chunks()
    ranked = np.array([[2, 0, 1, -1], [0, 1, 2, 3], [-1, -1, -1, -1]])
    # q1: chunk 2 holds sentences 3 and 4 (2 of 3) at rank 1; chunk 1 (sentence 2) at rank 3.
    assert support_recall_at_k(ranked, questions, chunks, 1).tolist() == pytest.approx([2 / 3, 0.0, 0.0])
    assert support_recall_at_k(ranked, questions, chunks, 3).tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert support_recall_at_k(ranked, questions, chunks, 4).tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert first_hit_reciprocal_rank(ranked, questions, chunks).tolist() == pytest.approx([1.0, 0.25, 0.0])


def test_support_metrics_match_the_shared_metrics_when_sentences_sit_in_separate_chunks() -> None:
    rng = np.random.default_rng(3)
    n_chunks = 30
    chunks = Chunks(
        texts=tuple("x" for _ in range(n_chunks)),
        sentences=tuple((i,) for i in range(n_chunks)),
        article=np.zeros(n_chunks, dtype=np.int64),
        chunk_of_sentence=np.arange(n_chunks),
        tokens=np.ones(n_chunks),
        max_words=10,
        with_title=True,
    )
    questions = [
        Question("q", "alias", "enable", 0, tuple(rng.choice(n_chunks, size=3, replace=False).tolist()))
        for _ in range(20)
    ]
    ranked = np.array([rng.permutation(n_chunks)[:10] for _ in questions])
    for k in (1, 5, 10):
        ours = support_recall_at_k(ranked, questions, chunks, k)
        shared = [metrics.recall_at_k(r.tolist(), q.support, k) for r, q in zip(ranked, questions, strict=True)]
        assert ours.tolist() == pytest.approx(shared)
    mrr = first_hit_reciprocal_rank(ranked, questions, chunks)
    assert mrr.mean() == pytest.approx(metrics.mean_reciprocal_rank(ranked.tolist(), [q.support for q in questions]))


# --- retrieval and fusion -------------------------------------------------------------------------


def test_bm25_scores_match_the_formula_by_hand() -> None:
    docs = ["error E-4012 sync", "sync sync settings", "dark mode"]
    bm25 = BM25Retriever(k1=1.2, b=0.75).fit(docs)
    scores = bm25.score(["sync 4012"])[0]
    # "E-4012" is two tokens, "e" and "4012": document lengths are 4, 3 and 2.
    n, avg = 3, (4 + 3 + 2) / 3

    def term(tf: float, length: int, df: int) -> float:
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / avg))

    assert scores[0] == pytest.approx(term(1, 4, 1) + term(1, 4, 2), rel=1e-5)
    assert scores[1] == pytest.approx(term(2, 3, 2), rel=1e-5)
    assert scores[2] == 0.0
    top, ids = bm25.search(["sync 4012"], 3)
    assert ids[0].tolist() == [0, 1, -1]  # the document with no query word is not retrieved
    assert top[0, 0] == pytest.approx(scores[0])


def test_bm25_rejects_bad_use() -> None:
    with pytest.raises(ValueError):
        BM25Retriever(k1=-1)
    with pytest.raises(ValueError):
        BM25Retriever().score(["x"])
    with pytest.raises(ValueError):
        BM25Retriever().fit([])


def _rrf_brute_force(rankings: list[np.ndarray], depth: int, k: float) -> list[list[int]]:
    out = []
    for row in range(rankings[0].shape[0]):
        score: dict[int, float] = {}
        for ranking in rankings:
            for rank, doc in enumerate(ranking[row].tolist(), start=1):
                if doc >= 0:
                    score[doc] = score.get(doc, 0.0) + 1.0 / (k + rank)
        ordered = sorted(score, key=lambda d: (-score[d], d))[:depth]
        out.append(ordered + [-1] * (depth - len(ordered)))
    return out


def test_reciprocal_rank_fusion_by_hand_and_against_brute_force() -> None:
    lexical = np.array([[7, 3, 5]])
    dense = np.array([[3, 9, -1]])
    # 3: 1/62 + 1/61; 7: 1/61; 9: 1/62; 5: 1/63.
    assert reciprocal_rank_fusion([lexical, dense], depth=5, k=60).tolist() == [[3, 7, 9, 5, -1]]
    rng = np.random.default_rng(0)
    rankings = [np.array([rng.permutation(40)[:15] for _ in range(25)]) for _ in range(3)]
    rankings[1][:, -3:] = -1
    assert reciprocal_rank_fusion(rankings, depth=20, k=10).tolist() == _rrf_brute_force(rankings, 20, 10)


def test_weighted_fusion_ends_are_the_single_retrievers_and_repeats_are_dropped() -> None:
    candidates = np.array([[4, 2, 9, 2, 7, -1]])
    lexical = np.array([[5.0, 3.0, 1.0, 3.0, 0.0, 0.0]])
    dense = np.array([[0.1, 0.5, 0.9, 0.5, 0.3, 0.0]])
    assert weighted_fusion(candidates, lexical, dense, 1.0, 6).tolist() == [[4, 2, 9, 7, -1, -1]]
    assert weighted_fusion(candidates, lexical, dense, 0.0, 6).tolist() == [[9, 2, 7, 4, -1, -1]]
    # Per-question weights: one row per question.
    both = weighted_fusion(
        np.vstack([candidates, candidates]),
        np.vstack([lexical, lexical]),
        np.vstack([dense, dense]),
        np.array([1.0, 0.0]),
        3,
    )
    assert both.tolist() == [[4, 2, 9], [9, 2, 7]]
    with pytest.raises(ValueError):
        weighted_fusion(candidates, lexical, dense, 1.5, 3)


def test_identifier_detection() -> None:
    assert has_identifier("Getting E-4012, help!")
    assert has_identifier("what is error 4012 in Ledgerly")
    assert not has_identifier("Which plan do I need for 2FA?")
    assert not has_identifier("Changes take effect within 15 minutes")


def _article_corpus(kb: KnowledgeBase) -> list[str]:
    return [" ".join(kb.sentences[i] for i in range(j, min(j + 20, len(kb.sentences)))) for j in range(0, 1500, 20)]


def test_encoder_is_deterministic_and_unit_length(kb: KnowledgeBase) -> None:
    corpus = _article_corpus(kb)
    first = fit_encoder(corpus, 16, seed=0).transform(["turn on dark mode", "zzz qqq"])
    second = fit_encoder(corpus, 16, seed=0).transform(["turn on dark mode", "zzz qqq"])
    assert np.array_equal(first, second)
    assert np.linalg.norm(first[0]) == pytest.approx(1.0, abs=1e-5)
    assert np.all(first[1] == 0)  # no known word: a zero vector, matching nothing


# --- groundedness ---------------------------------------------------------------------------------


def test_groundedness_check_supports_the_passage_and_flags_what_it_lacks(kb: KnowledgeBase) -> None:
    corpus = _article_corpus(kb)
    checker = GroundednessChecker(fit_encoder(corpus, 16, seed=0), threshold=0.5)
    context = [
        "Open Settings > Security in Ledgerly.",
        "Changes take effect within 5 minutes.",
        "You need the Business plan or higher to use single sign-on.",
    ]
    answer = [
        "Go to Settings > Security in Ledgerly.",  # reworded, supported
        "Changes take effect within 30 minutes.",  # a number the passages never state
        "Clearing your browser cache and cookies usually fixes this.",  # made up
        "You need the Enterprise plan or higher to use single sign-on.",  # wrong plan
    ]
    support = checker.support(answer, context)
    assert support[0] > 0.5
    assert support[1] == 0.0 and support[3] == 0.0
    assert support[2] < 0.5
    assert checker.flag(answer, context).tolist() == [False, True, True, True]
    assert checker.support(answer, []).tolist() == [0.0] * 4


def test_swap_detail_changes_one_checkable_detail() -> None:
    rng = np.random.default_rng(1)
    sentence = "Changes take effect within 5 minutes."
    swapped = swap_detail(sentence, rng)
    assert swapped is not None and swapped != sentence
    assert re.sub(r"\d+", "N", swapped) == re.sub(r"\d+", "N", sentence)
    assert swap_detail("Save your changes; they apply to everyone in the workspace.", rng) is None


def test_llm_tier_cost_by_hand() -> None:
    large = TIERS[0]
    assert large.cost(1000, 1000) == pytest.approx(large.usd_per_1k_input + large.usd_per_1k_output)
    assert large.time_to_first_token_ms(2000) == pytest.approx(large.overhead_ms + 2 * large.prefill_ms_per_1k)


# --- the run and its report -----------------------------------------------------------------------


def test_same_seed_same_numbers(report: DemoReport) -> None:
    again = build_report(simulate_llm(TINY)).to_dict()
    first = report.to_dict()
    # Latency is measured, so it is the one part allowed to differ.
    first.pop("latency_ms"), again.pop("latency_ms")
    assert first == again


def test_another_seed_changes_the_world() -> None:
    other = LlmDemoConfig(**{**TINY.__dict__, "seed": 1})
    assert build_knowledge_base(other).sentences != build_knowledge_base(TINY).sentences


def test_json_contract(report: DemoReport) -> None:
    data: dict[str, Any] = json.loads(json.dumps(report.to_dict()))
    assert set(data["headline"]) >= {"metric", "model", "baseline", "higher_is_better"}
    assert data["headline"]["metric"] == "recall@5" and data["headline"]["higher_is_better"] is True
    assert set(data["metrics"]["retrieval"]) == set(SYSTEMS)
    for key in ("recall_at_5_by_kind", "fusion", "chunking", "encoder", "groundedness", "cost"):
        assert key in data["metrics"]
    assert {"precision", "recall", "average_precision"} <= set(data["metrics"]["groundedness"])
    assert {"retrieval_total", "bm25", "dense_search", "groundedness_check"} <= set(data["latency_ms"])
    assert all(row["usd_per_question"]["large LLM"] > 0 for row in data["metrics"]["cost"])


def test_sections_follow_the_framework(report: DemoReport) -> None:
    assert tuple(section.step for section in report.sections) == STEP_IDS


def test_render_with_steps_filter(report: DemoReport) -> None:
    console = Console(record=True, width=120)
    render_report(report, console, ("model", "evaluation"))
    text = console.export_text()
    assert "5. Model" in text and "6. Evaluation" in text
    assert "1. Clarify" not in text and "7. Serve" not in text
    assert "Headline recall@5" in text


def test_the_lessons_hold_at_the_tiny_size(results: LlmResults) -> None:
    by_kind, k = results.recall_by_kind, "recall_at_5"
    # The headline: hybrid retrieval beats lexical-only search.
    assert results.retrieval[results.chosen][k] > results.retrieval["lexical"][k]
    # Exact identifiers: lexical finds the error code's fix, dense mostly does not.
    assert by_kind["error code"]["lexical"] > by_kind["error code"]["dense"] + 0.3
    # Customers' own words: the encoder learns them from the search log, BM25 cannot.
    assert by_kind["colloquial"]["dense"] > results.dense_without_clicks["colloquial"] + 0.2
    assert by_kind["colloquial"]["lexical"] < by_kind["doc wording"]["lexical"] - 0.3
    # A chunk that names its article and section is found more often.
    default = next(row for row in results.chunking if row["words"] == TINY.chunk_words)
    assert default[results.chosen] > results.no_title[results.chosen]
    # The groundedness check catches most injected sentences without flagging most grounded ones.
    g = results.groundedness
    assert g["recall"] > 0.7 and g["precision"] > 0.7 and g["false_flag_rate"] < 0.2
    assert set(g["catch_rate"]) == set(INJECTION_KINDS)
    # Bigger contexts cost more.
    costs = [row["usd_per_question"]["large LLM"] for row in results.cost if row["chunk_words"] == TINY.chunk_words]
    assert costs == sorted(costs)


def test_cli_options_are_checked() -> None:
    with pytest.raises(DemoError, match="--items"):
        llm_config(DemoOptions(items=10))
    with pytest.raises(DemoError, match="no users"):
        llm_config(DemoOptions(users=5))
    assert llm_config(DemoOptions(items=400)).n_searches == 4_000


def test_cli_bad_input_is_one_line_without_traceback() -> None:
    result = CliRunner().invoke(app, ["demo", "llm", "--items", "5"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["demo", "llm", "--users", "5"])
    assert result.exit_code != 0


def test_cli_lists_llm() -> None:
    result = CliRunner().invoke(app, ["demo", "--json"])
    listing = {row["id"]: row for row in json.loads(result.output)}
    assert listing["llm"]["available"] is True


@pytest.mark.slow
def test_default_run_shows_the_lessons() -> None:
    report = run(DemoOptions())
    data = report.to_dict()
    head = data["headline"]
    assert head["model"] > head["baseline"] + 0.05
    retrieval = data["metrics"]["retrieval"]
    assert retrieval["hybrid_rrf"]["recall_at_5"] < retrieval["lexical"]["recall_at_5"]
    by_kind = data["metrics"]["recall_at_5_by_kind"]
    assert by_kind["error code"]["lexical"] > 0.9 > 0.3 > by_kind["error code"]["dense"]
    assert by_kind["colloquial"]["dense"] > by_kind["colloquial"]["lexical"] + 0.2
