"""Opening a database file safely: private on creation, refused untouched if not ours, migrated.

Everything up to the first write only reads, so a file that is not an
agentroom database, or one from a newer agentroom, is left exactly as it was.
A file that cannot be used (a folder, a read-only file or folder, a full
disk) is refused with one line saying why and what to do, before a room
starts on it: opening ends with a write that changes nothing, so a store that
opens is a store that can write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiosqlite

from agentroom.core.errors import NotAnAgentroomDatabase, SchemaTooNewError, StoreError
from agentroom.core.ids import next_micros
from agentroom.store.faults import explain
from agentroom.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

Durability = Literal["full", "normal"]
T = TypeVar("T")
MEMORY = ":memory:"


def create_private(path: Path) -> None:
    """Create the file (and its folder) readable by its owner only, if it does not exist."""
    if path.is_dir():
        raise StoreError(
            f"cannot use {path}: it is a folder, not a database file; "
            "pass --db (or set AGENTROOM_DB) with a file path"
        )
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(explain(exc, str(path))) from None
    os.close(fd)


async def to_the_end(work: Awaitable[T]) -> T:
    """Await a clean-up (a close) to its end even if the caller is cancelled meanwhile.

    The cancellation is raised once the clean-up is done.  Textual cancels a
    closing screen's worker twice (the screen, then the app), and a close cut
    short leaves aiosqlite's thread to answer a loop that may be closed by then.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = cancelled or not task.done()
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


async def connection(where: str) -> aiosqlite.Connection:
    """A new connection to ``where``; one-line errors; never left open by a cancelled caller.

    aiosqlite makes the connection on a thread of its own.  A caller cancelled
    meanwhile (an app closed while its room opens) would leave it open, its
    thread later calling back into an event loop that may be closed by then
    ("Exception in thread ... Event loop is closed" after the app exits).
    """
    making = asyncio.ensure_future(aiosqlite.connect(where, isolation_level="IMMEDIATE"))
    try:
        return await asyncio.shield(making)
    except sqlite3.Error as exc:
        raise StoreError(explain(exc, where)) from None
    except asyncio.CancelledError:
        with contextlib.suppress(sqlite3.Error):
            await to_the_end(_close_when_made(making))
        raise


async def _close_when_made(making: asyncio.Future[aiosqlite.Connection]) -> None:
    await (await making).close()


async def connect(where: str, durability: Durability) -> aiosqlite.Connection:
    """A connection to ``where`` set up the way the store writes (WAL, sync, busy timeout)."""
    db = await connection(where)
    try:
        await configure(db, where, durability)
    except BaseException:
        await to_the_end(db.close())
        raise
    return db


async def configure(db: aiosqlite.Connection, where: str, durability: Durability) -> None:
    try:
        if where != MEMORY:
            await db.execute_fetchall("PRAGMA journal_mode=WAL")
        await db.execute_fetchall(
            f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}"
        )
        await db.execute_fetchall("PRAGMA busy_timeout=5000")
        await db.execute_fetchall("PRAGMA foreign_keys=OFF")
    except sqlite3.Error as exc:
        raise StoreError(explain(exc, where)) from None


async def _scalar(db: aiosqlite.Connection, sql: str) -> Any:
    async with db.execute(sql) as cur:
        row = await cur.fetchone()
    return None if row is None else row[0]


async def check_and_migrate(db: aiosqlite.Connection, where: str, durability: Durability) -> None:
    # Everything up to the first write only reads, so a file we refuse stays untouched.
    try:
        app_id = await _scalar(db, "PRAGMA application_id")
        tables = await _scalar(db, "SELECT count(*) FROM sqlite_master")
    except sqlite3.OperationalError as exc:  # cannot even read it: not a question of format
        raise StoreError(explain(exc, where)) from None
    except sqlite3.DatabaseError as exc:
        raise NotAnAgentroomDatabase(
            f"{where} is not an agentroom database ({exc}); it was left untouched. "
            "Pass --db (or set AGENTROOM_DB) to use another file."
        ) from None
    if app_id == APPLICATION_ID:
        version = await _scalar(db, "SELECT max(version) FROM schema_version") or 0
    elif tables:
        raise NotAnAgentroomDatabase(
            f"{where} is an SQLite database of another program; it was left untouched. "
            "Pass --db (or set AGENTROOM_DB) to use another file."
        )
    else:
        version = 0
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{where} was written by a newer agentroom (schema {version}; this one knows "
            f"up to {SCHEMA_VERSION}); it was left untouched. Upgrade agentroom to open it."
        )
    await configure(db, where, durability)
    try:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            await db.executescript(
                "BEGIN IMMEDIATE;\n"
                + MIGRATIONS[target - 1]
                + f"\nINSERT INTO schema_version (version, applied_at) VALUES ({target}, "
                f"{next_micros()});\nPRAGMA application_id = {APPLICATION_ID};\n"
                f"PRAGMA user_version = {target};\nCOMMIT;"
            )
        if where != MEMORY:
            # A write that changes nothing: a read-only file only says so when written to.
            await db.executescript(
                f"BEGIN IMMEDIATE;\nPRAGMA user_version = {SCHEMA_VERSION};\nROLLBACK;"
            )
    except sqlite3.Error as exc:
        if db.in_transaction:
            await db.rollback()
        raise StoreError(explain(exc, where)) from None
