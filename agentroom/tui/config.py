"""The user's UI settings: the theme chosen last, routine status lines shown or folded,
and key remappings by binding id.

A small YAML file in the agentroom config folder (``config.yaml``)::

    theme: harbor
    status_lines: shown
    keymap:
      room.interrupt: ctrl+c
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from agentroom.core.errors import FileWriteError
from agentroom.core.files import replacing
from agentroom.core.paths import config_dir

CONFIG_ENV = "AGENTROOM_CONFIG"
STATUS_LINES = "status_lines"
"""The setting that says whether transcripts show the routine status lines (``shown``) or
fold them (anything else, the default: a newcomer reads the dialogue first)."""


def config_path() -> Path:
    override = os.environ.get(CONFIG_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return config_dir() / "config.yaml"


def load_config() -> dict[str, Any]:
    try:
        data = yaml.safe_load(config_path().read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def save_config(**changes: Any) -> None:
    """Merge ``changes`` into the config file (keeping whatever else is there).

    Written whole or not at all, and 0600 (:func:`agentroom.core.files.replacing`);
    raises :class:`~agentroom.core.errors.FileWriteError` when it cannot be.
    """
    data = load_config() | changes
    path = config_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(f"cannot write {path}: {exc.strerror}") from None
    with replacing(path) as fh:
        fh.write(yaml.safe_dump(data, sort_keys=True))


def routine_shown(config: dict[str, Any] | None = None) -> bool:
    """Whether the routine status lines are shown (``config``, else the file, says)."""
    return (load_config() if config is None else config).get(STATUS_LINES) == "shown"
