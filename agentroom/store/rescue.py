"""A database file deleted (or replaced) under a running room, and getting it back.

On POSIX a deleted file lives on while it is open: SQLite keeps committing
into it and nothing says so, until the room closes and everything is gone.
The writer compares the file at the path with the one it opened (``st_dev``,
``st_ino``) before each transaction.  When it is gone, SQLite's backup API
copies the still-open connection's database (what was committed since the
delete included) into a new private file beside the path, which is then linked
into place, never over a file that appeared there meanwhile; the store goes
on with a new connection to it.  When another file has taken the path, that
file is left alone: the copy is kept under a name of its own and the room
stops writing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import aiosqlite

from agentroom.core.ids import new_id
from agentroom.store.opening import Durability, connect
from agentroom.store.statements import on_thread


class Unrestored(Exception):
    """The open connection was closed but the file could not be put back: writing must stop."""


def identity(path: str) -> tuple[int, int] | None:
    """The file at ``path`` as (device, inode), or None if there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


async def copy_out(db: aiosqlite.Connection, path: str) -> Path:
    """Copy the open database into a new private file beside ``path``; returns the copy."""
    target = Path(path)
    copy = target.with_name(f"{target.name}.rescued-{new_id()[:13]}")
    await on_thread(db, _backup, copy)
    return copy


def _backup(conn: sqlite3.Connection, copy: Path) -> None:
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        dest = sqlite3.connect(copy)
        try:
            conn.backup(dest)
        finally:
            dest.close()
    except BaseException:
        copy.unlink(missing_ok=True)
        raise


async def restore(
    db: aiosqlite.Connection, path: str, durability: Durability
) -> tuple[aiosqlite.Connection, tuple[int, int]]:
    """Put the open database back at ``path``; returns a new connection to it and its identity.

    The old connection is closed once the copy is made, and its ``-wal`` and
    ``-shm`` files removed (SQLite leaves them when its file has moved), so the
    new file starts clean.  Raises
    :class:`Unrestored` when the copy cannot be put in place (a file appeared
    at the path meanwhile: the copy is kept, and named).
    """
    copy = await copy_out(db, path)
    await db.close()
    for side in ("-wal", "-shm"):  # the deleted database's; SQLite keeps them when it moved
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{side}")
    try:
        os.link(copy, path)  # unlike a rename, never replaces a file that is there
    except OSError as exc:
        raise Unrestored(f"{exc.strerror}; the room was saved to {copy}") from None
    os.unlink(copy)
    try:
        new = await connect(path, durability)
    except Exception as exc:
        raise Unrestored(str(exc)) from None
    found = identity(path)
    if found is None:
        await new.close()
        raise Unrestored(f"{path} was deleted again")
    return new, found
