"""Forking and deleting saved sessions.

A fork is a new room whose log is a copy of another room's log up to one
``seq``: same numbers, senders, receivers, contents, types, times and
metadata, new ids (``reply_to`` follows the copies).  Every agent's own
conversation is rebuilt by feeding the copies through a
:class:`~agentroom.conversation.ConversationManager`, exactly as the bus fed
the original, and the coordinator's checkpoint is moved back to the fork
point, so ``Engine.open(db, session_id=fork)`` (or ``agentroom resume``)
continues the fork at ``seq + 1`` with the same workflow.  Nothing in the
source room is touched.

Everything is written through the store's writer (group commit); the one
exception is :func:`delete_session`, which removes a whole room in a single
transaction of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import aclosing
from typing import Any

from agentroom.conversation import ConversationManager
from agentroom.errors import SessionBusyError
from agentroom.ids import datetime_to_micros, uuid7_from_micros
from agentroom.protocol import ROOM, Envelope, MessageType
from agentroom.store.sqlite import SqliteStore

KEPT_METADATA = ("workflow", "workflow_path", "model")
"""What a fork keeps of its source room's metadata: enough to resume it the same way."""


async def fork_session(
    store: SqliteStore, source_id: str, upto_seq: int, *, title: str | None = None
) -> str:
    """Copy ``source_id`` (an id or unique prefix) up to ``upto_seq`` into a new room.

    Returns the new session's id; it is ``stopped``, ready to be resumed.
    ``upto_seq`` may be 0 (an empty room with the same workflow) up to the
    source's last ``seq``.
    """
    source = await store.get_room(source_id)
    sid = source.id
    last = await store.last_seq(sid)
    if not 0 <= upto_seq <= last:
        raise ValueError(
            f"session {sid} has envelopes #1 to #{last}; cannot fork it at #{upto_seq}"
        )
    metadata: dict[str, Any] = {"forked_from": {"session": sid, "seq": upto_seq}}
    metadata.update({k: source.metadata[k] for k in KEPT_METADATA if k in source.metadata})
    name = title if title is not None else f"{source.title or sid[:18]} (fork at #{upto_seq})"
    new_id = store.create_room(name, metadata)

    # The agents' conversations, each starting where the agent started seeing the room.
    agents = [s for s in await store.agent_sessions(sid) if "." not in s.agent_id]
    first_seen = await _first_seen(store, [s.id for s in agents])
    manager = ConversationManager(new_id, store)
    waiting: list[tuple[int, str]] = []
    for session in agents:
        manager.create_agent_conversation(
            session.agent_id, title=session.title, metadata=dict(session.metadata)
        )
        start = first_seen.get(session.id)
        if start is None or start > 1:
            manager.retire(session.agent_id)  # not listening (yet): it joined later
            if start is not None and start <= upto_seq:
                waiting.append((start, session.agent_id))
    waiting.sort()

    ids: dict[str, str] = {}
    turns = 0
    last_speaker: str | None = None
    if upto_seq:
        async with aclosing(store.read_envelopes(sid, limit=upto_seq)) as envelopes:
            async for env in envelopes:
                if env.seq is None or env.seq > upto_seq:
                    break
                while waiting and waiting[0][0] <= env.seq:
                    manager.ensure_agent_conversation(waiting.pop(0)[1])
                copy = _copy(env, new_id, ids)
                await store.sink.put(copy)
                manager.offer(copy)
                if env.type is MessageType.MESSAGE and env.sender != ROOM:
                    turns += 1
                    last_speaker = env.sender

    saved = await store.load_room_state(sid)
    if saved is not None:
        state = _state_at_fork(
            saved[1], upto_seq, turns, last_speaker, source.metadata, [s.agent_id for s in agents]
        )
        store.save_room_state(new_id, upto_seq, state)
    store.set_room_state(new_id, "stopped")
    await store.flush()
    return new_id


def _copy(env: Envelope, session_id: str, ids: dict[str, str]) -> Envelope:
    """The envelope in the fork: a new id (of the same time), everything else kept."""
    new = uuid7_from_micros(datetime_to_micros(env.created_at))
    ids[env.id] = new
    reply_to = env.reply_to
    if reply_to is not None:
        reply_to = ids.get(reply_to, reply_to)
    return env.model_copy(update={"id": new, "session_id": session_id, "reply_to": reply_to})


