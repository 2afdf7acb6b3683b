"""Who may write to a room: a claim decided in the database, and an OS lock dying with its owner.

A room has at most one owner, recorded in the ``owners`` table (schema V4).
Claiming is one IMMEDIATE transaction that reads the owner's row and replaces
it (compare-and-set), adding one to ``epoch``; every batch the owner writes
checks that epoch in its own transaction, so once someone else has claimed
the room, the displaced owner's next write is refused (fencing).

Whether the recorded owner is still alive is decided without its hostname:

- the owner holds an OS lock on one byte (at the room's key) of a 0600
  sidecar file beside the database (``<db>-owners``).  It is an open file
  description lock (``F_OFD_SETLK``): the kernel drops it when the process
  dies, however it dies, and two opens in one process still exclude each
  other.  An owner that had the lock (``locked``) and no longer has it is
  dead, at once.  SQLite's WAL mode works only on one machine, so every
  process that can write the database sees the same locks.
- an owner without the lock (one that took a room over from a live owner, or
  where locks do not work) is alive while its lease (``lease_until``) runs;
  the owner renews it with its commits, or on a timer when idle.

A claim without ``take_over`` needs the OS lock: whoever holds it (a live
owner, or another process claiming at this very moment) wins, so of two
``resume``s started together exactly one runs and the other is refused at
once.  ``take_over`` claims regardless; the old owner is fenced.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentroom.core.errors import SessionBusyError
from agentroom.core.ids import micros_to_datetime
from agentroom.core.records import Owner
from agentroom.store.faults import TakenOverError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

LEASE_SECONDS = 20.0
"""How long an owner's claim holds without renewal (for owners without the OS lock)."""
RENEW_SECONDS = LEASE_SECONDS / 4
"""How often an owner renews its lease: with a commit when there is one, else on a timer."""

_OFD = getattr(fcntl, "F_OFD_SETLK", None) if fcntl is not None else None
_OFD_GET = getattr(fcntl, "F_OFD_GETLK", None) if fcntl is not None else None
_FLOCK = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid (0 for OFD locks)


def _byte_lock(kind: int, key: int) -> bytes:
    """A ``struct flock`` for byte ``key`` of the file: one byte per room."""
    return struct.pack(_FLOCK, kind, os.SEEK_SET, key, 1, 0)


@dataclass(slots=True)
class Claim:
    """This store's claim on one room: what its batches check and renew."""

    uid: str
    key: int
    epoch: int
    locked: bool
    renewed: float  # the event loop's clock at the last renewal


class OwnerLocks:
    """Byte-range OFD locks, one byte per room, on the database's sidecar file."""

    def __init__(self, db_path: str) -> None:
        self.path = f"{db_path}-owners"
        self._fd: int | None = None
        self._held: set[int] = set()

    def _file(self) -> int | None:
        if _OFD is None:
            return None
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return None  # a read-only folder: the lease alone decides
        return self._fd

    def acquire(self, key: int) -> bool | None:
        """Take the room's lock: True, False (someone else holds it), None (no locks here)."""
        if key in self._held:
            return True
        fd = self._file()
        if fd is None or _OFD is None:
            return None
        try:
            fcntl.fcntl(fd, _OFD, _byte_lock(fcntl.F_WRLCK, key))
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            return None
        self._held.add(key)
        return True

    def release(self, key: int) -> None:
        if key in self._held and self._fd is not None and _OFD is not None:
            self._held.discard(key)
            fcntl.fcntl(self._fd, _OFD, _byte_lock(fcntl.F_UNLCK, key))

    def held_elsewhere(self, key: int) -> bool | None:
        """Whether another open of the file holds the room's lock (None: cannot tell)."""
        if key in self._held:
            return False
        fd = self._file()
        if fd is None or _OFD_GET is None:
            return None
        try:
            got = fcntl.fcntl(fd, _OFD_GET, _byte_lock(fcntl.F_WRLCK, key))
        except OSError:
            return None
        return bool(struct.unpack(_FLOCK, got)[0] != fcntl.F_UNLCK)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops every lock of this open at once
            self._fd = None
            self._held.clear()


