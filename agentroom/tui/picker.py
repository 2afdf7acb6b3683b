"""The workflow picker: the sample workflows and the user's own, one key away."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from agentroom.core.errors import AgentroomError
from agentroom.room.workflows import available_workflows, load_workflow, user_workflows_dir
from agentroom.tui.shown import plain


class WorkflowPicker(ModalScreen[Path | None]):
    CSS_PATH = "strategy.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="picker.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(f"Open a workflow (yours go in {user_workflows_dir()})"), id="title")
            self.paths = available_workflows()
            options = []
            for path in self.paths:
                try:
                    wf = load_workflow(path)
                    text = f"{path.stem}: {wf.name}\n  {wf.strategy.name}, " + ", ".join(
                        a.id for a in wf.agents
                    )
                except AgentroomError as exc:
                    text = f"{path.stem}: cannot be used\n  {str(exc).splitlines()[0]}"
                options.append(Option(plain(text), id=str(path)))  # a name is never markup
            yield OptionList(*options, id="strategies")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(event.option.id or ""))
