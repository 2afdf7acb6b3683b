"""The single writer task: everything the store persists goes through here, in order.

Whatever has queued up while the previous transaction committed becomes the
next transaction (group commit), so a fast room costs one commit per batch,
not per envelope, and a slow disk makes batches bigger rather than the room
slower.  Integer keys (rooms, agent sessions, participant names) are owned by
this task alone and only become visible once their transaction commits, so a
failed batch can be retried as it was.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from agentroom.errors import StoreWriteError
from agentroom.ids import datetime_to_micros
from agentroom.inbox import Inbox, InboxClosed
from agentroom.protocol import Envelope, MessageType
from agentroom.store.codec import envelope_row, state_text
from agentroom.store.statements import (
    SAVE_CHECKPOINT,
    SAVE_ROOM_CHECKPOINT,
    UPDATE_ROOM_STATE,
    append_batch,
)

log = logging.getLogger(__name__)

# Op tags (an Envelope is queued as itself: it is the hot path).
ROOM_NEW = "room_new"
ROOM_STATE = "room_state"
AGENT_SESSION = "agent_session"
HISTORY = "history"
CHECKPOINT = "checkpoint"
ROOM_CHECKPOINT = "room_checkpoint"


@dataclass
class KeyMaps:
    """uid -> integer key maps, as committed."""

    rooms: dict[str, int] = field(default_factory=dict)
    agent_sessions: dict[str, int] = field(default_factory=dict)
    names: dict[int, dict[str, int]] = field(default_factory=dict)


class _Pending:
    """Keys a batch adds; merged into :class:`KeyMaps` only after its commit."""

    def __init__(self, keys: KeyMaps) -> None:
        self.keys = keys
        self.rooms: dict[str, int] = {}
        self.agent_sessions: dict[str, int] = {}
        self.names: dict[int, dict[str, int]] = {}
        self.participant_rows: list[tuple[int, int, str]] = []

    def room(self, uid: str) -> int:
        key = self.keys.rooms.get(uid)
        if key is None:
            key = self.rooms.get(uid)
        if key is None:
            raise StoreWriteError(f"no room {uid!r} was created or opened in this store")
        return key

    def agent_session(self, uid: str) -> int:
        key = self.keys.agent_sessions.get(uid)
        if key is None:
            key = self.agent_sessions[uid]
        return key

    def name(self, room: int, name: str) -> int:
        known = self.keys.names.setdefault(room, {})
        idx = known.get(name)
        if idx is None:
            added = self.names.setdefault(room, {})
            idx = added.get(name)
            if idx is None:
                idx = len(known) + len(added)
                added[name] = idx
                self.participant_rows.append((room, idx, name))
        return idx

    def merge(self) -> None:
        self.keys.rooms.update(self.rooms)
        self.keys.agent_sessions.update(self.agent_sessions)
        for room, added in self.names.items():
            self.keys.names.setdefault(room, {}).update(added)


def _transient(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


class GroupCommitWriter:
    """Owns the write side of one connection; see the module docstring."""

    def __init__(self, db: aiosqlite.Connection, keys: KeyMaps, *, max_batch: int = 8192) -> None:
        self._db = db
        self.keys = keys
        self.max_batch = max_batch
        self.inbox: Inbox[Any] = Inbox(max_batch)
        self.enqueued = 0
        self.committed = 0
        self.commits = 0  # transactions committed: how many groups the records went in
        self.failure: BaseException | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._kick = asyncio.Event()
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="agentroom-writer")

    # -- queueing ------------------------------------------------------------------------

    def offer(self, item: Any) -> bool:
        if self.inbox.offer(item):
            self.enqueued += 1
            return True
        return False

    async def put(self, item: Any) -> None:
        await self.inbox.put(item)
        self.enqueued += 1

    def force(self, item: Any) -> None:
        self.inbox.force(item)
        self.enqueued += 1

    async def flush(self) -> None:
        """Return once everything queued before this call is committed."""
        target = self.enqueued
        if self.committed >= target:
            return
        if self.failure is not None:
            self._kick.set()
        if self._task.done():
            raise StoreWriteError(self._failure_text())
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((target, fut))
        await fut

    async def close(self) -> None:
        self._closing = True
        self.inbox.close()
        self._kick.set()
        await self._task
        if self.failure is not None:
            raise StoreWriteError(self._failure_text())

    def _failure_text(self) -> str:
        lost = self.enqueued - self.committed
        return (
            f"could not write to the database ({self.failure}); {lost} record(s) are not "
            "durable. Check free disk space and file permissions, then flush again."
        )

    # -- the task ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                batch = await self.inbox.get_batch(self.max_batch)
            except InboxClosed:
                return
            if not await self._commit(batch):
                return

    async def _commit(self, batch: list[Any]) -> bool:
        delay, attempts = 0.02, 0
        while True:
            try:
                pending = await self._write(batch)
                break
            except Exception as exc:
                try:
                    await self._db.rollback()
                except Exception:  # the connection may be gone; the retry will say so
                    log.debug("rollback failed", exc_info=True)
                attempts += 1
                if _transient(exc) and attempts < 8:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
                    continue
                log.error("store write failed: %s", exc)
                self.failure = exc
                self._fail_waiters()
                if self._closing:
                    return False
                self._kick.clear()
                await self._kick.wait()
                attempts = 0
        pending.merge()
        self.failure = None
        self.committed += len(batch)
        self.commits += 1
        self._wake_waiters()
        return True

    def _wake_waiters(self) -> None:
        done = self.committed
        keep = []
        for target, fut in self._waiters:
            if target <= done:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((target, fut))
        self._waiters = keep

    def _fail_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for _, fut in waiters:
            if not fut.done():
                fut.set_exception(StoreWriteError(self._failure_text()))

    async def _write(self, batch: list[Any]) -> _Pending:
        db = self._db
        pending = _Pending(self.keys)
        envelope_rows: list[tuple[Any, ...]] = []
        history_ops: list[tuple[Any, ...]] = []
        later: list[tuple[Any, ...]] = []
        room_counts: dict[int, list[Any]] = {}
        session_id: str | None = None
        room = 0
        names: dict[str, int] = {}
        counts: list[Any] = []
        for op in batch:
            if op.__class__ is Envelope:
                env: Envelope = op
                if env.session_id != session_id:  # a batch is nearly always one room
                    session_id = env.session_id
                    room = pending.room(session_id or "")
                    names = self.keys.names.setdefault(room, {})
                    counts = room_counts.setdefault(room, [env, 0])
                sender = names.get(env.sender)
                if sender is None:
                    sender = pending.name(room, env.sender)
                receiver = names.get(env.receiver)
                if receiver is None:
                    receiver = pending.name(room, env.receiver)
                envelope_rows.append(envelope_row(room, env, sender, receiver))
                counts[0] = env  # envelopes arrive in seq order: the last one is the newest
                if env.type is MessageType.MESSAGE:
                    counts[1] += 1
                continue
            tag = op[0]
            if tag == HISTORY:
                history_ops.append(op)
            elif tag == ROOM_NEW:
                _, uid, title, created, state, metadata = op
                cur = await db.execute(
                    "INSERT INTO rooms (uid, title, created_at, updated_at, state, metadata) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (uid, title, created, created, state, metadata),
                )
                pending.rooms[uid] = cur.lastrowid
            elif tag == AGENT_SESSION:
                _, uid, room_uid, agent, title, created, updated, metadata = op
                cur = await db.execute(
                    "INSERT INTO agent_sessions (uid, room, agent, title, created_at, "
                    "updated_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (uid, pending.room(room_uid), agent, title, created, updated, metadata),
                )
                pending.agent_sessions[uid] = cur.lastrowid
            else:
                later.append(op)
        history_rows = _history_runs(pending, history_ops) if history_ops else []
        small = _small_rows(pending, _latest_checkpoints(later)) if later else []
        counters = [
            (last.seq or 0, messages, datetime_to_micros(last.created_at), key)
            for key, (last, messages) in room_counts.items()
        ]
        # The rest of the batch and its commit: one trip to the database thread
        # instead of one per statement, which is most of a lone commit's cost.
        # (Only a new room or agent session, which needs its rowid back, costs
        # a trip of its own above, in the same transaction.)
        await db._execute(
            append_batch,
            db._conn,
            pending.participant_rows,
            envelope_rows,
            history_rows,
            small,
            counters,
        )
        return pending


def _history_runs(pending: _Pending, ops: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Merge an agent's consecutive plain references into one row each (run-length).

    In a busy room each agent sees a run of consecutive envelopes per batch;
    one row per run keeps history to a few bytes per batch instead of per
    envelope per agent.  Rows with an explicit role or a ``prev`` stand alone.
    """
    rows: list[list[Any]] = []
    open_runs: dict[str, list[Any]] = {}
    for _, uid, pos, role, seq, prev in ops:
        run = open_runs.get(uid)
        if (
            run is not None
            and role is None
            and prev is None
            and seq is not None
            and run[1] + run[3] == pos
            and run[2] + run[3] == seq
        ):
            run[3] += 1
            continue
        run = [pending.agent_session(uid), pos, seq, 1, role, prev]
        rows.append(run)
        # Only a plain reference can be extended by the next one.
        if role is None and prev is None and seq is not None:
            open_runs[uid] = run
        else:
            open_runs.pop(uid, None)
    return [
        (key, pos, seq, None if n == 1 else n, role, prev) for key, pos, seq, n, role, prev in rows
    ]


