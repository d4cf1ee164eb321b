"""Practice history in SQLite (stdlib) under the user data folder: sessions, every answer, resume, export.

Every answer is committed in its own transaction the moment it is submitted, so an interrupted session loses
nothing. The database runs in WAL mode with a busy timeout, so two terminals can practise at once. A file that
is not an mlsd-coach database (corrupt, truncated, or another program's) is moved aside to
``<name>.corrupt-<timestamp>`` with a one-line warning, and a fresh database is started.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlsd_coach.schedule import Review

#: Environment variable naming the folder that holds the history (overrides the platform default).
HOME_ENV = "MLSD_HOME"
#: File name of the database inside the data folder.
DB_NAME = "history.db"
#: Version of the table layout below; bumped with a migration when it changes.
SCHEMA_VERSION = 1
#: Written into the SQLite header so that our file is recognisable ("mlsd" in ASCII).
APPLICATION_ID = 0x6D6C7364
#: How long a write waits for another terminal's transaction, in seconds.
BUSY_TIMEOUT = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('interview', 'drill')),
    prompt TEXT NOT NULL,
    steps TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed')),
    source TEXT NOT NULL,
    minutes REAL NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT,
    elapsed_s REAL NOT NULL DEFAULT 0,
    overall REAL
);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('main', 'follow_up', 'skip')),
    text TEXT NOT NULL,
    probe TEXT,
    submitted_at TEXT NOT NULL,
    elapsed_s REAL NOT NULL,
    score REAL NOT NULL,
    result TEXT
);
CREATE INDEX IF NOT EXISTS answers_by_session ON answers (session_id, id);
CREATE INDEX IF NOT EXISTS sessions_by_status ON sessions (kind, status, id);
"""


class StoreError(Exception):
    """The history cannot be used (unwritable folder, a newer schema, a locked database); one-line message."""


class _Unusable(Exception):
    """The file is not a usable mlsd-coach database: it will be moved aside."""


