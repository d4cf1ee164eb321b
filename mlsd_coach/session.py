"""The mock interview and drill state machine: pure, with the clock and the scorer passed in.

A :class:`Session` walks the steps of one prompt. Each step takes a main answer (or a skip), may ask one
follow-up probe aimed at the biggest miss, and then moves on. Rules a candidate can rely on:

* **Follow-up probe** - the probe aimed at the highest-weight missed criterion of the step; when the step has
  no probe for any missed criterion, there is no follow-up.
* **Folding a follow-up in** - the main answer and the follow-up are scored together as one text; the step
  keeps the better score and, per criterion, the better credit, so a follow-up can only help.
* **Overall score** - the plain mean of the step scores; a skipped step counts 0.
* **Bands** - :data:`BANDS`; the thresholds are printed with the scorecard.
* **Timer** - the framework's minutes per step are the pace of a 45-minute interview, scaled to the length
  the candidate chose. Running over is reported, never enforced.

Nothing here reads the terminal, the disk or the wall clock: the caller passes a ``clock`` (seconds, e.g.
``time.monotonic``), so tests drive a session deterministically.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from mlsd_coach.catalog import Catalog
from mlsd_coach.matching import analyse, matches_any
from mlsd_coach.schema import STEP_IDS, Fact, Probe, StepGuide, StepRubric
from mlsd_coach.scoring import CriterionResult, RedFlagHit, ScoreResult

#: Length of a full mock interview, in minutes; the framework's pace per step adds up to it.
DEFAULT_MINUTES = 45
#: The overall bands, highest first: (lowest overall score in the band, band name).
BANDS: tuple[tuple[float, str], ...] = ((80.0, "strong hire"), (65.0, "hire"), (50.0, "lean hire"), (0.0, "no hire"))
#: How many "practise next" items the scorecard lists.
PRACTICE_ITEMS = 3
#: How many strengths the scorecard lists at most.
STRENGTH_ITEMS = 3
#: The commands a candidate may type alone on a line of the answer box.
COMMANDS: tuple[str, ...] = ("hint", "edit", "skip")

Clock = Callable[[], float]


class Scores(Protocol):
    """Anything that grades an answer like :class:`mlsd_coach.scoring.Scorer`."""

    def score(self, prompt_id: str, step_id: str, text: str) -> ScoreResult:
        """Grade ``text`` as the answer to one step of one prompt."""
        ...


class SessionError(RuntimeError):
    """Raised when an action does not fit the state of the session (a bug in the caller, not user input)."""


class AnswersError(ValueError):
    """A replay answers file that cannot be used; the message reads ``FILE:LINE: problem``."""


class Phase(str, Enum):
    """What the session waits for next."""

    ANSWER = "answer"
    FOLLOW_UP = "follow_up"
    DONE = "done"


@dataclass(frozen=True)
class Command:
    """A command typed alone on a line of the answer box, and the rest of what was typed."""

    name: str
    """``hint``, ``edit``, ``skip``, or what was typed after ``/`` when the command is unknown."""
    rest: str
    """The other lines of the box, kept so that nothing typed is lost."""
    known: bool = True
    """False for a lone ``/word`` that is not a command (shown as a mistake rather than scored)."""


def parse_command(text: str) -> Command | None:
    """The command in an answer box (``/hint``, ``/edit``, ``/skip`` alone on a line, any case), or None."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        word = line.strip().lower()
        if word.startswith("/") and word[1:] in COMMANDS:
            rest = "\n".join(lines[:index] + lines[index + 1 :]).strip("\n")
            return Command(word[1:], rest)
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped.split()) == 1 and len(stripped) > 1:
        return Command(stripped[1:].lower(), "", known=False)
    return None


def reveal_facts(facts: Sequence[Fact], text: str) -> tuple[Fact, ...]:
    """The interviewer facts a text asks about (matched on each fact's trigger phrasings)."""
    analysed = analyse(text)
    if analysed.is_empty:
        return ()
    return tuple(fact for fact in facts if matches_any(fact.triggers, analysed))


