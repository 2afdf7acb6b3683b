"""Schema V6 (the ``tokens`` table): a V5 file migrates on open, keeps its data, takes tokens."""

from __future__ import annotations

import sqlite3

from agentroom import MessageBus, SqliteStore
from agentroom.room.tokens import Tokens
from agentroom.store import opening as opening_module
from agentroom.store.schema import MIGRATIONS, SCHEMA_VERSION


def tables(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master")}


async def test_a_v5_database_migrates_to_v6_on_open_and_keeps_its_data(db_path, monkeypatch):
    # Write a real V5 file: this agentroom's store, knowing only V1 to V5.
    monkeypatch.setattr(opening_module, "MIGRATIONS", MIGRATIONS[:5])
    monkeypatch.setattr(opening_module, "SCHEMA_VERSION", 5)
    store = await SqliteStore.open(db_path)
    room = store.create_room("before tokens", {"workflow": "w"})
    bus = MessageBus(room)
    bus.attach(store.sink)
    said = [await bus.register("alice").publish("hello"), await bus.register("bob").publish("hi")]
    store.save_room_state(room, 2, {"turns": 2})
    await store.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (5,)
    assert "tokens" not in tables(db_path)

    monkeypatch.undo()  # this agentroom again: up to V6
    async with await Tokens.open(db_path) as tokens:  # opening migrates
        assert await tokens.list() == []
        token = await tokens.mint(room, "alice")
        grant = await tokens.verify(token)
        assert grant is not None and (grant.session_id, grant.human) == (room, "alice")
    async with await SqliteStore.open(db_path) as store:
        assert [e async for e in store.read_envelopes(room)] == said
        assert await store.load_room_state(room) == (2, {"turns": 2})
        assert (await store.get_room(room)).metadata == {"workflow": "w"}

    assert {"tokens", "tokens_room"} <= tables(db_path)
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY 1")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT human FROM tokens").fetchall() == [("alice",)]


async def test_a_token_use_goes_through_the_writer_once_a_minute_at_most(db_path):
    store = await SqliteStore.open(db_path)
    room = store.create_room("r")
    tokens = Tokens(store)
    token = await tokens.mint(room, "alice")
    queued = store.sink.enqueued
    for _ in range(50):  # a line at a time, as a served room checks them
        assert await tokens.verify(token) is not None
    assert store.sink.enqueued == queued + 1  # one use noted, not fifty writes
    [info] = await tokens.list()
    assert info.last_used_at is not None
    await store.close()
