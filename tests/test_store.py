"""The SQLite history: round trip, resume point, corruption handling, export, concurrency, data folder."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlsd_coach.store import DB_NAME, SCHEMA_VERSION, Store, StoreError, data_dir, default_db_path


class Ticker:
    """A wall clock that moves one minute per call."""

    def __init__(self) -> None:
        self.moment = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.moment += timedelta(minutes=1)
        return self.moment


def open_store(path: Path, warnings: list[str] | None = None) -> Store:
    return Store.open(path, warn=(warnings if warnings is not None else []).append, now=Ticker())


def answer(step: str, score: float, kind: str = "main", text: str = "some answer") -> dict:  # type: ignore[type-arg]
    return {
        "step": step,
        "kind": kind,
        "text": text,
        "elapsed_s": 60.0,
        "score": score,
        "result": {"score": score, "covered": ["a"], "missed": ["b"]},
    }


def test_default_location_follows_mlsd_home(_isolated_home: Path) -> None:
    assert data_dir() == _isolated_home
    assert default_db_path() == _isolated_home / DB_NAME


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {"XDG_DATA_HOME": "/xdg"}, Path("/xdg/mlsd-coach")),
        ("linux", {"XDG_DATA_HOME": "relative/ignored"}, Path("HOME/.local/share/mlsd-coach")),
        ("linux", {}, Path("HOME/.local/share/mlsd-coach")),
        ("darwin", {}, Path("HOME/Library/Application Support/mlsd-coach")),
        ("win32", {"APPDATA": "C:/Users/me/AppData/Roaming"}, Path("C:/Users/me/AppData/Roaming/mlsd-coach")),
    ],
)
def test_user_data_folder_per_platform(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platform: str, env: dict[str, str], expected: Path
) -> None:
    monkeypatch.delenv("MLSD_HOME")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("APPDATA", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "platform", platform)
    assert data_dir() == Path(str(expected).replace("HOME", str(tmp_path)))


def test_round_trip_of_a_session_and_its_answers(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.db") as store:
        sid = store.create_session("interview", "feed", ("clarify", "frame"), 45)
        store.add_answer(sid, **answer("clarify", 40))
        store.add_answer(sid, probe="Which numbers?", **answer("clarify", 55, kind="follow_up"))
    with open_store(tmp_path / "h.db") as store:
        record = store.session(sid)
    assert record is not None
    assert record.status == "in_progress" and record.steps == ("clarify", "frame") and record.elapsed_s == 60
    assert [(a.kind, a.score) for a in record.answers] == [("main", 40), ("follow_up", 55)]
    assert record.answers[1].probe == "Which numbers?" and record.answers[1].result["covered"] == ["a"]  # type: ignore[index]
    summary = record.to_json()
    assert set(summary) == {"id", "prompt", "kind", "status", "started_at", "overall", "steps"}
    assert summary["steps"][0]["score"] == 55 and summary["steps"][1]["score"] is None


def test_every_answer_is_committed_the_moment_it_is_added(tmp_path: Path) -> None:
    store = open_store(tmp_path / "h.db")
    sid = store.create_session("interview", "feed", ("clarify",), 45)
    store.add_answer(sid, **answer("clarify", 40))
    # A second connection (another process, or after a crash) sees it without any close or commit call.
    other = sqlite3.connect(tmp_path / "h.db")
    assert other.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1
    other.close()
    store.close()


def test_latest_unfinished_is_the_resume_point(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.db") as store:
        old = store.create_session("interview", "feed", ("clarify", "frame"), 45)
        store.add_answer(old, **answer("clarify", 40))
        new = store.create_session("interview", "fraud", ("clarify", "frame"), 45)
        store.add_answer(new, **answer("clarify", 50))
        store.create_session("drill", "ctr", ("model",), 8)
        latest = store.latest_unfinished("interview")
        assert latest is not None and latest.id == new and latest.answered_steps == ("clarify",)
        store.complete_session(new, 25.0, 300)
        latest = store.latest_unfinished("interview")
        assert latest is not None and latest.id == old
        store.complete_session(old, 20.0, 300)
        assert store.latest_unfinished("interview") is None
        done = store.session(new)
        assert done is not None and done.status == "completed" and done.overall == 25 and done.finished_at


def test_sessions_are_listed_newest_first(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.db") as store:
        ids = [store.create_session("drill", "feed", (s,), 5) for s in ("clarify", "frame", "data")]
        assert [r.id for r in store.sessions()] == ids[::-1]
        assert [r.id for r in store.sessions(limit=2)] == ids[:0:-1]
        assert store.count_sessions() == 3


def test_reviews_hold_the_final_score_of_each_step_of_each_session(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.db") as store:
        sid = store.create_session("interview", "feed", ("clarify", "frame"), 45)
        store.add_answer(sid, **answer("clarify", 40))
        store.add_answer(sid, **answer("clarify", 60, kind="follow_up"))
        store.add_answer(sid, **answer("frame", 0, kind="skip"))
        reviews = store.reviews()
    assert [(r.prompt, r.step, r.score) for r in reviews] == [("feed", "clarify", 60), ("feed", "frame", 0)]
    assert reviews[0].at < reviews[1].at and reviews[0].at.tzinfo is not None


def test_save_session_writes_a_completed_session_at_once(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.db") as store:
        answers = [answer("clarify", 70), answer("frame", 0, "skip", "")]
        sid = store.save_session("interview", "feed", ("clarify", "frame"), 45, answers, overall=35.0, source="replay")
        record = store.session(sid)
    assert record is not None and record.status == "completed" and record.source == "replay"
    assert record.overall == 35 and [s["skipped"] for s in record.step_summaries()] == [False, True]


def test_export_includes_every_session_and_answer(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.db") as store:
        sid = store.create_session("interview", "feed", ("clarify",), 45)
        store.add_answer(sid, **answer("clarify", 40, text="How many users?"))
        store.save_session("drill", "ctr", ("model",), 8, [answer("model", 80)], overall=80, source="answer-file")
        data = store.export()
    json.dumps(data)  # it must be plain JSON
    assert data["schema_version"] == SCHEMA_VERSION and len(data["sessions"]) == 2
    interview = next(s for s in data["sessions"] if s["kind"] == "interview")
    assert interview["answers"][0]["text"] == "How many users?"
    assert interview["answers"][0]["result"]["score"] == 40
    assert {"source", "minutes", "elapsed_s", "finished_at", "updated_at"} <= set(interview)


# ------------------------------------------------------------------------------------ bad files


def test_corrupt_file_is_moved_aside_with_one_warning_and_a_fresh_history(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not a database at all\n" * 200)
    warnings: list[str] = []
    with open_store(path, warnings) as store:
        assert store.count_sessions() == 0
        store.create_session("drill", "feed", ("clarify",), 5)
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "moved it to h.db.corrupt-" in warnings[0]
    moved = list(tmp_path.glob("h.db.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"this is not a database")
    with open_store(path, warnings) as store:
        assert store.count_sessions() == 1
    assert len(warnings) == 1


def test_truncated_database_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with open_store(path) as store:
        sid = store.create_session("interview", "feed", ("clarify",), 45)
        for _ in range(30):
            store.add_answer(sid, **answer("clarify", 40, text="x" * 3000))
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    data = path.read_bytes()
    path.write_bytes(data[:4096] + b"\x00" * 100 + data[8192:])
    warnings: list[str] = []
    with open_store(path, warnings) as store:
        assert store.count_sessions() == 0
    assert len(warnings) == 1 and list(tmp_path.glob("h.db.corrupt-*"))


def test_another_programs_database_is_moved_aside_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    foreign = sqlite3.connect(path)
    foreign.execute("CREATE TABLE contacts (name TEXT)")
    foreign.execute("INSERT INTO contacts VALUES ('ada')")
    foreign.commit()
    foreign.close()
    warnings: list[str] = []
    with open_store(path, warnings) as store:
        store.create_session("drill", "feed", ("clarify",), 5)
    assert "another program" in warnings[0]
    moved = next(tmp_path.glob("h.db.corrupt-*"))
    assert sqlite3.connect(moved).execute("SELECT name FROM contacts").fetchall() == [("ada",)]


def test_a_newer_schema_is_refused_not_destroyed(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer mlsd-coach"):
        open_store(path)
    assert path.exists() and not list(tmp_path.glob("*.corrupt-*"))


def test_empty_file_is_simply_initialised(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"")
    warnings: list[str] = []
    with open_store(path, warnings) as store:
        assert store.count_sessions() == 0
    assert warnings == []


def test_unwritable_data_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the data folder"):
        Store.open(blocker / "sub" / "h.db")


# ------------------------------------------------------------------------------------ concurrency


def test_two_terminals_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    open_store(path).close()
    errors: list[BaseException] = []

    def terminal(prompt: str) -> None:
        try:
            with Store.open(path) as store:
                sid = store.create_session("interview", prompt, ("clarify",), 45)
                for i in range(40):
                    store.add_answer(sid, **answer("clarify", i))
                store.complete_session(sid, 39.0, 100)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=terminal, args=(p,)) for p in ("feed", "fraud", "ctr")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_store(path) as store:
        records = store.sessions()
        assert sorted(r.prompt for r in records) == ["ctr", "feed", "fraud"]
        assert all(len(r.answers) == 40 and r.status == "completed" for r in records)
        assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
