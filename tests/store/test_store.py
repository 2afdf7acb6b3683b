"""The SQLite store: safe opening, migrations, append-only rows, group commit, exact reads."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat

import pytest

from agentroom import Envelope, MessageBus, MessageType
from agentroom.core.errors import (
    NotAnAgentroomDatabase,
    SchemaTooNewError,
    SessionNotFoundError,
    StoreWriteError,
)
from agentroom.store import SqliteStore
from agentroom.store import opening as store_module
from agentroom.store.schema import APPLICATION_ID, SCHEMA_VERSION


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def open_room(db_path, title="t"):
    store = await SqliteStore.open(db_path)
    room = store.create_room(title)
    bus = MessageBus(room)
    bus.attach(store.sink)
    return store, room, bus


async def test_new_database_is_private_wal_versioned(db_path):
    store = await SqliteStore.open(db_path)
    await store.close()
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


async def test_busy_timeout_is_set(db_path):
    store = await SqliteStore.open(db_path)
    async with store._db.execute("PRAGMA busy_timeout") as cur:
        assert (await cur.fetchone())[0] == 5000
    await store.close()


async def test_garbage_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(os.urandom(3000))
    before = digest(path)
    with pytest.raises(NotAnAgentroomDatabase, match="left untouched"):
        await SqliteStore.open(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


async def test_other_programs_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO invoices (total) VALUES (9.5)")
    before = digest(path)
    with pytest.raises(NotAnAgentroomDatabase, match="another program"):
        await SqliteStore.open(path)
    assert digest(path) == before


async def test_newer_schema_is_refused_and_left_untouched(db_path):
    await (await SqliteStore.open(db_path)).close()
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 5,))
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = digest(db_path)
    with pytest.raises(SchemaTooNewError, match="newer agentroom"):
        await SqliteStore.open(db_path)
    assert digest(db_path) == before


async def test_forward_migration_keeps_data(db_path, monkeypatch):
    store, room, bus = await open_room(db_path)
    await bus.publish(bus.register("a"), "kept across the migration")
    await store.close()
    v2 = "ALTER TABLE rooms ADD COLUMN colour TEXT NOT NULL DEFAULT 'blue';"
    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, v2))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    store = await SqliteStore.open(db_path)
    assert [e.content async for e in store.read_envelopes(room)] == ["kept across the migration"]
    await store.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT colour FROM rooms").fetchone() == ("blue",)
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


async def test_envelopes_round_trip_exactly_including_foreign_ids(db_path):
    store, room, bus = await open_room(db_path)
    a = bus.register("alice")
    bus.register("bob")
    first = await a.publish("hello", to="bob", metadata={"n": 1, "nested": {"k": [1, None]}})
    second = await a.publish("re", type=MessageType.ACTION, reply_to=first.id)
    odd_reply = await a.publish("x", reply_to="not-a-uuid")
    published = [first, second, odd_reply]
    await store.flush()
    assert [e async for e in store.read_envelopes(room)] == published
    assert [e async for e in store.read_envelopes(room, after_seq=1, limit=1)] == [second]
    await store.close()


async def test_one_row_per_envelope_keyed_by_room_and_seq(db_path):
    store, _room, bus = await open_room(db_path)
    a = bus.register("a")
    for i in range(25):
        await a.publish(f"m{i}")
    await store.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*), min(seq), max(seq) FROM envelopes").fetchone() == (
            25,
            1,
            25,
        )
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM envelopes WHERE room = 1 AND seq > 3 ORDER BY seq"
        ).fetchall()
        assert "PRIMARY KEY" in str(plan) or "USING" in str(plan)


def wrap_writes(store, monkeypatch, before):
    """Run ``before(batch)`` ahead of each transaction the writer makes."""
    original = store.sink._write

    async def wrapped(batch):
        before(batch)
        return await original(batch)

    monkeypatch.setattr(store.sink, "_write", wrapped)


async def test_group_commit_batches_many_publishes_into_few_transactions(db_path, monkeypatch):
    store, _room, bus = await open_room(db_path)
    a = bus.register("a")
    batches = []
    wrap_writes(store, monkeypatch, lambda batch: batches.append(len(batch)))
    for i in range(2000):
        await a.publish(f"m{i}")
    await store.flush()
    assert sum(batches) >= 2000
    assert len(batches) < 200, batches
    await store.close()


async def test_flush_means_durable_for_another_connection(db_path):
    store, _room, bus = await open_room(db_path)
    a = bus.register("a")
    for i in range(300):
        await a.publish(f"m{i}")
    await store.flush()
    with sqlite3.connect(db_path) as other:
        assert other.execute("SELECT count(*) FROM envelopes").fetchone()[0] == 300
    await store.close()


async def test_a_failed_write_is_reported_and_retried_not_lost(db_path, monkeypatch):
    store, room, bus = await open_room(db_path)
    a = bus.register("a")
    failures = [OSError("disk full (simulated)")]

    def flaky(batch):
        if failures:
            raise failures.pop()

    wrap_writes(store, monkeypatch, flaky)
    await a.publish("must survive")
    with pytest.raises(StoreWriteError, match="disk full"):
        await store.flush()
    await store.flush()  # the retry succeeds
    assert [e.content async for e in store.read_envelopes(room)] == ["must survive"]
    await store.close()


async def test_rooms_are_found_by_id_or_unique_prefix(db_path):
    store = await SqliteStore.open(db_path)
    first = store.create_room("first")
    second = store.create_room("second")
    assert (await store.get_room(first)).title == "first"
    assert (await store.get_room(second[:-4])).title == "second"
    with pytest.raises(SessionNotFoundError, match="several"):
        await store.get_room(first[:4])
    with pytest.raises(SessionNotFoundError, match="sessions list"):
        await store.get_room("zzzz")
    titles = [r.title for r in await store.list_rooms()]
    assert sorted(titles) == ["first", "second"]
    await store.close()


async def test_room_counters_track_messages(db_path):
    store, room, bus = await open_room(db_path)
    a = bus.register("a")
    await a.publish("one")
    await a.publish("two")
    await a.publish("working", type="status")
    info = await store.get_room(room)
    assert (info.messages, info.last_seq) == (2, 3)
    await store.close()


async def test_envelopes_of_unknown_room_are_logged_and_do_not_stop_the_writer(db_path, caplog):
    store = await SqliteStore.open(db_path)
    bus = MessageBus("never-created")
    bus.attach(store.sink)
    await bus.publish(bus.register("a"), "lost?")
    room = store.create_room("real")
    real = MessageBus(room)
    real.attach(store.sink)
    kept = await real.publish(real.register("b"), "kept")
    with caplog.at_level(logging.ERROR, logger="agentroom.store.writer"):
        await store.flush()
    assert "no room 'never-created'" in caplog.text
    assert [e async for e in store.read_envelopes(room)] == [kept]
    assert store.health.ok
    await store.close()


def test_envelope_equality_ignores_nothing():
    a = Envelope(sender="a", content="x")
    assert a != Envelope(sender="a", content="x")  # different ids and times


@pytest.mark.parametrize(
    "id_",
    [
        "imported-42",
        "0192ABCD-0000-7000-8000-000000000000",  # uppercase: kept as text, exactly
        "6f1c2a4e-3b1d-4c8e-9f3a-2b7d9e0c1a55",  # a UUIDv4: bytes, absolute time
        "01a20dad-5a1d-7044-88cb-9fd8b9dfa6c8",  # a UUIDv7 whose time differs from created_at
    ],
)
def test_codec_round_trips_envelopes_not_minted_by_the_bus(id_):
    from datetime import UTC, datetime

    from agentroom.store.codec import envelope_row, row_envelope

    env = Envelope(
        sender="a",
        receiver="b",
        content="x",
        id=id_,
        seq=3,
        session_id="room",
        created_at=datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        reply_to=id_,
        metadata={"k": [1, "two"]},
    )
    row = envelope_row(1, env, 0, 1)
    assert row_envelope("room", {0: "a", 1: "b"}, *row[1:]) == env
