"""aiosqlite's private queue, which the store's one-trip transactions use, still works as assumed.

If an aiosqlite upgrade fails here, read agentroom/store/aiosqlite_queue.py:
the writer, claims, forks and backups all go through ``on_thread``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import aiosqlite
import pytest

from agentroom.store import aiosqlite_queue, statements
from agentroom.store.aiosqlite_queue import missing_internals, on_thread

UPGRADE = (
    f"aiosqlite {aiosqlite.__version__} broke an assumption of agentroom/store/aiosqlite_queue.py"
)


@pytest.fixture
async def db(tmp_path):
    async with aiosqlite.connect(tmp_path / "q.db") as conn:
        await conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        await conn.commit()
        yield conn


def test_the_internals_it_needs_are_there():
    assert missing_internals() == [], f"{UPGRADE}: it has no {missing_internals()}"


def test_the_store_reaches_it_through_statements_as_before():
    assert statements.on_thread is aiosqlite_queue.on_thread


async def test_the_function_gets_the_open_connection_on_the_connections_own_thread(db):
    await db.create_function("worker", 0, threading.get_ident)
    async with db.execute("SELECT worker()") as cur:
        (worker,) = await cur.fetchone()

    def where(conn: sqlite3.Connection, extra: str) -> tuple[int, str, int]:
        (one,) = conn.execute("SELECT 1").fetchone()
        return threading.get_ident(), extra, one

    assert await on_thread(db, where, "args") == (worker, "args", 1), UPGRADE
    assert worker != threading.get_ident(), UPGRADE


async def test_it_runs_in_turn_with_the_connections_other_work(db):
    def count(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]

    async def insert(x: int) -> None:
        await db.execute("INSERT INTO t VALUES (?)", (x,))

    # Queued in this order (gather starts its tasks in order): each sees those before it.
    got = await asyncio.gather(
        insert(1), on_thread(db, count), insert(2), on_thread(db, count), db.commit()
    )
    assert (got[1], got[3]) == (1, 2), UPGRADE

    def write_and_commit(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (3)")
        conn.commit()

    await on_thread(db, write_and_commit)
    async with db.execute("SELECT count(*) FROM t") as cur:
        assert (await cur.fetchone())[0] == 3, UPGRADE


async def test_its_errors_come_back_as_raised(db):
    def duplicate(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (1)")

    with pytest.raises(sqlite3.IntegrityError):
        await on_thread(db, duplicate)
    await db.rollback()


async def test_an_aiosqlite_without_them_fails_the_first_write_saying_why(db, monkeypatch):
    monkeypatch.setattr(aiosqlite_queue, "_MISSING", ["coroutine Connection._execute"])
    with pytest.raises(RuntimeError, match=f"aiosqlite {aiosqlite.__version__} has no coroutine"):
        await on_thread(db, lambda conn: None)
