"""Schema V3 (no index on envelope ids), one trip per batch, checkpoints encoded when written."""

from __future__ import annotations

import enum
import json
import logging
import sqlite3
from datetime import UTC, datetime

import pytest

from agentroom import MessageBus
from agentroom.coordination.plan_driven import PlanDriven
from agentroom.core.errors import StoreWriteError
from agentroom.core.ids import new_id
from agentroom.core.protocol import Session
from agentroom.store import SqliteStore, codec, statements, writer
from agentroom.store import opening as opening_module
from agentroom.store.codec import encode_metadata
from agentroom.store.schema import SCHEMA_VERSION, V1, V2

# -- V3: the envelope-id index is gone --------------------------------------------------------


def index_names(path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'envelopes'"
            )
        ]


async def test_a_v2_database_migrates_to_v3_on_open_and_keeps_its_data(db_path, monkeypatch):
    # Write a real V2 file: this agentroom's store, knowing only V1 and V2.
    monkeypatch.setattr(opening_module, "MIGRATIONS", (V1, V2))
    monkeypatch.setattr(opening_module, "SCHEMA_VERSION", 2)
    store = await SqliteStore.open(db_path)
    room = store.create_room("old room", {"workflow": "w"})
    bus = MessageBus(room)
    bus.attach(store.sink)
    alice = bus.register("alice")
    bus.register("bob")
    first = await alice.publish("hello", to="bob", metadata={"n": 1, "é": ["ü"]})
    second = await alice.publish("again", reply_to=first.id)
    await store.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
        # The coordinator's checkpoint as a V2 agentroom wrote it (one row, no changes kept).
        db.execute(
            "INSERT INTO room_state (room, seq, state, updated_at) VALUES (1, 2, ?, 0)",
            (json.dumps({"turns": 2, "task": "naïve"}),),
        )
    assert index_names(db_path) == ["envelopes_uid"]

    monkeypatch.undo()  # this agentroom again: V1, V2, V3 and on
    store = await SqliteStore.open(db_path)
    assert [e async for e in store.read_envelopes(room)] == [first, second]
    assert await store.load_room_state(room) == (2, {"turns": 2, "task": "naïve"})
    assert (await store.get_room(room)).metadata == {"workflow": "w"}
    # ... and it goes on being written after the migration.
    await store.open_room(room)
    store.sink.force(second.model_copy(update={"seq": 3, "id": new_id()}))
    await store.close()

    assert index_names(db_path) == []
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY 1")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*), max(seq) FROM envelopes").fetchone() == (3, 3)


async def test_a_new_database_has_no_envelope_id_index(db_path):
    await (await SqliteStore.open(db_path)).close()
    assert index_names(db_path) == []
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_the_primary_key_still_refuses_a_second_write_of_a_seq(db_path, caplog):
    store = await SqliteStore.open(db_path)
    room = store.create_room()
    bus = MessageBus(room)
    bus.attach(store.sink)
    env = await bus.register("a").publish("once")
    await store.flush()
    store.sink.force(env.model_copy(update={"id": new_id()}))  # same room, same seq
    after = await bus.register("b").publish("after")
    with caplog.at_level(logging.ERROR, logger="agentroom.store.writer"):
        await store.flush()  # the second write of #1 is refused and dropped; the rest goes on
    assert "#1 could not be saved in any form" in caplog.text and "UNIQUE" in caplog.text
    await store.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT seq, content FROM envelopes ORDER BY seq").fetchall() == [
            (1, "once"),
            (2, after.content),
        ]


# -- one trip to the database thread per batch ------------------------------------------------


async def open_room_with_agent(db_path):
    store = await SqliteStore.open(db_path)
    room = store.create_room("r")
    session = Session(session_id=room, agent_id="alice")
    store.add_agent_session(session)
    bus = MessageBus(room)
    bus.attach(store.sink)
    await store.flush()
    return store, room, session, bus


def count_trips(store, monkeypatch) -> list[tuple[list, int]]:
    """Per batch the writer wrote: (its ops, how many trips to the database thread it took)."""
    db = store._db
    trips = [0]
    original_execute = db._execute

    async def counting(fn, *args, **kwargs):
        trips[0] += 1
        return await original_execute(fn, *args, **kwargs)

    monkeypatch.setattr(db, "_execute", counting)
    batches: list[tuple[list, int]] = []
    original_write = store.sink._write

    async def write(batch):
        before = trips[0]
        try:
            return await original_write(batch)
        finally:
            batches.append((list(batch), trips[0] - before))

    monkeypatch.setattr(store.sink, "_write", write)
    return batches


def tags(batch) -> set[str]:
    return {op[0] if isinstance(op, tuple) else "envelope" for op in batch}