def band(overall: float) -> str:
    """The hiring band of an overall score."""
    for lowest, name in BANDS:
        if overall >= lowest:
            return name
    return BANDS[-1][1]


def band_thresholds() -> str:
    """The bands and their thresholds in one line, lowest band first."""
    ordered = list(reversed(BANDS))
    parts = [ordered[0][1]]
    for lowest, name in ordered[1:]:
        parts.append(f"< {lowest:g} ≤ {name}")
    return " ".join(parts)


def top_miss(result: ScoreResult) -> CriterionResult | None:
    """The missed criterion that costs the most: highest weight first, then lowest credit, then rubric order."""
    misses = [c for c in result.criteria if not c.covered]
    if not misses:
        return None
    return min(misses, key=lambda c: (-c.weight, c.credit))


@dataclass(frozen=True)
class Hint:
    """One hint: the criterion it points at, what the interviewer listens for, and why it matters."""

    criterion: str
    checks: str
    why: str
    number: int
    """1 for the first hint of the step, 2 for the second..."""
    of: int
    """How many hints the step could give at this point."""


@dataclass(frozen=True)
class TimerState:
    """Where the clock stands: the whole session against its length, the current step against its pace."""

    elapsed: float
    """Seconds spent in the session so far (across resumed sittings)."""
    budget: float
    """Length of the session in seconds."""
    step: str | None
    """The step being answered, or None when the session is over."""
    step_elapsed: float
    """Seconds spent on the current step."""
    step_pace: float
    """Suggested seconds for the current step."""

    @property
    def over_budget(self) -> float:
        """Seconds past the session's length (0 when within it)."""
        return max(0.0, self.elapsed - self.budget)

    @property
    def over_pace(self) -> float:
        """Seconds past the current step's suggested pace (0 when within it)."""
        return max(0.0, self.step_elapsed - self.step_pace)


@dataclass(frozen=True)
class Event:
    """A stored submission, replayed to rebuild a session on resume."""

    step: str
    kind: str
    """``main``, ``follow_up`` or ``skip``."""
    text: str
    elapsed: float = 0.0
    """Session seconds at which it was submitted."""


@dataclass(frozen=True)
class Outcome:
    """What one submission did: the result to show, the probe to ask next, the facts revealed."""

    step: str
    kind: str
    """``main``, ``follow_up`` or ``skip``."""
    text: str
    result: ScoreResult | None
    """The step's result after this submission (the folded result for a follow-up); None for a skip."""
    score: float
    """The step's score after this submission."""
    elapsed: float
    """Session seconds at submission."""
    probe: Probe | None = None
    """For a main answer: the follow-up to ask now. For a follow-up: the probe it answered."""
    revealed: tuple[Fact, ...] = ()
    """Interviewer facts this submission asked about for the first time (clarify step only)."""
    before: float | None = None
    """For a follow-up: the step score before it was folded in."""
    gained: tuple[str, ...] = ()
    """For a follow-up: criterion ids it newly covered."""
    unscored_flags: tuple[RedFlagHit, ...] = ()
    """For a follow-up: red flags it raised that did not cost points because the better score was kept."""

    def record(self) -> dict[str, Any]:
        """The fields the history store keeps for this submission."""
        return {
            "step": self.step,
            "kind": self.kind,
            "text": self.text,
            "probe": self.probe.ask if self.probe is not None and self.kind == "follow_up" else None,
            "elapsed_s": round(self.elapsed, 3),
            "score": self.score,
            "result": self.result.to_dict() if self.result is not None else None,
        }


