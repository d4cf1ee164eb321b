"""Executable miniature ML systems that walk the seven framework steps on synthetic data.

The registry below maps each prompt id to a one-line summary and the module that runs it. A
scenario module exposes ``run(options: DemoOptions, progress: ProgressCallback | None) -> DemoReport``
and is imported only when its demo runs, so listing demos never loads numpy, scikit-learn or faiss.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlsd_coach.demo.options import STEP_IDS, DemoError, DemoOptions, parse_steps

if TYPE_CHECKING:
    from mlsd_coach.demo.report import DemoReport, ProgressCallback

__all__ = [
    "SCENARIOS",
    "STEP_IDS",
    "DemoError",
    "DemoOptions",
    "ScenarioInfo",
    "get_scenario",
    "parse_steps",
    "run_demo",
    "write_artifacts",
]


@dataclass(frozen=True)
class ScenarioInfo:
    """One demo in the registry."""

    id: str
    """Prompt id, as typed after ``mlsd demo``."""
    summary: str
    """One line shown by ``mlsd demo`` without a prompt."""
    module: str | None = None
    """Dotted path of the module whose ``run(options, progress)`` builds the report; None = not built yet."""
    options: frozenset[str] = frozenset()
    """Optional options it accepts besides --seed/--json/--steps: any of "users", "items", "export"."""

    @property
    def available(self) -> bool:
        """Whether the demo can run yet."""
        return self.module is not None


SCENARIOS: tuple[ScenarioInfo, ...] = (
    ScenarioInfo(
        "feed",
        "news feed: ANN candidates → gradient-boosted ranker, NDCG@20 vs popularity and an oracle",
        "mlsd_coach.demo.feed",
        frozenset({"users", "items", "export"}),
    ),
    ScenarioInfo(
        "search",
        "search: BM25 + dense retrieval fused by RRF, re-ranked on swap-debiased clicks, NDCG@10 vs lexical",
        "mlsd_coach.demo.search",
        frozenset({"items"}),
    ),
    ScenarioInfo(
        "fraud",
        "fraud: 0.5% positives, label delay, velocity features, cost-based threshold",
        "mlsd_coach.demo.fraud",
        frozenset({"users", "items"}),
    ),
    ScenarioInfo(
        "ctr",
        "ad CTR: hashed ids, LR vs GBDT, log loss and calibration, a bid × pCTR auction",
        "mlsd_coach.demo.ctr",
        frozenset({"users", "items"}),
    ),
    ScenarioInfo(
        "moderation",
        "moderation: multi-label text classifier, two thresholds, a capacity-sized review queue, drift",
        "mlsd_coach.demo.moderation",
        frozenset({"items"}),
    ),
    ScenarioInfo(
        "llm",
        "LLM feature: RAG retrieval recall, groundedness, cost and latency by context size",
        "mlsd_coach.demo.llm",
        frozenset({"items"}),
    ),
)
"""Every prompt's demo, in the order ``mlsd demo`` lists them."""


def get_scenario(prompt: str) -> ScenarioInfo:
    """The registry entry for a prompt id, or DemoError naming the valid ids."""
    for scenario in SCENARIOS:
        if scenario.id == prompt:
            return scenario
    raise DemoError(f"unknown demo {prompt!r}; choose one of: {', '.join(s.id for s in SCENARIOS)}")


def write_artifacts(report: DemoReport, folder: Path) -> list[Path]:
    """Write a report's exported files into ``folder`` (created if needed); returns their paths."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, content in report.artifacts.items():
            path = folder / name
            path.write_text(content, encoding="utf-8")
            paths.append(path)
    except OSError as error:
        raise DemoError(f"--export {folder}: {error.strerror or error}") from error
    return paths


def run_demo(prompt: str, options: DemoOptions, progress: ProgressCallback | None = None) -> DemoReport:
    """Validate the request, run one demo and write its exports if asked; DemoError on bad input."""
    scenario = get_scenario(prompt)
    if not scenario.available:
        ready = ", ".join(s.id for s in SCENARIOS if s.available)
        raise DemoError(f"the {prompt!r} demo is not available yet (available: {ready})")
    options.validate()
    unsupported = sorted(options.requested() - scenario.options)
    if unsupported:
        flags = ", ".join(f"--{name}" for name in unsupported)
        raise DemoError(f"the {prompt!r} demo does not support {flags}")
    if options.export_dir is not None:
        # Fail before a long run, not after it, when the folder cannot be created.
        try:
            options.export_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DemoError(f"--export {options.export_dir}: {error.strerror or error}") from error
    assert scenario.module is not None
    runner: Callable[[DemoOptions, ProgressCallback | None], DemoReport] = importlib.import_module(scenario.module).run
    report = runner(options, progress)
    if options.export_dir is not None:
        write_artifacts(report, options.export_dir)
    return report
