"""The single writer task: everything the store persists goes through here, in order.

Whatever has queued up while the previous transaction committed becomes the
next transaction (group commit), so a fast room costs one commit per batch,
not per envelope, and a slow disk makes batches bigger rather than the room
slower.  Integer keys (rooms, agent sessions, participant names) are owned by
this task alone and only become visible once their transaction commits, so a
failed batch can be retried as it was.

Nothing stops the writer for good but the room being taken over:

- A batch that fails because of one record (see ``faults.py``) is split in
  halves until the record is found; a repaired form of it is saved in its
  place (``repair.py``: an envelope keeps its ``seq``, so the log has no
  gap), and the rest goes on.
- A batch that fails because of the database (a full disk, a lock held too
  long, an I/O error) is kept, with everything queued after it, in order,
  and tried again with capped back-off, so the room saves again by itself
  once the cause is gone.  Meanwhile the store's :class:`StoreHealth` says it
  is failing and why; a ``flush()`` retries at once and raises if it still
  fails, counting exactly the records still waiting.
- Before each transaction the file at the path is compared with the one
  opened; a deleted file is restored from the open connection (``rescue.py``).
- Every transaction checks the epoch of each room this store owns, and
  renews their leases when due (``ownership.py``); a room someone else has
  claimed fails for good, loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiosqlite

from agentroom.bus.inbox import Inbox, InboxClosed
from agentroom.core.errors import StoreWriteError
from agentroom.core.ids import datetime_to_micros, next_micros
from agentroom.core.protocol import Envelope, MessageType
from agentroom.core.records import StoreHealth
from agentroom.store import rescue
from agentroom.store.codec import envelope_row, state_text
from agentroom.store.faults import (
    FileGoneError,
    RecordError,
    TakenOverError,
    disk_full,
    explain,
    record_fault,
)
from agentroom.store.opening import MEMORY, Durability
from agentroom.store.ops import (
    AGENT_SESSION,
    CHECKPOINT,
    HISTORY,
    RELEASE,
    ROOM_CHECKPOINT,
    ROOM_NEW,
    ROOM_STATE,
    TOKEN_USED,
)
from agentroom.store.ownership import (
    LEASE_SECONDS,
    RENEW_SECONDS,
    Claim,
    OwnerLocks,
)
from agentroom.store.ownership import (
    RELEASE as RELEASE_SQL,
)
from agentroom.store.repair import repaired
from agentroom.store.statements import (
    SAVE_CHECKPOINT,
    SAVE_ROOM_CHECKPOINT,
    SAVE_STATE_CHANGE,
    UPDATE_ROOM_STATE,
    append_batch,
    on_thread,
    rowid,
)
from agentroom.store.tokens import TOUCH as TOUCH_TOKEN

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY = 0.05
"""Seconds before the first retry of a batch the database refused; doubled each time..."""
MOST_DELAY = 2.0
"""...up to this, so a room saves again within two seconds of the cause going away."""
TIGHT_WAL_PAGES = 64
"""After the disk was full, the WAL is folded into the database every this many pages
(SQLite's default is 1,000: 4 MB of WAL before any of it is given back)."""


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
        self.newest: list[Envelope] = []  # each room's last envelope in the batch

    def room(self, uid: str) -> int:
        key = self.keys.rooms.get(uid)
        if key is None:
            key = self.rooms.get(uid)
        if key is None:
            raise RecordError(f"no room {uid!r} was created or opened in this store")
        return key

    def agent_session(self, uid: str) -> int:
        key = self.keys.agent_sessions.get(uid)
        if key is None:
            key = self.agent_sessions.get(uid)
        if key is None:
            raise RecordError(f"no agent session {uid!r} was created or opened in this store")
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


class GroupCommitWriter:
    """Owns the write side of one connection; see the module docstring."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        keys: KeyMaps,
        *,
        path: str = MEMORY,
        durability: Durability = "full",
        locks: OwnerLocks | None = None,
        max_batch: int = 8192,
    ) -> None:
        self.db = db
        self.keys = keys
        self.path = path
        self.durability = durability
        self.locks = locks
        self.max_batch = max_batch
        self.inbox: Inbox[Any] = Inbox(max_batch)
        self.enqueued = 0
        self.committed = 0  # records done: written (repaired or not), or dropped
        self.commits = 0  # transactions committed: how many groups the records went in
        self.repaired = 0
        self.dropped = 0
        self.failure: BaseException | None = None
        self.health = StoreHealth()
        self.claims: dict[int, Claim] = {}
        self._listeners: list[Callable[[StoreHealth], Any]] = []
        self._health_waiters: list[asyncio.Future[StoreHealth]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._seq_waiters: list[tuple[str, int, asyncio.Future[bool]]] = []
        self._durable: dict[str, int] = {}
        self._kick = asyncio.Event()
        self._closing = False
        self._released = False
        self._gave_up = False
        self._tight = False  # the disk was full: keep the WAL small once it can write again
        self._exclusive = asyncio.Lock()
        self._identity = rescue.identity(path) if path != MEMORY else None
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._task = loop.create_task(self._run(), name="agentroom-writer")
        self._beat = (
            loop.create_task(self._heartbeat(), name="agentroom-heartbeat")
            if path != MEMORY
            else None
        )

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

    @property
    def waiting(self) -> int:
        """Records queued and not yet written."""
        return self.enqueued - self.committed

    async def flush(self) -> None:
        """Return once everything queued before this call is committed.

        While the database is failing this tries again at once and raises
        :class:`StoreWriteError` if that fails too (the writer keeps trying
        by itself; nothing is lost).
        """
        target = self.enqueued
        if self.committed >= target:
            return
        if self._gave_up or self._task.done():
            raise StoreWriteError(self._failure_text())
        if self.failure is not None:
            self._kick.set()
        fut = self._loop.create_future()
        self._waiters.append((target, fut))
        await fut

    async def durable(self, session_id: str, seq: int) -> bool:
        """Wait until envelope ``seq`` of ``session_id`` is committed (no flush is asked for).

        False when it never will be: the writer gave up, or the room is
        closing (:meth:`release`) while the database is failing.
        """
        if self._durable.get(session_id, 0) >= seq:
            return True
        if self._gave_up or (self._released and not self.health.ok):
            return False
        fut: asyncio.Future[bool] = self._loop.create_future()
        self._seq_waiters.append((session_id, seq, fut))
        return await fut

    def release(self) -> None:
        """The room is closing: let publishers queue past the bound, and durability
        waiters go when the database is failing, so closing never waits on the disk."""
        self._released = True
        self.inbox.unbound()
        if not self.health.ok:
            self._answer_durable(False)

    async def run_job(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the database thread, alone, after what is queued now.

        For work that is its own transaction (a claim, a fork, a delete): it
        sees every record queued before it, and no batch runs meanwhile.
        """
        await self.flush()
        async with self._exclusive:
            await self._ensure_file()
            try:
                return await on_thread(self.db, fn, *args)
            except Exception as exc:
                if record_fault(exc) or isinstance(exc, StoreWriteError):
                    raise
                if not isinstance(exc, OSError | aiosqlite.Error):
                    raise
                raise StoreWriteError(explain(exc, self.path)) from None

    async def close(self) -> None:
        """Write what is queued (one last attempt if the database is failing), then stop.

        Raises :class:`StoreWriteError` saying how many records could not be
        written, and why.
        """
        self._closing = True
        self.inbox.close()
        self._kick.set()
        if self._beat is not None:
            self._beat.cancel()
        await self._task
        self._answer_durable(False)
        if self.waiting:
            self._fail_waiters()
            raise StoreWriteError(self._failure_text())

    def _failure_text(self) -> str:
        reason = explain(self.failure, self.path) if self.failure else "the store is closed"
        lost = self.waiting
        if self._gave_up or self._task.done():
            return f"{lost} record(s) could not be written: {reason}"
        return (
            f"{reason}; {lost} record(s) are waiting to be written (the room writes them "
            "by itself once it can)"
        )

    # -- health -------------------------------------------------------------------------

    def watch(self, callback: Callable[[StoreHealth], Any]) -> Callable[[], None]:
        """Call ``callback`` with every change of health; returns a function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    async def health_changed(self) -> StoreHealth:
        """The next change of health."""
        fut: asyncio.Future[StoreHealth] = self._loop.create_future()
        self._health_waiters.append(fut)
        return await fut

    def _say(self, health: StoreHealth) -> None:
        self.health = health
        waiters, self._health_waiters = self._health_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(health)
        for callback in list(self._listeners):
            try:
                callback(health)
            except Exception:
                log.exception("store health listener %r failed", callback)

    def _failing(self, exc: BaseException) -> None:
        self.failure = exc
        if disk_full(exc, self.path) and self.path != MEMORY:
            self._tight = True
        permanent = isinstance(exc, TakenOverError) or getattr(exc, "permanent", False)
        reason = explain(exc, self.path)
        log.info("store write failed: %s", reason)  # said by the health, to whoever watches it
        self._fail_waiters()
        if self._released:
            self._answer_durable(False)
        health = self.health
        if health.ok or health.reason != reason or health.permanent != permanent:
            self._say(StoreHealth(False, reason, self.waiting, permanent))

    def _ok(self, note: str = "") -> None:
        self.failure = None
        if note or not self.health.ok:
            self._say(StoreHealth(True, note, self.waiting))

    # -- the task ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                batch = await self.inbox.get_batch(self.max_batch)
            except InboxClosed:
                return
            if not self._gave_up:  # after that, nothing can be written in order any more
                await self._commit(batch)

    async def _commit(self, batch: list[Any]) -> None:
        """Write ``batch`` (whatever it takes), or give up when the writer must stop."""
        delay = FIRST_DELAY
        while True:
            try:
                await self._write_all(batch)
                return
            except Exception as exc:
                self._failing(exc)
                if self._closing or self.health.permanent:
                    self._gave_up = True
                    self._answer_durable(False)
                    return
            self._kick.clear()
            with contextlib.suppress(TimeoutError):  # a flush() kicks it sooner
                await asyncio.wait_for(self._kick.wait(), delay)
            delay = min(delay * 2, MOST_DELAY)

    async def _write_all(self, batch: list[Any]) -> None:
        """Write ``batch``, splitting it around records that cannot be written as they are.

        What is written is removed from the front of ``batch``; a database
        failure leaves the rest there, in order, for the next attempt.
        """
        sizes = [len(batch)]  # the chunks still to write, from the front (last = next)
        while batch:
            size = sizes.pop()
            part = batch[:size]
            try:
                await self._transaction(part)
            except Exception as exc:
                if not record_fault(exc):
                    raise
                if size > 1:
                    half = size // 2
                    sizes += [size - half, half]
                    continue
                await self._save_repaired(part[0], exc)
            del batch[:size]

    async def _save_repaired(self, op: Any, exc: BaseException) -> None:
        kind = "envelope" if op.__class__ is Envelope else op[0]
        where = f" #{op.seq}" if op.__class__ is Envelope else ""
        fixed = repaired(op, exc)
        if fixed is not None:
            try:
                await self._transaction([fixed])
            except Exception as again:
                if not record_fault(again):
                    raise
                exc = again
            else:
                self.repaired += 1
                log.warning("store: %s%s saved in a repaired form: %s", kind, where, exc)
                return
        self.dropped += 1
        log.error(
            "store: %s%s could not be saved in any form and was dropped: %s", kind, where, exc
        )
        self._done([op], [op] if op.__class__ is Envelope else [])

    async def _transaction(self, part: list[Any]) -> None:
        async with self._exclusive:
            await self._ensure_file()
            try:
                pending = await self._write(part)
            except BaseException:
                try:
                    await self.db.rollback()
                except Exception:  # the connection may be gone; the retry will say so
                    log.debug("rollback failed", exc_info=True)
                raise
            if self._tight:
                await self._shrink_wal()
        pending.merge()
        self.commits += 1
        now = self._loop.time()
        for claim in self.claims.values():
            if now - claim.renewed >= RENEW_SECONDS:
                claim.renewed = now  # the batch renewed it
        for op in part:
            if op.__class__ is not Envelope and op[0] == RELEASE:
                self._let_go(op[1])
        self._done(part, pending.newest)
        if not self.health.ok:
            self._ok()

    def _done(self, part: list[Any], newest: list[Envelope]) -> None:
        self.committed += len(part)
        durable = self._durable
        for env in newest:
            sid = env.session_id or ""
            if (env.seq or 0) > durable.get(sid, 0):
                durable[sid] = env.seq or 0
        done = self.committed
        if self._waiters:
            keep = []
            for target, fut in self._waiters:
                if target <= done:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    keep.append((target, fut))
            self._waiters = keep
        if self._seq_waiters:
            still = []
            for sid, seq, answer in self._seq_waiters:
                if durable.get(sid, 0) >= seq:
                    if not answer.done():
                        answer.set_result(True)
                else:
                    still.append((sid, seq, answer))
            self._seq_waiters = still

    def _fail_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for _, fut in waiters:
            if not fut.done():
                fut.set_exception(StoreWriteError(self._failure_text()))

    def _answer_durable(self, answer: bool) -> None:
        waiters, self._seq_waiters = self._seq_waiters, []
        for _, _, fut in waiters:
            if not fut.done():
                fut.set_result(answer)

    # -- ownership and the file ----------------------------------------------------------

    def _let_go(self, uid: str) -> None:
        key = self.keys.rooms.get(uid)
        if key is not None and self.claims.pop(key, None) is not None and self.locks is not None:
            self.locks.release(key)

    async def _heartbeat(self) -> None:
        """An idle writer still renews its leases and looks at its file, every few seconds.

        It is a transaction with no records (the fences, the renewals, the
        file's check), run between batches; a failure makes the health say so.
        """
        while True:
            commits = self.commits
            await asyncio.sleep(RENEW_SECONDS)
            for claim in self.claims.values():  # after a take-over: the lock, once it is free
                if not claim.locked and self.locks is not None:
                    claim.locked = self.locks.acquire(claim.key) is True
            if self.commits != commits or self._gave_up or self._closing:
                continue
            try:
                await self._transaction([])
            except Exception as exc:
                self._failing(exc)
                if self.health.permanent:
                    self._gave_up = True
                    self._answer_durable(False)

    async def _shrink_wal(self) -> None:
        """Give the WAL's space back now, and keep it small from now on (once per store).

        On a disk that was full, the space freed would otherwise go to the WAL
        again, which SQLite lets grow to 4 MB before folding it back.
        """
        self._tight = False
        try:
            for pragma in (
                f"wal_autocheckpoint = {TIGHT_WAL_PAGES}",
                "journal_size_limit = 0",
                "wal_checkpoint(TRUNCATE)",
            ):
                await self.db.execute_fetchall(f"PRAGMA {pragma}")  # (no statement left open)
        except Exception:  # a reader elsewhere may hold it up: the next checkpoint will do
            log.debug("could not shrink the WAL", exc_info=True)

    async def _ensure_file(self) -> None:
        """Make sure the file at the path is the one this connection writes (see rescue.py)."""
        if self._identity is None or rescue.identity(self.path) == self._identity:
            return
        if rescue.identity(self.path) is not None:  # another file took its place
            try:
                copy = await rescue.copy_out(self.db, self.path)
                saved = f"this room's database was saved to {copy}"
            except Exception as exc:
                saved = f"this room's database could not be saved ({exc})"
            gone = FileGoneError(
                f"the database file {self.path} was replaced by another file while the room "
                f"ran; {saved}, and the room stopped writing"
            )
            gone.permanent = True  # type: ignore[attr-defined]
            raise gone
        try:
            self.db, self._identity = await rescue.restore(self.db, self.path, self.durability)
        except rescue.Unrestored as exc:
            gone = FileGoneError(
                f"the database file {self.path} was deleted while the room ran and could "
                f"not be put back ({exc}); the room stopped writing"
            )
            gone.permanent = True  # type: ignore[attr-defined]
            raise gone from None
        except Exception as exc:
            raise FileGoneError(
                f"the database file {self.path} was deleted while the room ran and could "
                f"not be put back ({exc}); recreate its folder: the room saves again by itself"
            ) from None
        self._ok(
            f"the database file {self.path} was deleted while the room ran; it was put back "
            "from the open connection, and nothing was lost"
        )

    # -- one transaction -----------------------------------------------------------------

    async def _write(self, batch: list[Any]) -> _Pending:
        db = self.db
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
                pending.rooms[uid] = rowid(cur)
            elif tag == AGENT_SESSION:
                _, uid, room_uid, agent, title, created, updated, metadata = op
                cur = await db.execute(
                    "INSERT INTO agent_sessions (uid, room, agent, title, created_at, "
                    "updated_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (uid, pending.room(room_uid), agent, title, created, updated, metadata),
                )
                pending.agent_sessions[uid] = rowid(cur)
            else:
                later.append(op)
        history_rows = _history_runs(pending, history_ops) if history_ops else []
        small = _small_rows(pending, later, self.claims) if later else []
        counters = [
            (last.seq or 0, messages, datetime_to_micros(last.created_at), key)
            for key, (last, messages) in room_counts.items()
        ]
        pending.newest = [last for last, _ in room_counts.values()]
        fences, renewals = self._fences()
        # The rest of the batch and its commit: one trip to the database thread
        # instead of one per statement, which is most of a lone commit's cost.
        # (Only a new room or agent session, which needs its rowid back, costs
        # a trip of its own above, in the same transaction.)
        args: tuple[Any, ...] = (
            pending.participant_rows,
            envelope_rows,
            history_rows,
            small,
            counters,
        )
        if fences:
            args += (fences, renewals)
        await on_thread(db, append_batch, *args)
        return pending

    def _fences(self) -> tuple[list[tuple[str, int, int]], list[tuple[Any, ...]]]:
        """The claimed rooms to check in this transaction, and the leases due for renewal."""
        if not self.claims:
            return [], []
        now = self._loop.time()
        lease_until = next_micros() + int(LEASE_SECONDS * 1e6)
        fences, renewals = [], []
        for claim in self.claims.values():
            fences.append((claim.uid, claim.key, claim.epoch))
            if now - claim.renewed >= RENEW_SECONDS:
                renewals.append((lease_until, int(claim.locked), claim.key, claim.epoch))
        return fences, renewals

    def claimed(self, claim: Claim) -> None:
        """Check (and renew) ``claim`` in every transaction from now on."""
        self.claims[claim.key] = claim


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


def _latest_checkpoints(ops: list[tuple[Any, ...]]) -> set[int]:
    """The room checkpoints of a batch that are written whole: each room's last one.

    A fast room checkpoints after every turn; one ``room_state`` row per room
    per transaction is all that is kept, so encoding the others whole would
    only cost time (each leaves its small change all the same).
    """
    last: dict[str, int] = {}
    for index, op in enumerate(ops):
        if op[0] == ROOM_CHECKPOINT:
            last[op[1]] = index
    return set(last.values())


def _small_rows(
    pending: _Pending, ops: list[tuple[Any, ...]], claims: dict[int, Claim]
) -> list[tuple[str, Any]]:
    """The statements for checkpoints, room-state changes, releases and token uses, in the
    order they were queued.

    A room checkpoint is encoded here, so only the one written whole is.  One
    that JSON cannot hold (``marshal`` took it, JSON does not: a set, bytes) is
    logged and left out, keeping the previous one, rather than failing the
    batch and, with it, every envelope queued behind it.
    """
    rows: list[tuple[str, Any]] = []
    changes: list[tuple[int, int, str]] = []
    whole = _latest_checkpoints(ops)
    for index, op in enumerate(ops):
        tag = op[0]
        if tag == ROOM_CHECKPOINT:
            _, uid, seq, frozen, updated, change = op
            key = pending.room(uid)
            if change is not None:  # already JSON (state_changes.py)
                changes.append((key, seq, change))
            if index in whole:
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
        elif tag == RELEASE:
            key = pending.room(op[1])
            claim = claims.get(key)
            if claim is not None:
                rows.append((RELEASE_SQL, (key, claim.epoch)))
        elif tag == TOKEN_USED:
            _, token_id, used = op
            rows.append((TOUCH_TOKEN, (used, token_id)))
        else:  # pragma: no cover - a programming error, not a runtime condition
            raise StoreWriteError(f"unknown store operation {tag!r}")
    if changes:  # all of them in one statement (a few rows a statement cost a step each)
        rows.append((SAVE_STATE_CHANGE, changes))
    return rows