@dataclass
class StepState:
    """The progress of one step within a session."""

    step: str
    main_text: str | None = None
    main: ScoreResult | None = None
    probe: Probe | None = None
    """The follow-up asked after the main answer, if any."""
    follow_up_text: str | None = None
    folded: ScoreResult | None = None
    """Main answer and follow-up scored together (set once the follow-up is answered)."""
    skipped: bool = False
    hints: list[str] = field(default_factory=list)
    """Criterion ids whose hint was shown, in order."""
    seconds: float | None = None
    """Time the step took (main answer and follow-up), once it is over."""

    @property
    def answered(self) -> bool:
        """True once the main answer was submitted or the step skipped."""
        return self.main is not None or self.skipped

    @property
    def result(self) -> ScoreResult | None:
        """The step's result: folded with the follow-up when there was one."""
        return self.folded or self.main

    @property
    def score(self) -> float | None:
        """The step score (0 when skipped), or None before it is answered."""
        if self.skipped:
            return 0.0
        result = self.result
        return result.score if result is not None else None


@dataclass(frozen=True)
class ScorecardRow:
    """One step on the final scorecard."""

    step: str
    title: str
    score: float
    status: str
    """``answered``, ``follow-up`` (answered, follow-up folded in), ``skipped`` or ``not answered``."""
    covered: tuple[str, ...]
    missed: tuple[str, ...]
    top_miss: str | None
    """What the biggest miss checks, in words."""
    seconds: float | None
    pace: float


@dataclass(frozen=True)
class PracticeItem:
    """A criterion worth practising (or a strength): which step, what it checks, why it matters."""

    step: str
    step_title: str
    criterion: str
    checks: str
    why: str


@dataclass(frozen=True)
class Scorecard:
    """The end of a session: scores per step, the overall score and band, strengths, what to practise."""

    prompt: str
    prompt_title: str
    rows: tuple[ScorecardRow, ...]
    overall: float
    """Plain mean of the step scores, 0-100; skipped steps count 0."""
    band: str
    thresholds: str
    strengths: tuple[PracticeItem, ...]
    practise: tuple[PracticeItem, ...]
    elapsed: float
    budget: float

    def to_json(self) -> dict[str, object]:
        """The ``mlsd interview --answers FILE --json`` shape."""
        return {
            "prompt": self.prompt,
            "overall": self.overall,
            "steps": [
                {"step": r.step, "score": r.score, "covered": list(r.covered), "missed": list(r.missed)}
                for r in self.rows
            ],
        }


