"""Open the room app and quit it at once, at 12 moments of its opening, in a process of its own.

``python quick_quit_child.py FOLDER``: the databases go in FOLDER (the test's;
its environment, from the test, keeps everything else of the user's there too).

Prints one line: the exceptions raised in threads, and how many database
connection threads were still alive after every app had exited.  (A process
of its own, so no other test's threads or event loops are counted.)
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.tui.test_tui_room import make_app

failures: list[str] = []
threading.excepthook = lambda a: failures.append(f"{a.thread.name}: {a.exc_value!r}")


async def quit_after(folder: Path, steps: int) -> None:
    app, _ = make_app(folder / f"room{steps}.db", ["x"] * 5, timeout=0.05, limit=3)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(steps):
            await pilot.pause(0)


def main() -> None:
    folder = Path(sys.argv[1])
    for steps in range(12):  # from before the file is opened to a room under way
        asyncio.run(quit_after(folder, steps))
    left = 0
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(timeout=60)  # a guard: a closed connection's thread ends at once
            left += thread.is_alive()
    print(f"failures={failures!r} left={left}", flush=True)


if __name__ == "__main__":
    main()
