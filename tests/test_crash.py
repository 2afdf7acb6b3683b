"""SIGKILL in the middle of a run loses nothing that flush() acknowledged."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from agentroom import Engine, ScriptedAgent
from agentroom.store import SqliteStore

CHILD = Path(__file__).with_name("crash_child.py")


def run_until_killed(db_path: Path, acks_wanted: int) -> tuple[str, int]:
    """Run crash_child.py and SIGKILL it after ``acks_wanted`` acknowledgements (0: at once).

    Returns the session id and the last seq the child said was durable.
    """
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    session, acked, acks = "", 0, 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, value = line.split()
            if kind == "SESSION":
                session = value
            else:
                acked, acks = int(value), acks + 1
            if acks >= acks_wanted:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and session
    return session, acked


async def test_sigkill_loses_nothing_acknowledged(db_path):
    session, acked = run_until_killed(db_path, acks_wanted=150)
    assert acked >= 1000

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    store = await SqliteStore.open(db_path)
    seqs = [e.seq async for e in store.read_envelopes(session)]
    room = await store.get_room(session)
    await store.close()
    assert seqs[:acked] == list(range(1, acked + 1))  # everything acknowledged is there
    assert seqs == list(range(1, len(seqs) + 1))  # and nothing after a gap
    assert room.live_state == "interrupted"

    async with Engine.open(db_path, session_id=session) as engine:
        views = {n: engine.conversations.get_agent_conversation(n) for n in "abc"}
        # Every agent saw every (broadcast) message up to the last acknowledged one.
        for conv in views.values():  # (memory holds the newest; the whole is in SQLite)
            seen = [m.seq async for m in conv.history()]
            assert seen[:acked] == list(range(1, acked + 1))
            assert [m.seq for m in conv.messages] == seen[-len(conv.messages) :]
        engine.register_agent(ScriptedAgent("a", ["after the crash"]))
        resumed = await engine.run_agent_turn("a")
        assert resumed.seq == len(seqs) + 1
