"""Phrase matching: inflection and word order tolerance, numbers, sentence boundaries, negation."""

from __future__ import annotations

import pytest

from mlsd_coach.matching import analyse, compile_phrase, find, matches_any, negated, stem


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ranking", "ranked"),
        ("latencies", "latency"),
        ("calibration", "calibrated"),
        ("personalisation", "personalized"),
        ("labelled", "labeling"),
        ("caching", "cached"),
        ("embeddings", "embedded"),
        ("biases", "bias"),
        ("queries", "query"),
        ("ads", "ad"),
        ("centre", "center"),
    ],
)
def test_inflections_share_a_stem(a: str, b: str) -> None:
    assert stem(a) == stem(b)


@pytest.mark.parametrize(("a", "b"), [("news", "new"), ("spell", "spill"), ("user", "use")])
def test_different_words_keep_different_stems(a: str, b: str) -> None:
    assert stem(a) != stem(b)


def _matches(phrase: str, text: str) -> bool:
    return bool(find(compile_phrase(phrase), analyse(text)))


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("latency budget", "What is the budget for latency here?"),
        ("split by time", "I would use a time-based split: train on early days."),
        ("# ms", "p99 must stay under 150ms"),
        ("# m users", "We have roughly 10M users."),
        ("# users", "about ten million users"),
        ("ndcg@#", "offline NDCG@20 on later days"),
        ("top 20", "return the top 20 articles"),
        ("a/b test", "run an A/B test for two weeks"),
        ("position bias", "items in higher positions are clicked more - that bias matters"),
        ("not just clicks", "we care about engagement, not only clicks"),
        ("# %", "the fraud rate is 0.5%"),
    ],
)
def test_phrases_match_across_wording(phrase: str, text: str) -> None:
    assert _matches(phrase, text)


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("latency budget", "Latency matters. Separately, the budget is set by finance."),  # two sentences
        ("latency budget", "latency is a concern for users in many regions and the overall marketing budget"),
        ("top 20", "return the top 50 articles"),
        ("# ms", "milliseconds matter"),
        ("position bias", "the position of the team"),
    ],
)
def test_phrases_do_not_match_unrelated_text(phrase: str, text: str) -> None:
    assert not _matches(phrase, text)


def test_hard_wrapped_prose_is_one_sentence_but_notes_keep_their_lines() -> None:
    wrapped = "We should avoid a random split of the logs because a random\nsplit leaks the future into training."
    assert _matches("random split", wrapped)
    assert len(analyse(wrapped).segments) == 1
    notes = "- latency\n- budget"
    assert not _matches("latency budget", notes)


def test_negation_is_seen_just_before_a_phrase() -> None:
    text = analyse("We would not use accuracy here. Accuracy is what we report.")
    phrase = compile_phrase("accuracy")
    segments = find(phrase, text)
    assert segments == [0, 1]
    assert negated(text, 0, phrase) and not negated(text, 1, phrase)


def test_or_not_is_not_a_negation() -> None:
    text = analyse("classify as fraud or not and maximise accuracy")
    assert not negated(text, 0, compile_phrase("accuracy"))


def test_articulation_separates_lists_from_reasoning() -> None:
    listing = analyse("NDCG, recall@k, A/B test, guardrails, time split, position bias, drift")
    prose = analyse("We evaluate offline with NDCG on later days because a random split would leak the future.")
    note = analyse("split by time -> no leakage of future popularity")
    assert listing.segments[0].articulation < 0.2
    assert prose.segments[0].articulation > 0.8
    assert note.segments[0].articulation > 0.5


def test_matches_any_and_empty_text() -> None:
    assert matches_any(["how many users", "daily active users"], analyse("How many users do we have?"))
    assert analyse("   \n ").is_empty
