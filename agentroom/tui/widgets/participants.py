"""Who is in the room, on which model, and what each is doing now."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from agentroom.tui.shown import plain

STATES = ("idle", "thinking", "streaming", "your turn", "error", "skipped")


class Participants(DataTable[str | Text]):
    """One row per participant: name, model, state; selecting a row picks the agent pane."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self._rows: dict[str, object] = {}
        self.states: dict[str, str] = {}

    def on_mount(self) -> None:
        self.add_column("who", key="who")
        self.add_column("model", key="model")
        self.add_column("state", key="state", width=max(len(s) for s in STATES))

    def set_participants(self, rows: list[tuple[str, str]]) -> None:
        for name, model in rows:
            if name not in self._rows:
                self._rows[name] = self.add_row(plain(name), plain(model), "idle", key=name)
                self.states[name] = "idle"

    def set_state(self, name: str, state: str) -> None:
        if name in self._rows and self.states.get(name) != state:
            self.states[name] = state
            self.update_cell(name, "state", state)