async def test_a_batch_with_checkpoints_and_state_changes_is_one_trip(db_path, monkeypatch):
    store, room, session, bus = await open_room_with_agent(db_path)
    batches = count_trips(store, monkeypatch)
    alice = bus.register("alice")
    sent = [await alice.publish(f"m{i}") for i in range(3)]
    for turn in range(1, 4):
        store.save_room_state(room, turn, {"turns": turn})
    store.save_checkpoint(session.id, "before", 1, {"why": "test"})
    store.save_checkpoint(session.id, "before", 2, {"why": "moved"})
    store.set_room_state(room, "stopped", {"reason": "done"})
    await store.flush()

    everything = {"envelope", writer.ROOM_CHECKPOINT, writer.CHECKPOINT, writer.ROOM_STATE}
    assert set().union(*(tags(batch) for batch, _ in batches)) == everything
    assert [trips for _, trips in batches] == [1] * len(batches)
    assert any(tags(batch) == everything for batch, _ in batches)

    # ... and it wrote what the slow path did.
    assert [e async for e in store.read_envelopes(room)] == sent
    assert await store.load_room_state(room) == (3, {"turns": 3})
    [record] = (await store.checkpoints(session)).values()
    assert (record.name, record.pos, record.state) == ("before", 2, {"why": "moved"})
    info = await store.get_room(room)
    assert (info.state, info.metadata, info.last_seq, info.messages) == (
        "stopped",
        {"reason": "done"},
        3,
        3,
    )
    await store.close()


async def test_a_new_room_in_a_batch_still_commits_once_with_the_rest(db_path, monkeypatch):
    store = await SqliteStore.open(db_path)
    batches = count_trips(store, monkeypatch)
    room = store.create_room("fresh")
    store.save_room_state(room, 0, {"turns": 0})
    store.set_room_state(room, "stopped")
    await store.flush()
    [(batch, trips)] = batches
    assert tags(batch) == {writer.ROOM_NEW, writer.ROOM_CHECKPOINT, writer.ROOM_STATE}
    assert trips == 2  # the room's insert (it needs the rowid back), then everything else
    assert await store.load_room_state(room) == (0, {"turns": 0})
    assert (await store.get_room(room)).state == "stopped"
    await store.close()


async def test_a_batch_that_fails_midway_is_rolled_back_and_retried_whole(db_path, monkeypatch):
    store, room, session, bus = await open_room_with_agent(db_path)
    real_append = writer.append_batch
    calls = []

    def append_then_fail(conn, participants, envelopes, history, small, counters):
        calls.append(len(small))
        if len(calls) == 1:  # write part of the batch, then fail before the commit
            conn.executemany(statements.INSERT_PARTICIPANT, participants)
            conn.executemany(statements.INSERT_ENVELOPE, envelopes)
            statements.write_small(conn, small)
            raise OSError("disk full (simulated)")
        real_append(conn, participants, envelopes, history, small, counters)

    monkeypatch.setattr(writer, "append_batch", append_then_fail)
    alice = bus.register("alice")
    sent = [await alice.publish(f"m{i}") for i in range(5)]
    store.save_room_state(room, 4, {"turns": 4})
    store.save_room_state(room, 5, {"turns": 5})
    store.save_checkpoint(session.id, "c", 3)
    with pytest.raises(StoreWriteError, match="disk full"):
        await store.flush()
    await store.flush()  # the retry writes the whole batch again, once
    # the room checkpoints' changes (one statement), the newest whole, and the agent's
    assert calls[0] == calls[-1] == 3
    assert [e async for e in store.read_envelopes(room)] == sent
    assert await store.load_room_state(room) == (5, {"turns": 5})
    assert [r.pos for r in (await store.checkpoints(session)).values()] == [3]
    info = await store.get_room(room)
    assert (info.last_seq, info.messages) == (5, 5)  # the counters were not doubled
    await store.close()
    with sqlite3.connect(db_path) as db:
        changes = db.execute("SELECT seq, state FROM room_state_changes ORDER BY seq").fetchall()
    assert changes == [(4, '{"turns":4}'), (5, '{"turns":5}')]


# -- room checkpoints: a snapshot when saved, encoded only if written ------------------------


async def test_only_the_newest_room_checkpoint_of_a_batch_is_encoded_whole(db_path, monkeypatch):
    store = await SqliteStore.open(db_path)
    rooms = [store.create_room("a"), store.create_room("b")]
    await store.flush()
    encoded = []
    real = codec._encode_state

    def counting(state):
        encoded.append(state)
        return real(state)

    monkeypatch.setattr(codec, "_encode_state", counting)
    for turn in range(1, 101):  # no await in between: one batch
        for room in rooms:
            store.save_room_state(room, turn, {"turns": turn, "room": room})
    await store.flush()
    # Each checkpoint leaves what it changed (the first all of it), for a fork there; only
    # the newest of each room is encoded whole, once.
    changes = [{"turns": 1, "room": room} for room in rooms]
    changes += [{"turns": turn} for turn in range(2, 101) for _ in rooms]
    wholes = [{"turns": 100, "room": room} for room in rooms]
    assert sorted(map(repr, encoded)) == sorted(map(repr, changes + wholes))
    for room in rooms:
        assert await store.load_room_state(room) == (100, {"turns": 100, "room": room})
    await store.close()


