"""The strategy menu: pick how the next speaker is chosen, at the start or mid-session."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from agentroom.room.workflows import STRATEGIES

ABOUT = {
    "round-robin": "a fixed order, over and over (you take your turn too)",
    "role-based": "a selector picks by role; @name in a message wins",
    "plan-driven": "a planner writes steps; each goes to the agent whose role fits",
    "handoff": "the active agent keeps the floor until it hands off",
}


class StrategyMenu(ModalScreen[str | None]):
    CSS_PATH = "strategy.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="strategy.cancel")]

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("How should the next speaker be chosen?", id="title")
            options = [
                Option(
                    f"{name}{'  (now)' if name == self.current else ''}\n  {ABOUT[name]}", id=name
                )
                for name in STRATEGIES
            ]
            yield OptionList(*options, id="strategies")

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        if self.current in STRATEGIES:
            menu.highlighted = STRATEGIES.index(self.current)
        menu.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
