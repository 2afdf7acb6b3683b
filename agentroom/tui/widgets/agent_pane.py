"""One agent's own session: what it has seen, in its own role view (line-based, lazy).

Each message is one flattened line, cut past :data:`LINE_CHARS` characters
(``/open N`` in the room shows message #N whole).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from agentroom.conversation import MessageView
from agentroom.core.protocol import Message, Role
from agentroom.room.formatting import describe
from agentroom.tui.shown import brief, plain

SHOWN = 500
"""How much of an agent's history the pane starts with (the rest is in SQLite)."""
LINE_CHARS = 1000
"""Characters of one message shown in the pane."""


def message_line(message: Message) -> Text:
    line = Text()
    style = "bold" if message.role is Role.ASSISTANT else ""
    entry = describe(message)
    line.append(f"{message.role.value:<9} ", style="dim")
    line.append(plain(f"{entry.route}: ", style=style))
    part = brief(entry.content, LINE_CHARS)
    line.append(part.text)
    if part.is_cut:
        how = f"/open {message.seq} shows it whole" if message.seq else ""
        line.append(f" {part.note(how)}", style="dim italic")
    return line


class AgentPane(RichLog):
    """Shows the chosen agent's conversation; appends as the agent sees more.

    It is given the conversation's in-memory window (``start`` says where it
    sits in the whole history, ``generation`` when a restore replaced it), so
    it follows by position, however far memory has moved on, and starts over
    after a restore.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(
            wrap=True, min_width=20, max_lines=2000, markup=False, auto_scroll=True, **kw
        )
        self.agent_id: str | None = None
        self.shown = 0  # the history's length when last drawn: what comes after is new
        self.generation: int | None = None

    def show(self, agent_id: str, messages: MessageView) -> None:
        """Start over with ``agent_id``'s last messages (only those are read)."""
        self.agent_id = agent_id
        self.clear()
        self.border_title = f"{agent_id}'s own view"
        total = len(messages)
        for message in messages[max(0, total - SHOWN) : total]:
            self.write(message_line(message))
        self.shown = messages.start + total
        self.generation = messages.generation

    def catch_up(self, messages: MessageView) -> None:
        """Append what the agent saw since the last call."""
        if self.agent_id is not None and messages.generation != self.generation:
            self.show(self.agent_id, messages)  # a restore: the history is another one now
            return
        start = messages.start
        total = len(messages)
        if self.shown < start:  # more arrived at once than memory keeps: say so
            skipped = start - self.shown
            self.write(Text(f"… {skipped} more (in the saved session)", style="dim italic"))
        for message in messages[max(0, self.shown - start) : total]:
            self.write(message_line(message))
        self.shown = start + total

    def unknown(self, agent_id: str, why: str) -> None:
        """Say that ``agent_id``'s own view cannot be shown here, and why."""
        self.agent_id = None  # nothing to catch up with
        self.clear()
        self.border_title = f"{agent_id}'s own view"
        self.write(Text(why, style="dim italic"))
