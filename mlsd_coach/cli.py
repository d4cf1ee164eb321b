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
    from mlsd_coach.interactive import Terminal
    from mlsd_coach.scoring import Scorer
    from mlsd_coach.session import Session
    from mlsd_coach.store import Store

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


# ------------------------------------------------------------------------------ interview, drill, history

EXIT_INTERRUPTED = 130


def _store() -> Store:
    """Open the practice history, or exit with a one-line error; a corrupt file is moved aside with a warning."""
    from mlsd_coach.store import Store, StoreError

    try:
        return Store.open(warn=lambda message: typer.echo(message, err=True))
    except StoreError as exc:
        fail(str(exc), EXIT_PROBLEMS)


def _session_scorer(catalog: Catalog) -> Scorer:
    """The scorer behind interview and drill (imports scikit-learn lazily; tests swap in a warm one)."""
    from mlsd_coach.scoring import Scorer

    return Scorer(catalog)


def _terminal(command: str, instead: str) -> Terminal:
    """The interactive terminal, or a one-line error when standard input is not one (never hang)."""
    from mlsd_coach.interactive import NoTerminalError, open_terminal

    try:
        return open_terminal()
    except NoTerminalError:
        fail(f"`mlsd {command}` is interactive but standard input is not a terminal; {instead}")


def _check_prompt(catalog: Catalog, prompt_id: str) -> None:
    from mlsd_coach.catalog import UnknownIdError

    try:
        catalog.rubric(prompt_id)
    except UnknownIdError as exc:
        fail(str(exc))


