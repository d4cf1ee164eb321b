"""The scenario-independent report model, its renderer, progress, options and the demo registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from mlsd_coach import demo
from mlsd_coach.demo.options import STEP_IDS, DemoError, DemoOptions, parse_steps
from mlsd_coach.demo.report import (
    BarChart,
    DemoReport,
    Headline,
    KeyValues,
    Section,
    Stages,
    Table,
    Text,
    render_report,
)


def _report() -> DemoReport:
    return DemoReport(
        scenario="toy",
        title="toy demo",
        seed=3,
        sections=(
            Section("clarify", (Text("scale: [bold]small[/bold]"),)),
            Section("model", (KeyValues((("trees", "40"),), title="Ranker"), Table(("a", "b"), (("x", "1.5"),)))),
            Section("serving", (BarChart((("p50", 1.0), ("p99", 4.0)), title="Latency", unit=" ms"),)),
        ),
        headline=Headline("ndcg@20", np.float64(0.25), 0.1, True, "model", "baseline"),
        metrics={"ndcg@20": {"model": np.float32(0.25), "baseline": 0.1}, "flags": [np.bool_(True)]},
        latency_ms={"total": {"p50": 1.0, "p99": 4.1234567}},
    )


def test_json_form_is_plain_python_with_the_headline_contract() -> None:
    payload = json.loads(json.dumps(_report().to_dict()))
    assert payload["headline"] == {
        "metric": "ndcg@20",
        "model": 0.25,
        "baseline": 0.1,
        "higher_is_better": True,
        "model_name": "model",
        "baseline_name": "baseline",
    }
    assert payload["latency_ms"]["total"]["p99"] == 4.123457
    assert payload["metrics"]["flags"] == [True]


def test_rendering_prints_only_the_selected_steps_in_framework_order() -> None:
    console = Console(record=True, width=100)
    render_report(_report(), console, steps=("serving", "clarify"))
    text = console.export_text()
    assert text.index("1. Clarify requirements") < text.index("7. Serve, scale & maintain")
    assert "5. Model" not in text
    assert "small" in text and "[bold]" not in text
    assert "4.0 ms" in text.replace("4.000 ms", "4.0 ms")
    assert "Headline ndcg@20" in text


def test_report_parts_refuse_inconsistent_content() -> None:
    with pytest.raises(ValueError, match="unknown step"):
        Section("deploy", ())
    with pytest.raises(ValueError, match="framework order"):
        DemoReport("t", "t", 0, (Section("model", ()), Section("clarify", ())), _report().headline, {})
    with pytest.raises(ValueError, match="cells"):
        Table(("a", "b"), (("only one",),))
    with pytest.raises(ValueError, match="non-negative"):
        BarChart((("x", -1.0),))
    assert Section("data", ()).title == "Data & labels"


def test_stages_report_cumulative_progress() -> None:
    seen: list[tuple[str, float]] = []
    stages = Stages(lambda name, done: seen.append((name, done)), [("load", 1), ("train", 3)])
    stages.start("load")
    stages.start("train")
    stages.finish()
    assert seen == [("load", 0.0), ("train", 0.25), ("Done", 1.0)]
    with pytest.raises(KeyError):
        stages.start("deploy")
    with pytest.raises(ValueError):
        Stages(None, [("x", 0)])


def test_steps_option_accepts_numbers_and_ids_and_refuses_the_rest() -> None:
    assert parse_steps("1,5,6") == ("clarify", "model", "evaluation")
    assert parse_steps("serving, 1") == ("clarify", "serving")
    assert parse_steps(None) == STEP_IDS
    for bad in ("0,9", "8", "deploy", "1,,2"):
        with pytest.raises(DemoError, match="not a step"):
            parse_steps(bad)


def test_options_validation() -> None:
    DemoOptions(seed=0, users=10, items=10).validate()
    for options in (DemoOptions(seed=-1), DemoOptions(users=0), DemoOptions(items=-5)):
        with pytest.raises(DemoError):
            options.validate()
    assert DemoOptions(items=5).requested() == frozenset({"items"})


def test_registry_lists_the_six_prompts_and_refuses_unknown_or_unbuilt_demos(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [s.id for s in demo.SCENARIOS] == ["feed", "search", "fraud", "ctr", "moderation", "llm"]
    assert all(s.summary for s in demo.SCENARIOS)
    with pytest.raises(DemoError, match="unknown demo"):
        demo.run_demo("recsys", DemoOptions())
    monkeypatch.setattr(
        demo, "SCENARIOS", (demo.ScenarioInfo("feed", "x", "mlsd_coach.demo.feed"), demo.ScenarioInfo("later", "y"))
    )
    with pytest.raises(DemoError, match="not available yet"):
        demo.run_demo("later", DemoOptions())
    # Options a scenario does not declare are refused before anything runs.
    monkeypatch.setattr(demo, "SCENARIOS", (demo.ScenarioInfo("feed", "x", "mlsd_coach.demo.feed"),))
    with pytest.raises(DemoError, match="does not support --items"):
        demo.run_demo("feed", DemoOptions(items=5000))
