"""F1 (and ``/help`` in the room): what you can type, and every key that applies here.

The first table is the room's grammar as ``/help`` gives it everywhere
(:func:`agentroom.room.line.help_rows`, with the screen's own commands); the
second is every binding of the screen and the app, with the keys that press
it now (after the user's keymap) and its id, the name a keymap remaps it by.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from agentroom.room.line import HELP_HEADING
from agentroom.tui.config import config_path
from agentroom.tui.keys import KeyRow
from agentroom.tui.shown import plain


def table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Table:
    """A table whose last column wraps to the width (a narrow terminal cuts nothing)."""
    grid = Table(box=None, padding=(0, 2, 0, 0), expand=True, header_style="bold")
    for header in headers[:-1]:
        grid.add_column(header, no_wrap=True)
    grid.add_column(headers[-1], ratio=1)
    for row in rows:
        # Keys come from the user's keymap, descriptions from code: text, never markup.
        grid.add_row(*(plain(cell) for cell in row))
    return grid


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,f1", "dismiss", "Close", id="help.close")]

    def __init__(self, keys: list[KeyRow], commands: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = keys
        self.commands = commands

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Label(f"In the input, {HELP_HEADING}", classes="heading")
            yield Static(table(("type", "does"), self.commands), id="commands")
            yield Label("Keys, as they are now (a keymap remaps one by its id)", classes="heading")
            yield Static(table(("keys", "id", "does"), self.rows), id="keys")
            yield Label(
                plain(
                    f"Keymap: {config_path()} (keymap: {{room.interrupt: ctrl+c}}). Escape closes."
                ),
                id="hint",
            )

    def on_mount(self) -> None:
        self.query_one("#dialog").focus()
