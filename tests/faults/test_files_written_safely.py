"""Exports and the UI settings are written whole or not at all, and readable by you only.

``agentroom export -o`` is killed (SIGKILL) at random moments of a large
export: the previous file must be left whole every time (it used to be
truncated first).  New files are 0600, an existing file's mode is never
widened, and a folder that does not exist is a one-line error.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentroom import Engine, HumanAgent
from tests.faults.hostile import agentroom, colourless
from tests.tui.test_tui_room import make_app, settled
from tests.waiting import until_drawn

SIZE = 15_000
"""Envelopes in the large session: its export takes a while to write (about 2.5 MB)."""


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return colourless(env)


def make_session(db: str, count: int) -> str:
    async def make() -> str:
        async with Engine.open(db, title="large") as engine:
            human = engine.register_agent(HumanAgent("human"))
            for i in range(count):
                await human.say(f"line {i}: " + "words " * 20)
            await engine.save_all()
            return engine.session_id

    return asyncio.run(make())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def written(pid: int) -> int:
    """Bytes the process has written so far (``wchar`` in /proc/PID/io); -1 once it is gone."""
    try:
        with open(f"/proc/{pid}/io") as fh:
            for line in fh:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        return -1
    return -1


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs /proc/PID/io (Linux)")
def test_sigkill_at_random_moments_leaves_the_old_export_whole(env, tmp_path):
    sid = make_session(env["AGENTROOM_DB"], SIZE)
    fresh = tmp_path / "fresh.md"
    assert agentroom(env, "export", sid, "-o", str(fresh)).returncode == 0
    new = fresh.read_bytes()
    target = tmp_path / "room.md"
    old = b"# the previous export\n" + b"kept whole\n" * 50_000
    target.write_bytes(old)
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    # Kill points: before anything is written, then after a random share of the export.
    points = [0, *sorted(rng.randrange(1, len(new)) for _ in range(4))]
    killed_mid_write = 0
    for point in points:
        child = subprocess.Popen(
            [sys.executable, "-m", "agentroom", "export", sid, "-o", str(target)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Wait for the condition (that many bytes written), not for a duration.
        while child.poll() is None and 0 <= written(child.pid) < point:
            time.sleep(0.001)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            killed_mid_write += point > 0
        child.wait(timeout=60)
        now = target.read_bytes()
        assert now in (old, new), f"a kill after {point} bytes left a broken file (seed {seed})"
        if now == new:  # the export had finished: start over from the old file
            target.write_bytes(old)
    assert killed_mid_write >= 1, f"no kill landed mid-export (seed {seed})"
    assert agentroom(env, "export", sid, "-o", str(target)).returncode == 0
    assert target.read_bytes() == new


def test_exports_are_0600_and_never_widen_a_files_mode(env, tmp_path):
    sid = make_session(env["AGENTROOM_DB"], 3)
    fresh = tmp_path / "new.md"
    usual = os.umask(0o022)  # the usual umask: open() used to give 0644
    try:
        assert agentroom(env, "export", sid, "-o", str(fresh)).returncode == 0
    finally:
        os.umask(usual)
    assert mode(fresh) == 0o600
    shared, locked = tmp_path / "shared.jsonl", tmp_path / "locked.jsonl"
    shared.write_text("old\n")
    shared.chmod(0o644)
    locked.write_text("old\n")
    locked.chmod(0o400)
    for path in (shared, locked):
        assert agentroom(env, "export", sid, "-f", "jsonl", "-o", str(path)).returncode == 0
        assert path.read_text().count("\n") == 3
    assert mode(shared) == 0o600 and mode(locked) == 0o400
    assert sorted(p.name for p in tmp_path.glob(".*.tmp")) == []  # no temp file left behind


def test_an_export_through_a_symlink_keeps_the_link(env, tmp_path):
    sid = make_session(env["AGENTROOM_DB"], 2)
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert agentroom(env, "export", sid, "-o", str(link)).returncode == 0
    assert link.is_symlink() and real.read_text().startswith("# large")


def test_an_export_that_cannot_be_written_is_one_line(env, tmp_path):
    sid = make_session(env["AGENTROOM_DB"], 2)
    missing = tmp_path / "no" / "such" / "folder.md"
    result = agentroom(env, "export", sid, "-o", str(missing))
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"error: cannot write {missing}: No such file or directory (any old file is unchanged)\n"
    )


async def test_the_rooms_export_and_the_settings_file_are_0600(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTROOM_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.chdir(tmp_path)
    usual = os.umask(0o022)
    try:
        app, _ = make_app(db_path, ["Call it Miso.", "Too plain."], timeout=0.05, limit=3)
        async with app.run_test(size=(120, 40)) as pilot:
            await until_drawn(pilot, lambda: settled(app))
            sid = app.room_screen.link.room.engine.session_id
            export = tmp_path / f"agentroom-{sid[:13]}.md"
            export.write_text("an older export of this room")
            export.chmod(0o644)  # readable by everyone: narrowed, as a new one would be
            await pilot.press("ctrl+r")
            await until_drawn(pilot, lambda: "Call it Miso." in export.read_text())
            app.theme = "paper"  # remembered in config.yaml
            await until_drawn(pilot, lambda: (tmp_path / "config.yaml").exists())
    finally:
        os.umask(usual)
    assert mode(export) == 0o600 and mode(tmp_path / "config.yaml") == 0o600
    assert (tmp_path / "config.yaml").read_text() == "theme: paper\n"
