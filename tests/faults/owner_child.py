"""A process that tries to own a saved session when told to (for test_ownership).

``python owner_child.py DB SESSION`` reads commands from stdin, one a line:
``go`` tries ``Engine.open(DB, session_id=SESSION)`` and answers ``RUNNING``
(it then holds the room, idle: its OS lock and its lease say it is alive) or
``BUSY <the one-line error>``; ``release`` leaves the room (``RELEASED``);
end of input ends the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from agentroom import Engine
from agentroom.core.errors import AgentroomError


async def main(db: str, session: str) -> None:
    loop = asyncio.get_running_loop()
    held: contextlib.AsyncExitStack | None = None
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        if line == "go":
            stack = contextlib.AsyncExitStack()
            try:
                await stack.enter_async_context(Engine.open(db, session_id=session))
            except AgentroomError as exc:
                print("BUSY", exc, flush=True)
                continue
            held = stack
            print("RUNNING", flush=True)
        elif line == "release" and held is not None:
            try:
                await held.aclose()
            except AgentroomError as exc:
                print("FAILED", exc, flush=True)
                continue
            finally:
                held = None
            print("RELEASED", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
