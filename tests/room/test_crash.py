"""SIGKILL in the middle of a run loses nothing that flush() acknowledged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agentroom import Engine, ScriptedAgent
from agentroom.store import SqliteStore
from tests.child import PYTHON, killed_at
from tests.environment import child_env

CHILD = Path(__file__).resolve().parents[1] / "crash_child.py"


def run_until_killed(db_path: Path, acks_wanted: int) -> tuple[str, int]:
    """SIGKILL the busy room once it printed ``acks_wanted`` acknowledged seqs (0: at once).

    Returns the session and the last seq acknowledged (those printed after
    the moment, before the kill landed, included: they were acknowledged too).
    """
    args = [PYTHON, str(CHILD), str(db_path)]
    child = killed_at(args, lambda lines: len(lines) > acks_wanted, env=child_env(db_path.parent))
    (session,) = [line.split()[1] for line in child.seen if line.startswith("SESSION ")]
    acked = [int(line.split()[1]) for line in child.seen if line.startswith("ACK ")]
    return session, max(acked, default=0)


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
