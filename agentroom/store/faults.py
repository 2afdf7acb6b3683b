"""What went wrong when SQLite would not write, and whose fault it was.

Two kinds of failure reach the writer.  A *record* fault belongs to one row
(text that is not valid Unicode, metadata JSON cannot hold, a constraint on
that row): the rest of the batch is fine, so the writer finds the record and
saves a repaired form of it.  Anything else belongs to the *database* (a full
disk, a read-only file, an I/O error, a lock held too long): every record
would fail alike, so the writer keeps them all, in order, and tries again.

:func:`explain` turns a database fault into the one line a person reads:
what could not be written, why, and what to do.
"""

from __future__ import annotations

import errno
import os
import sqlite3

from agentroom.core.errors import StoreWriteError
from agentroom.core.text import one_line, redact

# SQLite result codes (``sqlite_errorname``) that belong to one row, not to the file.
_RECORD_CODES = ("SQLITE_CONSTRAINT", "SQLITE_TOOBIG", "SQLITE_MISMATCH", "SQLITE_RANGE")


class RecordError(StoreWriteError):
    """One record cannot be written in any form (it names no room this store knows)."""


class TakenOverError(StoreWriteError):
    """Another agentroom claimed the room: this store's writes to it are refused (fenced)."""


class FileGoneError(StoreWriteError):
    """The database file at the path is gone or is another file than the one open."""


def record_fault(exc: BaseException) -> bool:
    """True when ``exc`` belongs to the records written, not to the database."""
    if isinstance(exc, RecordError):
        return True
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name.startswith(_RECORD_CODES) or isinstance(exc, sqlite3.IntegrityError):
            return True
        if isinstance(exc, sqlite3.DataError | sqlite3.InterfaceError):
            return True  # a value SQLite cannot bind or store
        if isinstance(exc, sqlite3.ProgrammingError):
            return "closed" not in str(exc)  # a bad binding; a closed connection is not
        return False
    if isinstance(exc, StoreWriteError | OSError):
        return False
    if isinstance(exc, ValueError) and "no active connection" in str(exc):
        return False  # aiosqlite's closed connection
    return isinstance(exc, UnicodeError | ValueError | TypeError | OverflowError | RecursionError)


def explain(exc: BaseException, path: str) -> str:
    """One line: what could not be written, why, and what to do about it."""
    if isinstance(exc, StoreWriteError):
        return one_line(redact(str(exc)), 400)
    cause, todo = _cause(exc, path)
    return one_line(redact(f"cannot write {path}: {cause}; {todo}"), 400)


def _no_space(path: str) -> bool:
    """Whether the file system holding ``path`` has no block left (SQLite then reports an
    I/O error, not a full disk, when it cannot grow its -shm file)."""
    try:
        return os.statvfs(os.path.dirname(os.path.abspath(path))).f_bavail == 0
    except OSError:
        return False


def disk_full(exc: BaseException, path: str) -> bool:
    """Whether ``exc`` means there is no space left where ``path`` lives."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL" or getattr(exc, "errno", None) == errno.ENOSPC:
        return True
    return name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) and _no_space(path)


def _cause(exc: BaseException, path: str) -> tuple[str, str]:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc) or type(exc).__name__
    code = getattr(exc, "errno", None)
    if disk_full(exc, path):
        full = "" if name == "SQLITE_FULL" or code == errno.ENOSPC else f" ({text})"
        return f"the disk is full{full}", "free some disk space"
    if name.startswith("SQLITE_READONLY") or code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"the file or its folder is read-only ({text})",
            "make both writable by you, or pass --db with another file",
        )
    if name.startswith("SQLITE_CANTOPEN"):
        return (
            f"the file cannot be opened ({text})",
            "check that its folder exists and is writable by you (SQLite creates "
            "-wal and -shm files beside it)",
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return f"another program holds a lock on it ({text})", "close that program"
    if name.startswith("SQLITE_IOERR") or code == errno.EIO:
        return f"the disk reported an I/O error ({text})", "check the disk"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return f"the file is damaged ({text})", "restore it from a backup, or pass --db"
    return text, "check free disk space and the file's permissions"
