"""interview, drill, history and stats as a user runs them: replay contracts, the interactive flow through the
stubbed terminal (Ctrl-C then --resume), non-TTY refusals, and the history and stats views."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlsd_coach import cli, interactive
from mlsd_coach.schema import STEP_IDS
from mlsd_coach.store import Store

runner = CliRunner()

CLARIFY = (
    "What is the business metric - long-term engagement or clicks? How many daily active users are there? "
    "What is the latency budget in milliseconds?"
)
FOLLOW_UP = "How many new articles per day, and what is the peak of requests per second?"
FRAME = "I would predict the probability of a meaningful read for a user and an article, and rank by it."


@pytest.fixture(autouse=True)
def _warm_scorer(monkeypatch: pytest.MonkeyPatch, scorer) -> None:  # type: ignore[no-untyped-def]
    """Commands use the session-wide warm scorer instead of fitting their own (keeps the tests fast)."""
    monkeypatch.setattr(cli, "_session_scorer", lambda catalog: scorer)


class ScriptedTerminal:
    """The stand-in for the keyboard: answers are taken from a script; an exception in it is raised."""

    def __init__(self, script: Sequence[str | BaseException], choice: str = "feed") -> None:
        self.script = list(script)
        self.choice = choice
        self.asked: list[str] = []
        self.defaults: list[str] = []

    def read_answer(self, message: str, *, default: str = "", toolbar: Callable[[], str] | None = None) -> str:
        self.asked.append(message)
        self.defaults.append(default)
        if toolbar is not None:
            assert toolbar().startswith("⏱ ")
        if not self.script:
            raise AssertionError(f"the session asked for more input than scripted: {message}")
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def select(self, message: str, choices: Sequence[tuple[str, str]]) -> str:
        assert self.choice in [value for value, _ in choices]
        return self.choice

    def edit(self, text: str) -> str | None:
        return text + "\nEdited in the editor: what is the latency budget?"


def use_terminal(monkeypatch: pytest.MonkeyPatch, terminal: ScriptedTerminal) -> ScriptedTerminal:
    monkeypatch.setattr(interactive, "open_terminal", lambda: terminal)
    return terminal


def history() -> list[dict]:  # type: ignore[type-arg]
    result = runner.invoke(cli.app, ["history", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def flat(text: str) -> str:
    """Output with rich's line wrapping undone, for phrase checks."""
    return " ".join(text.split())


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# ------------------------------------------------------------------------------------ --answers


