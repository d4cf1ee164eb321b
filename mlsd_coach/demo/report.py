"""A scenario-independent demo report (sections of blocks, one per framework step) and its rich renderer.

Scenarios build a :class:`DemoReport` from plain data; nothing here computes a number. The renderer
takes the report and a ``rich.console.Console`` created at the edge, so tests can render into
``Console(record=True)`` and read the text back.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from mlsd_coach.demo.options import STEP_IDS, STEP_TITLES

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = [
    "BarChart",
    "Block",
    "DemoReport",
    "Headline",
    "KeyValues",
    "ProgressCallback",
    "Section",
    "Stages",
    "Table",
    "Text",
    "progress_display",
    "render_demo_list",
    "render_report",
]


@dataclass(frozen=True)
class Text:
    """A paragraph of prose; rich markup such as ``[bold]`` is allowed."""

    text: str


@dataclass(frozen=True)
class KeyValues:
    """A two-column list of labelled values (already formatted as strings)."""

    pairs: tuple[tuple[str, str], ...]
    title: str = ""


@dataclass(frozen=True)
class Table:
    """A table of formatted cells; every row has one cell per column."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table row {row!r} does not have {len(self.columns)} cells")


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars: one (label, value) pair per bar, drawn to scale from zero."""

    bars: tuple[tuple[str, float], ...]
    title: str = ""
    value_format: str = "{:.3f}"
    """Format of the number printed after each bar."""
    unit: str = ""
    """Appended to each printed number, e.g. " ms"."""

    def __post_init__(self) -> None:
        if any(not math.isfinite(value) or value < 0 for _, value in self.bars):
            raise ValueError("bar values must be finite and non-negative")


Block: TypeAlias = Text | KeyValues | Table | BarChart


@dataclass(frozen=True)
class FeatureSpec:
    """One model input as the Features section shows it: its name, its group and what it measures."""

    name: str
    group: str
    """The entity it describes, e.g. "user", "item", "context" or a cross such as "user×article"."""
    description: str


@dataclass(frozen=True)
class Section:
    """Everything a demo shows for one framework step."""

    step: str
    """One of STEP_IDS."""
    blocks: tuple[Block, ...]
    title: str = ""
    """Defaults to the step's standard title."""

    def __post_init__(self) -> None:
        if self.step not in STEP_IDS:
            raise ValueError(f"unknown step {self.step!r}; expected one of {', '.join(STEP_IDS)}")
        if not self.title:
            object.__setattr__(self, "title", STEP_TITLES[self.step])

    @property
    def number(self) -> int:
        """1-based position of the step in the framework."""
        return STEP_IDS.index(self.step) + 1


@dataclass(frozen=True)
class Headline:
    """The one comparison a scenario stands on: its model against its baseline on one metric."""

    metric: str
    model: float
    baseline: float
    higher_is_better: bool
    model_name: str
    baseline_name: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the contract's four keys plus the two names."""
        return {
            "metric": self.metric,
            "model": self.model,
            "baseline": self.baseline,
            "higher_is_better": self.higher_is_better,
            "model_name": self.model_name,
            "baseline_name": self.baseline_name,
        }


@dataclass(frozen=True)
class DemoReport:
    """The result of one demo run: sections in framework order plus machine-readable numbers."""

    scenario: str
    title: str
    seed: int
    sections: tuple[Section, ...]
    headline: Headline
    metrics: Mapping[str, Any]
    """Quality numbers, nested dicts of floats (``--json`` prints them as they are)."""
    latency_ms: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Per-stage latency percentiles in milliseconds, e.g. {"ranking": {"p50": 2.1, "p99": 4.0}}."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The sizes and settings the run used."""
    artifacts: Mapping[str, str] = field(default_factory=dict)
    """Files a run can export: file name → text content."""

    def __post_init__(self) -> None:
        steps = [section.step for section in self.sections]
        if steps != [step for step in STEP_IDS if step in steps]:
            raise ValueError(f"sections must be unique and in framework order, got {steps}")

    def section(self, step: str) -> Section:
        """The section of one step (KeyError if the scenario has none)."""
        for section in self.sections:
            if section.step == step:
                return section
        raise KeyError(step)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: scenario, seed, params, headline, metrics and latency."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "params": _jsonable(self.params),
            "headline": _jsonable(self.headline.to_dict()),
            "metrics": _jsonable(self.metrics),
            "latency_ms": _jsonable(self.latency_ms),
        }


