"""Who owns a room is decided in the database, at once and for one process only.

A crashed owner is told from a live one without its hostname (its OS lock is
gone, or its lease lapsed); two resumes at the same moment end with exactly
one room running; ``--take-over`` fences the old owner off.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
from pathlib import Path

import pytest

from agentroom import Engine, ScriptedAgent
from agentroom.core.errors import SessionBusyError, StoreWriteError
from agentroom.core.ids import next_micros
from agentroom.room.builder import workflow_metadata
from agentroom.room.sessions import Sessions
from agentroom.room.workflows import parse_workflow
from agentroom.store import SqliteStore, opening
from agentroom.store.schema import V1, V2, V3
from tests.child import PYTHON, Child
from tests.environment import child_env
from tests.waiting import until

OWNER = Path(__file__).with_name("owner_child.py")
DUO = """
name: duo
agents:
  - id: a
  - id: b
strategy:
  name: round-robin
termination:
  max_messages: 100000
"""


async def saved_session(db_path: Path) -> str:
    meta = workflow_metadata(parse_workflow(DUO), "duo.yaml", "offline")
    async with Engine.open(db_path, title="owned", metadata=meta) as engine:
        engine.register_agent(ScriptedAgent("a", ["hello"]))
        await engine.run_agent_turn("a")
        return engine.session_id


def owner_child(db_path: Path, sid: str) -> Child:
    return Child([PYTHON, str(OWNER), str(db_path), sid], env=child_env(db_path.parent))


async def live_state(db_path: Path, sid: str) -> str:
    async with await SqliteStore.open(db_path) as store:
        return (await store.get_room(sid)).live_state


def owner_row(db_path: Path) -> tuple:
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT token, epoch, locked, pid, host FROM owners").fetchone()


async def test_a_crashed_owner_that_names_another_host_and_a_dead_pid_is_resumed_at_once(
    db_path,
):
    sid = await saved_session(db_path)
    with owner_child(db_path, sid) as owner:
        owner.say("go")
        assert owner.expect() == "RUNNING"
        owner.kill()
    with sqlite3.connect(db_path) as db:  # as if it had run on a machine since renamed
        db.execute("UPDATE owners SET host = 'old-name.example', pid = ?", (owner.proc.pid,))
    assert await live_state(db_path, sid) == "interrupted"
    async with Engine.open(db_path, session_id=sid) as engine:  # no wait for its lease
        assert engine.bus.last_seq == 1
        assert await live_state(db_path, sid) == "running"
    assert await live_state(db_path, sid) == "stopped"


async def test_a_room_from_before_owners_were_recorded_is_resumed(db_path, monkeypatch):
    monkeypatch.setattr(opening, "MIGRATIONS", (V1, V2, V3))
    monkeypatch.setattr(opening, "SCHEMA_VERSION", 3)
    store = await SqliteStore.open(db_path)
    sid = store.create_room("v3 room", {"owner": {"pid": 1, "host": "another-host"}})
    await store.close()
    monkeypatch.undo()
    assert await live_state(db_path, sid) == "interrupted"  # running, by nobody alive
    async with Engine.open(db_path, session_id=sid) as engine:
        assert engine.session_id == sid
    assert owner_row(db_path)[:2] == (None, 1)  # its first claim, released


async def test_of_three_resumes_started_at_the_same_moment_exactly_one_runs(db_path):
    sid = await saved_session(db_path)
    children = [owner_child(db_path, sid) for _ in range(3)]
    try:
        for _ in range(6):
            for child in children:  # each is blocked reading: they all go at once
                child.say("go")
            answers = [child.expect() for child in children]
            running = [c for c, a in zip(children, answers, strict=True) if a == "RUNNING"]
            assert len(running) == 1, answers
            for answer in answers:
                if answer != "RUNNING":
                    assert answer.startswith(f"BUSY session {sid} is ")
                    assert "--take-over" in answer and "\n" not in answer
            running[0].say("release")
            assert running[0].expect() == "RELEASED"
    finally:
        for child in children:
            child.__exit__()
    assert await live_state(db_path, sid) == "stopped"
    assert owner_row(db_path)[1] == 1 + 6  # one claim per run: the epoch only grows


async def test_a_sigkilled_owner_is_resumed_at_once_and_listed_as_interrupted(db_path):
    sid = await saved_session(db_path)
    with owner_child(db_path, sid) as owner:
        owner.say("go")
        assert owner.expect() == "RUNNING"
        assert await live_state(db_path, sid) == "running"
        with pytest.raises(SessionBusyError, match="is running"):
            async with await SqliteStore.open(db_path) as store:
                await Sessions(store).delete(sid)
        owner.kill()
    assert await live_state(db_path, sid) == "interrupted"  # the kernel dropped its lock
    async with Engine.open(db_path, session_id=sid):
        pass
    async with await SqliteStore.open(db_path) as store:
        await Sessions(store).delete(sid)
        assert await store.list_rooms() == []


async def test_taking_over_a_live_owner_fences_it(db_path):
    sid = await saved_session(db_path)
    with pytest.raises(StoreWriteError, match="taken over by another agentroom"):
        async with Engine.open(db_path, session_id=sid) as first:
            first.register_agent(ScriptedAgent("a", ["mine", "still mine?"]))
            await first.run_agent_turn("a")
            await first.flush()
            with pytest.raises(SessionBusyError, match=r"another agentroom \(pid \d+ on "):
                async with Engine.open(db_path, session_id=sid):
                    pass
            async with Engine.open(db_path, session_id=sid, take_over=True) as second:
                second.register_agent(ScriptedAgent("b", ["taken"]))
                await second.run_agent_turn("b")
                await second.flush()
                await first.run_agent_turn("a")  # the displaced owner's next write...
                with pytest.raises(StoreWriteError, match="taken over"):
                    await first.flush()  # ...is refused, loudly
                assert first.store.health.permanent
    with sqlite3.connect(db_path) as db:
        said = [c for (c,) in db.execute("SELECT content FROM envelopes ORDER BY seq")]
    assert said == ["hello", "mine", "taken"]  # the two runs never mix


async def test_a_room_taken_over_through_the_cli_stops_with_one_line(db_path, tmp_path):
    flow = tmp_path / "duo.yaml"
    flow.write_text(DUO)
    cli = [PYTHON, "-m", "agentroom", "--db", str(db_path)]
    env = child_env(tmp_path)
    first = Child(
        [*cli, "run", str(flow), "--headless"], listen="stderr", out=tmp_path / "1.txt", env=env
    )
    with first:
        await until(lambda: saved_any(db_path))
        with sqlite3.connect(db_path) as db:
            (sid,) = db.execute("SELECT uid FROM rooms").fetchone()
        resume = [*cli, "resume", sid, "--headless", "--max-messages", "3"]
        with Child(resume, listen="stderr", env=env) as refused:
            assert refused.end() == 1
        assert refused.seen == [
            f"error: session {sid} is open in another agentroom (pid {first.proc.pid} on "
            f"{socket.gethostname()}); stop that one first, fork the session, or take it over "
            "with --take-over"
        ]
        with Child([*resume, "--take-over"], listen="stderr", env=env) as second:
            assert second.end() == 0, second.seen
        assert first.end() == 1
    errors = [line for line in first.seen if line.startswith("error: ")]
    assert errors == first.seen[-1:], first.seen
    assert f"session {sid} was taken over by another agentroom" in errors[0]
    assert not [line for line in first.seen if "Traceback" in line]


def saved_any(db_path: Path) -> bool:
    """The room's first envelope is in the database (another process writes it)."""
    with contextlib.suppress(sqlite3.Error), sqlite3.connect(db_path) as db:
        return bool(db.execute("SELECT count(*) FROM envelopes").fetchone()[0])
    return False


async def test_without_an_os_lock_the_owner_is_alive_while_its_lease_runs(db_path):
    sid = await saved_session(db_path)
    later = next_micros() + 60_000_000
    with sqlite3.connect(db_path) as db:  # an owner that took the room without the lock
        db.execute(
            "UPDATE owners SET token = 'x', epoch = epoch + 1, locked = 0, lease_until = ?, "
            "pid = 4242, host = 'elsewhere'",
            (later,),
        )
        db.execute("UPDATE rooms SET state = 'running'")
    assert await live_state(db_path, sid) == "running"
    with pytest.raises(SessionBusyError, match=r"pid 4242 on elsewhere"):
        async with Engine.open(db_path, session_id=sid):
            pass
    with sqlite3.connect(db_path) as db:  # its lease lapses
        db.execute("UPDATE owners SET lease_until = ?", (next_micros() - 1,))
    assert await live_state(db_path, sid) == "interrupted"
    async with Engine.open(db_path, session_id=sid):
        pass
    assert json.dumps(owner_row(db_path)[0]) == "null"  # released on a clean exit
