"""The interactive terminal layer: questionary for input, rich (through :mod:`mlsd_coach.render`) for output.

All keyboard input goes through one :class:`Terminal` object obtained from :func:`open_terminal` - the single
seam tests replace with a scripted stand-in. :class:`Tutor` drives a :class:`~mlsd_coach.session.Session`
step by step: it reads answers and commands, saves every submission the moment it is made, and on Ctrl-C
saves what there is and returns exit code 130.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlsd_coach import render
from mlsd_coach.session import Outcome, Phase, Session, parse_command
from mlsd_coach.store import StoreError

if TYPE_CHECKING:
    from rich.console import Console

    from mlsd_coach.store import Store

#: Exit code after Ctrl-C, as shells expect (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: What the answer box says about submitting and the commands.
#: It ends with a newline so that the answer starts on its own line and gets the terminal's full width.
INSTRUCTION = "(Esc then Enter to submit · /hint · /edit · /skip alone on a line)\n"
RESUME_HINT = "Session saved — resume with `mlsd interview --resume`"


class NoTerminalError(RuntimeError):
    """Standard input is not a terminal, so an interactive session would hang."""


class Terminal(Protocol):
    """Keyboard input for an interactive session."""

    def read_answer(self, message: str, *, default: str = "", toolbar: Callable[[], str] | None = None) -> str:
        """A multi-line answer (raises KeyboardInterrupt on Ctrl-C)."""
        ...

    def select(self, message: str, choices: Sequence[tuple[str, str]]) -> str:
        """One of ``choices`` (value, label); returns the value."""
        ...

    def edit(self, text: str) -> str | None:
        """Open ``$EDITOR`` on ``text`` and return the edited text, or None when no editor can be started."""
        ...


class QuestionaryTerminal:
    """The real terminal: questionary prompts, ``$VISUAL``/``$EDITOR`` for long answers."""

    def read_answer(self, message: str, *, default: str = "", toolbar: Callable[[], str] | None = None) -> str:
        """A multi-line answer box with a live timer in the bottom toolbar."""
        import questionary

        extra: dict[str, Any] = {}
        if toolbar is not None:
            extra = {"bottom_toolbar": toolbar, "refresh_interval": 1.0}
        answer = questionary.text(message, default=default, multiline=True, instruction=INSTRUCTION, **extra)
        # unsafe_ask lets Ctrl-C raise KeyboardInterrupt; ask() would swallow it and return None.
        result = answer.unsafe_ask()
        if result is None:
            raise KeyboardInterrupt
        return str(result)

    def select(self, message: str, choices: Sequence[tuple[str, str]]) -> str:
        """A list to pick from with the arrow keys."""
        import questionary

        options = [questionary.Choice(title=label, value=value) for value, label in choices]
        result = questionary.select(message, choices=options).unsafe_ask()
        if result is None:
            raise KeyboardInterrupt
        return str(result)

    def edit(self, text: str) -> str | None:
        """Edit ``text`` in ``$VISUAL`` / ``$EDITOR`` (default: vi, or notepad on Windows)."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or ("notepad" if os.name == "nt" else "vi")
        command = shlex.split(editor, posix=os.name != "nt")
        if not command or shutil.which(command[0]) is None:
            return None
        handle, name = tempfile.mkstemp(prefix="mlsd-answer-", suffix=".md")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as fh:
                fh.write(text)
            subprocess.run([*command, name], check=False)
            return Path(name).read_text(encoding="utf-8", errors="replace")
        finally:
            Path(name).unlink(missing_ok=True)


def open_terminal() -> Terminal:
    """The terminal for an interactive session; raises :class:`NoTerminalError` when stdin is not a TTY.

    This is the one seam tests replace.
    """
    if sys.stdin is None or not sys.stdin.isatty():
        raise NoTerminalError("standard input is not a terminal")
    return QuestionaryTerminal()


