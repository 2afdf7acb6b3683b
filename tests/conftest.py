from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "room.db"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the user's real database, or pick up the machine's models.

    Without a model named, a room uses the offline demo model in tests: no key
    from the environment, no Ollama that happens to run here, and not the
    packaged local model even where it is installed (its own tests name it).
    """
    monkeypatch.setenv("AGENTROOM_DB", str(tmp_path / "default.db"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for name in ("AGENTROOM_MODEL", "OPENAI_API_KEY", "AGENTROOM_LOCAL_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("AGENTROOM_NO_LOCAL", "1")  # subprocesses (the CLI) inherit both
