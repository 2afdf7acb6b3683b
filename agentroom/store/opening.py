"""Opening a database file safely: private on creation, refused untouched if not ours, migrated.

Everything up to the first write only reads, so a file that is not an
agentroom database, or one from a newer agentroom, is left exactly as it was.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from agentroom.errors import NotAnAgentroomDatabase, SchemaTooNewError
from agentroom.ids import next_micros
from agentroom.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

Durability = Literal["full", "normal"]
MEMORY = ":memory:"


def create_private(path: Path) -> None:
    """Create the file (and its folder) readable by its owner only, if it does not exist."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


async def _scalar(db: aiosqlite.Connection, sql: str) -> Any:
    async with db.execute(sql) as cur:
        row = await cur.fetchone()
    return None if row is None else row[0]


async def check_and_migrate(db: aiosqlite.Connection, where: str, durability: Durability) -> None:
    # Everything up to the first write only reads, so a file we refuse stays untouched.
    try:
        app_id = await _scalar(db, "PRAGMA application_id")
        tables = await _scalar(db, "SELECT count(*) FROM sqlite_master")
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
    if where != MEMORY:
        await db.execute("PRAGMA journal_mode=WAL")
    await db.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
    await db.execute("PRAGMA busy_timeout=5000")
    await db.execute("PRAGMA foreign_keys=OFF")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        await db.executescript(
            "BEGIN IMMEDIATE;\n"
            + MIGRATIONS[target - 1]
            + f"\nINSERT INTO schema_version (version, applied_at) VALUES ({target}, "
            f"{next_micros()});\nPRAGMA application_id = {APPLICATION_ID};\n"
            f"PRAGMA user_version = {target};\nCOMMIT;"
        )
