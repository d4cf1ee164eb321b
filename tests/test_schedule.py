"""Spaced repetition (SM-2 style) over past scores, the drill pick and its reasons, and the stats."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from mlsd_coach.schedule import PASS_SCORE, Review, ago, item_state, item_states, pick, quality, summarise, until

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
STEPS = ("clarify", "frame", "data", "features", "model", "evaluation", "serving")
PROMPTS = ("feed", "search", "fraud")
ALL = [(p, s) for p in PROMPTS for s in STEPS]


def review(prompt: str, step: str, score: float, days: float = 0) -> Review:
    return Review(prompt, step, score, T0 + timedelta(days=days))


def test_quality_maps_scores_to_sm2_grades() -> None:
    assert [quality(s) for s in (0, 50, 60, 100, 130)] == [0, 2.5, 3, 5, 5]


def test_due_dates_grow_with_good_scores() -> None:
    reviews: list[Review] = []
    intervals = []
    day = 0.0
    for _ in range(5):
        reviews.append(review("feed", "model", 90, day))
        state = item_state(reviews)
        intervals.append(state.interval_days)
        day += state.interval_days
    assert intervals[:2] == [1, 6]
    assert all(later > earlier for earlier, later in itertools.pairwise(intervals))
    assert state.due_at == reviews[-1].at + timedelta(days=intervals[-1])


def test_a_poor_score_brings_the_item_back_tomorrow_and_lowers_its_ease() -> None:
    good = [review("feed", "model", 90, 0), review("feed", "model", 90, 1), review("feed", "model", 90, 7)]
    before = item_state(good)
    after = item_state([*good, review("feed", "model", 30, 20)])
    assert after.interval_days == 1 and after.streak == 0
    assert after.ease < before.ease
    assert after.best == 90 and after.latest == 30


def test_due_item_is_picked_weakest_first_and_the_reason_says_why() -> None:
    reviews = [
        review("feed", "model", 70, 0),
        review("fraud", "evaluation", 34, 0),
        review("search", "data", 45, 0),
    ]
    now = T0 + timedelta(days=6)
    chosen = pick(ALL, reviews, now)
    assert (chosen.prompt, chosen.step) == ("fraud", "evaluation")
    assert "best 34/100" in chosen.reason and "6 days ago" in chosen.reason and "due" in chosen.reason


def test_weak_items_come_before_new_ones_even_when_not_due() -> None:
    reviews = [review("feed", "model", 30, 0), review("feed", "data", 80, 0)]
    chosen = pick(ALL, reviews, T0 + timedelta(hours=2))
    assert (chosen.prompt, chosen.step) == ("feed", "model")
    assert "weakest" in chosen.reason and "2 hours ago" in chosen.reason


def test_with_no_history_it_starts_at_clarify_of_a_seeded_random_prompt() -> None:
    first = pick(ALL, [], T0, seed=7)
    assert first.step == "clarify" and first.prompt in PROMPTS
    assert pick(ALL, [], T0, seed=7) == first
    assert {pick(ALL, [], T0, seed=s).prompt for s in range(30)} == set(PROMPTS)
    assert "no practice history yet" in first.reason and "seed 7" in first.reason


def test_new_steps_of_a_started_prompt_come_first_in_framework_order() -> None:
    reviews = [review("search", "clarify", 90, 0)]
    chosen = pick(ALL, reviews, T0 + timedelta(hours=1), seed=1)
    assert (chosen.prompt, chosen.step) == ("search", "frame")
    assert "unpractised" in chosen.reason


def test_a_fixed_step_picks_the_weakest_prompt_for_it() -> None:
    reviews = [review(p, "evaluation", s, 0) for p, s in (("feed", 55), ("search", 20), ("fraud", 40))]
    chosen = pick([(p, "evaluation") for p in PROMPTS], reviews, T0 + timedelta(hours=1), scope="prompt")
    assert chosen.prompt == "search" and "prompt for this step" in chosen.reason


def test_everything_strong_and_nothing_due_means_the_weakest_ahead_of_schedule() -> None:
    reviews = [review("feed", s, 90 if s != "data" else 70, 0) for s in STEPS]
    chosen = pick([("feed", s) for s in STEPS], reviews, T0 + timedelta(hours=1), scope="prompt-step")
    assert chosen.step == "data" and "ahead of schedule" in chosen.reason and "due tomorrow" in chosen.reason


def test_fixed_choice_reports_where_the_item_stands() -> None:
    chosen = pick([("feed", "model")], [review("feed", "model", 62, 0)], T0 + timedelta(days=2), scope="fixed")
    assert (chosen.prompt, chosen.step) == ("feed", "model")
    assert "your choice" in chosen.reason and "best 62/100" in chosen.reason
    assert "first time" in pick([("ctr", "model")], [], T0, scope="fixed").reason


def test_item_states_group_by_prompt_and_step() -> None:
    states = item_states(
        [review("feed", "model", 40, 1), review("feed", "model", 70, 0), review("ctr", "model", 90, 0)]
    )
    assert states[("feed", "model")].latest == 40 and states[("feed", "model")].reviews == 2
    assert states[("ctr", "model")].best == 90
    assert PASS_SCORE == 60


@pytest.mark.parametrize(
    ("delta", "past", "future"),
    [
        (timedelta(seconds=30), "just now", "in 1 minute"),
        (timedelta(minutes=5), "5 minutes ago", "in 5 minutes"),
        (timedelta(hours=3), "3 hours ago", "in 3 hours"),
        (timedelta(days=1), "yesterday", "tomorrow"),
        (timedelta(days=6), "6 days ago", "in 6 days"),
    ],
)
def test_human_times(delta: timedelta, past: str, future: str) -> None:
    assert ago(T0 - delta, T0) == past
    assert until(T0 + delta, T0) == future


def test_summarise_gives_best_latest_and_trend_per_step() -> None:
    reviews = [
        review("feed", "model", 30, 0),
        review("feed", "model", 80, 1),
        review("feed", "model", 60, 2),
        review("fraud", "model", 70, 3),
        review("custom", "data", 50, 4),
    ]
    stats = summarise(reviews, ("feed", "fraud"), STEPS)
    assert stats.prompts == ("feed", "fraud", "custom")
    cell = stats.cells[("feed", "model")]
    assert (cell.best, cell.latest, cell.attempts) == (80, 60, 3)
    model = next(t for t in stats.trends if t.step == "model")
    assert model.scores == (30, 80, 60, 70)
    assert model.early == pytest.approx(55) and model.recent == pytest.approx(65) and model.change == pytest.approx(10)
    assert next(t for t in stats.trends if t.step == "data").change is None
    assert stats.reviews == 5
