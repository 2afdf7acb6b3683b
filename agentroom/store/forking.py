"""Copying a room up to a ``seq`` (a fork) and deleting one: each one transaction, in SQL.

Both run on the database connection's own thread as a single IMMEDIATE
transaction, so a crash in the middle leaves no trace: either the whole fork
is there or none of it, either the whole room is gone or all of it stays.
Rows are copied by ``INSERT ... SELECT`` inside SQLite, never brought into
Python, so a fork of a long room costs no memory in the process.

A fork copies, up to the fork's ``seq``: the room's participants, its
envelopes (same numbers, senders, contents, times and metadata; new ids of
the same time, and ``reply_to`` follows the copies), every agent's session
(sub-agents aside) with its history rows cut at the fork point and the
checkpoints taken before it, and the coordinator's checkpoint as it was at
the fork point (put together from its changes, ``state_changes.py``), made
a fork's by a function the caller gives (``agentroom.room.sessions.state_at_fork``).
Not the room's tokens: who may join the source room may not join its fork.
A delete takes the room's tokens with it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any, NamedTuple

from agentroom.core.errors import SessionBusyError
from agentroom.core.ids import id_micros, new_id, uuid7_bytes
from agentroom.core.protocol import ROOM, MessageType
from agentroom.store.codec import TYPE_CODE, encode_metadata, encode_state
from agentroom.store.ownership import OWNER_ROW, OwnerLocks, owner_of
from agentroom.store.state_changes import merge
from agentroom.store.statements import rowid


class Counted(NamedTuple):
    """What the log says at a fork point, for a room without its checkpoints' changes."""

    turns: int
    last_speaker: str | None
    agents: list[str]


MoveState = Callable[[dict[str, Any], Counted | None], dict[str, Any]]
"""(the state at the fork point, or the newest one with the log's counts) -> the fork's state."""

_MAP = "temp.agentroom_fork_ids"
_MESSAGE = TYPE_CODE[MessageType.MESSAGE]


def _fork_id(uid: bytes | str, created: int) -> bytes:
    """A new id with the same time as the envelope whose stored id and offset are given."""
    stamp = id_micros(uid) if isinstance(uid, bytes) else None
    return uuid7_bytes(created if stamp is None else stamp + created)


def fork_room(
    conn: sqlite3.Connection,
    source: int,
    upto: int,
    title: str,
    metadata: dict[str, Any],
    now: int,
    move_state: MoveState,
) -> str:
    """Copy room ``source`` up to ``upto`` into a new, stopped room; returns its id."""
    uid = new_id()
    conn.create_function("agentroom_fork_id", 2, _fork_id, deterministic=False)
    conn.execute("BEGIN IMMEDIATE")
    try:
        key = _copy_room(conn, source, upto, uid, title, metadata, now)
        agents = _copy_sessions(conn, source, key, upto)
        _move_checkpoint(conn, source, key, upto, now, agents, move_state)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_MAP}")
    return uid


def _copy_room(
    conn: sqlite3.Connection,
    source: int,
    upto: int,
    uid: str,
    title: str,
    metadata: dict[str, Any],
    now: int,
) -> int:
    last, messages = conn.execute(
        "SELECT coalesce(max(seq), 0), coalesce(sum(type = ?), 0) FROM envelopes "
        "WHERE room = ? AND seq <= ?",
        (_MESSAGE, source, upto),
    ).fetchone()
    key = rowid(
        conn.execute(
            "INSERT INTO rooms (uid, title, created_at, updated_at, state, last_seq, messages, "
            "metadata) VALUES (?, ?, ?, ?, 'stopped', ?, ?, ?)",
            (uid, title, now, now, last, messages, encode_metadata(metadata)),
        )
    )
    conn.execute(
        "INSERT INTO participants (room, idx, name) SELECT ?, idx, name FROM participants "
        "WHERE room = ?",
        (key, source),
    )
    # New ids first (a map from each old id to its copy), so reply_to can follow them.
    conn.execute(f"DROP TABLE IF EXISTS {_MAP}")
    conn.execute(f"CREATE TABLE {_MAP} (old PRIMARY KEY, new BLOB NOT NULL) WITHOUT ROWID")
    conn.execute(
        f"INSERT OR IGNORE INTO {_MAP} (old, new) SELECT uid, agentroom_fork_id(uid, created) "
        "FROM envelopes WHERE room = ? AND seq <= ?",
        (source, upto),
    )
    conn.execute(
        "INSERT INTO envelopes (room, seq, uid, sender, receiver, type, content, created, "
        "reply_to, metadata) "
        "SELECT ?, e.seq, m.new, e.sender, e.receiver, e.type, e.content, 0, "
        f"coalesce((SELECT r.new FROM {_MAP} r WHERE r.old = e.reply_to), e.reply_to), "
        f"e.metadata FROM envelopes e JOIN {_MAP} m ON m.old = e.uid "
        "WHERE e.room = ? AND e.seq <= ? ORDER BY e.seq",
        (key, source, upto),
    )
    return key


