from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The TUI reads and writes its settings (theme, status lines, keymap) in a file of the
    test's own, never the user's."""
    path = tmp_path / "config.yaml"
    monkeypatch.setenv("AGENTROOM_CONFIG", str(path))
    return path
