"""Database size: per 1,000 envelopes of 100 random ASCII characters, and per streamed reply.

Goal: the file is at most 2.0x the text it holds (100,000 bytes per 1,000
envelopes).  We measure what the app leaves behind: after the store is closed
the WAL is checkpointed into the main file (``wal_checkpoint(TRUNCATE)``, no
``VACUUM``), then the main file size and ``page_count * page_size`` are read,
and ``dbstat`` (when compiled in) says which table or index holds the bytes.

Scripted agents say their text in one piece, so (a)-(c) cannot see what a
real model costs.  (d) is a room of ``LLMAgent``s on a streaming model that
reports its token usage: each reply arrives in pieces of ``PIECE``
characters, as a model at about 50 tokens/s is coalesced into 20 Hz chunks
(2-3 tokens, about 10 characters, per chunk; the agent's ``stream_interval``
is 0 so each piece is one chunk, deterministically, without waiting 50 ms per
chunk).  Its ratio is the file against the text of the replies alone: every
other row (usage reports, history) is overhead on what was said.
"""

from __future__ import annotations

import os
import random
import sqlite3
import string
from collections.abc import AsyncIterator

from agentroom import Engine, LLMAgent, ScriptedAgent
from agentroom.bus import MessageBus
from agentroom.models.types import Finished, ModelEvent, ModelRequest, TextDelta, Usage
from agentroom.store import SqliteStore
from bench.util import Result, note, report, section, tempdir

N = 10_000
LENGTH = 100
AGENTS = 3
GOAL_RATIO = 2.0
RAW_PER_1000 = 1000 * LENGTH
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " "
STREAMED_REPLIES = 2_000
STREAMED_LENGTHS = (100, 500, 1_000)
"""Reply lengths in characters: the 100 of (a)-(c), and short and long paragraphs (~125
and ~250 tokens).  A row of more than about 1,000 bytes spills into an overflow page of
its own (4 KB pages), which is why the longest costs more per character than the middle
one; the dbstat table's ``unused`` column shows it."""
PIECE = 10
"""Characters per streamed chunk: 50 tokens/s coalesced at 20 Hz is 2-3 tokens."""


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


class _StreamingModel:
    """Streams each reply in ``PIECE``-character deltas, then its usage: a model, at no cost."""

    label = "bench-streaming"

    def __init__(self, texts: list[str]) -> None:
        self._texts = iter(texts)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        text = next(self._texts)
        for start in range(0, len(text), PIECE):
            yield TextDelta(text[start : start + PIECE])
        yield Usage(500, len(text) // 4)
        yield Finished("stop")


async def _streamed_room(path: str, length: int) -> int:
    """A room of LLM agents streaming their replies, a commit per turn; returns the text bytes."""
    rng = random.Random(3)
    texts = ["".join(rng.choices(ALPHABET, k=length)) for _ in range(STREAMED_REPLIES)]
    model = _StreamingModel(texts)
    async with Engine.open(path, title="bench") as engine:
        names = [f"agent{i}" for i in range(AGENTS)]
        for name in names:
            engine.register_agent(LLMAgent(name, model, stream_interval=0))
        for i in range(STREAMED_REPLIES):
            await engine.run_agent_turn(names[i % AGENTS])
            await engine.flush()
    return sum(len(text.encode()) for text in texts)


def _measure(label: str, path: str, text_bytes: int | None = None) -> list[Result]:
    """Bytes per 1,000 envelopes and against the raw text (``text_bytes``: the replies')."""
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
        kinds = db.execute(
            "SELECT type, count(*), sum(length(CAST(content AS BLOB))) FROM envelopes GROUP BY type"
        ).fetchall()
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
    raw = RAW_PER_1000 if text_bytes is None else text_bytes * per_1000
    results = [
        report(f"size {label}: B per 1,000 envelopes (file size)", file_size * per_1000, "B"),
        report(
            f"size {label}: B per 1,000 envelopes (pages*page_size)",
            pages_bytes * per_1000,
            "B",
        ),
        report(
            f"size {label}: ratio to raw text (file size / raw)",
            file_size * per_1000 / raw,
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
    names = {0: "message", 1: "action", 2: "status"}
    note(
        "rows by type: "
        + ", ".join(f"{names.get(t, t)} {n:,} ({size or 0:,} B of content)" for t, n, size in kinds)
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
    for length in STREAMED_LENGTHS:
        with tempdir() as folder:
            path = os.path.join(folder, "streamed.db")
            text_bytes = await _streamed_room(path, length)
            note(
                f"(d) {STREAMED_REPLIES:,} streamed replies of {length:,} chars in "
                f"{PIECE}-char chunks, with usage reports; ratio = file / reply text"
            )
            results += _measure(
                f"(d) streamed room, {AGENTS} LLM agents, {length:,}-char replies", path, text_bytes
            )
    return results
