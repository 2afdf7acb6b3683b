"""Text as the screen shows it: never markup, never a raw control, never too long to draw.

Everything the UI shows from outside (what models, tools and people said,
titles, model specs, file names, error messages) passes through here on its
way to a widget:

- :func:`plain` for labels, table cells and options: a Rich ``Text``, which
  Textual never parses as markup (``[/]`` in a title used to crash the app),
  with control characters made visible (:func:`~agentroom.core.text.for_terminal`),
  so a reply cannot retitle the window, clear the screen or make the terminal
  type into the input.
- :func:`cut` for message bodies: at most :data:`MAX_LINES` lines and
  :data:`MAX_CHARS` characters, saying how much more there is.  One 10 MB
  message would otherwise take minutes to lay out and freeze the screen; the
  whole text opens in :class:`~agentroom.tui.whole.WholeText`, which draws only
  the lines on screen.
- :func:`brief` for one-line texts (quiet lines, the agent pane, notifications).

:func:`keep_line_breaks` readies a message body for Markdown: in a chat a
newline is a new line.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from agentroom.core.text import for_terminal

MAX_LINES = 40
"""Lines of one message shown in the transcript (the rest opens whole)."""
MAX_CHARS = 4000
"""Characters of one message shown in the transcript."""


def plain(text: str, style: str | Style = "", *, no_wrap: bool = False) -> Text:
    """``text`` for a label, a cell or an option: not markup, nothing a terminal acts on."""
    return Text(for_terminal(text), style=style, no_wrap=no_wrap)


@dataclass(frozen=True)
class Cut:
    """The part of a text that is shown (terminal-safe), and how much was left out."""

    text: str
    hidden_chars: int = 0
    hidden_lines: int = 0

    @property
    def is_cut(self) -> bool:
        return self.hidden_chars > 0

    def note(self, how: str = "") -> str:
        """``… 9,996,000 more characters, 12 more lines: HOW``; empty when nothing was cut."""
        if not self.is_cut:
            return ""
        lines = f", {self.hidden_lines:,} more lines" if self.hidden_lines else ""
        return f"… {self.hidden_chars:,} more characters{lines}" + (f": {how}" if how else "")

    def with_note(self, how: str = "") -> str:
        """The shown text, followed by the note when something was cut."""
        return f"{self.text} {self.note(how)}" if self.is_cut else self.text


def head_length(text: str, *, lines: int = MAX_LINES, chars: int = MAX_CHARS) -> int:
    """How many characters of ``text`` make its first ``lines`` lines, ``chars`` at most."""
    end = -1
    for _ in range(lines):
        end = text.find("\n", end + 1, chars)
        if end < 0:
            return min(len(text), chars)
    return end


def cut(text: str, *, lines: int = MAX_LINES, chars: int = MAX_CHARS) -> Cut:
    """The first ``lines`` lines and ``chars`` characters of ``text``, terminal-safe.

    Only the shown part is made safe; the rest is only counted (a newline
    count runs at memory speed), so a 10 MB text costs a few milliseconds here.
    """
    shown = head_length(text, lines=lines, chars=chars)
    if shown == len(text) or (len(text) - shown <= 80 and text[shown:].isspace()):
        return Cut(for_terminal(text))  # nothing, or only trailing blanks, left out
    return Cut(for_terminal(text[:shown]), len(text) - shown, text.count("\n", shown))


def brief(text: str, chars: int = 500) -> Cut:
    """``text`` flattened on one terminal-safe line of at most ``chars`` characters."""
    part = cut(text, lines=chars, chars=chars)
    return Cut(" ".join(part.text.split()), part.hidden_chars, part.hidden_lines)


def keep_line_breaks(text: str) -> str:
    """Markdown source in which every newline of ``text`` breaks the line.

    Markdown joins the lines of a paragraph, so a human's two lines (ctrl+j)
    or a model's list written without blank lines were drawn as one line.  A
    line that ends in two spaces is a hard break; anywhere else (a code block,
    a blank line, a heading's underline) the spaces change nothing one sees.
    Applied piece by piece to a streamed reply, it gives the same text.
    """
    return text.replace("\n", "  \n")
