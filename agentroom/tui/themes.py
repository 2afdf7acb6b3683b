"""Theme files (``themes/*.yaml``) registered with the app at start.

Each file holds a Textual theme's colours by name; screens use only the
theme's variables (``$primary``, ``$surface``, ...), so a theme file is all
it takes to restyle the room.  The user's choice is remembered in the config.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import yaml
from textual.theme import Theme

FIELDS = (
    "name",
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "dark",
    "variables",
)
DEFAULT_THEME = "harbor"


def themes_dir() -> Path:
    """Packaged with agentroom, or beside it in a source checkout."""
    packaged = importlib.resources.files("agentroom") / "themes"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "themes"


def load_themes(folder: Path | None = None) -> list[Theme]:
    """Every readable theme file in ``folder``; a broken file is skipped, not fatal."""
    themes = []
    for path in sorted((folder or themes_dir()).glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            themes.append(Theme(**{k: v for k, v in data.items() if k in FIELDS}))
        except (OSError, yaml.YAMLError, TypeError, ValueError):
            continue
    return themes
