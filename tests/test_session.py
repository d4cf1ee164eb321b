"""The pure interview/drill state machine: steps, probes, folding, facts, hints, timer, scorecard, resume."""

from __future__ import annotations

import dataclasses

import pytest

from mlsd_coach.scoring import CriterionResult, ScoreResult
from mlsd_coach.session import (
    BANDS,
    AnswersError,
    Event,
    Phase,
    Session,
    SessionError,
    band,
    band_thresholds,
    parse_answers,
    parse_command,
    replay,
)

CLARIFY_PARTIAL = (
    "What is the business metric we optimise for - long-term engagement rather than clicks? "
    "What is the latency budget in milliseconds at p99?"
)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FixedScorer:
    """A scorer whose criteria credits are chosen by the test: {step: {criterion: credit}}, default 0."""

    def __init__(self, catalog, credits: dict[str, dict[str, float]], score: float = 40.0) -> None:  # type: ignore[no-untyped-def]
        self.catalog, self.credits, self.fixed = catalog, credits, score

    def score(self, prompt_id: str, step_id: str, text: str) -> ScoreResult:
        rubric = self.catalog.step_rubric(prompt_id, step_id)
        chosen = self.credits.get(step_id, {})
        criteria = tuple(
            CriterionResult(c.id, c.checks, c.weight, chosen.get(c.id, 0.0), (), (), c.hint) for c in rubric.criteria
        )
        return ScoreResult(
            prompt=prompt_id,
            step=step_id,
            score=self.fixed,
            covered=[c.id for c in criteria if c.covered],
            missed=[c.id for c in criteria if not c.covered],
            red_flags=[],
            feedback="",
            criteria=criteria,
        )


def new_session(catalog, scorer, clock=None, **kwargs) -> Session:  # type: ignore[no-untyped-def]
    return Session(catalog, scorer, "feed", clock=clock or FakeClock(), **kwargs)


# ------------------------------------------------------------------------------------------ steps


