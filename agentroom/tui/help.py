"""F1: every binding that applies here, with its id (for remapping) and what it does."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from agentroom.tui.config import config_path
from agentroom.tui.shown import plain


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,f1", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = bindings

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Keys (remap them by id in the config file)", id="title")
            table: DataTable[str | Text] = DataTable(id="keys", cursor_type="row")
            table.add_columns("keys", "does", "id")
            for keys, description, binding_id in self.rows:
                # Keys come from the user's keymap: text, never markup.
                table.add_row(plain(keys), description, binding_id)
            yield table
            yield Label(
                plain(f"Type /help in the input for the room's commands. Config: {config_path()}"),
                id="hint",
            )
