from __future__ import annotations

from pathlib import Path

import pytest

from tests.environment import child_env


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The whole environment of an ``agentroom`` subprocess (``tests/environment.py``),
    with lines wide enough that nothing the tests read is wrapped."""
    return child_env(tmp_path, COLUMNS="300")
