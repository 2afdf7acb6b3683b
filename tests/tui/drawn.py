"""What a Textual app has drawn, as the lines of text a person reads on the terminal.

Content assertions need the screen as text: what is cut away at the edge, or
folded out of sight, must not be found.  Textual has no public way to read
the composed screen (snapshots are SVG), so this asks the screen's compositor,
as the snapshot plugin does; it is test code only (the app itself uses
Textual's public API, ``test_textual_public.py``).
"""

from __future__ import annotations

import io

from rich.console import Console
from textual.app import App


def screen_lines(app: App[object]) -> list[str]:
    """Every row of the screen on top, as plain text (trailing blanks removed)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), color_system=None, record=True
    )
    console.print(app.screen._compositor.render_update(full=True))
    return [line.rstrip() for line in console.export_text().splitlines()]


def screen_text(app: App[object]) -> str:
    return "\n".join(screen_lines(app))
