"""Spaced repetition over past scores (pure): what to drill next, and the stats behind ``mlsd stats``.

Every answered step of every session is one review of a (prompt, step) item. An SM-2 style schedule turns
an item's reviews into its next due date: a score maps to a quality 0-5 (score / 20); from
:data:`PASS_SCORE` on the interval grows (1 day, 6 days, then times the item's ease), below it the item
comes back the next day and its ease drops.

:func:`pick` chooses what to drill, in this order:

1. an item that is **due**, weakest (lowest best score) first;
2. an item still **weak** (best below :data:`PASS_SCORE`), weakest first, even if not due yet;
3. an item **not practised yet** - first the unpractised steps of prompts already started, in framework
   order, then the first step of a prompt picked at random with the given seed;
4. otherwise the weakest item, **ahead of schedule**.

Each pick carries a one-line reason the CLI prints. Nothing here reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

#: A score from which a review counts as a pass (quality 3 of 5 in SM-2 terms).
PASS_SCORE = 60.0
#: SM-2's starting ease factor and its floor.
INITIAL_EASE = 2.5
MIN_EASE = 1.3

Item = tuple[str, str]


@dataclass(frozen=True)
class Review:
    """One scored step: which prompt and step, the final step score, and when it was answered."""

    prompt: str
    step: str
    score: float
    at: datetime


@dataclass(frozen=True)
class ItemState:
    """Where one (prompt, step) item stands after all its reviews."""

    prompt: str
    step: str
    reviews: int
    best: float
    latest: float
    last_at: datetime
    interval_days: float
    ease: float
    streak: int
    """Passing reviews in a row."""
    due_at: datetime

    def is_due(self, now: datetime) -> bool:
        """True when the item is due for review at ``now``."""
        return self.due_at <= now


@dataclass(frozen=True)
class Pick:
    """The item chosen to drill, and why."""

    prompt: str
    step: str
    reason: str
    state: ItemState | None = None


def quality(score: float) -> float:
    """SM-2 quality (0-5) of a 0-100 step score."""
    return max(0.0, min(5.0, score / 20.0))


def item_state(reviews: Sequence[Review]) -> ItemState:
    """Run SM-2 over one item's reviews (oldest first) and return its state."""
    if not reviews:
        raise ValueError("an item state needs at least one review")
    ease, streak, interval = INITIAL_EASE, 0, 0.0
    for review in reviews:
        q = quality(review.score)
        ease = max(MIN_EASE, ease + 0.1 - (5.0 - q) * (0.08 + (5.0 - q) * 0.02))
        if review.score >= PASS_SCORE:
            streak += 1
            interval = 1.0 if streak == 1 else 6.0 if streak == 2 else interval * ease
        else:
            streak, interval = 0, 1.0
    last = reviews[-1]
    return ItemState(
        prompt=last.prompt,
        step=last.step,
        reviews=len(reviews),
        best=max(r.score for r in reviews),
        latest=last.score,
        last_at=last.at,
        interval_days=interval,
        ease=round(ease, 3),
        streak=streak,
        due_at=last.at + timedelta(days=interval),
    )


def item_states(reviews: Iterable[Review]) -> dict[Item, ItemState]:
    """The SM-2 state of every reviewed (prompt, step) item."""
    grouped: dict[Item, list[Review]] = {}
    for review in sorted(reviews, key=lambda r: r.at):
        grouped.setdefault((review.prompt, review.step), []).append(review)
    return {item: item_state(found) for item, found in grouped.items()}


