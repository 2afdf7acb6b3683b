"""A real headless room on a real small disk: it fills up, the room says so and waits, and
either carries on when space is freed, or exits non-zero with one line when stopped."""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from tests.faults.mounts import fill, small_disk

WORKFLOW = """
name: filler
agents:
  - id: a
  - id: b
humans:
  - id: human
    timeout: 0.001
strategy:
  name: round-robin
termination:
  max_messages: 100000
"""
GUARD = 120  # seconds: only to stop a hang, never to pace the test


class Room:
    """``agentroom run --headless`` in a subprocess: stdin to steer it, stderr read by line."""

    def __init__(self, tmp_path: Path, db: Path, max_messages: int) -> None:
        flow = tmp_path / "filler.yaml"
        flow.write_text(WORKFLOW)
        self.out = tmp_path / "stdout.txt"
        self._out = self.out.open("w")
        limit = ["--max-messages", str(max_messages)]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentroom",
                "run",
                str(flow),
                "--headless",
                "--db",
                str(db),
                *limit,
            ],
            stdin=subprocess.PIPE,
            stdout=self._out,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "AGENTROOM_OFFLINE_WPS": "0", "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, start: str) -> str:
        """The next stderr line starting with ``start`` (the lines before it are kept)."""
        while True:
            line = self.lines.get(timeout=GUARD)
            assert line is not None, f"ended without {start!r}: {self.err}"
            self.err.append(line)
            if line.startswith(start):
                return line

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def __enter__(self) -> Room:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:  # a failed test leaves no room running on the mount
            self.proc.kill()
            self.proc.wait(timeout=GUARD)
        self._out.close()

    def end(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=GUARD)
        while (line := self.lines.get(timeout=GUARD)) is not None:
            self.err.append(line)
        return code


def saved(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT seq, content FROM envelopes ORDER BY seq").fetchall()


def messages(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM envelopes WHERE type = 0").fetchone()[0]


def printed_lines_are_saved(out: Path, rows: list[tuple[int, str]]) -> None:
    contents = {content for _, content in rows}
    for line in out.read_text().splitlines():
        if line.startswith(("a: ", "b: ", "human: ")):
            assert line.split(": ", 1)[1] in contents, line


def test_a_full_disk_stops_the_turns_and_the_room_carries_on_once_space_is_freed(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        filler = fill(disk, leave=300_000)
        with Room(tmp_path, disk / "room.db", max_messages=300) as room:
            failing = room.expect("agentroom: the room cannot be saved")
            assert f"cannot write {disk / 'room.db'}: the disk is full" in failing
            assert failing.endswith("no new turn until it can write again")
            filler.unlink()
            back = room.expect("agentroom: ")
            assert back == "agentroom: the room can be saved again; carrying on"
            assert room.end() == 0, room.err
        assert not [line for line in room.err if "Traceback" in line or "error" in line]
        rows = saved(disk / "room.db")
        assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
        assert messages(disk / "room.db") >= 300  # it went on to its end
        assert "Session: " in room.out.read_text()
        printed_lines_are_saved(room.out, rows)


def test_a_room_stopped_while_the_disk_is_full_exits_non_zero_with_one_line(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        fill(disk, leave=300_000)
        with Room(tmp_path, disk / "room.db", max_messages=300) as room:
            room.expect("agentroom: the room cannot be saved")
            room.say("/stop")
            assert room.end() == 1
        assert not [line for line in room.err if "Traceback" in line]
        last = room.err[-1]
        assert last.startswith("error: ")
        assert " record(s) could not be written: cannot write " in last
        assert last.endswith("the disk is full; free some disk space")
        assert [line for line in room.err if line.startswith("error: ")] == [last]
        rows = saved(disk / "room.db")  # what was written before is whole
        assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
        printed_lines_are_saved(room.out, rows)
