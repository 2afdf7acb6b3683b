"""Real file systems that fail: a small tmpfs that fills up, read-only files and folders.

As root (CI runs as root) permissions do not stop a write, so read-only means
a read-only bind mount; as another user, ``chmod`` does it.  A test that needs
a mount and cannot make one is skipped, saying why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.environment import child_env

ROOT = os.geteuid() == 0


def _tool(*command: str) -> subprocess.CompletedProcess[str]:
    """``mount`` or ``umount``; the last argument is the mount point, in the test's folder."""
    folder = Path(command[-1]).parent
    return subprocess.run(command, capture_output=True, text=True, env=child_env(folder))


def _mount(*args: str) -> None:
    done = _tool("mount", *args)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip() or done.returncode}); run as root")


def _umount(where: Path) -> None:
    if _tool("umount", str(where)).returncode != 0:
        _tool("umount", "-l", str(where))


@contextlib.contextmanager
def small_disk(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``where``: a disk that really fills up."""
    if not ROOT:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    where.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where))
    try:
        yield where
    finally:
        _umount(where)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` with one file, leaving about ``leave`` bytes free; returns the file."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        block = b"\0" * 4096
        for _ in range(max(0, (free - leave) // len(block))):
            os.write(fd, block)
        if leave == 0:
            with contextlib.suppress(OSError):  # the last bytes, up to ENOSPC
                while True:
                    os.write(fd, b"\0" * 512)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler


@contextlib.contextmanager
def read_only_file(path: Path) -> Iterator[Path]:
    """``path`` cannot be written; its folder can."""
    if not ROOT:
        mode = path.stat().st_mode
        path.chmod(stat.S_IRUSR)
        try:
            yield path
        finally:
            path.chmod(mode)
        return
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,ro,bind", str(path))
        yield path
    finally:
        _umount(path)


@contextlib.contextmanager
def read_only_folder(folder: Path, view: Path) -> Iterator[Path]:
    """``folder`` seen read-only at ``view`` (as root; else ``folder`` itself, chmod'ed).

    Files in it stay writable: only new files (SQLite's -wal and -shm) cannot be made.
    """
    if not ROOT:
        mode = folder.stat().st_mode
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield folder
        finally:
            folder.chmod(mode)
        return
    view.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(folder), str(view))
    files: list[Path] = []
    try:
        _mount("-o", "remount,ro,bind", str(view))
        for item in folder.iterdir():
            if item.is_file():
                _mount("--bind", str(item), str(view / item.name))
                files.append(view / item.name)
        yield view
    finally:
        for item in reversed(files):
            _umount(item)
        _umount(view)