@app.command()
def interview(
    ctx: typer.Context,
    prompt: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(
            metavar="[PROMPT]", help="Prompt id, e.g. feed; default: pick one from a list.", show_default=False
        ),
    ] = None,
    random_pick: Annotated[bool, typer.Option("--random", help="Pick the prompt at random.")] = False,
    minutes: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--minutes",
            min=1,
            max=600,
            metavar="N",
            help="Interview length; the pace per step scales with it [default: 45].",
        ),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the latest unfinished interview.")] = False,
    answers: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--answers",
            metavar="FILE.yaml",
            help="Replay answers without a terminal: a YAML mapping of step id to answer text.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --answers: print the scorecard as JSON.")] = False,
    no_save: Annotated[
        bool, typer.Option("--no-save", help="With --answers: do not save the replay to history.")
    ] = False,
) -> None:
    """A mock interview: seven steps, an interviewer who answers questions and probes misses, a scorecard."""
    if resume and (prompt or random_pick or answers is not None):
        fail("--resume continues the saved interview; it takes no PROMPT, --random or --answers")
    if prompt and random_pick:
        fail("give a PROMPT or --random, not both")
    if answers is None and (as_json or no_save):
        fail("--json and --no-save go with --answers FILE.yaml")
    catalog = _catalog(ctx)
    if prompt is not None:
        _check_prompt(catalog, prompt)
    if answers is not None:
        if prompt is None:
            fail("--answers needs a PROMPT, e.g. `mlsd interview feed --answers answers.yaml`")
        _replay_interview(catalog, prompt, answers, as_json=as_json, save=not no_save)
        return
    terminal = _terminal("interview", "pass --answers FILE.yaml to score answers from a file")

    import time

    from mlsd_coach.interactive import Tutor
    from mlsd_coach.session import DEFAULT_MINUTES, Event, Session

    console = _console()
    store = _store()
    if resume:
        record = store.latest_unfinished("interview")
        if record is None:
            fail(
                "nothing to resume: there is no unfinished interview in your history (start one with `mlsd interview`)",
                EXIT_PROBLEMS,
            )
        _check_prompt(catalog, record.prompt)
        scorer = _session_scorer(catalog)
        try:
            with console.status("Restoring your session…"):
                session = Session.restore(
                    catalog,
                    scorer,
                    record.prompt,
                    [Event(a.step, a.kind, a.text, a.elapsed_s) for a in record.answers],
                    clock=time.monotonic,
                    steps=record.steps,
                    minutes=minutes or record.minutes,
                    elapsed=record.elapsed_s,
                )
        except KeyboardInterrupt:
            typer.echo("\nCancelled: the session is unchanged; `mlsd interview --resume` continues it.", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        tutor = Tutor(session, terminal, console, store, session_id=record.id, resumed=True)
    else:
        pending = store.latest_unfinished("interview")
        if pending is not None:
            console.print(
                f"Interview #{pending.id} ({pending.prompt}, {len(pending.answered_steps)}/{len(pending.steps)} "
                "steps) is unfinished; `mlsd interview --resume` continues it. Starting a new one.",
                style="dim",
            )
        try:
            prompt_id = prompt or _choose_prompt(catalog, terminal, random_pick, console)
        except (KeyboardInterrupt, EOFError):
            typer.echo("\nCancelled: nothing started.", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        scorer = _session_scorer(catalog)
        session = Session(catalog, scorer, prompt_id, clock=time.monotonic, minutes=minutes or DEFAULT_MINUTES)
        tutor = Tutor(session, terminal, console, store, warm_up=scorer.warm_up)
    with store:
        code = tutor.run()
    if code:
        raise typer.Exit(code)


def _choose_prompt(catalog: Catalog, terminal: Terminal, random_pick: bool, console: Console) -> str:
    import random

    if random_pick:
        prompt_id = random.choice([p for p in catalog.prompt_ids if p in catalog.rubrics])
        console.print(f"Random prompt: {prompt_id} — {catalog.prompt(prompt_id).title}")
        return prompt_id
    choices = [(p, f"{p:<12} {catalog.prompt(p).title}") for p in catalog.prompt_ids if p in catalog.rubrics]
    return terminal.select("Which prompt?", choices)


def _replay_interview(catalog: Catalog, prompt_id: str, path: Path, *, as_json: bool, save: bool) -> None:
    from mlsd_coach.session import AnswersError, parse_answers, replay

    try:
        answers = parse_answers(read_answer_file(path), str(path))
    except AnswersError as exc:
        fail(str(exc))
    session, outcomes, skipped = replay(catalog, _session_scorer(catalog), prompt_id, answers)
    card = session.scorecard()
    note = f"not answered in {path}, counted as skipped (0/100): {', '.join(skipped)}" if skipped else ""
    saved = None
    if save:
        with _store() as store:
            saved = store.save_session(
                "interview",
                prompt_id,
                session.step_ids,
                session.minutes,
                [o.record() for o in outcomes],
                overall=card.overall,
                source="replay",
            )
    if as_json:
        typer.echo(json.dumps(card.to_json(), indent=2, ensure_ascii=False))
        if note:
            typer.echo(f"mlsd: note: {note}", err=True)
        if saved is not None:
            typer.echo(f"mlsd: saved to history as completed interview #{saved}", err=True)
        return
    from mlsd_coach.render import print_scorecard

    console = _console()
    if note:
        console.print(f"Steps {note}.", style="yellow")
    print_scorecard(console, card)
    if saved is not None:
        console.print(f"Saved to history as completed interview #{saved} (replay; --no-save skips this).", style="dim")


@app.command()
def drill(
    ctx: typer.Context,
    step: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(
            metavar="[STEP]", help="Step id, e.g. evaluation; default: chosen by spaced repetition.", show_default=False
        ),
    ] = None,
    prompt: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--prompt", "-p", help="Prompt id; default: your weakest (or due) prompt for the step."),
    ] = None,
    answer_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--answer-file", "-a", metavar="FILE", help="Score the answer in FILE without a terminal."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --answer-file: print the result as JSON.")] = False,
    minutes: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--minutes", min=1, max=120, metavar="N", help="Pace for the step [default: its share of 45]."),
    ] = None,
    seed: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--seed", help="Seed for the random pick when nothing is practised yet [default: today's date]."),
    ] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help="Do not save the drill to history.")] = False,
) -> None:
    """Drill one step of one prompt; with no arguments, spaced repetition picks what is weakest or due."""
    from mlsd_coach.catalog import UnknownIdError
    from mlsd_coach.schema import STEP_IDS

    if step is not None and step not in STEP_IDS:
        fail(str(UnknownIdError("step", step, STEP_IDS)))
    if as_json and answer_file is None:
        fail("--json goes with --answer-file FILE")
    catalog = _catalog(ctx)
    if prompt is not None:
        _check_prompt(catalog, prompt)
    text = read_answer_file(answer_file) if answer_file is not None else None
    if text is not None and not text.strip():
        fail(f"answer file {answer_file} is empty")
    terminal = _terminal("drill", "pass --answer-file FILE to score an answer from a file") if text is None else None

    import datetime as dt
    import time

    from mlsd_coach.schedule import pick
    from mlsd_coach.session import Session

    store = _store()
    now = dt.datetime.now(dt.timezone.utc)
    prompts = [prompt] if prompt else [p for p in catalog.prompt_ids if p in catalog.rubrics]
    steps = [step] if step else list(STEP_IDS)
    scope = {(True, True): "fixed", (True, False): "prompt-step", (False, True): "prompt"}.get(
        (prompt is not None, step is not None), "step"
    )
    chosen = pick(
        [(p, s) for p in prompts for s in steps],
        store.reviews(),
        now,
        seed=seed if seed is not None else dt.date.today().toordinal(),
        scope=scope,
    )
    scorer = _session_scorer(catalog)
    session = Session(
        catalog, scorer, chosen.prompt, clock=time.monotonic, kind="drill", steps=[chosen.step], minutes=minutes
    )
    if text is None:
        from mlsd_coach.interactive import Tutor
        from mlsd_coach.render import print_drill_pick

        console = _console()
        print_drill_pick(console, chosen.prompt, chosen.step, chosen.reason)
        assert terminal is not None
        with store:
            code = Tutor(session, terminal, console, None if no_save else store, warm_up=scorer.warm_up).run()
        if code:
            raise typer.Exit(code)
        return
    _drill_from_file(session, text, chosen.reason, store, as_json=as_json, save=not no_save)


