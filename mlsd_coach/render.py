"""Terminal views (rich): they take plain data and a console, and never compute scores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlsd_coach.schema import idea_name

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from mlsd_coach.scoring import ScoreResult


def print_listing(listing: dict[str, Any], console: Console) -> None:
    """Show the prompts with their steps and criteria counts (the ``mlsd list`` view)."""
    from rich import box
    from rich.table import Table

    prompts = listing["prompts"]
    if not prompts:
        console.print("No prompts found.")
        return
    steps = [s["id"] for s in prompts[0]["steps"]]
    table = Table(box=box.SIMPLE_HEAD, title="Rubric criteria per step", title_justify="left")
    table.add_column("prompt", style="bold cyan", no_wrap=True)
    table.add_column("title", overflow="fold", ratio=1)
    for number in range(1, len(steps) + 1):
        table.add_column(str(number), justify="right", no_wrap=True, min_width=1)
    table.add_column("total", justify="right", style="bold", no_wrap=True)
    for prompt in prompts:
        counts = [s["criteria"] for s in prompt["steps"]]
        table.add_row(prompt["id"], prompt["title"], *map(str, counts), str(sum(counts)))
    console.print(table)
    console.print("Steps: " + " → ".join(f"{i} {s}" for i, s in enumerate(steps, 1)), style="dim")


def score_style(score: float) -> str:
    """The colour a score is shown in."""
    if score >= 75:
        return "bold green"
    if score >= 45:
        return "bold yellow"
    return "bold red"


def criterion_mark(credit: float, covered: bool) -> tuple[str, str]:
    """The ✔ / ◐ / ✘ mark for a criterion and its colour."""
    if credit >= 0.75:
        return "✔", "green"
    if covered or credit > 0:
        return "◐", "yellow"
    return "✘", "red"


def print_score(
    result: ScoreResult,
    console: Console,
    *,
    prompt_title: str,
    step_title: str,
    model_answer: str | None = None,
) -> None:
    """Show one scored answer: the score, a ✔/✘ line per criterion, hints for misses, red flags."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    header = Text.assemble(
        (f"{result.score:.0f}/100", score_style(result.score)), "  ", _bar(result.score), "  ", (step_title, "bold")
    )
    parts.append(header)
    parts.append(Text(""))
    lines = Table.grid(padding=(0, 1))
    lines.add_column(no_wrap=True)
    lines.add_column(ratio=1)
    for crit in result.criteria:
        mark, colour = criterion_mark(crit.credit, crit.covered)
        text = Text(crit.checks)
        if crit.found and crit.missing:
            text.append(f"  (not yet: {', '.join(idea_name(m) for m in crit.missing)})", style="dim")
        lines.add_row(Text(mark, style=colour), text)
    parts.append(lines)
    misses = sorted((c for c in result.criteria if not c.covered), key=lambda c: -c.weight)
    if misses and not result.empty:
        parts.append(Text(""))
        parts.append(Text("Why the misses matter", style="bold"))
        hints = Table.grid(padding=(0, 1))
        hints.add_column(no_wrap=True)
        hints.add_column(ratio=1)
        for crit in misses:
            hints.add_row(Text("•", style="red"), Text.assemble((f"{crit.id}: ", "bold"), crit.hint))
        parts.append(hints)
    if result.flags:
        parts.append(Text(""))
        flags = Table.grid(padding=(0, 1))
        flags.add_column(no_wrap=True)
        flags.add_column(ratio=1)
        for hit in result.flags:
            flags.add_row(Text(f"⚑ -{hit.penalty:g}", style="bold red"), Text(hit.message))
        parts.append(flags)
    summary = [line for line in result.feedback.splitlines() if not line.startswith(("- ", "Most important"))]
    if summary:
        parts.append(Text(""))
        parts.extend(Text(line, style="italic") for line in summary if not line.startswith("Red flag"))
    console.print(
        Panel(Group(*parts), title=f"{prompt_title} · {result.step}", title_align="left", border_style="blue")
    )
    if model_answer:
        console.print(Panel(model_answer.strip(), title="Model answer", title_align="left", border_style="green"))


