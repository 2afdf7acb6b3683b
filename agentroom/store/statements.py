"""What a batch becomes in SQL, run on the database connection's own thread.

The writer task (``writer.py``) decides what goes into a transaction; these
functions are the one trip to aiosqlite's thread that writes it and commits.
That trip is :func:`on_thread`, kept (with the aiosqlite internals it needs)
in ``aiosqlite_queue.py`` and importable from here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache
from itertools import chain
from typing import Any

import aiosqlite

from agentroom.store.aiosqlite_queue import on_thread as on_thread
from agentroom.store.ownership import check_fences


def one(row: sqlite3.Row | None) -> sqlite3.Row:
    """The row an aggregate or a pragma always gives (``SELECT max(...)``, ``integrity_check``)."""
    if row is None:  # pragma: no cover - SQLite always answers these
        raise sqlite3.InterfaceError("the query gave no row")
    return row


def rowid(cursor: sqlite3.Cursor | aiosqlite.Cursor) -> int:
    """The key an INSERT just gave its row (SQLite always gives one)."""
    if cursor.lastrowid is None:  # pragma: no cover - not after an INSERT
        raise sqlite3.InterfaceError("the insert gave no rowid")
    return cursor.lastrowid


def like_prefix(text: str) -> str:
    """A ``LIKE ? ESCAPE '\\'`` pattern for the values that start with ``text``, as typed."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


INSERT_ENVELOPE = (
    "INSERT INTO envelopes (room, seq, uid, sender, receiver, type, content, created, "
    "reply_to, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPDATE_COUNTERS = (
    "UPDATE rooms SET last_seq = max(last_seq, ?), messages = messages + ?, "
    "updated_at = max(updated_at, ?) WHERE id = ?"
)
INSERT_HISTORY = (
    "INSERT INTO history (agent_session, pos, seq, n, role, prev) VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_PARTICIPANT = "INSERT INTO participants (room, idx, name) VALUES (?, ?, ?)"
SAVE_CHECKPOINT = (
    "INSERT OR REPLACE INTO checkpoints (agent_session, name, pos, created_at, state) "
    "VALUES (?, ?, ?, ?, ?)"
)
SAVE_ROOM_CHECKPOINT = (
    "INSERT OR REPLACE INTO room_state (room, seq, state, updated_at) VALUES (?, ?, ?, ?)"
)
SAVE_STATE_CHANGE = "INSERT OR REPLACE INTO room_state_changes (room, seq, state) VALUES (?, ?, ?)"
UPDATE_ROOM_STATE = (
    "UPDATE rooms SET state = ?, updated_at = max(updated_at, ?), "
    "metadata = json_patch(coalesce(metadata, '{}'), coalesce(?, '{}')) WHERE id = ?"
)


def append_batch(
    conn: sqlite3.Connection,
    participants: list[tuple[Any, ...]],
    envelopes: list[tuple[Any, ...]],
    history: list[tuple[Any, ...]],
    small: list[tuple[str, Any]],
    counters: list[tuple[Any, ...]],
    fences: Sequence[tuple[str, int, int]] = (),
    renewals: Sequence[tuple[Any, ...]] = (),
) -> None:
    """A batch's rows and its commit, run on the connection's own thread.

    (:func:`on_thread` keeps the statements and the commit of a batch in one
    hop.)  On an error nothing is committed; the writer rolls back and retries
    the whole batch.  The rooms this store owns are checked last, inside the
    transaction (``fences``, see ``ownership.py``): a room someone else has
    claimed fails the batch.
    """
    if participants:
        conn.executemany(INSERT_PARTICIPANT, participants)
    if envelopes:
        insert_rows(conn, INSERT_ENVELOPE, envelopes)
    if history:
        insert_rows(conn, INSERT_HISTORY, history)
    write_small(conn, small)
    if counters:
        conn.executemany(UPDATE_COUNTERS, counters)
    if fences:
        check_fences(conn, fences, renewals)
    conn.commit()


def write_small(conn: sqlite3.Connection, small: list[tuple[str, Any]]) -> None:
    """The checkpoints and state changes of a batch, in order: one statement each, but the
    coordinator's changes (one a turn) go in as many rows a statement (``insert_rows``)."""
    for sql, params in small:
        if sql is SAVE_STATE_CHANGE:
            insert_rows(conn, sql, params)
        else:
            conn.execute(sql, params)


_MOST_ROWS = 256


def insert_rows(conn: sqlite3.Connection, insert: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` with a few multi-row statements instead of one step per row.

    Each statement step lets go of the GIL and must win it back from the event
    loop's thread; a batch in a handful of steps (chunks of 256, 128, ... 1
    rows, few enough distinct texts for the statement cache) contends far less
    than one step per row.
    """
    width = len(rows[0])
    most = max(1, min(_MOST_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    i, total = 0, len(rows)
    while i < total:
        k = most
        while k > total - i:
            k //= 2
        conn.execute(_many(insert, k), list(chain.from_iterable(rows[i : i + k])))
        i += k


@cache
def _many(insert: str, k: int) -> str:
    head, values = insert.split(" VALUES ", 1)
    return f"{head} VALUES {', '.join([values] * k)}"