def _copy_sessions(conn: sqlite3.Connection, source: int, key: int, upto: int) -> list[str]:
    """Every agent's session (sub-agents aside), its history and checkpoints cut at ``upto``."""
    sessions = conn.execute(
        "SELECT id, agent, title, created_at, updated_at, metadata FROM agent_sessions "
        "WHERE room = ? AND instr(agent, '.') = 0 ORDER BY id",
        (source,),
    ).fetchall()
    for old, agent, title, created, updated, metadata in sessions:
        new = rowid(
            conn.execute(
                "INSERT INTO agent_sessions (uid, room, agent, title, created_at, updated_at, "
                "metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (new_id(), key, agent, title, created, updated, metadata),
            )
        )
        # The first position that shows an envelope after the fork point: the cut.
        (cut,) = conn.execute(
            "SELECT min(pos + max(0, ? - seq + 1)) FROM history WHERE agent_session = ? "
            "AND seq IS NOT NULL AND seq + coalesce(n, 1) - 1 > ?",
            (upto, old, upto),
        ).fetchone()
        cut = cut if cut is not None else 1 << 62
        conn.execute(
            "INSERT INTO history (agent_session, pos, seq, n, role, prev) "
            "SELECT ?, pos, seq, CASE WHEN pos + coalesce(n, 1) > ? THEN nullif(? - pos, 1) "
            "ELSE n END, role, prev FROM history WHERE agent_session = ? AND pos < ?",
            (new, cut, cut, old, cut),
        )
        conn.execute(
            "INSERT INTO checkpoints (agent_session, name, pos, created_at, state) "
            "SELECT ?, name, pos, created_at, state FROM checkpoints "
            "WHERE agent_session = ? AND pos < ?",
            (new, old, cut),
        )
    return [agent for _, agent, *_ in sessions]


def _move_checkpoint(
    conn: sqlite3.Connection,
    source: int,
    key: int,
    upto: int,
    now: int,
    agents: list[str],
    move_state: MoveState,
) -> None:
    """The fork's coordinator checkpoint: the source's as it was at ``upto``.

    Exact from the checkpoints' changes (``state_changes.py``) when the source
    has any up to ``upto``; a fork point before its first checkpoint (a run
    checkpoints as it starts) gets none, so the fork starts its run afresh, as
    the source did there.  A room saved before those rows were kept (or
    before it was resumed by an agentroom that keeps them) has its newest
    checkpoint moved back by counting the log instead (``Counted``).
    """
    saved = conn.execute("SELECT state FROM room_state WHERE room = ?", (source,)).fetchone()
    if saved is None:
        return
    rows: list[tuple[int, str]] = conn.execute(
        "SELECT seq, state FROM room_state_changes WHERE room = ? AND seq <= ? ORDER BY seq",
        (source, upto),
    ).fetchall()
    conn.execute(
        "INSERT INTO room_state_changes (room, seq, state) SELECT ?, seq, state "
        "FROM room_state_changes WHERE room = ? AND seq <= ?",
        (key, source, upto),
    )
    at = upto
    if rows:  # taken at the seq of its last change: what was said after it is read again
        at = rows[-1][0]
        state = move_state(json.loads(saved[0]) | merge(text for _, text in rows), None)
    else:
        counted = _counted(conn, source, upto, agents)
        keeps = conn.execute("SELECT 1 FROM room_state_changes WHERE room = ? LIMIT 1", (source,))
        if not counted.turns and keeps.fetchone():
            return  # before the source's first checkpoint: the fork's run starts afresh
        state = move_state(json.loads(saved[0]), counted)
    conn.execute(
        "INSERT OR REPLACE INTO room_state (room, seq, state, updated_at) VALUES (?, ?, ?, ?)",
        (key, at, encode_state(state), now),
    )


def _counted(conn: sqlite3.Connection, source: int, upto: int, agents: list[str]) -> Counted:
    """Turns and the last speaker up to ``upto`` as the log counts them (messages said)."""
    room_idx = conn.execute(
        "SELECT idx FROM participants WHERE room = ? AND name = ?", (source, ROOM)
    ).fetchone()
    spoken = (
        "FROM envelopes WHERE room = ? AND seq <= ? AND type = ? AND sender IS NOT ?",
        (source, upto, _MESSAGE, room_idx[0] if room_idx else None),
    )
    (turns,) = conn.execute(f"SELECT count(*) {spoken[0]}", spoken[1]).fetchone()
    last = conn.execute(
        "SELECT p.name FROM participants p WHERE p.room = ? AND p.idx = "
        f"(SELECT sender {spoken[0]} ORDER BY seq DESC LIMIT 1)",
        (source, *spoken[1]),
    ).fetchone()
    return Counted(turns, last[0] if last else None, agents)


def delete_room(
    conn: sqlite3.Connection,
    key: int,
    uid: str,
    force: bool,
    ours: bool,
    locks: OwnerLocks | None,
    now: int,
) -> list[str]:
    """Delete room ``key`` and everything in it; returns its agent sessions' ids.

    A room whose owner is alive (this store, or a process holding its lock or
    lease) is refused unless ``force``; the check and the delete are one
    transaction, and the room's lock is held meanwhile, so nobody claims it
    in between.
    """
    got = locks.acquire(key) if locks is not None else None
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            owner = owner_of(
                conn.execute(OWNER_ROW, (key,)).fetchone(),
                ours,
                None if got is None else not got,
                now,
            )
            if not force and owner is not None and owner.alive:
                raise SessionBusyError(
                    f"session {uid} is running ({owner.describe()}); stop it before deleting it"
                )
            sessions = [
                r[0] for r in conn.execute("SELECT uid FROM agent_sessions WHERE room = ?", (key,))
            ]
            inner = "SELECT id FROM agent_sessions WHERE room = ?"
            conn.execute(f"DELETE FROM history WHERE agent_session IN ({inner})", (key,))
            conn.execute(f"DELETE FROM checkpoints WHERE agent_session IN ({inner})", (key,))
            for table in (
                "agent_sessions",
                "envelopes",
                "participants",
                "room_state",
                "room_state_changes",
                "owners",
                "tokens",
            ):
                conn.execute(f"DELETE FROM {table} WHERE room = ?", (key,))
            conn.execute("DELETE FROM rooms WHERE id = ?", (key,))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    finally:
        if got and not ours and locks is not None:
            locks.release(key)
    return sessions
