"""A fork is all or nothing: killed at any moment, it leaves no half-copied session behind.

A real room is run headless; a child process forks it (as the session browser
does) and is SIGKILLed at moments counted by SQLite itself (tests/faults/
fork_child.py holds the fork still at a chosen step of its transaction, so a
moment is a condition, not a delay, and a failure names the step and seed to
replay).  After each kill the file is intact, no session is left ``running``
or half-copied: a kill inside the fork's transaction leaves no fork, one after
it a whole one.  Every session listed is then resumed with the real command
and deleted.  (Before forks were one transaction, 10 of 10 such kills left a
half-copied session marked running that could be neither resumed nor deleted.)
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any

from agentroom.room.sessions import Sessions
from agentroom.store import SqliteStore
from tests.child import PYTHON, killed_at
from tests.cli.test_run_cli import agentroom, session_of, show
from tests.environment import child_env

CHILD = Path(__file__).with_name("fork_child.py")
TRIO = """
name: trio
agents:
  - id: a
  - id: b
  - id: c
strategy:
  name: round-robin
termination:
  max_messages: 100000
"""
KILLS = 8
SHAPE = ("seq", "sender", "receiver", "type", "content", "created_at", "metadata")


def a_finished_room(env: dict[str, str], tmp_path: Path, messages: int) -> str:
    """A room run to its end by the real command: histories, checkpoints, statuses and all."""
    flow = tmp_path / "trio.yaml"
    flow.write_text(TRIO)
    done = agentroom(env, "run", str(flow), "--headless", "--max-messages", str(messages))
    assert done.returncode == 0, done.stderr
    return session_of(done.stdout)


def fork_stopped_at(db: Path, source: str, upto: int, stop_at: int) -> list[str]:
    """Run the fork in a child, SIGKILL it where it holds; the words of its last line.

    It holds at step ``stop_at`` (``STOPPED``), or once the fork has returned
    (``FORKED``), its store still open.
    """
    args = [PYTHON, str(CHILD), str(db), source, str(upto), str(stop_at)]
    child = killed_at(args, lambda lines: bool(lines), env=child_env(db.parent))
    (line,) = child.seen
    return line.split()


def shapes(doc: dict[str, Any], upto: int | None = None) -> list[tuple[Any, ...]]:
    return [
        tuple(e[k] for k in SHAPE) for e in doc["envelopes"] if upto is None or e["seq"] <= upto
    ]


async def sessions(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    async with await SqliteStore.open(db) as store:
        return [(r.id, r.live_state) for r in await store.list_rooms()]


def every_session_is_whole(env: dict[str, str], source: str, upto: int) -> list[str]:
    """The source as it was, and forks that are its first ``upto`` envelopes; returns the forks."""
    db = Path(env["AGENTROOM_DB"])
    listed = asyncio.run(sessions(db))
    assert (source, "stopped") in listed
    forks = [sid for sid, _ in listed if sid != source]
    original = shapes(show(env, source), upto)
    for sid, state in listed:
        assert state == "stopped", (sid, state)  # never left marked running
    for fork in forks:
        assert shapes(show(env, fork)) == original, f"fork {fork} is not the source to #{upto}"
    return forks


def resume_and_delete(env: dict[str, str], fork: str, upto: int) -> None:
    """What a user does with a fork: resume it with the real command, then delete it."""
    done = agentroom(env, "resume", fork, "--headless", "--max-messages", "2")
    assert done.returncode == 0, done.stderr
    went_on = [e for e in show(env, fork)["envelopes"] if e["seq"] > upto]
    assert [e["type"] for e in went_on].count("message") == 2

    async def delete() -> list[str]:
        async with await SqliteStore.open(env["AGENTROOM_DB"]) as store:
            await Sessions(store).delete(fork)
            return [r.id for r in await store.list_rooms()]

    assert fork not in asyncio.run(delete())


def test_a_fork_killed_at_any_moment_leaves_nothing_or_a_whole_fork(env, tmp_path):
    db = Path(env["AGENTROOM_DB"])
    source = a_finished_room(env, tmp_path, messages=300)
    before = shapes(show(env, source))
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    upto = rng.randint(len(before) // 2, len(before))

    _, fork, steps, first, last = fork_stopped_at(db, source, upto, stop_at=-1)
    steps, first, last = int(steps), int(first), int(last)
    assert 1 <= first <= last <= steps and last - first > 2 * KILLS  # room for many moments
    assert every_session_is_whole(env, source, upto) == [fork]
    resume_and_delete(env, fork, upto)

    # Before the fork, at random steps of its transaction, and once it has returned.
    moments = [0, *sorted(rng.sample(range(first, last + 1), KILLS - 2)), -1]
    for moment in moments:
        where = f"seed {seed}, fork at #{upto}, killed at step {moment} of {steps}"
        words = fork_stopped_at(db, source, upto, stop_at=moment)
        forks = every_session_is_whole(env, source, upto)
        if words[0] == "STOPPED":
            assert words[2] == ("idle" if moment == 0 else "tx"), where
            assert forks == [], f"{where}: a fork was left"
        else:
            assert forks == [words[1]], f"{where}: the finished fork is missing"
        for fork in forks:
            resume_and_delete(env, fork, upto)
    assert asyncio.run(sessions(db)) == [(source, "stopped")]
    assert shapes(show(env, source)) == before  # the source is untouched


async def test_forking_a_long_session_costs_the_process_next_to_no_memory(env, tmp_path):
    source = await asyncio.to_thread(a_finished_room, env, tmp_path, 3_000)
    async with await SqliteStore.open(env["AGENTROOM_DB"]) as store:
        tracemalloc.start()
        try:
            await Sessions(store).fork(source, 3_000)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 1_000_000, peak  # rows never come into Python (they did: several MB)
