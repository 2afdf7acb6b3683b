"""Where agentroom keeps things on this machine: one answer for every module.

The config folder holds the user's workflows, prices and UI settings; the
data folder holds the database.  Both come from platformdirs, so they follow
each platform's convention (and ``XDG_*`` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP = "agentroom"
DB_ENV = "AGENTROOM_DB"
DB_NAME = "agentroom.db"


def config_dir() -> Path:
    """The user's agentroom config folder (workflows/, prices.yaml, config.yaml)."""
    return user_config_path(APP, appauthor=False)


def data_dir() -> Path:
    """The user's agentroom data folder (the default database lives here)."""
    return user_data_path(APP, appauthor=False)


def default_db_path() -> Path:
    """``$AGENTROOM_DB`` if set, else ``agentroom.db`` in the platform's user data folder."""
    override = os.environ.get(DB_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return data_dir() / DB_NAME


def resolve_db_path(explicit: str | os.PathLike[str] | None) -> Path | str:
    """``--db`` wins over ``$AGENTROOM_DB``, which wins over the platform default."""
    if explicit is None or str(explicit) == "":
        return default_db_path()
    if str(explicit) == ":memory:":
        return ":memory:"
    return Path(explicit).expanduser()
