"""A subprocess a fault test steers: lines to its stdin, its output read line by line.

Waits are for lines (conditions); ``GUARD`` only stops a hang.  A child still
running when the test ends is killed, so nothing outlives a failed test.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

GUARD = 120
PYTHON = sys.executable
QUIET = {"AGENTROOM_OFFLINE_WPS": "0", "PYTHONUNBUFFERED": "1"}
"""The offline model without pauses; output line by line as it is written."""


class Child:
    """``args`` run with stdin a pipe; ``listen`` ("stdout" or "stderr") is read by line."""

    def __init__(
        self,
        args: list[str],
        *,
        listen: str = "stdout",
        out: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._out: IO[str] | None = out.open("w") if out is not None else None
        pipes: dict[str, Any] = {"stdout": self._out, "stderr": None}
        pipes[listen] = subprocess.PIPE
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "AGENTROOM_OFFLINE_WPS": "0",
                "PYTHONUNBUFFERED": "1",
                **(env or {}),
            },
            **pipes,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        stream = getattr(self.proc, listen)
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, start: str = "") -> str:
        """The next line starting with ``start`` (the lines before it are kept in ``seen``)."""
        while True:
            line = self.lines.get(timeout=GUARD)
            assert line is not None, f"ended without {start!r}: {self.seen}"
            self.seen.append(line)
            if line.startswith(start):
                return line

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def end(self) -> int:
        """Close its stdin, wait for it to exit; returns its exit status."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=GUARD)
        while (line := self.lines.get(timeout=GUARD)) is not None:
            self.seen.append(line)
        return code

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
