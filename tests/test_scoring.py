"""The scorer grades like a senior interviewer: bands, ordering, gaming resistance, red flags, determinism."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlsd_coach import score_answer
from mlsd_coach.schema import SHIPPED_PROMPT_IDS, STEP_IDS

DATA = Path(__file__).parent / "data"
GRADED = yaml.safe_load((DATA / "graded_answers.yaml").read_text(encoding="utf-8"))
SEED = yaml.safe_load((DATA / "seed_feed_example.yaml").read_text(encoding="utf-8"))
PAIRS = [(p, s) for p in SHIPPED_PROMPT_IDS for s in STEP_IDS]

FILLER = (
    "This is a really important problem and I would approach it thoughtfully and pragmatically. First I'd "
    "align with stakeholders and make sure everyone shares the same vision, because communication is key. "
    "We should be data-driven, move fast, and iterate based on what we learn, while keeping the long-term "
    "architecture in mind. It is also essential to document decisions, build a strong team culture, invest in "
    "quality, and keep the customer at the centre of everything we do. Ultimately success depends on people, "
    "process and technology working together in harmony, and on revisiting our assumptions regularly. "
) * 3
INFRASTRUCTURE = (
    "I'd containerise everything with Docker and run it on Kubernetes with Helm charts, using a GitOps flow "
    "through Argo CD. Terraform provisions the VPCs, subnets and IAM roles. CI runs in GitHub Actions with "
    "linting, unit tests and image scanning, and we promote builds from dev to staging to prod. Logs go to "
    "an ELK stack and traces to Jaeger, and on-call follows a rotation with runbooks for every alert. "
) * 2


@pytest.fixture(scope="module")
def graded(scorer) -> list[tuple[dict, float]]:
    return [(a, scorer.score(a["prompt"], a["step"], a["answer"] or "").score) for a in GRADED]


# -------------------------------------------------------------------------------------------- contract


def test_public_api_contract(catalog) -> None:
    result = score_answer("feed", "clarify", "How many users? What latency budget, p99 in ms?", catalog=catalog)
    assert isinstance(result.score, float) and 0 <= result.score <= 100
    assert isinstance(result.covered, list) and isinstance(result.missed, list)
    assert isinstance(result.red_flags, list) and isinstance(result.feedback, str)
    ids = {c.id for c in catalog.step_rubric("feed", "clarify").criteria}
    assert set(result.covered) | set(result.missed) == ids and not set(result.covered) & set(result.missed)
    assert "latency-budget" in result.covered
    assert set(result.to_dict()) >= {"prompt", "step", "score", "covered", "missed", "red_flags", "feedback"}


def test_unknown_ids_raise_with_the_valid_choices(scorer) -> None:
    with pytest.raises(KeyError, match="feed"):
        scorer.score("nope", "clarify", "text")
    with pytest.raises(KeyError, match="clarify"):
        scorer.score("feed", "nope", "text")


def test_empty_answer_scores_zero_with_a_message(scorer) -> None:
    for text in ("", "   \n\t "):
        result = scorer.score("fraud", "data", text)
        assert result.score == 0 and result.empty
        assert "empty" in result.feedback
        assert result.covered == [] and len(result.missed) >= 5


def test_scores_are_deterministic(scorer) -> None:
    answer = GRADED[0]
    first = scorer.score(answer["prompt"], answer["step"], answer["answer"])
    again = scorer.score(answer["prompt"], answer["step"], answer["answer"])
    assert first == again


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400), pair=st.sampled_from(PAIRS))
def test_arbitrary_text_never_crashes_and_stays_in_range(scorer, text: str, pair: tuple[str, str]) -> None:
    result = scorer.score(*pair, text)
    assert 0.0 <= result.score <= 100.0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(["ndcg", "latency", "#", "ms", "a/b", "not", ",", "\n", "bias"]), max_size=60))
def test_jargon_soup_never_crashes(scorer, words: list[str]) -> None:
    assert 0.0 <= scorer.score("feed", "evaluation", " ".join(words)).score <= 100.0


# ---------------------------------------------------------------------------------- grades and bands


def test_grades_are_ordered_with_clear_gaps(graded) -> None:
    by_grade: dict[int, list[float]] = defaultdict(list)
    for answer, score in graded:
        by_grade[answer["grade"]].append(score)
    means = {g: statistics.mean(v) for g, v in by_grade.items()}
    assert means[3] >= 80, means
    assert 45 <= means[2] <= 70, means
    assert 12 <= means[1] <= 40, means
    assert means[0] <= 10, means
    assert means[3] - means[2] >= 20 and means[2] - means[1] >= 15 and means[1] - means[0] >= 8


def test_rank_correlation_with_interviewer_grades(graded) -> None:
    from scipy.stats import spearmanr

    rho = spearmanr([a["grade"] for a, _ in graded], [s for _, s in graded]).statistic
    assert rho >= 0.85


def test_every_strong_answer_beats_every_off_topic_one_for_the_same_step(graded) -> None:
    by_pair: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for answer, score in graded:
        by_pair[(answer["prompt"], answer["step"])][answer["grade"]].append(score)
    for pair, grades in by_pair.items():
        if grades.get(3) and grades.get(0):
            assert min(grades[3]) > max(grades[0]) + 30, pair


def test_seed_worked_example_scores_well(scorer) -> None:
    scores = {step: scorer.score("feed", step, text).score for step, text in SEED.items()}
    assert set(scores) == set(STEP_IDS)
    assert statistics.mean(scores.values()) >= 65, scores
    assert min(scores.values()) >= 50, scores


# ---------------------------------------------------------------------------------- gaming resistance


def _keyword_list(scorer, prompt_id: str, step_id: str) -> str:
    """The names of every idea of the step, comma-separated: all the right words, no reasoning."""
    step = scorer.catalog.step_rubric(prompt_id, step_id)
    return ", ".join(concept[0] for crit in step.criteria for concept in crit.concepts)


@pytest.mark.parametrize(("prompt_id", "step_id"), PAIRS)
def test_a_keyword_list_scores_clearly_below_the_reasoned_answer(scorer, prompt_id: str, step_id: str) -> None:
    reasoned = scorer.score(prompt_id, step_id, scorer.catalog.step_rubric(prompt_id, step_id).model_answer)
    listed = scorer.score(prompt_id, step_id, _keyword_list(scorer, prompt_id, step_id))
    assert listed.score <= reasoned.score - 25, (listed.score, reasoned.score)
    assert listed.score <= 60


def test_graded_keyword_lists_stay_in_the_weak_band(graded) -> None:
    for answer, score in graded:
        if answer["kind"] == "keyword-list":
            assert score <= 45, answer["id"]


@pytest.mark.parametrize(("prompt_id", "step_id"), PAIRS)
def test_an_answer_for_another_prompt_scores_below_a_real_one(scorer, prompt_id: str, step_id: str) -> None:
    own = scorer.score(prompt_id, step_id, scorer.catalog.step_rubric(prompt_id, step_id).model_answer).score
    for other in SHIPPED_PROMPT_IDS:
        if other == prompt_id:
            continue
        foreign = scorer.catalog.step_rubric(other, step_id).model_answer
        result = scorer.score(prompt_id, step_id, foreign)
        assert result.score <= 45 and result.score <= own - 40, (other, result.score)


@pytest.mark.parametrize("prompt_id", SHIPPED_PROMPT_IDS)
def test_pasting_the_question_back_scores_near_zero(scorer, prompt_id: str) -> None:
    question = scorer.catalog.prompt(prompt_id).question
    for step_id in STEP_IDS:
        assert scorer.score(prompt_id, step_id, question).score <= 10
        assert scorer.score(prompt_id, step_id, f"So: {question.lower()} Right.").score <= 10


@pytest.mark.parametrize(("prompt_id", "step_id"), PAIRS)
def test_long_generic_filler_scores_low(scorer, prompt_id: str, step_id: str) -> None:
    assert scorer.score(prompt_id, step_id, FILLER).score <= 10


@pytest.mark.parametrize("prompt_id", SHIPPED_PROMPT_IDS)
def test_infrastructure_talk_in_the_model_step_scores_low(scorer, prompt_id: str) -> None:
    assert scorer.score(prompt_id, "model", INFRASTRUCTURE).score <= 15


def test_short_dense_notes_can_score_high(graded) -> None:
    notes = [(a, s) for a, s in graded if a["kind"] == "strong-notes"]
    assert notes
    assert statistics.mean(s for _, s in notes) >= 75
    assert all(s >= 55 for _, s in notes), [(a["id"], s) for a, s in notes if s < 55]


def test_length_is_not_quality(scorer) -> None:
    dense = "Time split: train days 1-20, test 21-28 -> no leakage of future popularity. Label = click + dwell > 30 s."
    padded = FILLER + " We will look at the data carefully and think about labels. " * 10
    assert scorer.score("feed", "data", dense).score > scorer.score("feed", "data", padded).score + 20


# -------------------------------------------------------------------------------------------- red flags


@pytest.mark.parametrize("prompt_id", SHIPPED_PROMPT_IDS)
def test_jumping_to_a_model_while_clarifying_is_flagged(scorer, prompt_id: str) -> None:
    base = scorer.catalog.step_rubric(prompt_id, "clarify").model_answer
    clean = scorer.score(prompt_id, "clarify", base)
    flagged = scorer.score(prompt_id, "clarify", "I'd train a deep neural network transformer for this. " + base)
    assert not clean.red_flags
    assert flagged.red_flags and flagged.score < clean.score


EVALUATION = "Offline we would look at precision and recall on a held-out set, then run an A/B test. "


@pytest.mark.parametrize("prompt_id", ["fraud", "moderation", "ctr"])
def test_accuracy_for_a_rare_positive_class_is_flagged_unless_dismissed(scorer, prompt_id: str) -> None:
    flagged = scorer.score(prompt_id, "evaluation", EVALUATION + "The main metric is accuracy.")
    dismissed = scorer.score(prompt_id, "evaluation", EVALUATION + "Accuracy is misleading at this base rate.")
    assert any("accuracy" in flag for flag in flagged.red_flags), flagged.red_flags
    assert not any("accuracy" in flag for flag in dismissed.red_flags)
    assert flagged.score < dismissed.score


DATA_ANSWER = "Labels come from the logs, and we clean out duplicates and bot traffic. "


@pytest.mark.parametrize("prompt_id", SHIPPED_PROMPT_IDS)
def test_a_random_split_of_time_ordered_data_is_flagged(scorer, prompt_id: str) -> None:
    flagged = scorer.score(prompt_id, "data", DATA_ANSWER + "We randomly split the data 80/20 into train and test.")
    assert any("random" in flag for flag in flagged.red_flags), prompt_id
    negated = scorer.score(prompt_id, "data", DATA_ANSWER + "We do not randomly split the data; we split by time.")
    assert not negated.red_flags, negated.red_flags


def test_feedback_names_the_most_important_miss_with_its_hint(scorer) -> None:
    result = scorer.score("feed", "clarify", "How many users and articles do we have, and what QPS at peak?")
    crit = scorer.catalog.step_rubric("feed", "clarify").criterion("latency-budget")
    assert "latency-budget" in result.missed
    assert crit.hint in result.feedback