async def test_a_saved_room_state_is_not_changed_by_later_changes_to_its_objects(db_path):
    store = await SqliteStore.open(db_path)
    room = store.create_room()
    await store.flush()
    # The plan-driven strategy's state holds its live list of steps, changed in place
    # by the next turn; what was saved must be the state when it was saved.
    plan = PlanDriven("planner")
    plan.steps = [{"n": 1, "text": "do it", "assignee": "a", "status": "pending"}]
    state = {"turns": 1, "strategy_state": plan.state()}
    store.save_room_state(room, 1, state)
    plan.steps[0]["status"] = "done"
    state["turns"] = 99
    assert (await store.load_room_state(room))[1] == {
        "turns": 1,
        "strategy_state": {
            "phase": "plan",
            "steps": [{"n": 1, "text": "do it", "assignee": "a", "status": "pending"}],
            "stalled": 0,
            "plans": 0,
        },
    }
    await store.close()


class Colour(enum.StrEnum):
    RED = "red"


async def test_room_state_text_is_what_it_always_was(db_path):
    """Byte for byte ``json.dumps(state, separators=(",", ":"))``, whatever the state holds."""
    store = await SqliteStore.open(db_path)
    room = store.create_room()
    states = [
        {},
        {"task": "naïve 日本 \U0001f600", "x": 1.5, "big": 10**30, "nan": float("nan")},
        {"nested": {"list": [1, None, True, False, "s"], "tuple": (1, 2)}, 3: "int key"},
        {"enum": Colour.RED, "lone surrogate": "\ud800"},  # not plain builtins
    ]
    texts = []
    for i, state in enumerate(states):
        store.save_room_state(room, i, state)
        await store.flush()
        with sqlite3.connect(db_path) as db:
            (text,) = db.execute("SELECT state FROM room_state").fetchone()
        texts.append(text)
    assert texts == [json.dumps(s, separators=(",", ":")) for s in states]
    await store.close()


async def test_a_state_json_cannot_hold_is_refused_by_the_caller_or_skipped(db_path, caplog):
    store = await SqliteStore.open(db_path)
    room = store.create_room()
    bus = MessageBus(room)
    bus.attach(store.sink)
    # An object neither marshal nor JSON takes: refused right away, as before.
    with pytest.raises(TypeError, match="datetime"):
        store.save_room_state(room, 0, {"when": datetime.now(UTC)})
    # One marshal takes but JSON does not (a set): it cannot fail the batch.
    store.save_room_state(room, 0, {"turns": 0})
    await store.flush()
    env = await bus.register("a").publish("kept")
    store.save_room_state(room, 1, {"seen": {"a", "b"}})
    with caplog.at_level(logging.ERROR, logger="agentroom.store.writer"):
        await store.flush()
    assert "checkpoint at seq 1 not saved" in caplog.text
    assert [e async for e in store.read_envelopes(room)] == [env]
    assert await store.load_room_state(room) == (0, {"turns": 0})  # the previous one stays
    await store.close()


# -- metadata encoding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"event": "usage", "tokens": 12, "cost": 0.0012, "ok": True, "none": None},
        {"é": "日本", "emoji": "\U0001f600", "nested": {"k": [1, {"d": []}]}},
        {"inf": float("inf"), 1: "int key", "tuple": (1, "a")},
    ],
)
def test_encode_metadata_is_compact_utf8_json_as_before(metadata):
    expected = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False) if metadata else None
    assert encode_metadata(metadata) == expected


@pytest.mark.parametrize("count", [1, 2, 3, 255, 256, 257, 600])
def test_rows_go_in_whole_and_in_order_through_multi_row_statements(count):
    """A batch is inserted a few statements at a time (256, 128, ... 1 rows each)."""

    from agentroom.store.statements import insert_rows

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c BLOB)")
    rows = [(i, f"row {i}", bytes([i % 256])) for i in range(count)]
    insert_rows(conn, "INSERT INTO t (a, b, c) VALUES (?, ?, ?)", rows)
    assert conn.execute("SELECT a, b, c FROM t ORDER BY a").fetchall() == rows
    with pytest.raises(sqlite3.IntegrityError):  # a clash fails the statement, as before
        insert_rows(conn, "INSERT INTO t (a, b, c) VALUES (?, ?, ?)", rows[-1:])
