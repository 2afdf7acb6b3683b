"""Files written whole or not at all, readable by you only (exports, settings, new workflows).

A file is written to a temporary file beside it, flushed and fsynced, then
renamed over the old one (``os.replace``, atomic on one filesystem): a crash
or a SIGKILL midway leaves the old file whole, never a truncated mix.  The
temporary file is created 0600 from the start (``mkstemp``), so the text is
never readable by others, not even for a moment; a file that already exists
keeps its mode where that is narrower (a mode is never widened).

A target that is not a regular file (a pipe, ``/dev/stdout``) cannot be
replaced: it is written to directly.  A new file that must not replace
anything (``workflows new``) is hard-linked into place instead of renamed,
which fails if a file is there, at that very moment.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from agentroom.core.errors import FileWriteError

PRIVATE = 0o600


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text file to write ``path``'s new content to; it replaces ``path`` on success only.

    On any error (the disk full, the body raising) the temporary file is
    removed and ``path`` is left as it was; an ``OSError`` becomes a
    :class:`~agentroom.core.errors.FileWriteError` that says what to do.
    """
    target = Path(os.path.realpath(path))  # through a symlink: the link stays a link
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise _failed(path, exc) from None
    if old is not None and not stat.S_ISREG(old.st_mode):
        with _direct(path, target) as fh:
            yield fh
        return
    mode = PRIVATE if old is None else stat.S_IMODE(old.st_mode) & PRIVATE
    with _whole(path, target, mode, os.replace) as fh:
        yield fh


@contextlib.contextmanager
def creating(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text file to write a new ``path`` to, 0600; it appears whole, and only if no file
    is there: one that is (even one made meanwhile) is a :class:`FileWriteError`, untouched."""

    def link(temp: str, target: Path) -> None:
        try:
            os.link(temp, target)  # unlike a rename, never replaces what is there
        except FileExistsError:
            raise FileWriteError(
                f"{os.fspath(path)} already exists; choose another name, or move it away first"
            ) from None
        os.unlink(temp)

    with _whole(path, Path(os.path.abspath(path)), PRIVATE, link) as fh:
        yield fh


@contextlib.contextmanager
def _whole(
    path: str | os.PathLike[str], target: Path, mode: int, finish: Callable[[str, Path], None]
) -> Iterator[TextIO]:
    """Write a temporary file beside ``target`` and ``finish`` it into place (or remove it)."""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _failed(path, exc) from None
    try:
        if mode != PRIVATE:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        finish(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError) and not isinstance(exc, FileWriteError):
            raise _failed(path, exc) from None
        raise
    _sync_folder(target.parent)


@contextlib.contextmanager
def _direct(path: str | os.PathLike[str], target: Path) -> Iterator[TextIO]:
    try:
        with open(target, "w", encoding="utf-8", newline="") as fh:
            yield fh
    except OSError as exc:
        raise _failed(path, exc) from None


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _failed(path: str | os.PathLike[str], exc: OSError) -> FileWriteError:
    reason = exc.strerror or str(exc)
    return FileWriteError(f"cannot write {os.fspath(path)}: {reason} (any old file is unchanged)")
