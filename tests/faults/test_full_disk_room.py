"""A real headless room on a real small disk: it fills up, the room says so and waits, and
either carries on when space is freed, or exits non-zero with one line when stopped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agentroom.cli.headless import NOT_SAVED
from tests.child import PYTHON, Child
from tests.environment import child_env
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


def headless(tmp_path: Path, db: Path, max_messages: int) -> Child:
    """``agentroom run --headless`` on the filler workflow: stdin to steer it, stderr read."""
    flow = tmp_path / "filler.yaml"
    flow.write_text(WORKFLOW)
    limit = ["--max-messages", str(max_messages)]
    return Child(
        [PYTHON, "-m", "agentroom", "run", str(flow), "--headless", "--db", str(db), *limit],
        listen="stderr",
        out=tmp_path / "stdout.txt",
        env=child_env(tmp_path),
    )


def saved(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT seq, content FROM envelopes ORDER BY seq").fetchall()


def messages(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM envelopes WHERE type = 0").fetchone()[0]


def printed_lines_are_saved(out: Path, rows: list[tuple[int, str]]) -> None:
    """Every line printed as said is saved; a streamed preview whose reply was not says so."""
    contents = {content for _, content in rows}
    for line in out.read_text().splitlines():
        if line.startswith(("a: ", "b: ", "human: ")) and not line.endswith(NOT_SAVED):
            assert line.split(": ", 1)[1] in contents, line


def test_a_full_disk_stops_the_turns_and_the_room_carries_on_once_space_is_freed(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        filler = fill(disk, leave=300_000)
        with headless(tmp_path, disk / "room.db", max_messages=300) as room:
            failing = room.expect("agentroom: the room cannot be saved")
            assert f"cannot write {disk / 'room.db'}: the disk is full" in failing
            assert failing.endswith("no new turn until it can write again")
            filler.unlink()
            back = room.expect("agentroom: ")
            assert back == "agentroom: the room can be saved again; carrying on"
            assert room.end() == 0, room.seen
        assert not [line for line in room.seen if "Traceback" in line or "error" in line], room.seen
        rows = saved(disk / "room.db")
        assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
        assert messages(disk / "room.db") >= 300  # it went on to its end
        assert "Session: " in (tmp_path / "stdout.txt").read_text()
        printed_lines_are_saved(tmp_path / "stdout.txt", rows)


def test_a_room_stopped_while_the_disk_is_full_exits_non_zero_with_one_line(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        fill(disk, leave=300_000)
        with headless(tmp_path, disk / "room.db", max_messages=300) as room:
            room.expect("agentroom: the room cannot be saved")
            room.say("/stop")
            assert room.end() == 1
        assert not [line for line in room.seen if "Traceback" in line]
        last = room.seen[-1]
        assert last.startswith("error: ")
        assert " record(s) could not be written: cannot write " in last
        assert last.endswith("the disk is full; free some disk space")
        assert [line for line in room.seen if line.startswith("error: ")] == [last]
        rows = saved(disk / "room.db")  # what was written before is whole
        assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
        printed_lines_are_saved(tmp_path / "stdout.txt", rows)
