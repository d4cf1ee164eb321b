"""Terminal views (rich): they take plain data and a console, and never compute scores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    table.add_column("title", no_wrap=True)
    for number in range(1, len(steps) + 1):
        table.add_column(str(number), justify="right")
    table.add_column("total", justify="right", style="bold")
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
    from rich.text import Text

    parts: list[Any] = []
    header = Text.assemble(
        (f"{result.score:.0f}/100", score_style(result.score)), "  ", _bar(result.score), "  ", (step_title, "bold")
    )
    parts.append(header)
    parts.append(Text(""))
    for crit in result.criteria:
        mark, colour = criterion_mark(crit.credit, crit.covered)
        line = Text.assemble((f" {mark} ", colour), crit.checks)
        if crit.found and crit.missing:
            line.append(f"  (missing: {', '.join(crit.missing)})", style="dim")
        parts.append(line)
    misses = sorted((c for c in result.criteria if not c.covered), key=lambda c: -c.weight)
    if misses and not result.empty:
        parts.append(Text(""))
        parts.append(Text("Why the misses matter", style="bold"))
        for crit in misses:
            parts.append(Text.assemble(("  • ", "red"), (f"{crit.id}: ", "bold"), crit.hint))
    for hit in result.flags:
        parts.append(Text.assemble(("  ⚑ red flag ", "bold red"), (f"-{hit.penalty:g}  ", "red"), hit.message))
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
