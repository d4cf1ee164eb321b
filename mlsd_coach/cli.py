"""The ``mlsd`` command line: parse options, call the library, render. Nothing else lives here.

Heavy libraries (numpy, scikit-learn, faiss) are imported inside the commands that need them, so
``mlsd --help`` and the content commands stay instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional

import typer

from mlsd_coach import __version__

if TYPE_CHECKING:
    from rich.console import Console

    from mlsd_coach.catalog import Catalog

EXIT_PROBLEMS = 1
EXIT_USAGE = 2

app = typer.Typer(
    name="mlsd",
    help="mlsd-coach: practise the ML system design interview in your terminal.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"mlsd-coach {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
    ] = False,
    content: Annotated[
        Optional[list[Path]],  # noqa: UP045 - typer reads the annotation at runtime on Python 3.10 too
        typer.Option(
            "--content",
            metavar="DIR",
            help="Extra content folder (with prompts/ and rubrics/) that adds or overrides prompts. "
            "Repeatable; also read from $MLSD_CONTENT.",
        ),
    ] = None,
) -> None:
    """mlsd-coach: practise the ML system design interview in your terminal."""
    ctx.obj = {"content": list(content or [])}


# ------------------------------------------------------------------------------------------- helpers


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print a one-line error on stderr and exit non-zero."""
    typer.echo(f"mlsd: error: {message}", err=True)
    raise typer.Exit(code)


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _content_dirs(ctx: typer.Context) -> list[Path]:
    root = ctx.find_root()
    return list((root.obj or {}).get("content", []))


def _catalog(ctx: typer.Context, *, rubrics: bool = True) -> Catalog:
    """Load the content or exit with a one-line error naming the first broken file and line."""
    from mlsd_coach.catalog import ContentError, load_catalog

    try:
        return load_catalog(_content_dirs(ctx), rubrics=rubrics)
    except ContentError as exc:
        fail(f"content is invalid: {exc}", EXIT_PROBLEMS)


# ------------------------------------------------------------------------------------ content commands


@app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """List the prompts and the seven steps of each, with the number of rubric criteria."""
    listing = _catalog(ctx).summary()
    if as_json:
        typer.echo(json.dumps(listing, indent=2, ensure_ascii=False))
        return
    from mlsd_coach.render import print_listing

    print_listing(listing, _console())


@app.command()
def validate(
    ctx: typer.Context,
    paths: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Argument(metavar="[PATH]...", help="Files or folders; default: all content.", show_default=False),
    ] = None,
) -> None:
    """Check content files; print one FILE:LINE: message per problem and exit non-zero if any."""
    from mlsd_coach.catalog import validate_paths

    problems = validate_paths(paths or [], _content_dirs(ctx))
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        files = len({p.file for p in problems})
        typer.echo(f"{len(problems)} problem(s) in {files} file(s)", err=True)
        raise typer.Exit(EXIT_PROBLEMS)
    if paths:
        typer.echo(f"valid: {len(paths)} path(s) checked")
    else:
        catalog = _catalog(ctx)
        steps = sum(len(r.steps) for r in catalog.rubrics.values())
        criteria = sum(len(s.criteria) for r in catalog.rubrics.values() for s in r.steps.values())
        typer.echo(f"valid: {len(catalog.prompts)} prompts, {steps} step rubrics, {criteria} criteria")


@app.command()
def cheatsheet(
    ctx: typer.Context,
    prompt: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--prompt", "-p", help="Only this prompt's sheet, in full detail."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text (terminal), markdown or html.")] = "text",
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", metavar="FILE", help="Write to FILE instead of the terminal."),
    ] = None,
) -> None:
    """The framework, the two-stage pattern, the metric table and a one-screen sketch per prompt."""
    from mlsd_coach.catalog import UnknownIdError
    from mlsd_coach.cheatsheet import CHEATSHEET_TITLE, build_cheatsheet
    from mlsd_coach.document import print_rich, to_html, to_markdown

    formats = ("text", "markdown", "md", "html")
    if fmt not in formats:
        fail(f"unknown format {fmt!r}; choose one of: text, markdown, html")
    catalog = _catalog(ctx, rubrics=prompt is not None)
    try:
        blocks = build_cheatsheet(catalog, prompt)
    except UnknownIdError as exc:
        fail(str(exc))
    if fmt in ("markdown", "md"):
        rendered = to_markdown(blocks)
    elif fmt == "html":
        rendered = to_html(blocks, CHEATSHEET_TITLE)
    else:
        if output is None:
            print_rich(blocks, _console())
            return
        import io

        from rich.console import Console

        recorder = Console(record=True, width=110, file=io.StringIO())
        print_rich(blocks, recorder)
        rendered = recorder.export_text()
    if output is None:
        sys.stdout.write(rendered)
        return
    try:
        output.write_text(rendered, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    typer.echo(f"wrote {output}", err=True)


# ------------------------------------------------------------------------------------------- scoring


def read_answer_file(path: Path) -> str:
    """Read an answer as UTF-8 text, or exit with a one-line error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        fail(f"answer file not found: {path}")
    except IsADirectoryError:
        fail(f"answer file is a folder, not a file: {path}")
    except OSError as exc:
        fail(f"cannot read answer file {path}: {exc.strerror or exc}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"answer file {path} is not UTF-8 text (bad byte at offset {exc.start})")


def _read_stdin() -> str:
    if sys.stdin is None:
        fail("no answer given: pass --answer-file FILE or pipe the answer on standard input")
    if sys.stdin.isatty():
        typer.echo("Type or paste your answer; finish with Ctrl-D on a new line.", err=True)
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"standard input is not UTF-8 text (bad byte at offset {exc.start})")


@app.command()
def score(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="Prompt id, e.g. feed.", show_default=False)],
    step: Annotated[str, typer.Option("--step", "-s", help="Step id, e.g. clarify.", show_default=False)],
    answer_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--answer-file", "-a", metavar="FILE", help="Read the answer from FILE (default: stdin)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    show_model_answer: Annotated[
        bool, typer.Option("--show-model-answer", help="Also show the step's model answer.")
    ] = False,
) -> None:
    """Score an answer for one step of one prompt against its rubric."""
    from mlsd_coach.catalog import UnknownIdError

    catalog = _catalog(ctx)
    try:
        step_rubric = catalog.step_rubric(prompt, step)
    except UnknownIdError as exc:
        fail(str(exc))
    text = read_answer_file(answer_file) if answer_file is not None else _read_stdin()

    from mlsd_coach.scoring import Scorer

    result = Scorer(catalog).score(prompt, step, text)
    if as_json:
        payload = result.to_dict()
        if show_model_answer:
            payload["model_answer"] = step_rubric.model_answer
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    from mlsd_coach.render import print_score

    print_score(
        result,
        _console(),
        prompt_title=catalog.prompt(prompt).title,
        step_title=catalog.framework.step(step).title,
        model_answer=step_rubric.model_answer if show_model_answer else None,
    )


def main() -> None:
    """Entry point of the ``mlsd`` console script."""
    app()