def _bar(score: float, width: int = 20) -> Text:
    from rich.text import Text

    filled = round(score / 100 * width)
    return Text.assemble(("█" * filled, score_style(score).replace("bold ", "")), ("░" * (width - filled), "dim"))


# ------------------------------------------------------------------------------- interview and drill

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from mlsd_coach.schedule import ItemState, Stats
    from mlsd_coach.schema import Fact, StepGuide
    from mlsd_coach.session import Hint, Outcome, Scorecard, TimerState
    from mlsd_coach.store import SessionRecord


def format_clock(seconds: float) -> str:
    """Seconds as ``m:ss`` (or ``h:mm:ss`` from an hour on)."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def timer_line(timer: TimerState) -> str:
    """The timer in one plain line: session time against its length, this step against its pace."""
    line = f"⏱ {format_clock(timer.elapsed)} of {format_clock(timer.budget)}"
    if timer.over_budget:
        line += f" (over time by {format_clock(timer.over_budget)})"
    if timer.step is not None:
        line += f" · {timer.step} {format_clock(timer.step_elapsed)} of {format_clock(timer.step_pace)} pace"
        if timer.over_pace:
            line += f" (over by {format_clock(timer.over_pace)})"
    return line


def _timer_text(timer: TimerState) -> Text:
    from rich.text import Text

    late = timer.over_budget or timer.over_pace
    return Text(timer_line(timer), style="bold yellow" if late else "dim")


def print_session_intro(
    console: Console,
    *,
    kind: str,
    prompt_id: str,
    prompt_title: str,
    question: str,
    minutes: float,
    pace: Sequence[tuple[str, str, float]],
    done: Sequence[tuple[str, float, bool]] | None = None,
    session_id: int | None = None,
) -> None:
    """The opening panel: the interviewer's question, the time and pace, the commands (or where a resume stands)."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    parts: list[Any] = [Text.assemble(("Interviewer: ", "bold"), (question, "italic"))]
    if kind == "interview":
        plan = " · ".join(f"{step} {format_clock(seconds)}" for step, _, seconds in pace)
        parts.append(Text(f"{minutes:g} minutes, {len(pace)} steps. Suggested pace: {plan}", style="dim"))
    else:
        parts.append(Text(f"Drill: {pace[0][1]} · suggested pace {format_clock(pace[0][2])}", style="dim"))
    if done is not None:
        scores = ", ".join(f"{step} {'skipped' if skipped else f'{score:.0f}/100'}" for step, score, skipped in done)
        parts.append(
            Text(f"Resuming session #{session_id}: {len(done)} of {len(pace)} steps answered ({scores}).", style="bold")
        )
    parts.append(
        Text(
            "Answer in the box; Esc then Enter submits. Commands, alone on a line: /hint one hint · /edit open "
            "$EDITOR · /skip skip. Ctrl-C saves and stops.",
            style="dim",
        )
    )
    title = f"{'Mock interview' if kind == 'interview' else 'Drill'} · {prompt_title} ({prompt_id})"
    console.print(Panel(Group(*parts), title=title, title_align="left", border_style="magenta"))


def print_step_intro(
    console: Console, guide: StepGuide, number: int, total: int, timer: TimerState, *, clarify: bool = False
) -> None:
    """A step's panel: its name, goal and guiding questions, and the timer."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    parts: list[Any] = [Text(guide.goal, style="bold")]
    parts.extend(Text.assemble(("  ? ", "cyan"), q) for q in guide.questions)
    if clarify:
        parts.append(Text(""))
        parts.append(Text("Ask the interviewer your questions: they answer what you ask about.", style="italic"))
    parts.append(Text(""))
    parts.append(_timer_text(timer))
    title = f"Step {number}/{total} · {guide.title}" if total > 1 else guide.title
    console.print(Panel(Group(*parts), title=title, title_align="left", border_style="cyan"))


def _fact_name(fact: Fact) -> str:
    """A fact's id as words ("cold-start" -> "cold start"); ids are unique where topics repeat."""
    return fact.id.replace("-", " ")


def print_interviewer_answers(console: Console, facts: Sequence[Fact]) -> None:
    """What the simulated interviewer answers to the questions asked."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    lines = [Text.assemble((f"{_fact_name(fact)}: ", "bold"), fact.answer.strip()) for fact in facts]
    console.print(Panel(Group(*lines), title="Interviewer answers", title_align="left", border_style="magenta"))


def print_unasked_facts(console: Console, facts: Sequence[Fact]) -> None:
    """The facts the candidate never asked about: "you could have asked"."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    if not facts:
        console.print("You asked about every fact the interviewer had. ✔", style="green")
        return
    lines = [
        Text.assemble(("  • ", "yellow"), (f"{_fact_name(fact)}: ", "bold"), fact.answer.strip()) for fact in facts
    ]
    console.print(Panel(Group(*lines), title="You could have asked", title_align="left", border_style="yellow"))


def print_probe(console: Console, ask: str) -> None:
    """The interviewer's follow-up question."""
    from rich.panel import Panel
    from rich.text import Text

    body = Text.assemble((ask, "bold"), "\n", ("Your answer is scored together with the one above.", "dim"))
    console.print(Panel(body, title="Follow-up", title_align="left", border_style="magenta"))


def print_follow_up_result(console: Console, outcome: Outcome) -> None:
    """How a follow-up changed the step: the score before and after, criteria it newly covered."""
    from rich.text import Text

    after = outcome.score
    before = outcome.before if outcome.before is not None else after
    line = Text.assemble(
        "Follow-up folded in: ", (f"{before:.0f}", score_style(before)), " → ", (f"{after:.0f}/100", score_style(after))
    )
    if after > before:
        line.append(f"  (+{after - before:.0f})", style="green")
    else:
        line.append("  (no change: the step keeps its better score)", style="dim")
    console.print(line)
    result = outcome.result
    checks = {c.id: c.checks for c in result.criteria} if result is not None else {}
    for criterion in outcome.gained:
        console.print(Text.assemble(("  ✔ ", "green"), checks.get(criterion, criterion)))
    if outcome.probe is not None and result is not None and outcome.probe.target in result.missed:
        target = checks.get(outcome.probe.target, outcome.probe.target)
        console.print(Text.assemble(("  ✘ still missing: ", "red"), target))
    for hit in outcome.unscored_flags:
        console.print(Text.assemble(("  ⚑ careful: ", "bold yellow"), hit.message, (" (not counted)", "dim")))


def print_hint(console: Console, hint: Hint | None) -> None:
    """One hint, or a note that there are none left."""
    from rich.text import Text

    if hint is None:
        console.print("No hints left for this step: everything in the rubric is either covered or hinted.", style="dim")
        return
    console.print(
        Text.assemble(
            (f"Hint {hint.number}/{hint.of}: ", "bold cyan"), hint.checks, "\n", ("  why: ", "dim"), (hint.why, "dim")
        )
    )


def print_step_time(console: Console, step_title: str, seconds: float, pace: float, timer: TimerState) -> None:
    """How long the step took against its pace, and the session clock."""
    from rich.text import Text

    over = seconds - pace
    verdict = f"over pace by {format_clock(over)}" if over > 0 else "within pace"
    style = "yellow" if over > 0 else "dim"
    total = f"{format_clock(timer.elapsed)} of {format_clock(timer.budget)} used"
    if timer.over_budget:
        total += f", over time by {format_clock(timer.over_budget)}"
    console.print(
        Text(f"{step_title}: {format_clock(seconds)} (pace {format_clock(pace)}, {verdict}) · {total}", style=style)
    )


def print_model_answer(console: Console, text: str) -> None:
    """A step's model answer."""
    from rich.panel import Panel

    console.print(Panel(text.strip(), title="Model answer", title_align="left", border_style="green"))


