from __future__ import annotations

from pathlib import Path

import pytest

from tests.environment import isolate

# The guard against touching the user's data; imported first, so it resolves the
# user's folders from the environment pytest was started with (hooks, found by name).
from tests.user_data_guard import (  # noqa: F401
    pytest_runtest_setup,
    pytest_runtest_teardown,
    pytest_sessionfinish,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "room.db"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the user's real data, or pick up the machine's models.

    The test's own process gets the same home, folders and database setting
    as a child would (:func:`tests.environment.isolate`), and none of the
    machine's agentroom, OpenAI or Ollama settings.  Without a model named, a
    room uses the offline demo model: no key, no Ollama that happens to run
    here, and not the packaged local model even where it is installed (its own
    tests name it).  A process a test starts gets its whole environment from
    :func:`tests.environment.child_env` instead of inheriting this one.
    """
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("AGENTROOM_DB", str(tmp_path / "default.db"))  # db_path is room.db
