"""A subprocess a test steers: lines to its stdin, its output read line by line, SIGKILL on cue.

One helper for every test that runs a real process and reacts to what it
prints (the command line, crash and fault children).  Waits are for lines
(conditions); ``GUARD`` only stops a hang, it measures nothing.  A child still
running when the test ends is killed, so nothing outlives a failed test.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

GUARD = 120
PYTHON = sys.executable


class Child:
    """``args`` run with stdin a pipe; ``listen`` ("stdout" or "stderr") is read by line.

    ``env`` is the child's whole environment, always given
    (:func:`tests.environment.child_env`): an inherited one may hold the
    user's.  The other stream goes to ``out`` if given, else it is inherited
    (pytest shows it when a test fails).
    """

    def __init__(
        self,
        args: list[str],
        *,
        listen: str = "stdout",
        out: Path | None = None,
        env: dict[str, str],
    ) -> None:
        self._out: IO[str] | None = out.open("w") if out is not None else None
        pipes: dict[str, Any] = {"stdout": self._out, "stderr": None}
        pipes[listen] = subprocess.PIPE
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            text=True,
            env=env,
            **pipes,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        """Every line read so far, in order."""
        self.unterminated = False
        """The output ended in the middle of a line (the last of ``seen``): killed mid-write."""
        stream = getattr(self.proc, listen)
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            if not line.endswith("\n"):
                self.unterminated = True
            self.lines.put(line.removesuffix("\n"))
        self.lines.put(None)

    def next(self) -> str | None:
        """The next line (kept in ``seen``), or None once the output has ended."""
        line = self.lines.get(timeout=GUARD)
        if line is None:
            self.lines.put(None)  # ended for every later call too
        else:
            self.seen.append(line)
        return line

    def expect(self, pattern: str = "") -> str:
        """The next line matching ``pattern`` (a regex, from the line's start)."""
        while (line := self.next()) is not None:
            if re.match(pattern, line):
                return line
        raise AssertionError(f"ended without a line like {pattern!r}:\n" + "\n".join(self.seen))

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def rest(self) -> list[str]:
        """Every line up to the end of the output (the child exits, or was killed)."""
        while self.next() is not None:
            pass
        return self.seen

    def end(self) -> int:
        """Close its stdin, wait for it to exit, read the rest; returns its exit status."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=GUARD)
        self.rest()
        return code

    def kill(self) -> None:
        """SIGKILL it now (it must still be running), then read what it had written."""
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=GUARD) == -signal.SIGKILL, "it had already exited"
        self.rest()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=GUARD)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self._out is not None:
            self._out.close()


def killed_at(args: list[str], when: Callable[[list[str]], bool], *, env: dict[str, str]) -> Child:
    """Run ``args`` and SIGKILL it as soon as ``when`` holds for the lines it printed so far.

    ``when`` is asked before the first line too (with none).  Returns the
    finished child: ``seen`` holds every line it wrote, those after the
    moment included.
    """
    with Child(args, env=env) as child:
        while not when(child.seen):
            if child.next() is None:
                raise AssertionError("it ended before the moment came:\n" + "\n".join(child.seen))
        child.kill()
    return child
