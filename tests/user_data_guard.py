"""A pytest plugin that fails the run if any test created, changed or removed the user's data.

The user's data is what agentroom would use on this machine without the
tests' isolation: the data folder (the default database), the config folder
(workflows, prices, UI settings), the cache folder, and ``$AGENTROOM_DB`` and
``$AGENTROOM_CONFIG`` if the environment names them.  They are resolved when
this module is imported, from the environment pytest was started with, before
any test or fixture changes it.

Each test is checked from before its fixtures are set up to after they are
torn down, so a module-scoped fixture's room counts against the test that
started it; the run as a whole is checked at its end too (collection,
session fixtures).  Only metadata is compared (kind, size, mtime), so a test
that merely fails to isolate a read is not caught, but any write is, and so
is SQLite opening a database (its ``-wal``/``-shm`` files).  Another program
writing there while the tests run is reported the same way: the message
says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from platformdirs import user_cache_path

from agentroom.core.paths import APP, config_dir, data_dir, default_db_path
from agentroom.tui.config import config_path

Snapshot = dict[str, tuple[str, int, int] | None]
"""Path -> (kind, size, mtime in ns), or None where nothing is."""

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
LIMIT = 10_000
"""Entries read at most: a user's agentroom folders hold a few files, not a tree to walk."""


def users_paths() -> list[Path]:
    """Where agentroom keeps the user's things, as this process's environment resolves them now."""
    folders = [data_dir(), config_dir(), user_cache_path(APP, appauthor=False)]
    db = default_db_path()
    files = [config_path(), db, *(db.with_name(db.name + side) for side in SQLITE_SIDE_FILES)]
    return [*folders, *(f for f in files if not any(f.is_relative_to(d) for d in folders))]


def _entry(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    kind = "folder" if path.is_dir() and not path.is_symlink() else "file"
    return (kind, st.st_size, st.st_mtime_ns)


def snapshot(paths: Iterable[Path]) -> Snapshot:
    """Every watched path and, for a folder, everything under it."""
    seen: Snapshot = {}
    for path in paths:
        entry = seen[str(path)] = _entry(path)
        if entry is None or entry[0] != "folder":
            continue
        for folder, names, files in os.walk(path):
            for name in [*names, *files][:LIMIT]:
                inner = Path(folder) / name
                seen[str(inner)] = _entry(inner)
            if len(seen) > LIMIT:
                break
    return seen


def changes(before: Mapping[str, object], after: Mapping[str, object]) -> list[str]:
    """What happened to each path between two snapshots, one phrase each (``created PATH``)."""
    found = []
    for path in sorted(before.keys() | after.keys()):
        was, now = before.get(path), after.get(path)
        if was == now:
            continue
        verb = "created" if was is None else "removed" if now is None else "changed"
        found.append(f"{verb} {path}")
    return found


WATCHED = users_paths()
AT_START = snapshot(WATCHED)
HOW = (
    "every process a test starts needs child_env(tmp_path) from tests/environment.py"
    " (or another program wrote there while the tests ran)"
)

_before_test: Snapshot = {}
_reported: set[str] = set()


def _touched(before: Snapshot) -> list[str]:
    found = changes(before, snapshot(WATCHED))
    _reported.update(phrase.split(" ", 1)[1] for phrase in found)
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of the test (module- and session-scoped ones included) is set up."""
    global _before_test
    _before_test = snapshot(WATCHED)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """After the test's fixtures are torn down: a teardown error on the test that did it."""
    found = _touched(_before_test)
    if found:
        pytest.fail(f"{item.nodeid} touched the user's data: {'; '.join(found)}; {HOW}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Anything not already blamed on a test (collection, session fixtures) fails the run."""
    found = [p for p in changes(AT_START, snapshot(WATCHED)) if p.split(" ", 1)[1] not in _reported]
    if not found:
        return
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    line = f"the tests touched the user's data: {'; '.join(found)}; {HOW}"
    if reporter is not None:
        reporter.write_line(f"ERROR: {line}", red=True, bold=True)
