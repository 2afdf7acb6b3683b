"""The one environment every process a test starts gets, and the isolation of the test itself.

A test must never read or write the user's real data, nor pick up the
machine's models.  An inherited environment does not guarantee that: it is
only as clean as whatever the test process happened to hold at that moment
(a module-scoped fixture runs before the per-test isolation is in place, and
a tmux server that is already running hands new sessions its own
environment).  So a child's environment is built here from nothing: its own
home, config, data and cache folders under the test's temporary folder, its
own database, no model or key from the machine, and only ``PATH`` kept so the
program can be found.  ``tests/test_isolation.py`` checks that every process a
test starts is given one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MACHINE_SETTINGS = ("AGENTROOM_", "OPENAI_", "OLLAMA_")
"""Prefixes of the variables through which the machine would choose a model, a key, a
database or a config file for agentroom; none of them reaches a test."""


def isolation(folder: Path) -> dict[str, str]:
    """The variables that put a program's home, config, data, cache and database in ``folder``.

    No local model unless a test asks for it, and an Ollama address where
    nothing listens, so a room without a named model uses the offline demo
    model whatever is installed or running on this machine.
    """
    return {
        "HOME": str(folder / "home"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CACHE_HOME": str(folder / "cache"),
        "XDG_STATE_HOME": str(folder / "state"),
        "AGENTROOM_DB": str(folder / "room.db"),
        "AGENTROOM_NO_LOCAL": "1",
        "OLLAMA_HOST": "127.0.0.1:9",  # a closed port: no Ollama
    }


def child_env(folder: Path, *, local: bool = False, **overrides: str | None) -> dict[str, str]:
    """The whole environment of a process a test starts, everything of the user's under ``folder``.

    ``local=True`` lets the packaged local model be the default (only its own
    tests ask).  ``overrides`` add or replace variables; ``None`` removes one.
    Output is unbuffered (a test reads it line by line) and the offline model
    does not pause between words; a test that wants pacing says so.
    """
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "AGENTROOM_OFFLINE_WPS": "0",
        **isolation(folder),
    }
    if local:
        del env["AGENTROOM_NO_LOCAL"]
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def isolate(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The test's own process as a child would be: none of the machine's settings, ``folder``'s."""
    for name in list(os.environ):
        if name.startswith(MACHINE_SETTINGS):
            monkeypatch.delenv(name)
    for name, value in isolation(folder).items():
        monkeypatch.setenv(name, value)
