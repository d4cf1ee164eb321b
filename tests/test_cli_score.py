"""`mlsd score` as a user and a script run it: JSON contract, stdin, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mlsd_coach.cli import app

runner = CliRunner()
ANSWER = (
    "Before designing: what is the business goal - long-term engagement or clicks? How many daily active users "
    "and new articles per day, and what is the latency budget, p99 in ms?"
)


def _one_line_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0
    assert result.stderr.startswith("mlsd: error:") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.stderr


def test_score_json_contract_from_a_file(tmp_path: Path) -> None:
    answer = tmp_path / "a.txt"
    answer.write_text(ANSWER, encoding="utf-8")
    result = runner.invoke(
        app, ["score", "--prompt", "feed", "--step", "clarify", "--answer-file", str(answer), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"prompt", "step", "score", "covered", "missed", "red_flags", "feedback"} <= set(data)
    assert data["prompt"] == "feed" and data["step"] == "clarify"
    assert 0 <= data["score"] <= 100 and "scale" in data["covered"]


def test_score_reads_standard_input() -> None:
    result = runner.invoke(app, ["score", "-p", "feed", "-s", "clarify", "--json"], input=ANSWER)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["score"] > 20


def test_score_panel_shows_score_marks_hints_and_model_answer() -> None:
    result = runner.invoke(app, ["score", "-p", "feed", "-s", "clarify", "--show-model-answer"], input=ANSWER)
    assert result.exit_code == 0
    assert "/100" in result.stdout and "✔" in result.stdout and "✘" in result.stdout
    assert "Why the misses matter" in result.stdout and "Model answer" in result.stdout


def test_empty_answer_is_score_zero_and_exit_zero() -> None:
    result = runner.invoke(app, ["score", "-p", "fraud", "-s", "data", "--json"], input="   \n")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["score"] == 0 and "empty" in data["feedback"]


def test_unknown_prompt_and_step_list_the_valid_ids() -> None:
    _one_line_error(runner.invoke(app, ["score", "-p", "recsys", "-s", "clarify"], input="x"), "feed", "llm")
    _one_line_error(runner.invoke(app, ["score", "-p", "feed", "-s", "deploy"], input="x"), "clarify", "serving")


def test_bad_answer_files_get_one_line_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    _one_line_error(runner.invoke(app, ["score", "-p", "feed", "-s", "data", "-a", str(missing)]), "not found")
    _one_line_error(runner.invoke(app, ["score", "-p", "feed", "-s", "data", "-a", str(tmp_path)]), "folder")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9 latency".encode("latin-1"))
    _one_line_error(runner.invoke(app, ["score", "-p", "feed", "-s", "data", "-a", str(latin)]), "not UTF-8")


def test_stdin_that_is_not_utf8_is_an_error() -> None:
    result = runner.invoke(app, ["score", "-p", "feed", "-s", "data"], input=b"\xff\xfe bad")
    _one_line_error(result, "not UTF-8")