class Session:
    """One mock interview (all seven steps) or one drill (a single step) of one prompt."""

    def __init__(
        self,
        catalog: Catalog,
        scorer: Scores,
        prompt_id: str,
        *,
        clock: Clock,
        kind: str = "interview",
        steps: Sequence[str] | None = None,
        minutes: float | None = None,
        elapsed: float = 0.0,
    ) -> None:
        if kind not in ("interview", "drill"):
            raise ValueError(f"kind must be 'interview' or 'drill', not {kind!r}")
        self.catalog = catalog
        self.scorer = scorer
        self.kind = kind
        self.prompt = catalog.prompt(prompt_id)
        catalog.rubric(prompt_id)
        chosen = tuple(steps) if steps is not None else STEP_IDS
        for step_id in chosen:
            catalog.step_rubric(prompt_id, step_id)
        if not chosen:
            raise ValueError("a session needs at least one step")
        self.step_ids: tuple[str, ...] = chosen
        framework_minutes = sum(self.guide(s).minutes for s in chosen)
        self.minutes = float(minutes if minutes is not None else framework_minutes)
        if self.minutes <= 0:
            raise ValueError("minutes must be positive")
        scale = self.minutes / framework_minutes
        self.pace: Mapping[str, float] = {s: self.guide(s).minutes * 60.0 * scale for s in chosen}
        self.states: tuple[StepState, ...] = tuple(StepState(s) for s in chosen)
        self.revealed: list[Fact] = []
        self._clock = clock
        self._origin = clock()
        self._offset = elapsed
        self._index = 0
        self._phase = Phase.ANSWER
        self._step_mark = elapsed

    # ------------------------------------------------------------------------------------- building

    @classmethod
    def restore(
        cls,
        catalog: Catalog,
        scorer: Scores,
        prompt_id: str,
        events: Iterable[Event],
        *,
        clock: Clock,
        kind: str = "interview",
        steps: Sequence[str] | None = None,
        minutes: float | None = None,
        elapsed: float = 0.0,
    ) -> Session:
        """Rebuild a session from its stored submissions; a follow-up left unanswered is let go."""
        session = cls(catalog, scorer, prompt_id, clock=clock, kind=kind, steps=steps, minutes=minutes)
        for event in events:
            session._replay(event)
        if session._phase is Phase.FOLLOW_UP:
            session._finish_step(session._offset)
        # The new sitting starts now; time between the last save and the interruption is not counted.
        session._origin = clock()
        session._offset = max(elapsed, session._offset)
        session._step_mark = session._offset
        return session

    def _replay(self, event: Event) -> None:
        if self._phase is Phase.FOLLOW_UP and not (event.kind == "follow_up" and event.step == self.current.step):
            self._finish_step(event.elapsed)
        if self._phase is Phase.DONE:
            return
        current = self.current.step
        # Events that do not fit (e.g. written by a second terminal resuming the same session) are ignored.
        if event.step != current:
            return
        if event.kind == "main" and self._phase is Phase.ANSWER:
            self._submit(event.text, event.elapsed)
        elif event.kind == "skip" and self._phase is Phase.ANSWER:
            self._skip(event.elapsed)
        elif event.kind == "follow_up" and self._phase is Phase.FOLLOW_UP:
            self._submit_follow_up(event.text, event.elapsed)
        self._offset = max(self._offset, event.elapsed)

    # ------------------------------------------------------------------------------------ reading

    def guide(self, step_id: str) -> StepGuide:
        """The framework's guide for one step."""
        return self.catalog.framework.step(step_id)

    def rubric(self, step_id: str) -> StepRubric:
        """The rubric of one step of this session's prompt."""
        return self.catalog.step_rubric(self.prompt.id, step_id)

    @property
    def phase(self) -> Phase:
        """What the session waits for: a main answer, a follow-up answer, or nothing (done)."""
        return self._phase

    @property
    def finished(self) -> bool:
        """True when every step is over."""
        return self._phase is Phase.DONE

    @property
    def current(self) -> StepState:
        """The step being answered; raises :class:`SessionError` once the session is over."""
        if self._phase is Phase.DONE:
            raise SessionError("the session is over")
        return self.states[self._index]

    @property
    def position(self) -> int:
        """1-based number of the current step within the session (one past the last when done)."""
        return self._index + 1

    @property
    def answered_count(self) -> int:
        """How many steps have their main answer (or a skip)."""
        return sum(s.answered for s in self.states)

    @property
    def all_answered(self) -> bool:
        """True when every step has its main answer or was skipped (a follow-up may still be open)."""
        return all(s.answered for s in self.states)

    def elapsed(self) -> float:
        """Session seconds so far, across resumed sittings."""
        return self._offset + max(0.0, self._clock() - self._origin)

    def timer(self) -> TimerState:
        """The timer: the session against its length and the current step against its pace."""
        now = self.elapsed()
        if self._phase is Phase.DONE:
            return TimerState(now, self.minutes * 60.0, None, 0.0, 0.0)
        step = self.current.step
        return TimerState(now, self.minutes * 60.0, step, now - self._step_mark, self.pace[step])

    # --------------------------------------------------------------------------------------- acting

    def submit(self, text: str) -> Outcome:
        """Score the main answer of the current step; the outcome names the follow-up to ask, if any."""
        if self._phase is not Phase.ANSWER:
            raise SessionError(f"expected a {self._phase.value.replace('_', '-')} answer, not a main answer")
        return self._submit(text, self.elapsed())

    def submit_follow_up(self, text: str) -> Outcome:
        """Score the answer to the follow-up probe and fold it into the step (it can only help)."""
        if self._phase is not Phase.FOLLOW_UP:
            raise SessionError("there is no follow-up question waiting for an answer")
        return self._submit_follow_up(text, self.elapsed())

    def skip(self) -> Outcome:
        """Skip the current step: it scores 0 and the session moves on."""
        if self._phase is not Phase.ANSWER:
            raise SessionError("only a step waiting for its main answer can be skipped")
        return self._skip(self.elapsed())

    def skip_follow_up(self) -> None:
        """Let the follow-up go: the step keeps the score of its main answer."""
        if self._phase is not Phase.FOLLOW_UP:
            raise SessionError("there is no follow-up question to skip")
        self._finish_step(self.elapsed())

    def next_hint(self) -> Hint | None:
        """The next hint for the current step: the highest-weight criterion not yet evidenced and not yet hinted."""
        state = self.current
        rubric = self.rubric(state.step)
        result = state.result
        covered = set(result.covered) if result is not None else set()
        open_criteria = sorted(
            (c for c in rubric.criteria if c.id not in covered),
            key=lambda c: -c.weight,
        )
        for crit in open_criteria:
            if crit.id not in state.hints:
                state.hints.append(crit.id)
                number = sum(1 for h in state.hints if h not in covered)
                return Hint(crit.id, crit.checks, crit.hint, number, len(open_criteria))
        return None

    def unasked_facts(self) -> tuple[Fact, ...]:
        """Interviewer facts the candidate never asked about ("you could have asked")."""
        revealed = {f.id for f in self.revealed}
        return tuple(f for f in self.prompt.facts if f.id not in revealed)

    # ------------------------------------------------------------------------------------ internals

    def _reveal(self, step: str, text: str) -> tuple[Fact, ...]:
        if step != "clarify":
            return ()
        known = {f.id for f in self.revealed}
        new = tuple(f for f in reveal_facts(self.prompt.facts, text) if f.id not in known)
        self.revealed.extend(new)
        return new

    def _choose_probe(self, step: str, result: ScoreResult) -> Probe | None:
        probes = {p.target: p for p in reversed(self.prompt.probes_for(step))}
        misses = sorted(
            (c for c in result.criteria if not c.covered and c.id in probes),
            key=lambda c: (-c.weight, c.credit),
        )
        return probes[misses[0].id] if misses else None

    def _submit(self, text: str, at: float) -> Outcome:
        state = self.current
        result = self.scorer.score(self.prompt.id, state.step, text)
        state.main_text, state.main = text, result
        revealed = self._reveal(state.step, text)
        probe = None if result.empty else self._choose_probe(state.step, result)
        if probe is None:
            self._finish_step(at)
        else:
            state.probe = probe
            self._phase = Phase.FOLLOW_UP
        return Outcome(state.step, "main", text, result, result.score, at, probe=probe, revealed=revealed)

    def _submit_follow_up(self, text: str, at: float) -> Outcome:
        state = self.current
        main = state.main
        assert main is not None and state.main_text is not None
        combined = self.scorer.score(self.prompt.id, state.step, f"{state.main_text}\n\n{text}")
        folded = fold(main, combined)
        state.follow_up_text, state.folded = text, folded
        revealed = self._reveal(state.step, text)
        gained = tuple(c for c in folded.covered if c not in main.covered)
        known_flags = {f.id for f in folded.flags}
        unscored = tuple(f for f in combined.flags if f.id not in known_flags)
        probe = state.probe
        self._finish_step(at)
        return Outcome(
            state.step,
            "follow_up",
            text,
            folded,
            folded.score,
            at,
            probe=probe,
            revealed=revealed,
            before=main.score,
            gained=gained,
            unscored_flags=unscored,
        )

    def _skip(self, at: float) -> Outcome:
        state = self.current
        state.skipped = True
        self._finish_step(at)
        return Outcome(state.step, "skip", "", None, 0.0, at)

    def _finish_step(self, at: float) -> None:
        state = self.states[self._index]
        state.seconds = max(0.0, at - self._step_mark)
        self._step_mark = at
        self._index += 1
        self._phase = Phase.DONE if self._index >= len(self.states) else Phase.ANSWER

    # ------------------------------------------------------------------------------------ the end

    def overall(self) -> float:
        """Plain mean of the step scores (skipped or unanswered steps count 0), rounded to 0.1."""
        return round(sum(s.score or 0.0 for s in self.states) / len(self.states), 1)

    def scorecard(self) -> Scorecard:
        """The scorecard: a row per step, overall score and band, strengths, three things to practise."""
        rows = []
        for state in self.states:
            result = state.result
            if state.skipped:
                status = "skipped"
            elif result is None:
                status = "not answered"
            else:
                status = "follow-up" if state.folded is not None else "answered"
            miss = top_miss(result) if result is not None else None
            if result is None and state.skipped:
                # Everything in a skipped step is missed; its heaviest criterion is the top miss.
                heaviest = max(self.rubric(state.step).criteria, key=lambda c: c.weight)
                miss_text: str | None = heaviest.checks
            else:
                miss_text = miss.checks if miss is not None else None
            all_ids = tuple(c.id for c in self.rubric(state.step).criteria)
            rows.append(
                ScorecardRow(
                    step=state.step,
                    title=self.guide(state.step).title,
                    score=state.score or 0.0,
                    status=status,
                    covered=tuple(result.covered) if result is not None else (),
                    missed=tuple(result.missed) if result is not None else all_ids,
                    top_miss=miss_text,
                    seconds=state.seconds,
                    pace=self.pace[state.step],
                )
            )
        overall = self.overall()
        return Scorecard(
            prompt=self.prompt.id,
            prompt_title=self.prompt.title,
            rows=tuple(rows),
            overall=overall,
            band=band(overall),
            thresholds=band_thresholds(),
            strengths=self._strengths(),
            practise=self._practise(),
            elapsed=self.elapsed(),
            budget=self.minutes * 60.0,
        )

    def _credits(self) -> list[_Credit]:
        """Every criterion of every step with its credit; a skipped or unanswered step has credit 0 throughout."""
        out = []
        for index, state in enumerate(self.states):
            result = state.result
            if result is not None:
                for c in result.criteria:
                    out.append(_Credit(index, state, c.id, c.checks, c.hint, c.weight, c.credit, c.covered))
            else:
                for crit in self.rubric(state.step).criteria:
                    out.append(_Credit(index, state, crit.id, crit.checks, crit.hint, crit.weight, 0.0, False))
        return out

    def _spread(self, ranked: list[_Credit], limit: int) -> tuple[PracticeItem, ...]:
        """The first ``limit`` items, one per step first so that the list covers different steps."""
        chosen: list[_Credit] = []
        for item in ranked:
            if len(chosen) < limit and all(c.index != item.index for c in chosen):
                chosen.append(item)
        for item in ranked:
            if len(chosen) < limit and item not in chosen:
                chosen.append(item)
        return tuple(
            PracticeItem(c.state.step, self.guide(c.state.step).title, c.criterion, c.checks, c.why) for c in chosen
        )

    def _strengths(self) -> tuple[PracticeItem, ...]:
        ranked = sorted(
            (c for c in self._credits() if c.covered),
            key=lambda c: (-c.weight * c.credit, c.index),
        )
        return self._spread(ranked, STRENGTH_ITEMS)

    def _practise(self) -> tuple[PracticeItem, ...]:
        ranked = sorted(
            (c for c in self._credits() if not c.covered),
            key=lambda c: (-c.weight * (1.0 - c.credit), c.state.score or 0.0, c.index),
        )
        return self._spread(ranked, PRACTICE_ITEMS)


