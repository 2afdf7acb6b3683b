"""The one place agentroom reaches into aiosqlite: running a function on its connection's thread.

Why: a batch of the writer (its rows, its counters, its checkpoint, its
commit), a claim of a room, a fork or a backup is one transaction that
should take one trip to the database thread.  aiosqlite's public API is one
trip per statement (``await db.execute``, ``await db.commit``); when a batch
holding a checkpoint took five trips, a turn committed alone took 590 µs
against 320 in one (BENCHMARKS.md, "Before and after the profile").  aiosqlite
has no public way to run a function of our own on that thread, and the
sqlite3 connection refuses to be used from any other.

What it relies on (tested with aiosqlite 0.22, and checked by
``tests/store/test_aiosqlite_queue.py``, which names the version when it
breaks): ``Connection._execute(fn, *args)`` queues ``fn(*args)`` on the
connection's worker thread, in turn with everything else asked of the
connection, and returns its result or raises its exception; ``Connection._conn``
is the open :class:`sqlite3.Connection`.  Both are what aiosqlite's own
``commit``, ``execute`` and ``backup`` are built on.

If an upgrade takes either away, :func:`on_thread` raises a
:class:`RuntimeError` that says so, from the first write, rather than an
``AttributeError`` from deep in the writer.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")


def missing_internals() -> list[str]:
    """The internals :func:`on_thread` needs that this aiosqlite no longer has (none: ``[]``)."""
    missing = []
    if not inspect.iscoroutinefunction(getattr(aiosqlite.Connection, "_execute", None)):
        missing.append("coroutine Connection._execute(fn, *args)")
    if not isinstance(inspect.getattr_static(aiosqlite.Connection, "_conn", None), property):
        missing.append("property Connection._conn")
    return missing


_MISSING = missing_internals()


async def on_thread(db: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(conn, *args)`` on the connection's own thread, in turn with its other work.

    ``conn`` is the :class:`sqlite3.Connection` itself, for the length of the
    call.  One trip for a whole transaction, where each ``await db.execute``
    would be a trip of its own.
    """
    if _MISSING:
        raise RuntimeError(
            f"aiosqlite {aiosqlite.__version__} has no {' and no '.join(_MISSING)}, which "
            "agentroom/store/aiosqlite_queue.py uses to write a transaction in one trip; "
            "install an aiosqlite that agentroom was tested with (see pyproject.toml)"
        )
    result: T = await db._execute(fn, db._conn, *args)  # type: ignore[no-untyped-call]
    return result