def _latest_checkpoints(ops: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Drop room checkpoints that a later one in the same batch replaces anyway.

    A fast room checkpoints after every turn; one row per room per transaction
    is all that is kept, so writing the others would only cost time.
    """
    last: dict[str, int] = {}
    for index, op in enumerate(ops):
        if op[0] == ROOM_CHECKPOINT:
            last[op[1]] = index
    return [op for i, op in enumerate(ops) if op[0] != ROOM_CHECKPOINT or last[op[1]] == i]


def _small_rows(pending: _Pending, ops: list[tuple[Any, ...]]) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements for checkpoints and room-state changes, in the order they were queued.

    A room checkpoint is encoded here, so only the one written is.  One that
    JSON cannot hold (``marshal`` took it, JSON does not: a set, bytes) is
    logged and left out, keeping the previous one, rather than failing the
    batch and, with it, every envelope queued behind it.
    """
    rows: list[tuple[str, tuple[Any, ...]]] = []
    for op in ops:
        tag = op[0]
        if tag == ROOM_CHECKPOINT:
            _, uid, seq, frozen, updated = op
            key = pending.room(uid)
            try:
                text = state_text(frozen)
            except (TypeError, ValueError) as exc:
                log.error("room %s: checkpoint at seq %s not saved: %s", uid, seq, exc)
                continue
            rows.append((SAVE_ROOM_CHECKPOINT, (key, seq, text, updated)))
        elif tag == CHECKPOINT:
            _, uid, name, pos, created, state = op
            rows.append((SAVE_CHECKPOINT, (pending.agent_session(uid), name, pos, created, state)))
        elif tag == ROOM_STATE:
            _, uid, state, updated, metadata = op
            rows.append((UPDATE_ROOM_STATE, (state, updated, metadata, pending.room(uid))))
        else:  # pragma: no cover - a programming error, not a runtime condition
            raise StoreWriteError(f"unknown store operation {tag!r}")
    return rows
