"""The user's UI settings: the theme chosen last, and key remappings by binding id.

A small YAML file in the agentroom config folder (``config.yaml``)::

    theme: harbor
    keymap:
      room.interrupt: ctrl+c
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from platformdirs import user_config_path

CONFIG_ENV = "AGENTROOM_CONFIG"


def config_path() -> Path:
    override = os.environ.get(CONFIG_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return user_config_path("agentroom", appauthor=False) / "config.yaml"


def load_config() -> dict[str, Any]:
    try:
        data = yaml.safe_load(config_path().read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def save_config(**changes: Any) -> None:
    """Merge ``changes`` into the config file (keeping whatever else is there)."""
    data = load_config() | changes
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=True), encoding="utf-8")
