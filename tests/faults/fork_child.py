"""Forks a saved session, or stops at a chosen moment of the fork to be killed there.

``python fork_child.py DB SESSION UPTO STOP_AT`` forks SESSION at UPTO the way
the session browser does (``agentroom.room.sessions.Sessions.fork``).  The moments of a
fork are counted by SQLite's progress handler: one step every ``EVERY``
virtual-machine instructions on the store's connection, so the copy's one
transaction has many.  At step STOP_AT (0: before the fork begins) the child
prints ``STOPPED <step> tx`` (inside a transaction) or ``STOPPED <step> idle``
and holds there, for test_fork_atomic to SIGKILL it at exactly that moment.
With STOP_AT -1 it runs the fork through, prints ``FORKED <id> <steps> <first>
<last>`` (how many steps the whole fork took, the first and last inside a
transaction) and holds there too, its store still open, to be killed.
"""

from __future__ import annotations

import asyncio
import sys
import threading

from agentroom.room.sessions import Sessions
from agentroom.store import SqliteStore

EVERY = 500
"""SQLite instructions per step: a fork of a few hundred messages takes hundreds of steps."""


def hold(*said: object) -> None:
    print(*said, flush=True)
    threading.Event().wait()  # until the test kills the process


async def main(db: str, session: str, upto: int, stop_at: int) -> None:
    async with await SqliteStore.open(db) as store:
        conn = store.sink.db
        steps, inside = 0, []

        def progress() -> int:
            nonlocal steps
            steps += 1
            if conn.in_transaction:
                inside.append(steps)
            if steps == stop_at:  # on the database thread, in the middle of a statement
                hold("STOPPED", steps, "tx" if conn.in_transaction else "idle")
            return 0  # carry on (non-zero would abort the statement)

        if stop_at == 0:
            hold("STOPPED", 0, "idle")
        await conn.set_progress_handler(progress, EVERY)
        fork = await Sessions(store).fork(session, upto)
        hold("FORKED", fork, steps, inside[0], inside[-1])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