async def _first_seen(store: SqliteStore, session_uids: list[str]) -> dict[str, int]:
    """For each agent session, the first ``seq`` its history references."""
    if not session_uids:
        return {}
    marks = ", ".join("?" for _ in session_uids)
    async with store._db.execute(
        "SELECT s.uid, min(h.seq) FROM agent_sessions s JOIN history h ON h.agent_session = s.id "
        f"WHERE s.uid IN ({marks}) AND h.seq IS NOT NULL GROUP BY s.uid",
        session_uids,
    ) as cur:
        return {uid: seq for uid, seq in await cur.fetchall()}


def _state_at_fork(
    state: dict[str, Any],
    upto_seq: int,
    turns: int,
    last_speaker: str | None,
    metadata: dict[str, Any],
    agents: list[str],
) -> dict[str, Any]:
    """The source's coordinator checkpoint, moved back to the fork point.

    Counters the fork cannot recompute start afresh: the termination
    conditions get a new budget (the fork is a new run), and the shared
    memory's open round keeps only the writes made before the fork.
    """
    state = dict(state)
    state["turns"] = turns
    state["stopped"] = None
    state["last_speaker"] = last_speaker
    state["termination"] = {}
    memory = state.get("memory")
    if isinstance(memory, dict) and isinstance(memory.get("round"), dict):
        state["memory"] = memory | {
            "round": {
                key: [w for w in writes if w[2] <= upto_seq]
                for key, writes in memory["round"].items()
            }
        }
    if state.get("strategy") == "round-robin":
        order = _round_robin_order(metadata) or agents
        cursor = 0
        if last_speaker is not None and last_speaker in order:
            cursor = (order.index(last_speaker) + 1) % len(order)
        state["strategy_state"] = {**(state.get("strategy_state") or {}), "cursor": cursor}
    return state


def _round_robin_order(metadata: dict[str, Any]) -> list[str]:
    workflow = metadata.get("workflow")
    if not isinstance(workflow, dict):
        return []
    order = (workflow.get("strategy") or {}).get("order")
    if order:
        return [str(name) for name in order]
    ids = [a.get("id") for a in workflow.get("agents") or []]
    ids += [h.get("id", "human") for h in workflow.get("humans") or []]
    return [str(name) for name in ids if name]


# -- deleting -------------------------------------------------------------------------------


async def delete_session(store: SqliteStore, uid: str, *, force: bool = False) -> None:
    """Delete a saved room (id or unique prefix) and everything in it, in one transaction.

    Its envelopes, participants, agent sessions with their histories and
    checkpoints, the coordinator's checkpoint and the room itself go.  A room
    that is running (open in a live agentroom) is refused unless ``force``.
    Forks of it are copies and stay.
    """
    room = await store.get_room(uid)
    if room.live_state == "running" and not force:
        owner = room.metadata.get("owner") or {}
        raise SessionBusyError(
            f"session {room.id} is running (pid {owner.get('pid')} on {owner.get('host')}); "
            "stop it before deleting it"
        )
    db = store._db
    while True:
        await store.flush()
        # One call on the connection's own thread: nothing else can run in between.
        done = await db._execute(_delete_room, db, room.id)
        if done is not None:
            break
        await asyncio.sleep(0.01)  # the writer is in the middle of a batch: let it commit
    keys = store.sink.keys
    keys.rooms.pop(room.id, None)
    if done:
        room_key, session_uids = done
        keys.names.pop(room_key, None)
        for session_uid in session_uids:
            keys.agent_sessions.pop(session_uid, None)


def _delete_room(db: Any, uid: str) -> tuple[int, list[str]] | tuple[()] | None:
    """Runs on aiosqlite's thread.  None means "busy, try again"; () means "already gone"."""
    conn: sqlite3.Connection = db._conn
    if conn.in_transaction:
        return None
    row = conn.execute("SELECT id FROM rooms WHERE uid = ?", (uid,)).fetchone()
    if row is None:
        return ()
    key = row[0]
    sessions = "SELECT id FROM agent_sessions WHERE room = ?"
    try:
        conn.execute("BEGIN IMMEDIATE")
        session_uids = [
            r[0] for r in conn.execute("SELECT uid FROM agent_sessions WHERE room = ?", (key,))
        ]
        conn.execute(f"DELETE FROM history WHERE agent_session IN ({sessions})", (key,))
        conn.execute(f"DELETE FROM checkpoints WHERE agent_session IN ({sessions})", (key,))
        conn.execute("DELETE FROM agent_sessions WHERE room = ?", (key,))
        conn.execute("DELETE FROM envelopes WHERE room = ?", (key,))
        conn.execute("DELETE FROM participants WHERE room = ?", (key,))
        conn.execute("DELETE FROM room_state WHERE room = ?", (key,))
        conn.execute("DELETE FROM rooms WHERE id = ?", (key,))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return key, session_uids
