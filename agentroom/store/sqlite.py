"""``SqliteStore``: the durable, append-only log of every room, on aiosqlite.

SQLite is the source of truth; memory holds only a window.  Writes are
queued (never awaited one by one) and made durable by the group-commit writer;
:meth:`SqliteStore.flush` is the durability barrier.  Reads go straight to the
connection.  A file that is not ours, or is from a newer agentroom, is refused
before anything is written to it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite

from agentroom.errors import (
    SessionNotFoundError,
    StoreError,
)
from agentroom.ids import datetime_to_micros, micros_to_datetime, new_id, next_micros
from agentroom.protocol import Envelope, MessageType, Session
from agentroom.store.codec import (
    TYPE_CODE,
    decode_metadata,
    encode_metadata,
    freeze_state,
    row_envelope,
)
from agentroom.store.history import HistoryReads
from agentroom.store.opening import MEMORY, Durability, check_and_migrate, create_private
from agentroom.store.records import CheckpointRecord, RoomInfo
from agentroom.store.writer import (
    AGENT_SESSION,
    CHECKPOINT,
    HISTORY,
    ROOM_CHECKPOINT,
    ROOM_NEW,
    ROOM_STATE,
    GroupCommitWriter,
    KeyMaps,
)

_ROOM_COLUMNS = "id, uid, title, created_at, updated_at, state, last_seq, messages, metadata"


class SqliteStore(HistoryReads):
    """One connection to one database file; see the module docstring."""

    def __init__(self, db: aiosqlite.Connection, path: str, keys: KeyMaps) -> None:
        self._db = db
        self.path = path
        self._writer = GroupCommitWriter(db, keys)

    # -- opening and closing ------------------------------------------------------------

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, durability: Durability = "full"
    ) -> SqliteStore:
        """Open (creating if needed, mode 0600) and migrate an agentroom database."""
        where = str(path)
        if where != MEMORY:
            create_private(Path(where))
        try:
            db = await aiosqlite.connect(where, isolation_level="IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {where}: {exc}") from None
        try:
            await check_and_migrate(db, where, durability)
            keys = KeyMaps()
        except BaseException:
            await db.close()
            raise
        return cls(db, where, keys)

    async def close(self) -> None:
        """Make everything queued durable, then close the connection."""
        try:
            await self._writer.close()
        finally:
            await self._db.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- writes (queued; durable after flush) --------------------------------------------

    @property
    def sink(self) -> GroupCommitWriter:
        """Attach this to the bus: every envelope it delivers is appended, losslessly."""
        return self._writer

    def create_room(
        self, title: str = "", metadata: dict[str, Any] | None = None, *, uid: str | None = None
    ) -> str:
        """Queue a new room session and return its id."""
        uid = uid or new_id()
        self._writer.force(
            (ROOM_NEW, uid, title, next_micros(), "running", encode_metadata(metadata or {}))
        )
        return uid

    def set_room_state(self, uid: str, state: str, metadata: dict[str, Any] | None = None) -> None:
        self._writer.force((ROOM_STATE, uid, state, next_micros(), encode_metadata(metadata or {})))

    def add_agent_session(self, session: Session) -> None:
        self._writer.force(
            (
                AGENT_SESSION,
                session.id,
                session.session_id,
                session.agent_id,
                session.title,
                datetime_to_micros(session.created_at),
                datetime_to_micros(session.updated_at),
                encode_metadata(session.metadata),
            )
        )

    def add_history(
        self, session_uid: str, pos: int, role: int, seq: int | None, prev: int | None
    ) -> None:
        """Record that an agent saw envelope ``seq`` (a reference, not a copy)."""
        self._writer.force((HISTORY, session_uid, pos, role, seq, prev))

    def save_checkpoint(
        self, session_uid: str, name: str, pos: int, state: dict[str, Any] | None = None
    ) -> None:
        self._writer.force(
            (CHECKPOINT, session_uid, name, pos, next_micros(), encode_metadata(state or {}))
        )

    def save_room_state(self, uid: str, seq: int, state: dict[str, Any]) -> None:
        """Queue the coordinator's checkpoint (replaces the previous one: a small record).

        ``state`` is JSON data.  What is saved is ``state`` as it is now: a copy
        is queued, and only the newest checkpoint of a batch is encoded and written.
        """
        self._writer.force((ROOM_CHECKPOINT, uid, seq, freeze_state(state), next_micros()))

    async def load_room_state(self, uid: str) -> tuple[int, dict[str, Any]] | None:
        """The last coordinator checkpoint of a room: (seq it was taken at, state)."""
        await self.flush()
        key = await self._room_key(uid)
        async with self._db.execute(
            "SELECT seq, state FROM room_state WHERE room = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    async def flush(self) -> None:
        """Return once everything queued before the call is committed to disk."""
        await self._writer.flush()

    # -- reads ---------------------------------------------------------------------------

    async def open_room(self, uid_or_prefix: str) -> RoomInfo:
        """Find a saved room and make it writable again through this store (resume)."""
        room = await self.get_room(uid_or_prefix)
        keys = self._writer.keys
        async with self._db.execute("SELECT id FROM rooms WHERE uid = ?", (room.id,)) as cur:
            (room_key,) = await cur.fetchone()
        keys.rooms[room.id] = room_key
        keys.names[room_key] = {name: idx for idx, name in (await self._names(room_key)).items()}
        async with self._db.execute(
            "SELECT uid, id FROM agent_sessions WHERE room = ?", (room_key,)
        ) as cur:
            keys.agent_sessions.update({uid: key async for uid, key in cur})
        return room

    async def get_room(self, uid_or_prefix: str) -> RoomInfo:
        """A room by id or unique id prefix; the error says what matched."""
        await self.flush()
        text = uid_or_prefix.strip()
        if not text:
            raise SessionNotFoundError("no session id given; run 'agentroom sessions list'")
        async with self._db.execute(
            f"SELECT {_ROOM_COLUMNS} FROM rooms WHERE uid = ?", (text,)
        ) as cur:
            rows = await cur.fetchall()
        if not rows:
            pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            async with self._db.execute(
                f"SELECT {_ROOM_COLUMNS} FROM rooms WHERE uid LIKE ? ESCAPE '\\' LIMIT 6",
                (pattern,),
            ) as cur:
                rows = await cur.fetchall()
        if not rows:
            raise SessionNotFoundError(
                f"no saved session matches {text!r}; run 'agentroom sessions list' to see them"
            )
        if len(rows) > 1:
            shown = ", ".join(row[1] for row in rows[:5])
            raise SessionNotFoundError(
                f"{text!r} matches several sessions ({shown}); give more of the id"
            )
        return await self._room_info(rows[0])

    async def list_rooms(
        self, limit: int | None = None, *, metadata: bool = False
    ) -> list[RoomInfo]:
        """Saved rooms, most recently active first, with their agents: one query.

        A room's metadata holds its whole workflow, which a list does not
        show; unless ``metadata`` is asked for, only the owner (what
        :attr:`RoomInfo.live_state` reads) is taken out of it, by SQLite.
        """
        await self.flush()
        wanted = (
            "r.metadata"
            if metadata
            else "json_object('owner', json_extract(r.metadata, '$.owner'))"
        )
        sql = (
            "SELECT r.uid, r.title, r.created_at, r.updated_at, r.state, r.last_seq, r.messages, "
            f"{wanted}, (SELECT json_group_array(agent) FROM (SELECT agent FROM agent_sessions "
            "WHERE room = r.id ORDER BY id)) FROM rooms r ORDER BY r.updated_at DESC"
        )
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        async with self._db.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [
            _room(columns, json.loads(agents), decode_metadata(meta) if metadata else _owner(meta))
            for *columns, meta, agents in rows
        ]

    async def _room_info(self, row: tuple[Any, ...]) -> RoomInfo:
        key, *columns, metadata = row
        async with self._db.execute(
            "SELECT agent FROM agent_sessions WHERE room = ? ORDER BY id", (key,)
        ) as cur:
            agents = [agent for (agent,) in await cur.fetchall()]
        return _room(columns, agents, decode_metadata(metadata))

    async def _room_key(self, uid: str) -> int:
        return await self._key_of("rooms", uid, self._writer.keys.rooms, "session")

    async def _names(self, room_key: int) -> dict[int, str]:
        async with self._db.execute(
            "SELECT idx, name FROM participants WHERE room = ?", (room_key,)
        ) as cur:
            return {idx: name for idx, name in await cur.fetchall()}

    async def last_seq(self, uid: str) -> int:
        await self.flush()
        key = await self._room_key(uid)
        async with self._db.execute("SELECT max(seq) FROM envelopes WHERE room = ?", (key,)) as cur:
            (seq,) = await cur.fetchone()
        return seq or 0

    async def read_envelopes(
        self,
        uid: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        chunk: int = 5000,
        type: MessageType | None = None,
        events: tuple[str, ...] = (),
    ) -> AsyncIterator[Envelope]:
        """The room's envelopes in ``seq`` order, read in chunks.

        Only those of one ``type``, if given, and only those whose metadata
        names one of ``events`` (SQLite picks them; the rest are never decoded).
        """
        await self.flush()
        key = await self._room_key(uid)
        names = await self._names(key)
        only = "" if type is None else f" AND type = {TYPE_CODE[type]}"
        if events:
            only += f" AND json_extract(metadata, '$.event') IN ({', '.join('?' * len(events))})"
        remaining = limit
        cursor_seq = after_seq
        while remaining is None or remaining > 0:
            take = chunk if remaining is None else min(chunk, remaining)
            async with self._db.execute(
                "SELECT seq, uid, sender, receiver, type, content, created, reply_to, metadata "
                f"FROM envelopes WHERE room = ? AND seq > ?{only} ORDER BY seq LIMIT ?",
                (key, cursor_seq, *events, take),
            ) as cur:
                rows = await cur.fetchall()
            if not rows:
                return
            for row in rows:
                yield row_envelope(uid, names, *row)
            cursor_seq = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)
            if len(rows) < take:
                return

    async def read_envelopes_before(self, uid: str, before_seq: int, limit: int) -> list[Envelope]:
        """The ``limit`` envelopes just before ``before_seq``, oldest first (paging back)."""
        await self.flush()
        key = await self._room_key(uid)
        names = await self._names(key)
        async with self._db.execute(
            "SELECT seq, uid, sender, receiver, type, content, created, reply_to, metadata "
            "FROM envelopes WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (key, before_seq, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [row_envelope(uid, names, *row) for row in reversed(rows)]

    async def agent_sessions(self, uid: str) -> list[Session]:
        await self.flush()
        key = await self._room_key(uid)
        async with self._db.execute(
            "SELECT uid, agent, title, created_at, updated_at, metadata FROM agent_sessions "
            "WHERE room = ? ORDER BY id",
            (key,),
        ) as cur:
            rows = await cur.fetchall()
        return [
            Session(
                id=sid,
                session_id=uid,
                agent_id=agent,
                title=title,
                created_at=micros_to_datetime(created),
                updated_at=micros_to_datetime(updated),
                metadata=decode_metadata(metadata),
            )
            for sid, agent, title, created, updated, metadata in rows
        ]

    async def checkpoints(self, session: Session) -> dict[str, CheckpointRecord]:
        await self.flush()
        async with self._db.execute(
            "SELECT c.name, c.pos, c.created_at, c.state FROM checkpoints c "
            "JOIN agent_sessions s ON s.id = c.agent_session WHERE s.uid = ?",
            (session.id,),
        ) as cur:
            rows = await cur.fetchall()
        return {
            name: CheckpointRecord(name, pos, micros_to_datetime(created), decode_metadata(state))
            for name, pos, created, state in rows
        }

    async def integrity_check(self) -> str:
        async with self._db.execute("PRAGMA integrity_check") as cur:
            (result,) = await cur.fetchone()
        return result


def _room(columns: list[Any], agents: list[str], metadata: dict[str, Any]) -> RoomInfo:
    """A room's summary from its columns (uid .. messages), agents and metadata."""
    uid, title, created, updated, state, last_seq, messages = columns
    return RoomInfo(
        id=uid,
        title=title,
        created_at=micros_to_datetime(created),
        updated_at=micros_to_datetime(updated),
        state=state,
        last_seq=last_seq,
        messages=messages,
        agents=tuple(agents),
        metadata=metadata,
    )


def _owner(text: str) -> dict[str, Any]:
    """The ``{"owner": ...}`` that SQLite took out of a room's metadata; none if it had none."""
    owner = json.loads(text).get("owner")
    return {} if owner is None else {"owner": owner}
