"""Who is in the room, on which model, and what each is doing now.

The table always fits its width: the state column keeps its place, and a
long model name (``openai-compat:...@https://...``) or agent name is cut with
an ellipsis instead.  Left to itself the table grew as wide as its longest
cell and the state was scrolled out of sight on an 80-column terminal.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.events import Resize
from textual.widgets import DataTable

from agentroom.tui.shown import plain

STATES = ("idle", "thinking", "streaming", "your turn", "asked", "error", "skipped", "away")
STATE_WIDTH = max(len(s) for s in STATES)
WHO_WIDTH = 16
"""Cells an agent's name takes at most (a longer one is cut)."""
MODEL_WIDTH = 6
"""Cells the model column keeps however narrow the table."""


def fitted(text: str, width: int) -> Text:
    """``text`` as a cell at most ``width`` cells wide, cut with an ellipsis."""
    cell = plain(text, no_wrap=True)
    cell.truncate(width, overflow="ellipsis")
    return cell


class Participants(DataTable[str | Text]):
    """One row per participant: name, model, state; selecting a row picks the agent pane."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.models: dict[str, str] = {}
        """Each participant's model, in full (the table may show it cut)."""
        self.states: dict[str, str] = {}
        self._width = -1  # the width the columns were laid out for

    def on_mount(self) -> None:
        self._lay_out()

    def on_resize(self, event: Resize) -> None:
        if self.scrollable_content_region.width != self._width:
            self._lay_out()

    def set_participants(self, rows: list[tuple[str, str]]) -> None:
        new = [(name, model) for name, model in rows if name not in self.models]
        for name, model in new:
            self.models[name] = model
            self.states[name] = "idle"
        if new:
            self._lay_out()

    def set_state(self, name: str, state: str) -> None:
        if name in self.models and self.states.get(name) != state:
            self.states[name] = state
            self.update_cell(name, "state", state)

    def _lay_out(self) -> None:
        """Columns that fit the table's width, and the rows again (cut to fit)."""
        width = self._width = self.scrollable_content_region.width
        who = min(max((len(n) for n in self.models), default=3), WHO_WIDTH)
        padding = 2 * self.cell_padding * 3
        model = max(MODEL_WIDTH, width - who - STATE_WIDTH - padding)
        row = self.cursor_row
        self.clear(columns=True)
        self.add_column("who", key="who", width=who)
        self.add_column("model", key="model", width=model)
        self.add_column("state", key="state", width=STATE_WIDTH)
        for name, label in self.models.items():
            self.add_row(fitted(name, who), fitted(label, model), self.states[name], key=name)
        if self.row_count:
            self.move_cursor(row=min(max(row, 0), self.row_count - 1))