def test_answers_json_contract_and_the_replay_is_saved(tmp_path: Path, catalog) -> None:  # type: ignore[no-untyped-def]
    model = catalog.step_rubric("feed", "clarify").model_answer
    answers = write(tmp_path, "a.yaml", json.dumps({"clarify": model, "model": "Two stages: retrieval then a ranker."}))
    result = runner.invoke(cli.app, ["interview", "feed", "--answers", str(answers), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"prompt", "overall", "steps"} and data["prompt"] == "feed"
    assert [s["step"] for s in data["steps"]] == list(STEP_IDS)
    assert all(set(s) == {"step", "score", "covered", "missed"} for s in data["steps"])
    assert data["steps"][0]["score"] > 80 and data["steps"][1]["score"] == 0
    assert 0 <= data["overall"] <= 100
    assert data["overall"] == pytest.approx(round(sum(s["score"] for s in data["steps"]) / 7, 1))
    assert "counted as skipped" in result.stderr and "frame" in result.stderr
    sessions = history()
    assert len(sessions) == 1 and sessions[0]["status"] == "completed" and sessions[0]["kind"] == "interview"
    assert sessions[0]["overall"] == data["overall"]


def test_answers_scorecard_view_and_no_save(tmp_path: Path) -> None:
    answers = write(tmp_path, "a.yaml", f"clarify: |\n  {CLARIFY}\nframe: {FRAME}\n")
    result = runner.invoke(cli.app, ["interview", "feed", "--answers", str(answers), "--no-save"])
    assert result.exit_code == 0, result.output
    for expected in ("Scorecard", "Overall", "Bands:", "no hire", "strong hire", "Strengths", "Practise next"):
        assert expected in flat(result.stdout)
    assert re.search(r"\b\d{1,3}/100\b", result.stdout)
    assert "skipped" in result.stdout and "Saved to history" not in result.stdout
    assert history() == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("clarify: ok\nmodle: typo\n", "a.yaml:2: unknown step id 'modle'"),
        ("clarify: [unclosed\n", "a.yaml:1: YAML syntax error"),
        ("frame: 3.5\n", "a.yaml:1: the answer for 'frame' must be text"),
        (b"clarify: caf\xe9\n", "is not UTF-8 text"),
    ],
)
def test_answers_file_problems_are_one_line_errors(tmp_path: Path, content: str | bytes, expected: str) -> None:
    answers = write(tmp_path, "a.yaml", content)
    result = runner.invoke(cli.app, ["interview", "feed", "--answers", str(answers)])
    assert result.exit_code == 2
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_answers_bad_usage_is_refused(tmp_path: Path) -> None:
    missing = runner.invoke(cli.app, ["interview", "feed", "--answers", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "not found" in missing.stderr
    no_prompt = runner.invoke(cli.app, ["interview", "--answers", str(tmp_path / "a.yaml")])
    assert no_prompt.exit_code == 2 and "needs a PROMPT" in no_prompt.stderr
    unknown = runner.invoke(cli.app, ["interview", "nosuch", "--answers", str(tmp_path / "a.yaml")])
    assert unknown.exit_code == 2 and "unknown prompt 'nosuch'" in unknown.stderr
    json_alone = runner.invoke(cli.app, ["interview", "feed", "--json"])
    assert json_alone.exit_code == 2 and "--answers" in json_alone.stderr


# ------------------------------------------------------------------------------------ no terminal


@pytest.mark.parametrize(
    ("args", "hint"),
    [(["interview", "feed"], "--answers"), (["interview", "--resume"], "--answers"), (["drill"], "--answer-file")],
)
def test_interactive_commands_refuse_to_hang_without_a_terminal(args: list[str], hint: str) -> None:
    result = runner.invoke(cli.app, args, input="")
    assert result.exit_code == 2
    assert "standard input is not a terminal" in result.stderr and hint in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------ interactive flow


def test_ctrl_c_after_step_one_then_resume_continues_at_step_two(monkeypatch: pytest.MonkeyPatch, catalog) -> None:  # type: ignore[no-untyped-def]
    first = use_terminal(monkeypatch, ScriptedTerminal([CLARIFY, FOLLOW_UP, KeyboardInterrupt()]))
    result = runner.invoke(cli.app, ["interview", "feed"])
    assert result.exit_code == 130, result.output
    out = flat(result.stdout)
    assert "Step 1/7 · Clarify requirements" in out and "Esc then Enter" in out
    assert re.search(r"\b\d{1,3}/100\b", out)
    scale = next(f for f in catalog.prompt("feed").facts if f.id == "scale")
    assert "Interviewer answers" in out and flat(scale.answer)[:40] in out  # asking "how many users" revealed it
    assert "Follow-up" in out and "Follow-up folded in" in out
    assert "You could have asked" in out
    assert "Step 2/7 · Frame it as an ML problem" in out
    assert "Session saved — resume with `mlsd interview --resume`" in out
    assert first.asked == ["Your answer", "Your answer to the follow-up", "Your answer"]

    [saved] = history()
    assert saved["status"] == "in_progress"
    assert saved["steps"][0]["score"] is not None and saved["steps"][1]["score"] is None

    second = use_terminal(monkeypatch, ScriptedTerminal([FRAME, "", *(["/skip"] * 5)]))
    result = runner.invoke(cli.app, ["interview", "--resume"])
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "Resuming session #1" in out and "1 of 7 steps answered" in out
    assert "Step 1/7" not in out and "Step 2/7 · Frame it as an ML problem" in out
    assert "Scorecard" in out and "Overall" in out
    assert second.script == []

    [done] = history()
    assert done["id"] == saved["id"] and done["status"] == "completed"
    assert done["steps"][0]["score"] == saved["steps"][0]["score"]
    assert [s["skipped"] for s in done["steps"]] == [False, False, True, True, True, True, True]

    nothing = runner.invoke(cli.app, ["interview", "--resume"])
    assert nothing.exit_code == 1 and "nothing to resume" in nothing.stderr


def test_ctrl_c_while_restoring_leaves_the_session_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    use_terminal(monkeypatch, ScriptedTerminal([CLARIFY, FOLLOW_UP, KeyboardInterrupt()]))
    assert runner.invoke(cli.app, ["interview", "feed"]).exit_code == 130
    [before] = history()

    from mlsd_coach.session import Session

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Session, "restore", interrupted)
    use_terminal(monkeypatch, ScriptedTerminal([]))
    result = runner.invoke(cli.app, ["interview", "--resume"])
    assert result.exit_code == 130
    assert "Cancelled: the session is unchanged" in result.stderr and "Aborted" not in result.output
    assert history() == [before]


def test_ctrl_c_before_any_answer_saves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_terminal(monkeypatch, ScriptedTerminal([KeyboardInterrupt()]))
    result = runner.invoke(cli.app, ["interview", "feed"])
    assert result.exit_code == 130 and "nothing to save" in result.stdout
    assert history() == []


def test_hint_edit_skip_and_empty_answers_in_the_box(monkeypatch: pytest.MonkeyPatch) -> None:
    script = [
        "",  # an empty box is not scored
        "/HINT",
        "How many users?\n/edit",
        "/hnit",
        "/skip",
        KeyboardInterrupt(),
    ]
    terminal = use_terminal(monkeypatch, ScriptedTerminal(script))
    result = runner.invoke(cli.app, ["interview", "feed"])
    out = flat(result.stdout)
    assert result.exit_code == 130
    assert "The answer box was empty" in out
    assert "Hint 1/" in out
    assert terminal.defaults[3] == "How many users?\nEdited in the editor: what is the latency budget?"
    assert "Unknown command /hnit" in out
    assert "Skipped clarify requirements: it counts 0/100" in out
    [saved] = history()
    assert saved["steps"][0]["skipped"] and saved["status"] == "in_progress"


def test_prompt_is_picked_from_a_list_without_an_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    use_terminal(monkeypatch, ScriptedTerminal([KeyboardInterrupt()], choice="fraud"))
    result = runner.invoke(cli.app, ["interview"])
    assert result.exit_code == 130
    assert "Mock interview" in result.stdout and "(fraud)" in result.stdout


def test_ctrl_c_during_the_last_follow_up_completes_the_drill(monkeypatch: pytest.MonkeyPatch) -> None:
    use_terminal(monkeypatch, ScriptedTerminal([CLARIFY, KeyboardInterrupt()]))
    result = runner.invoke(cli.app, ["drill", "clarify", "--prompt", "feed"])
    assert result.exit_code == 130
    assert "saved as completed" in flat(result.stdout)
    [saved] = history()
    assert saved["kind"] == "drill" and saved["status"] == "completed"


def test_interactive_drill_shows_why_feedback_and_model_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    use_terminal(monkeypatch, ScriptedTerminal([CLARIFY, FOLLOW_UP]))
    result = runner.invoke(cli.app, ["drill", "--seed", "3"])
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "Drilling" in out and "no practice history yet" in out
    assert "Model answer" in out and "Drill done" in out and "next review" in out


# ------------------------------------------------------------------------------------------ drill


def test_drill_answer_file_scores_saves_and_then_schedules(tmp_path: Path) -> None:
    answer = write(tmp_path, "ans.txt", CLARIFY)
    first = runner.invoke(cli.app, ["drill", "--answer-file", str(answer), "--json", "--seed", "5"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["step"] == "clarify" and "no practice history yet" in data["why"] and data["session"] == 1
    assert {"score", "covered", "missed", "criteria"} <= set(data)

    shown = runner.invoke(cli.app, ["drill", "model", "--prompt", "fraud", "--answer-file", str(answer)])
    assert shown.exit_code == 0, shown.output
    assert "Drilling fraud · model: your choice" in flat(shown.stdout)
    assert "Model answer" in shown.stdout and "Saved to history as drill #2" in flat(shown.stdout)

    sessions = history()
    assert [s["kind"] for s in sessions] == ["drill", "drill"] and sessions[0]["steps"][0]["step"] == "model"


def test_drill_rejects_bad_arguments(tmp_path: Path) -> None:
    bad_step = runner.invoke(cli.app, ["drill", "modle"])
    assert bad_step.exit_code == 2 and "unknown step 'modle'" in bad_step.stderr
    empty = write(tmp_path, "empty.txt", "  \n")
    blank = runner.invoke(cli.app, ["drill", "--answer-file", str(empty)])
    assert blank.exit_code == 2 and "is empty" in blank.stderr
    json_alone = runner.invoke(cli.app, ["drill", "--json"])
    assert json_alone.exit_code == 2 and "--answer-file" in json_alone.stderr


# -------------------------------------------------------------------------------- history, stats


def _seed_history(tmp_path: Path) -> None:
    answers = write(tmp_path, "a.yaml", f"clarify: |\n  {CLARIFY}\nframe: {FRAME}\n")
    assert runner.invoke(cli.app, ["interview", "feed", "--answers", str(answers)]).exit_code == 0
    with Store.open() as store:
        sid = store.create_session("interview", "fraud", STEP_IDS, 45)
        store.add_answer(sid, step="clarify", kind="main", text="How many?", elapsed_s=30, score=20.0)


def test_history_json_contract_newest_first(tmp_path: Path) -> None:
    _seed_history(tmp_path)
    sessions = history()
    assert [s["prompt"] for s in sessions] == ["fraud", "feed"]
    for session in sessions:
        assert set(session) == {"id", "prompt", "kind", "status", "started_at", "overall", "steps"}
        assert session["kind"] in ("interview", "drill") and session["status"] in ("in_progress", "completed")
        assert [s["step"] for s in session["steps"]] == list(STEP_IDS)
    assert sessions[0]["status"] == "in_progress" and sessions[0]["overall"] is None
    assert sessions[1]["status"] == "completed" and 0 <= sessions[1]["overall"] <= 100


def test_history_table_and_export(tmp_path: Path) -> None:
    _seed_history(tmp_path)
    table = runner.invoke(cli.app, ["history"])
    assert table.exit_code == 0
    assert "Practice history" in table.stdout and "unfinished 1/7" in flat(table.stdout)
    assert "mlsd interview --resume" in flat(table.stdout)
    target = tmp_path / "all.json"
    exported = runner.invoke(cli.app, ["history", "--export", str(target)])
    assert exported.exit_code == 0 and "wrote 2 session(s)" in exported.stderr
    data = json.loads(target.read_text(encoding="utf-8"))
    texts = [a["text"] for s in data["sessions"] for a in s["answers"]]
    assert "How many?" in texts and any("business metric" in t for t in texts)


def test_history_and_stats_when_empty() -> None:
    assert runner.invoke(cli.app, ["history"]).stdout.startswith("No sessions yet")
    assert history() == []
    assert "No practice history yet" in runner.invoke(cli.app, ["stats"]).stdout


def test_stats_heat_map_and_trend(tmp_path: Path) -> None:
    _seed_history(tmp_path)
    result = runner.invoke(cli.app, ["stats"])
    assert result.exit_code == 0
    out = flat(result.stdout)
    assert "Best · latest score per prompt and step" in out and "Trend per step" in out
    for prompt in ("feed", "search", "fraud", "ctr", "moderation", "llm"):
        assert prompt in out
    assert "20·20" in out  # fraud clarify: best and latest


def test_corrupt_history_is_moved_aside_with_a_warning(_isolated_home: Path) -> None:
    (_isolated_home / "history.db").write_bytes(b"garbage" * 100)
    result = runner.invoke(cli.app, ["history", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert result.stderr.startswith("mlsd: warning:") and "moved it to history.db.corrupt-" in result.stderr
    assert list(_isolated_home.glob("history.db.corrupt-*"))


def test_history_and_stats_do_not_import_numpy_or_sklearn(tmp_path: Path, _isolated_home: Path) -> None:
    _seed_history(tmp_path)
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom mlsd_coach.cli import app\n"
        "r = CliRunner()\nassert r.invoke(app, ['history']).exit_code == 0\n"
        "assert r.invoke(app, ['history', '--json']).exit_code == 0\nassert r.invoke(app, ['stats']).exit_code == 0\n"
        "print(sorted(m for m in ('numpy', 'sklearn', 'scipy') if m in sys.modules))\n"
    )
    env = {"MLSD_HOME": str(_isolated_home), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "[]"
