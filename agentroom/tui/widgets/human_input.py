"""The human's input: Enter sends, Tab completes @names, ctrl+j (or shift+enter) adds a line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from textual import events
from textual.message import Message
from textual.widgets import TextArea

AT_WORD = re.compile(r"@([\w.\-]*)$")


class HumanInput(TextArea):
    """A multi-line input that sends on Enter."""

    @dataclass
    class Submitted(Message):
        text: str

    def __init__(self, **kw: Any) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, **kw)
        self.names: list[str] = []

    def on_key(self, event: events.Key) -> None:
        """Enter sends, ctrl+j breaks the line, Tab completes; any other key is the TextArea's.

        Shift+enter breaks the line too, in a terminal that tells it from Enter
        (one with the kitty keyboard protocol); elsewhere it arrives as Enter.

        (Textual calls this before the TextArea's own key handler, which
        ``prevent_default`` skips.)
        """
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            text = self.text.strip()
            if text:
                self.post_message(self.Submitted(text))
                self.clear()
            return
        if event.key in ("ctrl+j", "shift+enter"):
            event.prevent_default()
            event.stop()
            self.insert("\n")
            return
        if event.key == "tab" and self.complete():
            event.prevent_default()
            event.stop()

    def complete(self) -> bool:
        """Complete an ``@prefix`` before the cursor to a participant's name."""
        row, col = self.cursor_location
        line = self.document.get_line(row)[:col]
        found = AT_WORD.search(line)
        if found is None:
            return False
        prefix = found.group(1)
        matches = [n for n in self.names if n.startswith(prefix)]
        if not matches:
            return False
        common = matches[0] if len(matches) == 1 else _common_prefix(matches)
        addition = common[len(prefix) :] + (" " if len(matches) == 1 else "")
        if not addition:
            return len(matches) > 1
        self.insert(addition)
        return True


def _common_prefix(names: list[str]) -> str:
    first, last = min(names), max(names)
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]
