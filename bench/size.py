"""Database size per 1,000 envelopes of 100 random ASCII characters.

Goal: the file is at most 2.0x the text it holds (100,000 bytes per 1,000
envelopes).  We measure what the app leaves behind: after the store is closed
the WAL is checkpointed into the main file (``wal_checkpoint(TRUNCATE)``, no
``VACUUM``), then the main file size and ``page_count * page_size`` are read,
and ``dbstat`` (when compiled in) says which table or index holds the bytes.
"""

from __future__ import annotations

import os
import random
import sqlite3
import string

from agentroom import Engine, ScriptedAgent
from agentroom.bus import MessageBus
from agentroom.store import SqliteStore
from bench.util import Result, note, report, section, tempdir

N = 10_000
LENGTH = 100
AGENTS = 3
GOAL_RATIO = 2.0
RAW_PER_1000 = 1000 * LENGTH
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " "


def _texts(seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(ALPHABET, k=LENGTH)) for _ in range(N)]


async def _envelopes_only(path: str) -> None:
    store = await SqliteStore.open(path)
    room = store.create_room("bench")
    bus = MessageBus(room)
    bus.attach(store.sink)
    handle = bus.register("pub")
    for text in _texts(1):
        await handle.publish(text)
    await store.flush()
    await bus.aclose()
    await store.close()


async def _engine_room(path: str, *, flush_every_turn: bool = False) -> None:
    """A room of scripted agents; with ``flush_every_turn`` each turn is its own commit.

    That is how a live room with real models writes (one turn every few
    seconds), so history runs cannot merge across turns: the worst case.
    """
    texts = iter(_texts(2))
    async with Engine.open(path, title="bench") as engine:
        names = [f"agent{i}" for i in range(AGENTS)]
        for name in names:
            engine.register_agent(ScriptedAgent(name, lambda turn: next(texts)))
        for i in range(N):
            await engine.run_agent_turn(names[i % AGENTS])
            if flush_every_turn:
                await engine.flush()
        await engine.flush()


def _measure(label: str, path: str) -> list[Result]:
    wal = path + "-wal"
    wal_left = os.path.getsize(wal) if os.path.exists(wal) else None
    stat_error = ""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        file_size = os.path.getsize(path)
        (page_count,) = db.execute("PRAGMA page_count").fetchone()
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
        (freelist,) = db.execute("PRAGMA freelist_count").fetchone()
        (envelopes,) = db.execute("SELECT count(*) FROM envelopes").fetchone()
        (history,) = db.execute("SELECT count(*) FROM history").fetchone()
        try:
            tables = db.execute(
                "SELECT name, count(*), sum(pgsize), sum(payload), sum(unused) "
                "FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC"
            ).fetchall()
        except sqlite3.Error as exc:
            tables = []
            stat_error = str(exc)
    finally:
        db.close()
    per_1000 = 1000 / envelopes
    pages_bytes = page_count * page_size
    results = [
        report(f"size {label}: B per 1,000 envelopes (file size)", file_size * per_1000, "B"),
        report(
            f"size {label}: B per 1,000 envelopes (pages*page_size)",
            pages_bytes * per_1000,
            "B",
        ),
        report(
            f"size {label}: ratio to raw text (file size / raw)",
            file_size * per_1000 / RAW_PER_1000,
            "x",
            goal=GOAL_RATIO,
            higher_is_better=False,
        ),
    ]
    note(
        f"{envelopes:,} envelopes, {history:,} history rows; {page_count:,} pages of "
        f"{page_size:,} B, {freelist} free; WAL left after close: "
        + ("none" if wal_left is None else f"{wal_left:,} B")
    )
    if not tables:
        note(f"dbstat not available ({stat_error})")
    else:
        note(
            f"{'table/index':<34}{'pages':>7}{'bytes':>12}{'B/1k env':>11}"
            f"{'payload':>12}{'unused':>11}{'share':>7}"
        )
        for name, pages, size, payload, unused in tables:
            note(
                f"{name:<34}{pages:>7,}{size:>12,}{size * per_1000:>11,.0f}"
                f"{payload:>12,}{unused:>11,}{size / pages_bytes:>7.1%}"
            )
    return results


async def run() -> list[Result]:
    section(f"size: {N:,} envelopes of {LENGTH} random ASCII chars (raw 100,000 B per 1,000)")
    results = []
    with tempdir() as folder:
        path = os.path.join(folder, "envelopes.db")
        await _envelopes_only(path)
        results += _measure("(a) envelopes only", path)
    with tempdir() as folder:
        path = os.path.join(folder, "engine.db")
        await _engine_room(path)
        results += _measure(f"(b) engine, {AGENTS} agents", path)
    with tempdir() as folder:
        path = os.path.join(folder, "live.db")
        await _engine_room(path, flush_every_turn=True)
        results += _measure(f"(c) engine, {AGENTS} agents, a commit per turn", path)
    return results
