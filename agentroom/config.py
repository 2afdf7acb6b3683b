"""Where agentroom keeps things on this machine."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_path

DB_ENV = "AGENTROOM_DB"
DB_NAME = "agentroom.db"


def default_db_path() -> Path:
    """``$AGENTROOM_DB`` if set, else ``agentroom.db`` in the platform's user data folder."""
    override = os.environ.get(DB_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return user_data_path("agentroom", appauthor=False) / DB_NAME


def resolve_db_path(explicit: str | os.PathLike[str] | None) -> Path | str:
    """``--db`` wins over ``$AGENTROOM_DB``, which wins over the platform default."""
    if explicit is None or str(explicit) == "":
        return default_db_path()
    if str(explicit) == ":memory:":
        return ":memory:"
    return Path(explicit).expanduser()
