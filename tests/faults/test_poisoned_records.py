"""No single record can stop the store's writer: a bad one is found, repaired, and the log goes on.

The bus makes text valid on the way in; these records are queued around it
(``store.sink.force``), as anything that slipped past would be.
"""

from __future__ import annotations

import logging
import sqlite3

from agentroom import MessageBus
from agentroom.core.ids import new_id
from agentroom.core.protocol import Session
from agentroom.store import SqliteStore
from agentroom.store.repair import REPAIRED

LONE = "\ud83d"  # half an emoji: no UTF-8 for it


async def open_room(db_path):
    store = await SqliteStore.open(db_path)
    room = store.create_room("poisoned")
    bus = MessageBus(room)
    bus.attach(store.sink)
    return store, room, bus


async def test_a_lone_surrogate_is_saved_repaired_keeping_its_seq_and_the_rest_goes_on(
    db_path, caplog
):
    store, room, bus = await open_room(db_path)
    first = await bus.register("alice").publish("before")
    bad = first.model_copy(update={"seq": 2, "id": new_id(), "content": f"split {LONE} emoji"})
    store.sink.force(bad)
    later = MessageBus(room, start_seq=2)  # the room goes on after it
    later.attach(store.sink)
    alice = later.register("alice")
    after = [await alice.publish(f"after {i}") for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="agentroom.store.writer"):
        await store.flush()
    assert store.health.ok
    saved = [e async for e in store.read_envelopes(room)]
    assert [e.seq for e in saved] == [1, 2, 3, 4, 5]  # no gap
    assert saved[1].content == "split \ufffd emoji"
    assert "UnicodeEncodeError" in saved[1].metadata[REPAIRED]
    assert [e.content for e in saved[2:]] == [e.content for e in after]
    assert "#2 saved in a repaired form" in caplog.text
    await store.close()


async def test_metadata_json_cannot_hold_is_replaced_by_a_note(db_path):
    store, room, bus = await open_room(db_path)
    alice = bus.register("alice")
    env = await alice.publish("ok")
    store.sink.force(
        env.model_copy(update={"seq": 2, "metadata": {"event": "tool", "files": {b"\xff"}}})
    )
    await store.flush()
    saved = [e async for e in store.read_envelopes(room)]
    assert [e.seq for e in saved] == [1, 2]
    assert saved[1].metadata["event"] == "tool"
    assert "metadata not saved" in saved[1].metadata[REPAIRED]
    assert saved[1].content == "ok"
    await store.close()


async def test_bad_titles_and_agent_checkpoints_are_saved_valid(db_path):
    store = await SqliteStore.open(db_path)
    room = store.create_room(f"title {LONE}")
    session = Session(session_id=room, agent_id="alice", title=f"role {LONE}")
    store.add_agent_session(session)
    store.save_checkpoint(session.id, "c", 0, {"note": f"x{LONE}"})
    await store.flush()
    assert (await store.get_room(room)).title == "title \ufffd"
    assert (await store.agent_sessions(room))[0].title == "role \ufffd"
    assert (await store.checkpoints(session))["c"].state == {"note": "x\ufffd"}
    await store.close()


async def test_a_few_bad_records_in_a_big_batch_cost_a_few_transactions_not_one_per_record(
    db_path,
):
    store, _room, bus = await open_room(db_path)
    await store.flush()
    alice = bus.register("alice")
    template = await alice.publish("template")
    await store.flush()
    commits = store.sink.commits
    for seq in range(2, 5002):  # one batch: nothing awaits in between
        content = f"bad {LONE}" if seq in (100, 2500, 4999) else f"m{seq}"
        store.sink.force(template.model_copy(update={"seq": seq, "content": content}))
    await store.flush()
    assert store.sink.repaired == 3
    assert store.sink.commits - commits < 60  # halving finds each bad one in ~13 steps
    with sqlite3.connect(db_path) as db:
        seqs = [s for (s,) in db.execute("SELECT seq FROM envelopes ORDER BY seq")]
        assert seqs == list(range(1, 5002))
        bad = db.execute("SELECT seq FROM envelopes WHERE content LIKE 'bad %'").fetchall()
        assert bad == [(100,), (2500,), (4999,)]
    await store.close()


async def test_a_record_that_cannot_be_saved_in_any_form_is_dropped_and_logged(db_path, caplog):
    store, room, bus = await open_room(db_path)
    alice = bus.register("alice")
    env = await alice.publish("once")
    store.sink.force(env.model_copy(update={"content": "again, same seq"}))
    last = await alice.publish("next")
    with caplog.at_level(logging.ERROR, logger="agentroom.store.writer"):
        await store.flush()
    assert "#1 could not be saved in any form" in caplog.text
    assert [e.content async for e in store.read_envelopes(room)] == ["once", last.content]
    await store.close()
