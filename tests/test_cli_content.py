"""The content commands as a user runs them: --version, list, validate, cheatsheet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from mlsd_coach import __version__
from mlsd_coach.cli import app
from mlsd_coach.schema import SHIPPED_PROMPT_IDS, STEP_IDS

runner = CliRunner()


def test_version_and_help() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("list", "validate", "cheatsheet", "score"):
        assert command in result.output


def test_list_json_contract() -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert [p["id"] for p in data["prompts"]] == list(SHIPPED_PROMPT_IDS)
    for prompt in data["prompts"]:
        assert set(prompt) == {"id", "title", "steps"} and prompt["title"]
        assert [s["id"] for s in prompt["steps"]] == list(STEP_IDS)
        assert all(set(s) == {"id", "title", "criteria"} and 5 <= s["criteria"] <= 9 for s in prompt["steps"])


def test_list_table_names_every_prompt() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    for prompt_id in SHIPPED_PROMPT_IDS:
        assert prompt_id in result.output


def test_validate_shipped_content_passes() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "valid: 6 prompts, 42 step rubrics" in result.output


def test_validate_reports_file_line_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "prompts" / "oops.yaml"
    bad.parent.mkdir()
    bad.write_text("id: oops\ntitle: [unclosed\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{bad}:") and "YAML syntax error" in first
    assert "Traceback" not in result.output


def test_validate_a_good_folder_passes() -> None:
    from mlsd_coach.catalog import shipped_content_dir

    result = runner.invoke(app, ["validate", str(shipped_content_dir() / "rubrics")])
    assert result.exit_code == 0, result.output


def test_cheatsheet_text_markdown_html(tmp_path: Path) -> None:
    text = runner.invoke(app, ["cheatsheet"])
    assert text.exit_code == 0
    assert "CANDIDATE GENERATION" in text.output and "NDCG" in text.output
    for prompt_id in SHIPPED_PROMPT_IDS:
        assert f"[{prompt_id}]" in text.output

    md = runner.invoke(app, ["cheatsheet", "--format", "markdown"])
    assert md.exit_code == 0 and md.output.startswith("# ML system design cheat-sheet")
    assert "| Task | Offline | Online | Trap |" in md.output and "```text" in md.output

    out = tmp_path / "sheet.html"
    html = runner.invoke(app, ["cheatsheet", "--format", "html", "-o", str(out)])
    assert html.exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and "<script" not in page


def test_cheatsheet_for_one_prompt_lists_what_interviewers_listen_for() -> None:
    result = runner.invoke(app, ["cheatsheet", "--prompt", "fraud", "--format", "markdown"])
    assert result.exit_code == 0
    assert "What the interviewer listens for" in result.output
    assert "[feed]" not in result.output


def test_cheatsheet_bad_input_is_one_line() -> None:
    for args in (["cheatsheet", "--prompt", "nope"], ["cheatsheet", "--format", "pdf"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("mlsd: error:")


def test_content_commands_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from mlsd_coach.cli import app\n"
        "r = CliRunner()\n"
        "assert r.invoke(app, ['--help']).exit_code == 0\n"
        "assert r.invoke(app, ['cheatsheet']).exit_code == 0\n"
        "assert r.invoke(app, ['list', '--json']).exit_code == 0\n"
        "heavy = [m for m in ('numpy', 'sklearn', 'faiss', 'questionary') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_python_dash_m_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "mlsd_coach", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout
