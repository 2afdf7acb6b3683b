"""A whole message, however long: only the lines on screen are drawn.

The transcript, the agent pane and the replay show a long message cut
(:func:`agentroom.tui.shown.cut`); this screen shows all of it.  The text is
made terminal-safe and wrapped to the width once, in a thread (a 10 MB
message takes a moment, and the screen stays responsive meanwhile); after
that, scrolling draws one strip per visible line (Textual's Line API), so
the length of the message does not matter.  Escape goes back.
"""

from __future__ import annotations

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Label

from agentroom.core.protocol import Envelope
from agentroom.core.text import for_terminal
from agentroom.room.formatting import describe
from agentroom.tui.shown import plain

TAB = 4


def envelope_title(env: Envelope) -> str:
    """What the whole-text screen is titled for an envelope: ``message · alice → bob #12``."""
    return describe(env).title


def wrap_lines(text: str, width: int) -> list[str]:
    """``text`` as terminal-safe lines of at most ``width`` cells (wide characters count two)."""
    width = max(width, 2)
    lines: list[str] = []
    for line in for_terminal(text).split("\n"):
        line = line.expandtabs(TAB)
        if line.isascii():
            lines.extend([line[at : at + width] for at in range(0, len(line), width)] or [""])
        else:
            lines.extend(_wrap_wide(line, width))
    return lines


def _wrap_wide(line: str, width: int) -> list[str]:
    """A line with non-ASCII characters, wrapped a width at a time (linear in its length)."""
    rows, at = [], 0
    while at < len(line):
        piece = line[at : at + width]  # never fewer cells than characters
        if max(piece) >= "\u1100" and cell_len(piece) > width:  # below: one cell or none
            piece = chop_cells(piece, width)[0]
        rows.append(piece)
        at += len(piece)
    return rows or [""]


class TextLines(ScrollView, can_focus=True):
    """Lines of text, wrapped to the widget's width; draws only what is on screen."""

    DEFAULT_CSS = """
    TextLines {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-gutter: stable;  /* the scrollbar must not change the width: no rewrap */
        padding: 0 1;
    }
    """

    def __init__(self, text: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.text = text
        self.lines: list[str] = []
        self.wrapped_at = 0
        """The width the lines were wrapped to (0: not yet)."""

    def on_resize(self, event: Resize) -> None:
        width = self.scrollable_content_region.width
        if width > 0 and width != self.wrapped_at:
            self.wrap(width)

    @work(thread=True, exclusive=True, group="wrap")
    def wrap(self, width: int) -> None:
        lines = wrap_lines(self.text, width)
        self.app.call_from_thread(self._wrapped, lines, width)

    def _wrapped(self, lines: list[str], width: int) -> None:
        self.lines, self.wrapped_at = lines, width
        self.virtual_size = Size(width, len(lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        style = self.rich_style
        width = self.scrollable_content_region.width
        if index >= len(self.lines):
            return Strip.blank(width, style)
        return Strip([Segment(self.lines[index], style)]).adjust_cell_length(width, style)


class WholeText(Screen[None]):
    """One whole message (or action, or status), titled with who said it; escape goes back."""

    BINDINGS = [Binding("escape", "dismiss", "Back", id="whole.back")]
    DEFAULT_CSS = """
    WholeText #whole-title {
        padding: 0 1;
        background: $panel;
        color: $text-muted;
        width: 1fr;
    }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        lines = self.text.count("\n") + 1
        size = f"{len(self.text):,} characters, {lines:,} lines"
        yield Label(plain(f"{self.title_text} · {size} · escape to go back"), id="whole-title")
        yield TextLines(self.text, id="whole-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TextLines).focus()