class Tutor:
    """Runs a session in the terminal: step panels, answer boxes, feedback, follow-ups, saving, the end."""

    def __init__(
        self,
        session: Session,
        terminal: Terminal,
        console: Console,
        store: Store | None,
        *,
        session_id: int | None = None,
        warm_up: Callable[[], None] | None = None,
        resumed: bool = False,
    ) -> None:
        self.session = session
        self.terminal = terminal
        self.console = console
        self.store = store
        self.session_id = session_id
        self.resumed = resumed
        self._warm_up = warm_up
        self._warm: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ run

    def run(self) -> int:
        """Run to the end (exit code 0) or to Ctrl-C (saved; exit code 130)."""
        try:
            if self._warm_up is not None:
                # Fitting the scorer takes a second; do it while the candidate reads the first question.
                self._warm = threading.Thread(target=self._warm_up, daemon=True)
                self._warm.start()
            self._intro()
            while not self.session.finished:
                self._step()
        except (KeyboardInterrupt, EOFError):
            return self._interrupted()
        self._finish()
        return 0

    def _intro(self) -> None:
        s = self.session
        render.print_session_intro(
            self.console,
            kind=s.kind,
            prompt_id=s.prompt.id,
            prompt_title=s.prompt.title,
            question=s.prompt.question,
            minutes=s.minutes,
            pace=[(step, s.guide(step).title, s.pace[step]) for step in s.step_ids],
            done=[(st.step, st.score or 0.0, st.skipped) for st in s.states if st.answered] if self.resumed else None,
            session_id=self.session_id,
        )

    def _ready(self) -> None:
        if self._warm is not None:
            self._warm.join()
            self._warm = None

    def _toolbar(self) -> str:
        return render.timer_line(self.session.timer())

    def _step(self) -> None:
        s = self.session
        state = s.current
        guide = s.guide(state.step)
        if s.phase is Phase.ANSWER:
            render.print_step_intro(
                self.console, guide, s.position, len(s.step_ids), s.timer(), clarify=state.step == "clarify"
            )
            text = self._read("Your answer", follow_up=False)
            self._ready()
            if text is None:
                outcome = s.skip()
                self._save(outcome)
                self.console.print(f"Skipped {guide.title.lower()}: it counts 0/100.", style="yellow")
            else:
                with self.console.status("Scoring…"):
                    outcome = s.submit(text)
                self._save(outcome)
                self._show(outcome)
        if not s.finished and s.phase is Phase.FOLLOW_UP and s.current is state:
            text = self._read("Your answer to the follow-up", follow_up=True)
            if text is None:
                s.skip_follow_up()
                self.console.print(f"Follow-up let go: the step keeps {state.score or 0:.0f}/100.", style="dim")
            else:
                outcome = s.submit_follow_up(text)
                self._save(outcome)
                self._show(outcome)
        if state.step == "clarify" and state.answered:
            render.print_unasked_facts(self.console, s.unasked_facts())
        render.print_step_time(self.console, guide.title, state.seconds or 0.0, s.pace[state.step], s.timer())

    def _read(self, message: str, *, follow_up: bool) -> str | None:
        """An answer, or None for /skip (or an empty follow-up); handles /hint and /edit in place."""
        default = ""
        while True:
            raw = self.terminal.read_answer(message, default=default, toolbar=self._toolbar)
            command = parse_command(raw)
            if command is None:
                if raw.strip():
                    return raw
                if follow_up:
                    return None
                self.console.print("The answer box was empty: type your answer, or /skip to skip this step.")
                continue
            if not command.known:
                self.console.print(f"Unknown command /{command.name}: use /hint, /edit or /skip.", style="yellow")
                default = ""
            elif command.name == "skip":
                return None
            elif command.name == "hint":
                render.print_hint(self.console, self.session.next_hint())
                default = command.rest
            else:
                edited = self.terminal.edit(command.rest)
                if edited is None:
                    self.console.print(
                        "No editor found: set $EDITOR (for example, export EDITOR=nano).", style="yellow"
                    )
                    default = command.rest
                else:
                    default = edited.rstrip("\n")
                    self.console.print("Back from the editor: check the answer, then press Esc then Enter to submit.")

    def _show(self, outcome: Outcome) -> None:
        s = self.session
        if outcome.revealed:
            render.print_interviewer_answers(self.console, outcome.revealed)
        if outcome.kind == "follow_up":
            render.print_follow_up_result(self.console, outcome)
            return
        assert outcome.result is not None
        render.print_score(
            outcome.result, self.console, prompt_title=s.prompt.title, step_title=s.guide(outcome.step).title
        )
        if outcome.probe is not None:
            render.print_probe(self.console, outcome.probe.ask)

    # ----------------------------------------------------------------------------------------- saving

    def _save(self, outcome: Outcome) -> None:
        if self.store is None:
            return
        s = self.session
        try:
            if self.session_id is None:
                self.session_id = self.store.create_session(s.kind, s.prompt.id, s.step_ids, s.minutes)
            self.store.add_answer(self.session_id, **outcome.record())
        except StoreError as exc:
            self.console.print(f"Could not save this answer: {exc}", style="bold red")

    def _complete(self) -> None:
        if self.store is None or self.session_id is None:
            return
        try:
            self.store.complete_session(self.session_id, self.session.overall(), self.session.elapsed())
        except StoreError as exc:
            self.console.print(f"Could not save the session's end: {exc}", style="bold red")

    def _interrupted(self) -> int:
        s = self.session
        self.console.print()
        if self.session_id is None:
            self.console.print("Stopped before any answer was submitted: nothing to save.")
            return EXIT_INTERRUPTED
        if s.all_answered:
            self._complete()
            what = "session" if s.kind == "interview" else "drill"
            self.console.print(f"Every step was answered, so the {what} is saved as completed — see `mlsd history`.")
            return EXIT_INTERRUPTED
        try:
            if self.store is not None:
                self.store.save_progress(self.session_id, s.elapsed())
        except StoreError as exc:
            self.console.print(f"Could not save the time spent: {exc}", style="bold red")
        self.console.print(RESUME_HINT, style="bold")
        return EXIT_INTERRUPTED

    def _finish(self) -> None:
        self._complete()
        s = self.session
        if s.kind == "interview":
            render.print_scorecard(self.console, s.scorecard())
        else:
            self._drill_summary()
        if self.session_id is not None:
            self.console.print(f"Saved to your history as {s.kind} #{self.session_id}.", style="dim")

    def _drill_summary(self) -> None:
        from datetime import datetime, timezone

        from mlsd_coach.schedule import item_state

        s = self.session
        step = s.step_ids[0]
        render.print_model_answer(self.console, s.rubric(step).model_answer)
        state = None
        if self.store is not None:
            try:
                mine = [r for r in self.store.reviews() if (r.prompt, r.step) == (s.prompt.id, step)]
            except StoreError:
                mine = []
            state = item_state(mine) if mine else None
        render.print_drill_summary(
            self.console, s.prompt.id, step, s.states[0].score or 0.0, state, datetime.now(timezone.utc)
        )