def ago(then: datetime, now: datetime) -> str:
    """A human "how long ago": just now, 5 minutes ago, 3 hours ago, yesterday, 6 days ago."""
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 90:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)} minutes ago"
    if seconds < 86400:
        hours = round(seconds / 3600)
        return "1 hour ago" if hours == 1 else f"{hours} hours ago"
    days = int(seconds // 86400)
    return "yesterday" if days == 1 else f"{days} days ago"


def until(then: datetime, now: datetime) -> str:
    """A human "how long until": now, in 5 hours, tomorrow, in 6 days."""
    seconds = (then - now).total_seconds()
    if seconds <= 0:
        return "now"
    if seconds < 3600:
        minutes = max(1, round(seconds / 60))
        return "in 1 minute" if minutes == 1 else f"in {minutes} minutes"
    if seconds < 20 * 3600:
        hours = round(seconds / 3600)
        return "in 1 hour" if hours == 1 else f"in {hours} hours"
    days = max(1, round(seconds / 86400))
    return "tomorrow" if days == 1 else f"in {days} days"


def pick(
    items: Sequence[Item], reviews: Iterable[Review], now: datetime, *, seed: int = 0, scope: str = "step"
) -> Pick:
    """Choose the item to drill among ``items`` (all (prompt, step) pairs allowed), with a one-line reason.

    ``scope`` words the reason: "step" when any step of any prompt could be chosen, "prompt" when the step was
    fixed (the choice is a prompt), "prompt-step" when the prompt was fixed (the choice is a step), "fixed"
    when the candidate named both (the reason then only reports where the item stands).
    """
    if not items:
        raise ValueError("nothing to choose from")
    allowed = set(items)
    states = {item: state for item, state in item_states(reviews).items() if item in allowed}
    if scope == "fixed":
        prompt_id, step_id = items[0]
        state = states.get(items[0])
        if state is None:
            return Pick(prompt_id, step_id, "your choice; first time on this one")
        reason = (
            f"your choice (best {state.best:.0f}/100, last drilled {ago(state.last_at, now)}, "
            f"due {until(state.due_at, now)})"
        )
        return Pick(prompt_id, step_id, reason, state)
    which = {"step": "step", "prompt": "prompt for this step", "prompt-step": "step of this prompt"}[scope]

    due = [s for s in states.values() if s.is_due(now)]
    if due:
        chosen = min(due, key=lambda s: (s.best, s.due_at))
        many = f"your weakest due {which}" if len(due) > 1 else "due for review"
        detail = f"best {chosen.best:.0f}/100, last drilled {ago(chosen.last_at, now)}"
        return Pick(chosen.prompt, chosen.step, f"{many} ({detail})", chosen)

    weak = [s for s in states.values() if s.best < PASS_SCORE]
    if weak:
        chosen = min(weak, key=lambda s: (s.best, s.last_at))
        reason = (
            f"your weakest {which} (best {chosen.best:.0f}/100), last drilled {ago(chosen.last_at, now)}; "
            f"not passed yet, so it comes before anything new"
        )
        return Pick(chosen.prompt, chosen.step, reason, chosen)

    new = [item for item in items if item not in states]
    if new:
        started = {p for p, _ in states}
        order = {p: i for i, p in enumerate(_shuffled(sorted({p for p, _ in items}), seed))}
        steps = list(dict.fromkeys(s for _, s in items))
        chosen_item = min(new, key=lambda it: (it[0] not in started, order[it[0]], steps.index(it[1])))
        prompt_id, step_id = chosen_item
        if not states:
            if scope == "prompt":
                reason = f"no practice of {step_id} yet, so a prompt picked at random (seed {seed})"
            elif scope == "prompt-step":
                reason = f"no practice of {prompt_id} yet, so starting with its first step"
            else:
                reason = f"no practice history yet, so the {step_id} step of a prompt picked at random (seed {seed})"
        elif prompt_id in started:
            reason = f"nothing is due and nothing is weak; next unpractised step of {prompt_id}, a prompt you started"
        else:
            reason = f"nothing is due and nothing is weak; a new prompt picked at random (seed {seed})"
        return Pick(prompt_id, step_id, reason)

    chosen = min(states.values(), key=lambda s: (s.best, s.due_at))
    reason = (
        f"nothing is due and everything scores {PASS_SCORE:.0f}+; your weakest {which} ahead of schedule "
        f"(best {chosen.best:.0f}/100, due {until(chosen.due_at, now)})"
    )
    return Pick(chosen.prompt, chosen.step, reason, chosen)


def _shuffled(values: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    out = list(values)
    rng.shuffle(out)
    return out


# -------------------------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class Cell:
    """One prompt x step cell of the heat-map."""

    best: float
    latest: float
    attempts: int


@dataclass(frozen=True)
class StepTrend:
    """How one step's scores move over time, across prompts."""

    step: str
    scores: tuple[float, ...]
    """Every score for the step, oldest first."""
    early: float | None
    """Mean of the first few scores (None with fewer than two attempts)."""
    recent: float | None
    """Mean of the last few scores, not overlapping ``early``."""

    @property
    def change(self) -> float | None:
        """``recent - early``: positive when the step is improving."""
        if self.early is None or self.recent is None:
            return None
        return self.recent - self.early


@dataclass(frozen=True)
class Stats:
    """The ``mlsd stats`` view: a heat-map of best and latest scores, and the trend per step."""

    prompts: tuple[str, ...]
    steps: tuple[str, ...]
    cells: dict[Item, Cell]
    trends: tuple[StepTrend, ...]
    reviews: int


#: How many attempts at each end of a step's history the trend compares.
TREND_WINDOW = 3


def summarise(reviews: Iterable[Review], prompts: Sequence[str], steps: Sequence[str]) -> Stats:
    """Best and latest score per prompt x step, and per step the early-versus-recent trend.

    Prompts seen in the history but not in ``prompts`` are added at the end, so nothing is hidden.
    """
    ordered = sorted(reviews, key=lambda r: r.at)
    cells: dict[Item, Cell] = {}
    for review in ordered:
        key = (review.prompt, review.step)
        old = cells.get(key)
        best = review.score if old is None else max(old.best, review.score)
        cells[key] = Cell(best, review.score, 1 if old is None else old.attempts + 1)
    extra = sorted({r.prompt for r in ordered} - set(prompts))
    trends = []
    for step in steps:
        scores = tuple(r.score for r in ordered if r.step == step)
        k = min(TREND_WINDOW, len(scores) // 2)
        early = sum(scores[:k]) / k if k else None
        recent = sum(scores[-k:]) / k if k else None
        trends.append(StepTrend(step, scores, early, recent))
    return Stats(tuple(prompts) + tuple(extra), tuple(steps), cells, tuple(trends), len(ordered))