def print_scorecard(console: Console, card: Scorecard) -> None:
    """The end of an interview: scores per step with the top miss, overall and band, strengths, what to practise."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    timed = card.elapsed > 0
    table = Table(box=box.SIMPLE_HEAD, title=f"Scorecard · {card.prompt_title} ({card.prompt})", title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("step", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    if timed:
        table.add_column("time", justify="right", no_wrap=True)
    table.add_column("top miss", ratio=1)
    for number, row in enumerate(card.rows, 1):
        cells: list[Any] = [str(number), row.step, Text(f"{row.score:.0f}/100", style=score_style(row.score))]
        status = {"skipped": "skipped", "not answered": "not answered", "follow-up": "+follow-up"}.get(row.status, "")
        cells.append(Text(status, style="dim"))
        if timed:
            late = row.seconds is not None and row.seconds > row.pace
            spent = format_clock(row.seconds) if row.seconds is not None else "–"
            cells.append(Text(spent, style="yellow" if late else ""))
        cells.append(row.top_miss or Text("nothing missed", style="green"))
        table.add_row(*cells)
    console.print(table)
    console.print(
        Text.assemble(
            ("Overall ", "bold"),
            (f"{card.overall:.0f}/100", score_style(card.overall)),
            "  ",
            _bar(card.overall),
            "  ",
            (card.band.upper(), score_style(card.overall)),
        )
    )
    timing = f" Time: {format_clock(card.elapsed)} of {format_clock(card.budget)}." if timed else ""
    console.print(
        f"Overall = plain mean of the {len(card.rows)} step scores (a skipped step counts 0). "
        f"Bands: {card.thresholds}.{timing}",
        style="dim",
    )
    console.print(Text("Strengths", style="bold green"))
    strengths = Table.grid(padding=(0, 1))
    strengths.add_column(no_wrap=True)
    strengths.add_column(ratio=1)
    for item in card.strengths:
        strengths.add_row(Text("  ✔", style="green"), Text.assemble((f"{item.step}: ", "bold"), item.checks))
    if not card.strengths:
        strengths.add_row("  ", Text("None yet: no criterion was covered.", style="dim"))
    console.print(strengths)
    console.print(Text("Practise next", style="bold yellow"))
    practise = Table.grid(padding=(0, 1))
    practise.add_column(no_wrap=True)
    practise.add_column(ratio=1)
    for number, item in enumerate(card.practise, 1):
        practise.add_row(
            Text(f"  {number}.", style="yellow"),
            Text.assemble((f"{item.step}: ", "bold"), item.checks, "\n", (item.why, "dim")),
        )
    if not card.practise:
        practise.add_row("  ", Text("Nothing missed. Try another prompt, or a shorter --minutes.", style="dim"))
    console.print(practise)


def print_drill_pick(console: Console, prompt_id: str, step_id: str, reason: str) -> None:
    """Which (prompt, step) the drill is on, and why."""
    from rich.text import Text

    console.print(Text.assemble(("Drilling ", "bold"), (f"{prompt_id} · {step_id}", "bold cyan"), f": {reason}"))


def print_drill_summary(
    console: Console, prompt_id: str, step_id: str, score: float, state: ItemState | None, now: datetime
) -> None:
    """The end of a drill: the score, the best so far and when the item is due again."""
    from rich.text import Text

    from mlsd_coach.schedule import until

    line = Text.assemble(
        ("Drill done: ", "bold"), f"{prompt_id} · {step_id} ", (f"{score:.0f}/100", score_style(score))
    )
    if state is not None:
        line.append(f" · best so far {state.best:.0f}/100 over {state.reviews} attempt(s)", style="dim")
        line.append(f" · next review {until(state.due_at, now)}", style="dim")
    console.print(line)


def _local(stamp: str) -> str:
    from mlsd_coach.store import parse_time

    return parse_time(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def print_history(console: Console, sessions: Sequence[SessionRecord], total: int) -> None:
    """Past sessions, newest first, with the step scores of each."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not sessions:
        console.print("No sessions yet. Start one with `mlsd interview` or `mlsd drill`.")
        return
    table = Table(
        box=box.SIMPLE_HEAD, title="Practice history (newest first)", title_justify="left", padding=(0, 1, 0, 0)
    )
    columns = ("#", "started", "kind", "prompt", "status", "overall", "steps")
    for name in columns:
        table.add_column(name, justify="right" if name in ("#", "overall") else "left", no_wrap=name != columns[-1])
    unfinished = False
    for record in sessions:
        steps = Text()
        summaries = record.step_summaries()
        if len(summaries) == 1:
            steps.append(f"{summaries[0]['step']} ", style="dim")
        for summary in summaries:
            if steps and not steps.plain.endswith(" "):
                steps.append(" ")
            if summary["score"] is None:
                steps.append("·", style="dim")
            elif summary["skipped"]:
                steps.append("–", style="red")
            else:
                steps.append(f"{summary['score']:.0f}", style=score_style(summary["score"]))
        if record.status == "in_progress":
            status = Text(f"unfinished {len(record.answered_steps)}/{len(record.steps)}", style="yellow")
            unfinished = unfinished or record.kind == "interview"
        else:
            status = Text("completed", style="green")
        overall = Text(f"{record.overall:.0f}", style=score_style(record.overall)) if record.overall is not None else ""
        table.add_row(str(record.id), _local(record.started_at), record.kind, record.prompt, status, overall, steps)
    console.print(table)
    if total > len(sessions):
        console.print(f"… and {total - len(sessions)} older session(s); `--limit 0` shows all.", style="dim")
    console.print("Step scores in framework order (clarify → serving); – skipped, · not answered yet.", style="dim")
    if unfinished:
        console.print("Continue the latest unfinished interview with `mlsd interview --resume`.", style="dim")