def test_interview_walks_the_seven_steps_in_order(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    seen = []
    while not session.finished:
        seen.append(session.current.step)
        session.skip()
    assert seen == ["clarify", "frame", "data", "features", "model", "evaluation", "serving"]
    with pytest.raises(SessionError):
        session.submit("too late")


def test_skip_scores_zero_and_overall_is_the_plain_mean(catalog) -> None:  # type: ignore[no-untyped-def]
    fixed = FixedScorer(catalog, {"frame": {"prediction-target": 1.0}}, score=70.0)
    session = new_session(catalog, fixed)
    session.skip()
    assert session.states[0].score == 0.0 and session.states[0].skipped
    while not session.finished:
        session.submit("an answer")
        if session.phase is Phase.FOLLOW_UP:
            session.skip_follow_up()
    card = session.scorecard()
    assert card.rows[0].status == "skipped" and card.rows[0].score == 0
    assert card.overall == pytest.approx(round(6 * 70 / 7, 1))


# ------------------------------------------------------------------------------------------ probes


def test_probe_targets_the_highest_weight_missed_criterion(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    outcome = session.submit(CLARIFY_PARTIAL)
    assert outcome.probe is not None and session.phase is Phase.FOLLOW_UP
    result = outcome.result
    assert result is not None
    probed = {p.target for p in catalog.prompt("feed").probes_for("clarify")}
    misses = [c for c in result.criteria if not c.covered and c.id in probed]
    heaviest = max(c.weight for c in misses)
    assert outcome.probe.target in {c.id for c in misses if c.weight == heaviest}
    assert outcome.probe.target not in result.covered


def test_no_probe_when_no_missed_criterion_has_one(catalog) -> None:  # type: ignore[no-untyped-def]
    probed = {p.target for p in catalog.prompt("feed").probes_for("clarify")}
    everything_probed_is_covered = {c: 1.0 for c in probed}
    session = new_session(catalog, FixedScorer(catalog, {"clarify": everything_probed_is_covered}))
    outcome = session.submit("an answer")
    assert outcome.result is not None and outcome.result.missed  # misses remain, but none has a probe
    assert outcome.probe is None
    assert session.current.step == "frame"


def test_no_probe_after_a_complete_answer(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    outcome = session.submit(catalog.step_rubric("feed", "clarify").model_answer)
    assert outcome.probe is None and session.phase is Phase.ANSWER and session.current.step == "frame"


def test_follow_up_is_folded_in_and_can_only_help(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    main = session.submit(CLARIFY_PARTIAL)
    follow = session.submit_follow_up(
        "How many daily active users, how many new articles per day, and what is the peak requests per second?"
    )
    assert follow.before == main.score
    assert follow.score > main.score
    assert "scale" in follow.gained
    result = follow.result
    assert result is not None and set(main.result.covered) <= set(result.covered)  # type: ignore[union-attr]
    assert session.states[0].score == follow.score


def test_follow_up_that_raises_a_red_flag_does_not_lower_the_step(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    main = session.submit(CLARIFY_PARTIAL)
    follow = session.submit_follow_up("I would train a transformer neural network and a deep learning model.")
    assert follow.score >= main.score
    assert session.states[0].score >= main.score


def test_empty_follow_up_skip_keeps_the_main_score(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    main = session.submit(CLARIFY_PARTIAL)
    session.skip_follow_up()
    assert session.states[0].score == main.score and session.current.step == "frame"
    with pytest.raises(SessionError):
        session.skip_follow_up()


# ------------------------------------------------------------------------------------------- facts


def test_clarify_questions_reveal_matching_facts_only(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    outcome = session.submit("How many users do we have? What is the latency budget?")
    revealed = {f.id for f in outcome.revealed}
    assert {"scale", "latency"} <= revealed
    assert "cold-start" not in revealed
    unasked = {f.id for f in session.unasked_facts()}
    assert "cold-start" in unasked and not revealed & unasked
    if session.phase is Phase.FOLLOW_UP:
        follow = session.submit_follow_up("What about cold start for new users?")
        assert [f.id for f in follow.revealed] == ["cold-start"]
        assert "cold-start" not in {f.id for f in session.unasked_facts()}


def test_facts_are_revealed_only_in_the_clarify_step(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    session.skip()
    outcome = session.submit("How many users and what latency?")
    assert outcome.revealed == ()


# ------------------------------------------------------------------------------------------- hints


def test_hints_come_heaviest_first_one_at_a_time_and_skip_covered(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    weights = {c.id: c.weight for c in catalog.step_rubric("feed", "clarify").criteria}
    first, second = session.next_hint(), session.next_hint()
    assert first is not None and second is not None and first.criterion != second.criterion
    assert weights[first.criterion] == max(weights.values()) and weights[first.criterion] >= weights[second.criterion]
    assert (first.number, second.number) == (1, 2)
    outcome = session.submit(CLARIFY_PARTIAL)
    assert outcome.result is not None
    while (hint := session.next_hint()) is not None:
        assert hint.criterion not in outcome.result.covered


# ------------------------------------------------------------------------------------------- timer


def test_timer_paces_steps_from_the_framework_scaled_by_minutes(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    session = new_session(catalog, scorer, clock, minutes=90)
    timer = session.timer()
    assert timer.budget == 90 * 60
    assert timer.step == "clarify" and timer.step_pace == pytest.approx(2 * 5 * 60)
    assert sum(session.pace.values()) == pytest.approx(90 * 60)
    clock.advance(11 * 60)
    assert session.timer().over_pace == pytest.approx(60)
    assert session.timer().over_budget == 0


def test_running_over_time_is_reported_never_fatal(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    session = new_session(catalog, scorer, clock, minutes=1)
    clock.advance(5 * 60)
    assert session.timer().over_budget == pytest.approx(4 * 60)
    session.skip()
    assert session.states[0].seconds == pytest.approx(300)
    clock.advance(30)
    assert session.timer().step == "frame" and session.timer().step_elapsed == pytest.approx(30)


# --------------------------------------------------------------------------------------- scorecard


def test_bands_and_their_thresholds() -> None:
    assert [band(x) for x in (0, 49.9, 50, 64.9, 65, 79.9, 80, 100)] == [
        "no hire",
        "no hire",
        "lean hire",
        "lean hire",
        "hire",
        "hire",
        "strong hire",
        "strong hire",
    ]
    text = band_thresholds()
    for lowest, name in BANDS:
        assert name in text
        if lowest:
            assert f"{lowest:g}" in text


def test_scorecard_lists_strengths_and_three_things_to_practise_across_steps(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    session.submit(catalog.step_rubric("feed", "clarify").model_answer)
    while not session.finished:
        session.skip()
    card = session.scorecard()
    assert card.rows[0].score > 80 and card.rows[0].status == "answered"
    assert card.strengths and all(s.step == "clarify" for s in card.strengths)
    assert len(card.practise) == 3 and len({p.step for p in card.practise}) == 3
    assert all(p.step != "clarify" for p in card.practise)
    assert card.overall == pytest.approx(round(card.rows[0].score / 7, 1)) and card.band == "no hire"
    assert card.rows[1].top_miss  # a skipped step names its heaviest criterion


# ----------------------------------------------------------------------------------------- resume


def test_restore_continues_after_the_last_main_answer_and_lets_an_open_follow_up_go(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    first = new_session(catalog, scorer, clock)
    clock.advance(120)
    outcome = first.submit(CLARIFY_PARTIAL)
    assert first.phase is Phase.FOLLOW_UP  # interrupted here, before answering the follow-up

    events = [Event("clarify", "main", CLARIFY_PARTIAL, outcome.elapsed)]
    restored = Session.restore(catalog, scorer, "feed", events, clock=FakeClock(), elapsed=130.0)
    assert restored.phase is Phase.ANSWER and restored.current.step == "frame" and restored.position == 2
    assert restored.states[0].score == outcome.score
    assert restored.timer().elapsed == pytest.approx(130.0)
    assert {f.id for f in restored.revealed} == {f.id for f in first.revealed}


def test_restore_replays_follow_ups_and_skips_and_ignores_stray_events(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    live = new_session(catalog, scorer)
    main = live.submit(CLARIFY_PARTIAL)
    follow = live.submit_follow_up("How many daily active users and requests per second?")
    live.skip()
    events = [
        Event("clarify", "main", CLARIFY_PARTIAL, 10),
        Event("clarify", "follow_up", follow.text, 20),
        Event("frame", "skip", "", 30),
        Event("clarify", "main", "a duplicate from another terminal", 35),
    ]
    restored = Session.restore(catalog, scorer, "feed", events, clock=FakeClock(), elapsed=30)
    assert restored.current.step == "data"
    assert restored.states[0].score == follow.score != main.score
    assert restored.states[1].skipped


# --------------------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("typed", "name", "rest"),
    [
        ("/hint", "hint", ""),
        ("  /HINT  ", "hint", ""),
        ("first line of my answer\n/Edit\nsecond line", "edit", "first line of my answer\nsecond line"),
        ("/skip", "skip", ""),
    ],
)
def test_commands_alone_on_a_line_any_case(typed: str, name: str, rest: str) -> None:
    command = parse_command(typed)
    assert command is not None and command.known and command.name == name and command.rest == rest


def test_commands_inside_a_sentence_are_answer_text_and_typos_are_caught() -> None:
    assert parse_command("I would /skip the batch job here") is None
    assert parse_command("We predict P(click)") is None
    typo = parse_command("/hnit")
    assert typo is not None and not typo.known


# ---------------------------------------------------------------------------------------- replay


def test_parse_answers_reads_steps_and_treats_empty_values_as_skipped() -> None:
    answers = parse_answers("clarify: |\n  How many users?\nframe: ranking\ndata:\n", "a.yaml")
    assert answers == {"clarify": "How many users?\n", "frame": "ranking", "data": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("clarify: ok\nmodle: typo\n", "a.yaml:2: unknown step id 'modle'"),
        ("clarify: ok\nframe: 42\n", "a.yaml:2: the answer for 'frame' must be text, not a number"),
        ("clarify:\n  - a\n  - b\n", "a.yaml:2: the answer for 'clarify' must be text, not a list"),
        ("clarify: [unclosed\n", "a.yaml:1: YAML syntax error"),
        ("", "a.yaml:1: the file is empty"),
        ("- clarify\n", "a.yaml:1: expected a mapping of step ids"),
        ("clarify: a\nclarify: b\n", "a.yaml:2: step 'clarify' is given twice"),
    ],
)
def test_parse_answers_errors_name_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(AnswersError) as info:
        parse_answers(text, "a.yaml")
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)


def test_replay_scores_given_steps_and_reports_missing_ones_as_skipped(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    model = catalog.step_rubric("feed", "clarify").model_answer
    session, outcomes, skipped = replay(catalog, scorer, "feed", {"clarify": model, "data": "   "})
    assert skipped == ["frame", "data", "features", "model", "evaluation", "serving"]
    assert [o.kind for o in outcomes] == ["main"] + ["skip"] * 6
    payload = session.scorecard().to_json()
    assert set(payload) == {"prompt", "overall", "steps"}
    assert [set(s) for s in payload["steps"]] == [{"step", "score", "covered", "missed"}] * 7  # type: ignore[union-attr]
    assert 0 <= payload["overall"] <= 100  # type: ignore[operator]


def test_outcome_record_is_what_the_store_keeps(catalog, scorer) -> None:  # type: ignore[no-untyped-def]
    session = new_session(catalog, scorer)
    outcome = session.submit(CLARIFY_PARTIAL)
    record = outcome.record()
    assert record["kind"] == "main" and record["probe"] is None and record["result"]["score"] == outcome.score
    follow = session.submit_follow_up("How many users?")
    assert follow.record()["probe"] == outcome.probe.ask  # type: ignore[union-attr]
    assert dataclasses.asdict(session.timer())["step"] == "frame"
