"""The coordinator's checkpoints over time, kept as changes (schema V5), in a real file.

Each checkpoint leaves the keys it changed (the first of a process all of them,
the termination counters and the stop reason never); two at one seq leave one
row with both; merged in order they are the checkpoint as it was at that seq.
"""

from __future__ import annotations

import json
import sqlite3

from agentroom import SqliteStore
from agentroom.store.state_changes import merge


def rows(db_path, room_key: int = 1) -> list[tuple[int, dict]]:
    with sqlite3.connect(db_path) as db:
        return [
            (seq, json.loads(text))
            for seq, text in db.execute(
                "SELECT seq, state FROM room_state_changes WHERE room = ? ORDER BY seq",
                (room_key,),
            )
        ]


def state(turns: int, speaker: str | None, *, task: str = "t", stopped: str | None = None):
    return {
        "strategy": "round-robin",
        "strategy_state": {"cursor": turns % 3},
        "turns": turns,
        "task": task,
        "last_speaker": speaker,
        "termination": {"count": turns},
        "stopped": stopped,
    }


async def test_each_checkpoint_keeps_what_it_changed_and_they_merge_back(db_path):
    store = await SqliteStore.open(db_path)
    room = store.create_room("r")
    store.save_room_state(room, 1, state(0, None))
    store.save_room_state(room, 4, state(1, "alice"))
    store.save_room_state(room, 7, state(2, "bob"))
    store.save_room_state(room, 7, state(2, "bob", task="new"))  # a second one at seq 7
    store.save_room_state(room, 8, state(2, "bob", task="new", stopped="done"))  # nothing kept
    await store.close()

    kept = rows(db_path)
    assert kept == [
        (1, {k: v for k, v in state(0, None).items() if k not in ("termination", "stopped")}),
        (4, {"strategy_state": {"cursor": 1}, "turns": 1, "last_speaker": "alice"}),
        (7, {"strategy_state": {"cursor": 2}, "turns": 2, "last_speaker": "bob", "task": "new"}),
    ]
    for upto, want in ((4, state(1, "alice")), (7, state(2, "bob", task="new"))):
        got = merge(json.dumps(change) for seq, change in kept if seq <= upto)
        assert got == {k: v for k, v in want.items() if k not in ("termination", "stopped")}


async def test_another_process_starts_its_changes_whole(db_path):
    store = await SqliteStore.open(db_path)
    room = store.create_room("r")
    store.save_room_state(room, 1, state(0, None))
    store.save_room_state(room, 4, state(1, "alice"))
    await store.close()
    store = await SqliteStore.open(db_path)  # a resume, say
    await store.open_room(room)
    store.save_room_state(room, 9, state(2, "bob"))
    await store.close()
    assert rows(db_path)[-1] == (
        9,
        {k: v for k, v in state(2, "bob").items() if k not in ("termination", "stopped")},
    )


async def test_a_deleted_room_keeps_no_changes(db_path):
    store = await SqliteStore.open(db_path)
    room = store.create_room("r")
    other = store.create_room("o")
    store.save_room_state(room, 1, state(0, None))
    store.save_room_state(other, 1, state(0, None))
    await store.flush()
    await store.delete_room(room, force=True)
    await store.close()
    assert rows(db_path, 1) == []
    assert len(rows(db_path, 2)) == 1
