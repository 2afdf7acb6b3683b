"""A database that cannot be used is refused at once with one line: why, and what to do.

Never a traceback, and never "not an agentroom database" for a file that is
one but cannot be written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentroom import Engine
from agentroom.core.errors import NotAnAgentroomDatabase, StoreError
from agentroom.store import SqliteStore
from tests.environment import child_env
from tests.faults.mounts import fill, read_only_file, read_only_folder, small_disk


def cli(*args: str, db: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """``agentroom ARGS --db DB``, everything else of the user's in ``folder``."""
    return subprocess.run(
        [sys.executable, "-m", "agentroom", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=child_env(folder),
        timeout=60,
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


async def saved_room(db: Path) -> None:
    store = await SqliteStore.open(db)
    store.create_room("kept")
    await store.close()


async def test_a_folder_is_not_a_database_file(tmp_path):
    with pytest.raises(StoreError, match="it is a folder, not a database file") as caught:
        await SqliteStore.open(tmp_path)
    assert not isinstance(caught.value, NotAnAgentroomDatabase)
    line = one_line_error(cli("sessions", "list", db=tmp_path, folder=tmp_path))
    assert "is a folder" in line and "--db" in line


async def test_a_read_only_file_is_refused_saying_so(tmp_path):
    db = tmp_path / "room.db"
    await saved_room(db)
    with read_only_file(db):
        with pytest.raises(StoreError, match="read-only") as caught:
            await SqliteStore.open(db)
        assert not isinstance(caught.value, NotAnAgentroomDatabase)
        assert f"cannot write {db}" in str(caught.value)
        line = one_line_error(cli("sessions", "list", db=db, folder=tmp_path))
        assert "read-only" in line and "make both writable" in line


async def test_a_read_only_folder_is_refused_saying_so(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    await saved_room(folder / "room.db")
    with read_only_folder(folder, tmp_path / "view") as view:
        db = view / "room.db"
        with pytest.raises(StoreError) as caught:
            await SqliteStore.open(db)  # the file is writable; its -wal and -shm cannot be made
        assert not isinstance(caught.value, NotAnAgentroomDatabase)
        assert "writable" in str(caught.value)
        with pytest.raises(StoreError, match="read-only"):
            await SqliteStore.open(view / "new.db")
        line = one_line_error(cli("sessions", "list", db=db, folder=tmp_path))
        assert f"cannot write {db}" in line


async def test_a_full_disk_at_start_is_one_line(tmp_path):
    with small_disk(tmp_path / "disk", "256k") as disk:
        await saved_room(disk / "old.db")
        holder = await SqliteStore.open(disk / "old.db")  # its -shm file stays, sized
        fill(disk)
        with pytest.raises(StoreError, match="the disk is full; free some disk space"):
            await SqliteStore.open(disk / "new.db")
        line = one_line_error(cli("sessions", "list", db=disk / "new.db", folder=tmp_path))
        assert "the disk is full" in line
        # A database that opens, but has no room for a new room's first rows.
        with pytest.raises(StoreError, match="the disk is full; free some disk space") as caught:
            async with Engine.open(disk / "old.db"):
                pass
        assert "record" not in str(caught.value)  # what to do, not a count
        await holder.close()
        # And one whose -shm file cannot even be made.
        line = one_line_error(
            cli("run", "debate", "--headless", db=disk / "old.db", folder=tmp_path)
        )
        assert "the disk is full" in line and line.endswith("free some disk space")