@dataclass(frozen=True, eq=False)
class _Credit:
    index: int
    state: StepState
    criterion: str
    checks: str
    why: str
    weight: float
    credit: float
    covered: bool


def fold(main: ScoreResult, combined: ScoreResult) -> ScoreResult:
    """Fold a follow-up into a step: the better score, and per criterion the better credit."""
    from mlsd_coach.scoring import COVERED_AT

    base = combined if combined.score >= main.score else main
    by_id = {c.id: c for c in main.criteria}
    criteria = (
        tuple(c if c.credit >= by_id.get(c.id, c).credit else by_id[c.id] for c in combined.criteria) or main.criteria
    )
    return dataclasses.replace(
        base,
        score=max(main.score, combined.score),
        criteria=criteria,
        covered=[c.id for c in criteria if c.credit >= COVERED_AT],
        missed=[c.id for c in criteria if c.credit < COVERED_AT],
        empty=main.empty and combined.empty,
    )


# ------------------------------------------------------------------------------------------- replay


def parse_answers(text: str, source: str) -> dict[str, str]:
    """Parse a replay file mapping step ids to answer texts; errors read ``FILE:LINE: problem``.

    A step given as an empty value (``data:``) or blank text counts as skipped, like a step left out.
    """
    import yaml

    from mlsd_coach.catalog import compose_yaml, describe_yaml_error

    try:
        node = compose_yaml(text)
    except yaml.YAMLError as exc:
        line, message = describe_yaml_error(exc, text)
        raise AnswersError(f"{source}:{line}: {message}") from None
    example = "e.g.  clarify: |  followed by the answer, indented"
    if node is None:
        raise AnswersError(f"{source}:1: the file is empty; map step ids to answer texts ({example})")
    if not isinstance(node, yaml.MappingNode):
        raise AnswersError(
            f"{source}:{node.start_mark.line + 1}: expected a mapping of step ids to answer texts ({example})"
        )
    answers: dict[str, str] = {}
    for key, value in node.value:
        line = key.start_mark.line + 1
        step = key.value if isinstance(key, yaml.ScalarNode) else None
        if not isinstance(step, str) or step not in STEP_IDS:
            shown = repr(step) if isinstance(step, str) else "a non-text key"
            raise AnswersError(f"{source}:{line}: unknown step id {shown}; choose from: {', '.join(STEP_IDS)}")
        if step in answers:
            raise AnswersError(f"{source}:{line}: step {step!r} is given twice")
        if isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:null":
            answers[step] = ""
        elif isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:str":
            answers[step] = value.value
        else:
            kind = {yaml.SequenceNode: "a list", yaml.MappingNode: "a mapping"}.get(type(value), "text")
            if isinstance(value, yaml.ScalarNode):
                tag = value.tag.rsplit(":", 1)[-1]
                kind = {"int": "a number", "float": "a number", "bool": "true/false", "timestamp": "a date"}.get(
                    tag, f"a {tag} value"
                )
            raise AnswersError(
                f"{source}:{value.start_mark.line + 1}: the answer for {step!r} must be text, not {kind} "
                "(quote it, or use a | block)"
            )
    return answers


def replay(
    catalog: Catalog, scorer: Scores, prompt_id: str, answers: Mapping[str, str]
) -> tuple[Session, list[Outcome], list[str]]:
    """Score a whole interview from a step -> answer mapping, without follow-ups.

    Returns the finished session, one outcome per step, and the steps counted as skipped (missing or blank).
    """
    session = Session(catalog, scorer, prompt_id, clock=lambda: 0.0)
    outcomes: list[Outcome] = []
    skipped: list[str] = []
    while not session.finished:
        step = session.current.step
        text = answers.get(step, "")
        if text.strip():
            outcomes.append(session.submit(text))
            if session.phase is Phase.FOLLOW_UP:
                session.skip_follow_up()
        else:
            skipped.append(step)
            outcomes.append(session.skip())
    return session, outcomes, skipped