# -- on the database thread --------------------------------------------------------------------

OWNER_ROW = "SELECT token, epoch, lease_until, locked, pid, host FROM owners WHERE room = ?"
FENCE = "SELECT epoch, pid, host FROM owners WHERE room = ?"
RENEW = "UPDATE owners SET lease_until = ?, locked = ? WHERE room = ? AND epoch = ?"
RELEASE = "UPDATE owners SET token = NULL, lease_until = 0 WHERE room = ? AND epoch = ?"


def claim_room(
    conn: sqlite3.Connection,
    key: int,
    uid: str,
    token: str,
    take_over: bool,
    got_lock: bool | None,
    now: int,
) -> int:
    """Claim room ``key`` in one IMMEDIATE transaction; returns the new epoch.

    Raises :class:`SessionBusyError` (one line, naming the owner) when a live
    owner has it and ``take_over`` is off.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(OWNER_ROW, (key,)).fetchone()
        if not take_over:
            _refuse_if_alive(uid, row, got_lock, now)
        epoch = (row[1] if row else 0) + 1
        conn.execute(
            "INSERT OR REPLACE INTO owners (room, token, epoch, lease_until, locked, pid, host, "
            "claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                token,
                epoch,
                now + int(LEASE_SECONDS * 1e6),
                int(got_lock is True),
                os.getpid(),
                socket.gethostname(),
                now,
            ),
        )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return epoch


def _refuse_if_alive(uid: str, row: Any, got_lock: bool | None, now: int) -> None:
    if got_lock is False:  # a live process holds the room's lock: its owner, or a claimer
        raise busy(uid, row if row and row[0] is not None else None)
    if row is None or row[0] is None:
        return  # nobody has it
    _, _, lease_until, locked, _, _ = row
    if got_lock and locked:
        return  # its owner had the lock and has lost it: that process is gone
    if lease_until > now:
        raise busy(uid, row)


def busy(uid: str, row: Any) -> SessionBusyError:
    if row is None:
        return SessionBusyError(
            f"session {uid} is being opened by another agentroom right now; try again, "
            "or take it over with --take-over"
        )
    pid, host = row[4], row[5]
    return SessionBusyError(
        f"session {uid} is open in another agentroom (pid {pid} on {host}); stop that one "
        "first, fork the session, or take it over with --take-over"
    )


def check_fences(
    conn: sqlite3.Connection,
    fences: Sequence[tuple[str, int, int]],
    renewals: Sequence[tuple[Any, ...]],
) -> None:
    """Renew due leases and check every claimed room's epoch, inside the batch's transaction.

    ``fences`` are (uid, key, epoch).  A mismatch raises :class:`TakenOverError`,
    so the batch is rolled back and nothing of it is written.
    """
    for params in renewals:
        conn.execute(RENEW, params)
    for uid, key, epoch in fences:
        row = conn.execute(FENCE, (key,)).fetchone()
        if row is None or row[0] != epoch:
            who = f" (pid {row[1]} on {row[2]})" if row is not None else ""
            raise TakenOverError(
                f"session {uid} was taken over by another agentroom{who}; this one stopped "
                "writing to it, and nothing it says from now on is saved"
            )


def owner_of(
    row: Sequence[Any] | None, ours: bool, held_elsewhere: bool | None, now: int
) -> Owner | None:
    """The owner record (token, epoch, lease_until, locked, pid, host) as :class:`Owner`."""
    if row is None:
        return None
    token, epoch, lease_until, locked, pid, host = row
    alive = token is not None and (
        ours
        or (bool(locked) and held_elsewhere is True)
        or ((not locked or held_elsewhere is None) and lease_until > now)
    )
    return Owner(pid, host, epoch, micros_to_datetime(lease_until), bool(locked), alive)
