"""SIGKILL at random moments of a busy room: nothing acknowledged is lost, the room resumes.

The child (tests/crash_child.py) runs three scripted agents as fast as it can
and prints each ``seq`` that ``flush()`` acknowledged.  It is killed after a
random number of acknowledgements (the moment inside the writer's cycle is
whatever it happens to be), several times over one database; after each kill
the file is intact, every acknowledged envelope is there with no gap before
it, and the session resumes at the next ``seq`` in a new process.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

from agentroom import Engine, ScriptedAgent
from agentroom.store import SqliteStore
from tests.room.test_crash import run_until_killed

KILLS = 5


async def check_and_resume(db: Path, session: str, acked: int) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    async with await SqliteStore.open(db) as store:
        if acked == 0 and session not in [r.id for r in await store.list_rooms()]:
            return  # killed before anything was acknowledged: nothing to find, file intact
        seqs = [e.seq async for e in store.read_envelopes(session)]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap
    assert len(seqs) >= acked  # everything acknowledged is there
    async with Engine.open(db, session_id=session) as engine:
        engine.register_agent(ScriptedAgent("a", ["after the kill"]))
        resumed = await engine.run_agent_turn("a")
        assert resumed.seq == len(seqs) + 1


def test_sigkill_at_random_moments_of_a_busy_room(tmp_path):
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    for kill in range(KILLS):
        db = tmp_path / f"room{kill}.db"
        acks = rng.choice([0, 1, 2, rng.randint(3, 60)])
        session, acked = run_until_killed(db, acks)
        try:
            asyncio.run(check_and_resume(db, session, acked))
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, kill {kill} after {acks} acks: {exc}") from exc
