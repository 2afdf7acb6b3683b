"""A store that cannot write says so, stops the room's turns, keeps every record, and recovers.

SQLite's ``PRAGMA max_page_count`` on the store's own connection gives a real
SQLITE_FULL ("database or disk is full") that the test can lift again; every
wait is for a condition (the store's health changing), never for a duration.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from agentroom import Engine, MessageBus, ScriptedAgent
from agentroom.coordination import MaxTurns, MultiAgentCoordinator, RoundRobin
from agentroom.core.errors import StoreWriteError
from agentroom.store import SqliteStore
from tests.waiting import until

BIG = "x" * 2000  # a few of these need new pages


async def fill(store: SqliteStore) -> None:
    """From now on, a transaction that needs one more page fails with SQLITE_FULL."""
    async with store._db.execute("PRAGMA page_count") as cur:
        (pages,) = await cur.fetchone()
    await store._db.execute(f"PRAGMA max_page_count = {pages}")


async def free(store: SqliteStore) -> None:
    await store._db.execute("PRAGMA max_page_count = 1073741823")


async def until_health(store: SqliteStore, ok: bool):
    while store.health.ok is not ok:
        await asyncio.wait_for(store.health_changed(), 60)  # a guard: never a hang
    return store.health


async def open_room(db_path):
    store = await SqliteStore.open(db_path)
    room = store.create_room("full")
    bus = MessageBus(room)
    bus.attach(store.sink)
    alice = bus.register("alice")
    await alice.publish("before")
    await store.flush()
    return store, room, alice


def saved_seqs(db_path) -> list[int]:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return [s for (s,) in db.execute("SELECT seq FROM envelopes ORDER BY seq")]


async def test_a_full_disk_is_reported_and_the_writer_recovers_by_itself(db_path):
    store, room, alice = await open_room(db_path)
    await fill(store)
    sent = [await alice.publish(f"{i} {BIG}") for i in range(50)]
    health = await until_health(store, ok=False)
    assert "the disk is full" in health.reason and str(db_path) in health.reason
    assert not health.permanent
    with pytest.raises(StoreWriteError, match=r"; 50 record\(s\) are waiting to be written"):
        await store.flush()  # tries again at once, and says exactly what still waits
    await free(store)
    assert (await until_health(store, ok=True)).ok  # nobody flushed: it retried by itself
    await store.flush()
    assert [e.seq async for e in store.read_envelopes(room)] == [1] + [e.seq for e in sent]
    await store.close()
    assert saved_seqs(db_path) == list(range(1, 52))  # once each, in order


async def test_closing_while_full_says_how_many_records_were_not_written_and_why(db_path):
    store, _room, alice = await open_room(db_path)
    await fill(store)
    for i in range(7):
        await alice.publish(f"{i} {BIG}")
    await until_health(store, ok=False)
    with pytest.raises(StoreWriteError) as caught:
        await store.close()
    message = str(caught.value)
    assert message.startswith("7 record(s) could not be written: cannot write ")
    assert "the disk is full; free some disk space" in message
    assert "\n" not in message
    assert saved_seqs(db_path) == [1]  # what was written before stays


async def test_records_written_after_a_failure_are_never_reported_as_lost(db_path):
    store, _room, alice = await open_room(db_path)
    await fill(store)
    await alice.publish(BIG)
    with pytest.raises(StoreWriteError, match="waiting"):
        await store.flush()
    await free(store)
    await until_health(store, ok=True)
    await store.close()  # nothing is waiting any more: no error
    assert saved_seqs(db_path) == [1, 2]


async def test_more_records_than_the_queue_holds_wait_and_are_all_written_after(db_path):
    store, room, alice = await open_room(db_path)
    await fill(store)
    total = 20_000  # more than the batch the writer holds plus its full queue

    async def talk() -> None:
        for i in range(total):
            await alice.publish(f"m{i} {BIG[:50]}")

    talking = asyncio.create_task(talk())
    await until_health(store, ok=False)
    await until(lambda: len(store.sink.inbox) >= store.sink.max_batch)  # full: the bus waits
    assert not talking.done()
    await free(store)
    await asyncio.wait_for(talking, 120)  # a guard: before, this deadlocked
    await store.flush()
    assert await store.last_seq(room) == total + 1
    await store.close()
    assert saved_seqs(db_path) == list(range(1, total + 2))


async def test_the_room_gives_no_turn_while_it_cannot_save_and_carries_on_after(db_path):
    reached, go_on = asyncio.Event(), asyncio.Event()

    async def a(turn):
        if len(turn.messages) == 5:  # its third turn: the disk fills while it speaks
            reached.set()
            await go_on.wait()
        return f"a {BIG}"

    async with Engine.open(db_path, title="full room") as engine:
        engine.register_agent(ScriptedAgent("a", a))
        engine.register_agent(ScriptedAgent("b", lambda turn: f"b {BIG}"))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["a", "b"]), MaxTurns(12))
        seen = []
        engine.bus.subscribe(seen.append)
        run = asyncio.create_task(coordinator.run("talk"))
        await reached.wait()
        await fill(engine.store)
        await engine.bus.announce(BIG)  # the disk refuses it
        await until_health(engine.store, ok=False)
        go_on.set()  # a's turn ends: the room must wait now
        await until(lambda: [e for e in seen if e.metadata.get("event") == "store_failing"])
        await free(engine.store)
        result = await asyncio.wait_for(run, 60)
    assert result.turns == 12
    events = [e.metadata.get("event") for e in result.envelopes]
    assert events.count("store_failing") == 1 and events.count("store_recovered") == 1
    failing, recovered = events.index("store_failing"), events.index("store_recovered")
    between = result.envelopes[failing + 1 : recovered]
    assert not [e for e in between if e.sender in ("a", "b")]  # no turn while failing
    said = result.envelopes[failing].content
    assert said.startswith("the room cannot be saved: cannot write ")
    assert said.endswith("no new turn until it can write again")
    seqs = saved_seqs(db_path)
    assert seqs == list(range(1, len(seqs) + 1))
