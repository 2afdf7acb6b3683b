from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The whole environment of an ``agentroom`` subprocess: this one's, on the test's own
    database and folders, on the offline model (the conftest above rules out the others)."""
    return {k: v for k, v in os.environ.items() if k != "AGENTROOM_MODEL"} | {
        "AGENTROOM_DB": str(tmp_path / "room.db"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "300",
    }
