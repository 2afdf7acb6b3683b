"""``SqliteStore``: the durable, append-only log of every room, on aiosqlite.

SQLite is the source of truth; memory holds only a window.  Writes are
queued (never awaited one by one) and made durable by the group-commit writer;
:meth:`SqliteStore.flush` is the durability barrier, :meth:`SqliteStore.durable`
a cheap wait for one envelope, and :attr:`SqliteStore.health` says whether the
store can write at all (and why not).  Reads go straight to the connection.
A file that is not ours, or is from a newer agentroom, is refused before
anything is written to it; one that cannot be written is refused with one
line saying why.  A room is written by its owner only (:meth:`claim`; see
``ownership.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from agentroom.core.errors import (
    SessionNotFoundError,
)
from agentroom.core.ids import datetime_to_micros, micros_to_datetime, new_id, next_micros
from agentroom.core.protocol import Envelope, MessageType, Session
from agentroom.core.records import CheckpointRecord, RoomInfo, StoreHealth
from agentroom.store import forking, ownership
from agentroom.store.codec import (
    TYPE_CODE,
    decode_metadata,
    encode_metadata,
    freeze_state,
    row_envelope,
)
from agentroom.store.history import HistoryReads
from agentroom.store.opening import (
    MEMORY,
    Durability,
    check_and_migrate,
    connection,
    create_private,
    to_the_end,
)
from agentroom.store.ops import (
    AGENT_SESSION,
    CHECKPOINT,
    HISTORY,
    RELEASE,
    ROOM_CHECKPOINT,
    ROOM_NEW,
    ROOM_STATE,
)
from agentroom.store.ownership import Claim, OwnerLocks
from agentroom.store.state_changes import StateChanges
from agentroom.store.statements import like_prefix, one
from agentroom.store.tokens import TokenRecords
from agentroom.store.writer import GroupCommitWriter, KeyMaps

_ROOM_COLUMNS = "r.id, r.uid, r.title, r.created_at, r.updated_at, r.state, r.last_seq, r.messages"
_OWNER_COLUMNS = "o.token, o.epoch, o.lease_until, o.locked, o.pid, o.host"
_ROOM_SELECT = (
    f"SELECT {_ROOM_COLUMNS}, r.metadata, {_OWNER_COLUMNS} "
    "FROM rooms r LEFT JOIN owners o ON o.room = r.id"
)


class SqliteStore(HistoryReads, TokenRecords):
    """One connection to one database file; see the module docstring."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        path: str,
        keys: KeyMaps,
        durability: Durability = "full",
    ) -> None:
        self.path = path
        self._locks = OwnerLocks(path) if path != MEMORY else None
        self._writer = GroupCommitWriter(
            db, keys, path=path, durability=durability, locks=self._locks
        )
        self._state_changes = StateChanges()
        self._tokens_touched: dict[str, float] = {}  # (TokenRecords) when each was last noted

    @property
    def _db(self) -> aiosqlite.Connection:
        return self._writer.db  # the writer may reopen it (a deleted file put back)

    # -- opening and closing ------------------------------------------------------------

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, durability: Durability = "full"
    ) -> SqliteStore:
        """Open (creating if needed, mode 0600) and migrate an agentroom database."""
        where = str(path)
        if where != MEMORY:
            create_private(Path(where))
        db = await connection(where)
        try:
            await check_and_migrate(db, where, durability)
            keys = KeyMaps()
        except BaseException:
            await to_the_end(db.close())
            raise
        return cls(db, where, keys, durability)

    async def close(self) -> None:
        """Make everything queued durable, then close the connection.

        Raises :class:`~agentroom.core.errors.StoreWriteError` (one line: how many
        records, and why) when some could not be written after a last attempt.
        A close is finished even when its caller is cancelled meanwhile.
        """
        await to_the_end(self._close())

    async def _close(self) -> None:
        try:
            await self._writer.close()
        finally:
            await self._db.close()
            if self._locks is not None:
                self._locks.close()

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
        self, session_uid: str, pos: int, role: int | None, seq: int | None, prev: int | None
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
        is queued, and only the newest checkpoint of a batch is encoded and written
        whole; each one also leaves what it changed, for a fork at ``seq``
        (:mod:`agentroom.store.state_changes`).
        """
        frozen = freeze_state(state)
        change = self._state_changes.change(uid, seq, state)
        self._writer.force((ROOM_CHECKPOINT, uid, seq, frozen, next_micros(), change))

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

    async def durable(self, session_id: str, seq: int) -> bool:
        """Wait until envelope ``seq`` of a room is on disk, without asking for a flush.

        Returns False if it never will be (the room is closing and the disk
        refuses, or the room was taken over).
        """
        return await self._writer.durable(session_id, seq)

    # -- health --------------------------------------------------------------------------

    @property
    def health(self) -> StoreHealth:
        """Whether the store can write now, and if not, why (one line)."""
        return self._writer.health

    def watch_health(self, callback: Callable[[StoreHealth], Any]) -> Callable[[], None]:
        """Call ``callback`` on every change of :attr:`health`; returns how to stop that."""
        return self._writer.watch(callback)

    async def health_changed(self) -> StoreHealth:
        """Wait for the next change of :attr:`health` (a recovery, say) and return it."""
        return await self._writer.health_changed()

    def closing(self) -> None:
        """The room is closing: nothing may wait on a failing disk any more."""
        self._writer.release()

    # -- ownership -----------------------------------------------------------------------

    async def claim(self, uid: str, *, take_over: bool = False) -> None:
        """Become the room's only writer, or raise ``SessionBusyError`` (see ``ownership.py``).

        From here on every batch checks the claim in its own transaction: if
        someone else claims the room, this store's next write fails (fenced).
        """
        await self.flush()  # a room just created is claimed once it is written
        key = await self._room_key(uid)
        got = self._locks.acquire(key) if self._locks is not None else None
        try:
            epoch = await self._writer.run_job(
                ownership.claim_room, key, uid, new_id(), take_over, got, next_micros()
            )
        except BaseException:
            if got and self._locks is not None:
                self._locks.release(key)
            raise
        loop_now = asyncio.get_running_loop().time()
        self._writer.claimed(Claim(uid, key, epoch, got is True, loop_now))

    def release(self, uid: str) -> None:
        """Queue giving the room up (with the records before it); its lock goes once written."""
        self._writer.force((RELEASE, uid))

    # -- forks and deletes (one transaction each, on the database thread) ---------------

    async def fork_room(
        self,
        source_uid: str,
        upto_seq: int,
        *,
        title: str,
        metadata: dict[str, Any],
        move_state: forking.MoveState,
    ) -> str:
        """Copy a room up to ``upto_seq`` into a new stopped room, all or nothing; its id."""
        key = await self._room_key(source_uid)
        return await self._writer.run_job(
            forking.fork_room, key, upto_seq, title, metadata, next_micros(), move_state
        )

    async def delete_room(self, uid: str, *, force: bool = False) -> None:
        """Delete a room and everything in it, all or nothing (a running one only if ``force``)."""
        keys = self._writer.keys
        key = await self._room_key(uid)
        sessions = await self._writer.run_job(
            forking.delete_room,
            key,
            uid,
            force,
            key in self._writer.claims,
            self._locks,
            next_micros(),
        )
        self._state_changes.forget(uid)
        keys.rooms.pop(uid, None)
        keys.names.pop(key, None)
        for session_uid in sessions:
            keys.agent_sessions.pop(session_uid, None)

    # -- reads ---------------------------------------------------------------------------

    async def open_room(self, uid_or_prefix: str) -> RoomInfo:
        """Find a saved room and make it writable again through this store (resume)."""
        room = await self.get_room(uid_or_prefix)
        keys = self._writer.keys
        room_key = await self._room_key(room.id)
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
        async with self._db.execute(f"{_ROOM_SELECT} WHERE r.uid = ?", (text,)) as cur:
            rows = list(await cur.fetchall())
        if not rows:
            pattern = like_prefix(text)
            async with self._db.execute(
                f"{_ROOM_SELECT} WHERE r.uid LIKE ? ESCAPE '\\' LIMIT 6",
                (pattern,),
            ) as cur:
                rows = list(await cur.fetchall())
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
        """Saved rooms, most recently active first, with their agents and owners: one query.

        A room's metadata holds its whole workflow, which a list does not
        show: it is read only when ``metadata`` is asked for (whether a room
        is running is its owner's row, not its metadata).
        """
        await self.flush()
        meta = "r.metadata" if metadata else "'{}'"
        sql = (
            f"SELECT {_ROOM_COLUMNS}, {meta}, {_OWNER_COLUMNS}, (SELECT json_group_array(agent) "
            "FROM (SELECT agent FROM agent_sessions WHERE room = r.id ORDER BY id)) "
            "FROM rooms r LEFT JOIN owners o ON o.room = r.id ORDER BY r.updated_at DESC"
        )
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        async with self._db.execute(sql, params) as cur:
            rows = list(await cur.fetchall())
        return [self._summary(row[:-1], json.loads(row[-1])) for row in rows]

    async def _room_info(self, row: Sequence[Any]) -> RoomInfo:
        async with self._db.execute(
            "SELECT agent FROM agent_sessions WHERE room = ? ORDER BY id", (row[0],)
        ) as cur:
            agents = [agent for (agent,) in await cur.fetchall()]
        return self._summary(row, agents)

    def _summary(self, row: Sequence[Any], agents: list[str]) -> RoomInfo:
        """A room's summary from a row of ``_ROOM_SELECT`` and its agents."""
        key, uid, title, created, updated, state, last_seq, messages, metadata = row[:9]
        owner = None
        if row[10] is not None:  # the room has had an owner (schema V4 onwards)
            held = self._locks.held_elsewhere(key) if self._locks is not None else None
            ours = key in self._writer.claims
            owner = ownership.owner_of(row[9:], ours, held, next_micros())
        return RoomInfo(
            id=uid,
            title=title,
            created_at=micros_to_datetime(created),
            updated_at=micros_to_datetime(updated),
            state=state,
            last_seq=last_seq,
            messages=messages,
            agents=tuple(agents),
            metadata=decode_metadata(metadata),
            owner=owner,
        )

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
            (seq,) = one(await cur.fetchone())
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
                rows = list(await cur.fetchall())
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
            rows = list(await cur.fetchall())
        return [row_envelope(uid, names, *row) for row in reversed(rows)]

    async def agent_sessions(self, uid: str) -> list[Session]:
        await self.flush()
        key = await self._room_key(uid)
        async with self._db.execute(
            "SELECT uid, agent, title, created_at, updated_at, metadata FROM agent_sessions "
            "WHERE room = ? ORDER BY id",
            (key,),
        ) as cur:
            rows = list(await cur.fetchall())
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
            rows = list(await cur.fetchall())
        return {
            name: CheckpointRecord(name, pos, micros_to_datetime(created), decode_metadata(state))
            for name, pos, created, state in rows
        }

    async def integrity_check(self) -> str:
        async with self._db.execute("PRAGMA integrity_check") as cur:
            (result,) = one(await cur.fetchone())
        return str(result)