_SPARKS = "▁▂▃▄▅▆▇█"
_SHORT_STEP = {"evaluation": "eval"}


def _sparkline(scores: Sequence[float]) -> str:
    return "".join(_SPARKS[min(len(_SPARKS) - 1, int(s / 100 * len(_SPARKS)))] for s in scores)


def print_stats(console: Console, stats: Stats) -> None:
    """A heat-map of best and latest score per prompt x step, and the trend of each step."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not stats.reviews:
        console.print("No practice history yet. Start with `mlsd interview` or `mlsd drill`.")
        return
    heat = Table(
        box=box.SIMPLE_HEAD,
        title="Best · latest score per prompt and step",
        title_justify="left",
        caption="colour = latest score; · = not practised",
        caption_justify="left",
    )
    heat.add_column("prompt", style="bold cyan", no_wrap=True)
    for step in stats.steps:
        heat.add_column(_SHORT_STEP.get(step, step), justify="center", no_wrap=True)
    for prompt in stats.prompts:
        cells: list[Any] = []
        for step in stats.steps:
            cell = stats.cells.get((prompt, step))
            if cell is None:
                cells.append(Text("·", style="dim"))
            else:
                cells.append(Text(f"{cell.best:.0f}·{cell.latest:.0f}", style=score_style(cell.latest)))
        heat.add_row(prompt, *cells)
    console.print(heat)
    trend = Table(box=box.SIMPLE_HEAD, title="Trend per step (all prompts)", title_justify="left")
    for name, justify in (
        ("step", "left"),
        ("attempts", "right"),
        ("early", "right"),
        ("recent", "right"),
        ("change", "right"),
        ("history", "left"),
    ):
        trend.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for item in stats.trends:
        change = item.change
        if change is None:
            arrow = Text("–", style="dim")
        elif change > 2:
            arrow = Text(f"↑ +{change:.0f}", style="green")
        elif change < -2:
            arrow = Text(f"↓ {change:.0f}", style="red")
        else:
            arrow = Text(f"→ {change:+.0f}", style="dim")
        trend.add_row(
            item.step,
            str(len(item.scores)),
            f"{item.early:.0f}" if item.early is not None else "–",
            f"{item.recent:.0f}" if item.recent is not None else "–",
            arrow,
            _sparkline(item.scores[-20:]),
        )
    console.print(trend)
    console.print(
        f"{stats.reviews} scored step(s). Early and recent = mean of the first and last (up to 3) attempts.",
        style="dim",
    )