def _jsonable(value: Any) -> Any:
    """Plain Python types only (numpy scalars become floats/ints), floats rounded to 6 decimals."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return round(value, 6)
    return value


# --- progress -------------------------------------------------------------------------------------

ProgressCallback: TypeAlias = Callable[[str, float], None]
"""Called with (what is happening now, fraction of the run done in [0, 1])."""


class Stages:
    """Turns a scenario's named stages, each with a rough relative cost, into progress fractions."""

    def __init__(self, callback: ProgressCallback | None, stages: Sequence[tuple[str, float]]) -> None:
        if not stages or any(cost <= 0 for _, cost in stages):
            raise ValueError("stages need positive costs")
        self.seconds: dict[str, float] = {}
        """Wall time of each phase closed with :meth:`lap`, in seconds."""
        self._clock = time.perf_counter()
        self._callback = callback
        self._names = [name for name, _ in stages]
        total = sum(cost for _, cost in stages)
        self._start: dict[str, float] = {}
        done = 0.0
        for name, cost in stages:
            self._start[name] = done / total
            done += cost

    def start(self, name: str) -> None:
        """Announce that stage ``name`` begins."""
        if name not in self._start:
            raise KeyError(f"unknown stage {name!r}")
        if self._callback is not None:
            self._callback(name, self._start[name])

    def lap(self, phase: str) -> None:
        """Close a phase: the wall time since the previous lap (or the start) is recorded under ``phase``."""
        now = time.perf_counter()
        self.seconds[phase] = now - self._clock
        self._clock = now

    def finish(self) -> None:
        """Announce that the run is complete."""
        if self._callback is not None:
            self._callback("Done", 1.0)


@contextmanager
def progress_display(console: Console) -> Iterator[ProgressCallback]:
    """A transient rich progress bar on ``console``; yields the callback to hand to a scenario."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("Starting", total=1.0)

    def update(description: str, fraction: float) -> None:
        # Start on the first report, so input errors raised before any work leave no trace.
        if not progress.live.is_started:
            progress.start()
        progress.update(task, description=description, completed=fraction)

    try:
        yield update
    finally:
        if progress.live.is_started:
            progress.stop()


# --- rendering ------------------------------------------------------------------------------------

_BAR_WIDTH = 40


_NUMBER = re.compile(r"^\s*[-+−~<≤>≥]?\s*[\d.,]+\s*(%|×|ms|µs|s|MB|GB)?\s*$")


def _numeric(cells: Sequence[str]) -> bool:
    """Whether a column holds numbers (then it is right-aligned)."""
    filled = [cell for cell in cells if cell.strip() and cell.strip() != "—"]
    return bool(filled) and all(_NUMBER.match(cell) for cell in filled)


def _render_block(block: Block) -> RenderableType:
    from rich import box
    from rich.bar import Bar
    from rich.console import Group
    from rich.table import Table as RichTable
    from rich.text import Text as RichText

    if isinstance(block, Text):
        return RichText.from_markup(block.text)
    if isinstance(block, KeyValues):
        body = RichTable(box=None, show_header=False)
        body.add_column(style="bold")
        body.add_column()
        for key, value in block.pairs:
            body.add_row(key, value)
    elif isinstance(block, Table):
        body = RichTable(box=box.SIMPLE_HEAD)
        for index, column in enumerate(block.columns):
            cells = [row[index] for row in block.rows]
            body.add_column(column, justify="right" if index and _numeric(cells) else "left")
        for row in block.rows:
            body.add_row(*row)
    else:
        body = RichTable(box=None, show_header=False)
        body.add_column(style="bold")
        body.add_column(width=_BAR_WIDTH)
        body.add_column(justify="right")
        top = max((size for _, size in block.bars), default=0.0) or 1.0
        for label, size in block.bars:
            bar = Bar(size=top, begin=0, end=size, width=_BAR_WIDTH, color="cyan")
            body.add_row(label, bar, block.value_format.format(size) + block.unit)
    # A title printed above the block never wraps to the width of a narrow table.
    return Group(RichText(block.title, style="bold"), body) if block.title else body


def render_report(report: DemoReport, console: Console, steps: Sequence[str] | None = None) -> None:
    """Print the report's sections (only ``steps`` if given) and its headline to ``console``."""
    from rich.padding import Padding

    wanted = set(STEP_IDS if steps is None else steps)
    console.print(f"[bold]{report.title}[/bold]  (seed {report.seed})")
    for section in report.sections:
        if section.step not in wanted:
            continue
        console.print()
        console.rule(f"[bold]{section.number}. {section.title}[/bold]", align="left")
        for block in section.blocks:
            console.print(Padding(_render_block(block), (0, 0, 1, 2)))
    head = report.headline
    console.print(
        f"[bold]Headline[/bold] {head.metric}: {head.model_name} {head.model:.4f} vs "
        f"{head.baseline_name} {head.baseline:.4f} ({'higher' if head.higher_is_better else 'lower'} is better)"
    )


def render_demo_list(demos: Sequence[tuple[str, str, bool]], console: Console) -> None:
    """Print the demos as (id, one-line summary, available) rows, one per line."""
    from rich.table import Table as RichTable

    table = RichTable(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for demo_id, summary, available in demos:
        table.add_row(demo_id, summary if available else f"{summary} [dim](not available yet)[/dim]")
    console.print(table)
    console.print("[dim]Run one with: mlsd demo PROMPT [--seed N] [--json] [--steps 1,5,6][/dim]")