def data_dir() -> Path:
    """The folder for mlsd-coach's own data: ``$MLSD_HOME``, else the platform's user data folder."""
    override = os.environ.get(HOME_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "mlsd-coach"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "mlsd-coach"
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    # The XDG spec says relative paths are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / "mlsd-coach"


def default_db_path() -> Path:
    """Where the history database lives."""
    return data_dir() / DB_NAME


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime:
    """Parse a timestamp written by the store (ISO 8601, UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class AnswerRecord:
    """One stored submission: a main answer, a follow-up answer, or a skip."""

    id: int
    step: str
    kind: str
    """``main``, ``follow_up`` or ``skip``."""
    text: str
    probe: str | None
    """The follow-up question, for a follow-up answer."""
    submitted_at: str
    elapsed_s: float
    """Session seconds at submission."""
    score: float
    """The step's score after this submission (folded for a follow-up, 0 for a skip)."""
    result: dict[str, Any] | None
    """The full score result (``mlsd score --json`` shape) the candidate was shown."""

    def to_json(self) -> dict[str, Any]:
        """Everything about the submission, for the export."""
        return {
            "id": self.id,
            "step": self.step,
            "kind": self.kind,
            "text": self.text,
            "probe": self.probe,
            "submitted_at": self.submitted_at,
            "elapsed_s": self.elapsed_s,
            "score": self.score,
            "result": self.result,
        }


@dataclass(frozen=True)
class SessionRecord:
    """One stored interview or drill with its submissions in order."""

    id: int
    kind: str
    prompt: str
    steps: tuple[str, ...]
    status: str
    """``in_progress`` or ``completed``."""
    source: str
    """``interactive``, ``replay`` (``--answers``) or ``answer-file`` (a drill from a file)."""
    minutes: float
    started_at: str
    updated_at: str
    finished_at: str | None
    elapsed_s: float
    overall: float | None
    answers: tuple[AnswerRecord, ...]

    def last_answer(self, step: str) -> AnswerRecord | None:
        """The latest submission for a step (its final state), or None."""
        found = [a for a in self.answers if a.step == step]
        return found[-1] if found else None

    @property
    def answered_steps(self) -> tuple[str, ...]:
        """Steps whose main answer was submitted or that were skipped."""
        return tuple(s for s in self.steps if any(a.step == s and a.kind != "follow_up" for a in self.answers))

    def step_summaries(self) -> list[dict[str, Any]]:
        """Per step: score (None before it is answered), covered and missed criteria, skipped."""
        out = []
        for step in self.steps:
            last = self.last_answer(step)
            result = last.result if last is not None else None
            out.append(
                {
                    "step": step,
                    "score": last.score if last is not None else None,
                    "covered": list((result or {}).get("covered", [])),
                    "missed": list((result or {}).get("missed", [])),
                    "skipped": last is not None and last.kind == "skip",
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``mlsd history --json`` shape."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "kind": self.kind,
            "status": self.status,
            "started_at": self.started_at,
            "overall": self.overall,
            "steps": self.step_summaries(),
        }

    def export(self) -> dict[str, Any]:
        """Everything about the session, submissions included, for ``mlsd history --export``."""
        return {
            **self.to_json(),
            "source": self.source,
            "minutes": self.minutes,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "elapsed_s": self.elapsed_s,
            "answers": [a.to_json() for a in self.answers],
        }


def _warn_stderr(message: str) -> None:
    print(message, file=sys.stderr)


class Store:
    """The practice history. Open it with :meth:`Store.open`; every write is its own transaction."""

    def __init__(self, conn: sqlite3.Connection, path: Path, now: Callable[[], datetime]) -> None:
        self._conn = conn
        self.path = path
        self._now = now

    # ---------------------------------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        path: Path | None = None,
        *,
        warn: Callable[[str], None] = _warn_stderr,
        now: Callable[[], datetime] = _utc_now,
    ) -> Store:
        """Open (or create) the history; a corrupt or foreign file is moved aside with a warning via ``warn``."""
        path = Path(path) if path is not None else default_db_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data folder {path.parent}: {exc.strerror or exc}") from None
        if path.is_dir():
            raise StoreError(f"the history database {path} is a folder, not a file")
        try:
            return cls(_connect(path), path, now)
        except _Unusable as exc:
            moved = _move_aside(path, now())
            warn(
                f"mlsd: warning: {path} is not a usable mlsd-coach history ({exc}); "
                f"moved it to {moved.name} and started a fresh one"
            )
            try:
                return cls(_connect(path), path, now)
            except _Unusable as again:
                raise StoreError(f"cannot start a fresh history database at {path}: {again}") from None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so that two terminals queue instead of failing mid-way."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"the history database {self.path} is busy or unwritable: {exc}") from None
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK")
                raise StoreError(f"could not save to {self.path}: {exc}") from None

    # ---------------------------------------------------------------------------------------- writing

    def create_session(
        self, kind: str, prompt: str, steps: tuple[str, ...] | list[str], minutes: float, source: str = "interactive"
    ) -> int:
        """Start a session (status ``in_progress``) and return its id."""
        stamp = _iso(self._now())
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (kind, prompt, steps, status, source, minutes, started_at, updated_at)"
                " VALUES (?, ?, ?, 'in_progress', ?, ?, ?, ?)",
                (kind, prompt, json.dumps(list(steps)), source, float(minutes), stamp, stamp),
            )
            return int(cursor.lastrowid or 0)

    def add_answer(
        self,
        session_id: int,
        *,
        step: str,
        kind: str,
        text: str,
        elapsed_s: float,
        score: float,
        result: dict[str, Any] | None = None,
        probe: str | None = None,
    ) -> int:
        """Save one submission and the session's progress, committed at once; return the answer id."""
        stamp = _iso(self._now())
        payload = json.dumps(result, ensure_ascii=False) if result is not None else None
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO answers (session_id, step, kind, text, probe, submitted_at, elapsed_s, score, result)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, step, kind, text, probe, stamp, float(elapsed_s), float(score), payload),
            )
            conn.execute(
                "UPDATE sessions SET updated_at = ?, elapsed_s = MAX(elapsed_s, ?) WHERE id = ?",
                (stamp, float(elapsed_s), session_id),
            )
            return int(cursor.lastrowid or 0)

    def save_progress(self, session_id: int, elapsed_s: float) -> None:
        """Record the time spent so far (e.g. when the candidate stops without finishing)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE sessions SET updated_at = ?, elapsed_s = MAX(elapsed_s, ?) WHERE id = ?",
                (_iso(self._now()), float(elapsed_s), session_id),
            )

    def complete_session(self, session_id: int, overall: float, elapsed_s: float) -> None:
        """Mark a session completed with its overall score."""
        stamp = _iso(self._now())
        with self._write() as conn:
            conn.execute(
                "UPDATE sessions SET status = 'completed', overall = ?, finished_at = ?, updated_at = ?,"
                " elapsed_s = MAX(elapsed_s, ?) WHERE id = ?",
                (float(overall), stamp, stamp, float(elapsed_s), session_id),
            )

    def save_session(
        self,
        kind: str,
        prompt: str,
        steps: tuple[str, ...] | list[str],
        minutes: float,
        answers: list[dict[str, Any]],
        *,
        overall: float,
        source: str,
        elapsed_s: float = 0.0,
    ) -> int:
        """Save a whole completed session in one transaction (a replay or a drill from a file); return its id."""
        stamp = _iso(self._now())
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (kind, prompt, steps, status, source, minutes, started_at, updated_at,"
                " finished_at, elapsed_s, overall) VALUES (?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    prompt,
                    json.dumps(list(steps)),
                    source,
                    float(minutes),
                    stamp,
                    stamp,
                    stamp,
                    float(elapsed_s),
                    float(overall),
                ),
            )
            session_id = int(cursor.lastrowid or 0)
            for answer in answers:
                conn.execute(
                    "INSERT INTO answers (session_id, step, kind, text, probe, submitted_at, elapsed_s, score, result)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        session_id,
                        answer["step"],
                        answer["kind"],
                        answer["text"],
                        answer.get("probe"),
                        stamp,
                        float(answer.get("elapsed_s", 0.0)),
                        float(answer["score"]),
                        json.dumps(answer["result"], ensure_ascii=False) if answer.get("result") is not None else None,
                    ),
                )
            return session_id

    # ---------------------------------------------------------------------------------------- reading

    def session(self, session_id: int) -> SessionRecord | None:
        """One session with its answers, or None."""
        row = self._conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return self._records([row])[0] if row is not None else None

    def sessions(self, limit: int | None = None) -> list[SessionRecord]:
        """Sessions newest first, with their answers."""
        sql = "SELECT * FROM sessions ORDER BY started_at DESC, id DESC"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return self._records(self._conn.execute(sql, params).fetchall())

    def count_sessions(self) -> int:
        """How many sessions the history holds."""
        return int(self._conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    def latest_unfinished(self, kind: str = "interview") -> SessionRecord | None:
        """The most recently active unfinished session of a kind, or None."""
        row = self._conn.execute(
            "SELECT * FROM sessions WHERE kind = ? AND status = 'in_progress' ORDER BY updated_at DESC, id DESC",
            (kind,),
        ).fetchone()
        return self._records([row])[0] if row is not None else None

    def reviews(self) -> list[Review]:
        """The final score of every answered step of every session, oldest first (the schedule's input)."""
        rows = self._conn.execute(
            "SELECT s.prompt, a.step, a.score, a.submitted_at FROM answers a JOIN sessions s ON s.id = a.session_id"
            " WHERE a.id IN (SELECT MAX(id) FROM answers GROUP BY session_id, step)"
            " ORDER BY a.submitted_at, a.id"
        ).fetchall()
        return [Review(r["prompt"], r["step"], float(r["score"]), parse_time(r["submitted_at"])) for r in rows]

    def export(self) -> dict[str, Any]:
        """Everything in the history as one JSON-ready document."""
        return {
            "format": "mlsd-coach history",
            "schema_version": SCHEMA_VERSION,
            "exported_at": _iso(self._now()),
            "database": str(self.path),
            "sessions": [s.export() for s in self.sessions()],
        }

    def _records(self, rows: list[sqlite3.Row]) -> list[SessionRecord]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        answers: dict[int, list[AnswerRecord]] = {i: [] for i in ids}
        marks = ",".join("?" * len(ids))
        for a in self._conn.execute(f"SELECT * FROM answers WHERE session_id IN ({marks}) ORDER BY id", ids):
            answers[a["session_id"]].append(
                AnswerRecord(
                    id=a["id"],
                    step=a["step"],
                    kind=a["kind"],
                    text=a["text"],
                    probe=a["probe"],
                    submitted_at=a["submitted_at"],
                    elapsed_s=a["elapsed_s"],
                    score=a["score"],
                    result=json.loads(a["result"]) if a["result"] else None,
                )
            )
        return [
            SessionRecord(
                id=r["id"],
                kind=r["kind"],
                prompt=r["prompt"],
                steps=tuple(json.loads(r["steps"])),
                status=r["status"],
                source=r["source"],
                minutes=r["minutes"],
                started_at=r["started_at"],
                updated_at=r["updated_at"],
                finished_at=r["finished_at"],
                elapsed_s=r["elapsed_s"],
                overall=r["overall"],
                answers=tuple(answers[r["id"]]),
            )
            for r in rows
        ]


def _connect(path: Path) -> sqlite3.Connection:
    """Open the file, check it is ours (or empty) and intact, and bring the schema up to date."""
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the history database {path}: {exc}") from None
    conn.row_factory = sqlite3.Row
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables - {"sqlite_sequence"}):
            raise _Unusable("it belongs to another program")
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise _Unusable(f"integrity check failed: {check}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Statement by statement: executescript() would commit the transaction taken above.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
            if version is None:
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (SCHEMA_VERSION, _iso(_utc_now())),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(
                f"the history database {path} was written by a newer mlsd-coach (schema {version}); upgrade mlsd-coach"
            )
    except sqlite3.OperationalError as exc:
        conn.close()
        # Locked or unwritable is a passing or permission problem, not corruption: never move the file for it.
        raise StoreError(f"cannot use the history database {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _Unusable(str(exc)) from None
    except (StoreError, _Unusable):
        conn.close()
        raise
    return conn


def _move_aside(path: Path, moment: datetime) -> Path:
    """Rename a bad database (and its WAL files, which belong to it) to ``<name>.corrupt-<timestamp>``."""
    stamp = moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    try:
        path.replace(target)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.replace(target.with_name(target.name + suffix))
    except OSError as exc:
        raise StoreError(f"{path} is not a usable history and cannot be moved aside: {exc.strerror or exc}") from None
    return target