def _drill_from_file(session: Session, text: str, reason: str, store: Store, *, as_json: bool, save: bool) -> None:
    import datetime as dt

    from mlsd_coach.schedule import item_state

    outcome = session.submit(text)
    probe = outcome.probe
    if probe is not None:
        session.skip_follow_up()
    result = outcome.result
    assert result is not None
    step = session.step_ids[0]
    saved = None
    with store:
        if save:
            saved = store.save_session(
                "drill",
                session.prompt.id,
                session.step_ids,
                session.minutes,
                [outcome.record()],
                overall=outcome.score,
                source="answer-file",
            )
        mine = [r for r in store.reviews() if (r.prompt, r.step) == (session.prompt.id, step)]
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "why": reason, "session": saved}, indent=2, ensure_ascii=False))
        return
    from mlsd_coach.render import print_drill_pick, print_drill_summary, print_probe, print_score

    console = _console()
    print_drill_pick(console, session.prompt.id, step, reason)
    print_score(
        result,
        console,
        prompt_title=session.prompt.title,
        step_title=session.guide(step).title,
        model_answer=session.rubric(step).model_answer,
    )
    if probe is not None:
        print_probe(console, probe.ask)
    print_drill_summary(
        console,
        session.prompt.id,
        step,
        outcome.score,
        item_state(mine) if mine else None,
        dt.datetime.now(dt.timezone.utc),
    )
    if saved is not None:
        console.print(f"Saved to history as drill #{saved}.", style="dim")


@app.command()
def history(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    export: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--export", metavar="FILE.json", help="Write the whole history, every answer included, to FILE."),
    ] = None,
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--limit",
            min=0,
            metavar="N",
            help="Show the N newest sessions; 0 = all [default: 20 in the table, all in JSON].",
        ),
    ] = None,
) -> None:
    """Past interviews and drills, newest first."""
    with _store() as store:
        if export is not None:
            data = store.export()
            try:
                export.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            except OSError as exc:
                fail(f"cannot write {export}: {exc.strerror or exc}")
            typer.echo(f"wrote {len(data['sessions'])} session(s) to {export}", err=True)
            return
        if as_json:
            records = store.sessions(limit or None)
            typer.echo(json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False))
            return
        shown = 20 if limit is None else limit or None
        records, total = store.sessions(shown), store.count_sessions()
    from mlsd_coach.render import print_history

    print_history(_console(), records, total)


@app.command()
def stats() -> None:
    """A heat-map of your best and latest score per prompt and step, and the trend of each step."""
    from mlsd_coach.render import print_stats
    from mlsd_coach.schedule import summarise
    from mlsd_coach.schema import SHIPPED_PROMPT_IDS, STEP_IDS

    with _store() as store:
        reviews = store.reviews()
    print_stats(_console(), summarise(reviews, SHIPPED_PROMPT_IDS, STEP_IDS))


# ---------------------------------------------------------------------------------------------- demo


@app.command()
def demo(
    prompt: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(metavar="[PROMPT]", help="Demo to run, e.g. feed; without one, list them.", show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed of every random choice.")] = 0,
    users: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--users",
            metavar="N",
            help="Population size: feed users (20,000), fraud cards, ctr users.",
            show_default=False,
        ),
    ] = None,
    items: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--items",
            metavar="N",
            help="Catalogue size: feed articles (100,000), search listings, fraud merchants, ctr ads, "
            "moderation posts per day, llm help articles.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print headline, metrics and latency as JSON.")] = False,
    export: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--export", metavar="DIR", help="Write the demo's files to DIR (feed: run.trec, qrels.trec)."),
    ] = None,
    steps: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--steps", metavar="1,5,6", help="Print only these steps (numbers 1-7 or step ids)."),
    ] = None,
) -> None:
    """Run a miniature ML system on synthetic data with known truth, one section per framework step."""
    from mlsd_coach.demo import SCENARIOS, DemoError, DemoOptions, parse_steps, run_demo
    from mlsd_coach.demo.report import progress_display, render_demo_list, render_report

    if prompt is None:
        if as_json:
            listing = [{"id": s.id, "summary": s.summary, "available": s.available} for s in SCENARIOS]
            typer.echo(json.dumps(listing, indent=2, ensure_ascii=False))
        else:
            render_demo_list([(s.id, s.summary, s.available) for s in SCENARIOS], _console())
        return
    try:
        selected = parse_steps(steps)
        options = DemoOptions(seed=seed, users=users, items=items, export_dir=export)
        with progress_display(_console(stderr=True)) as progress:
            report = run_demo(prompt, options, progress)
    except DemoError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    render_report(report, _console(), selected)


def main() -> None:
    """Entry point of the ``mlsd`` console script."""
    app()
