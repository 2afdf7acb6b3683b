"""What every ``agentroom`` command shares: the consoles, options, errors.

The commands themselves live in :mod:`agentroom.cli.sessions`,
:mod:`agentroom.cli.workflows` and :mod:`agentroom.cli.rooms`;
:mod:`agentroom.cli.main` puts them on one Typer app.  Errors are one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from json import dumps, loads
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.highlighter import JSONHighlighter
from rich.segment import Segment
from rich.text import Text

from agentroom import __version__
from agentroom.core.errors import AgentroomError, NoDatabaseError
from agentroom.core.paths import resolve_db_path
from agentroom.core.protocol import Envelope
from agentroom.core.text import for_terminal, json_for_terminal
from agentroom.room.export import inert_writer, write_json_list
from agentroom.room.formatting import describe
from agentroom.room.service import StoreService

T = TypeVar("T")


class TerminalConsole(Console):
    """A Rich console that never writes a control character it was given as text.

    The command line prints only through the two below (``out`` and ``err``),
    so this is the one place where text from models, tools, people and files
    leaves for the terminal.  Markup is off unless a call asks for it: a title
    or an error quoting ``[/]`` is text, not a tag.  Control characters
    (ESC/CSI/OSC, C1, bidirectional overrides) become visible stand-ins
    (:func:`~agentroom.core.text.for_terminal`) before a text lays itself out, so
    tables stay aligned, and every segment is checked again on its way out,
    whatever rendered it; Rich's own styles and cursor moves are not text and
    pass.  JSON keeps being the same JSON: such characters become ``\\u`` escapes.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("highlight", False)
        kwargs.setdefault("soft_wrap", True)
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(for_terminal(text), **kwargs)

    _checking = False
    """Whether an outer :meth:`render` checks the segments (nested renders only pass them on)."""

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        if isinstance(renderable, Text):
            renderable = self._inert(renderable)
        segments = super().render(renderable, options)
        if self._checking:
            yield from segments
            return
        self._checking = True
        try:
            for segment in segments:
                if segment.control is None:
                    text = for_terminal(segment.text)
                    if text is not segment.text:
                        segment = Segment(text, segment.style)
                yield segment
        finally:
            self._checking = False

    def _inert(self, text: Text) -> Text:
        """``text`` with its control characters made visible, styles kept."""
        plain = text.plain
        if for_terminal(plain) is plain:
            return text
        inert = text.blank_copy()
        for segment in text.render(self):
            inert.append(for_terminal(segment.text), segment.style)
        return inert

    def print_json(
        self,
        json: str | None = None,
        *,
        data: Any = None,
        indent: int | str | None = 2,
        **_: Any,
    ) -> None:
        value = loads(json) if json is not None else data
        document = json_for_terminal(dumps(value, indent=indent, ensure_ascii=False))
        shown = JSONHighlighter()(Text(document, no_wrap=True))
        self._checking = True  # already inert: no segment of it needs the check
        try:
            self.print(shown, soft_wrap=True)
        finally:
            self._checking = False


out = TerminalConsole()
err = TerminalConsole(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Database file (default: $AGENTROOM_DB, else agentroom.db in your data folder).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model spec: openai:MODEL, ollama:MODEL, openai-compat:MODEL@URL, replay:FILE, "
        "local[:PATH.gguf], offline. Default: see 'agentroom models'.",
        show_default=False,
    ),
]
SessionArg = Annotated[
    str | None, typer.Argument(help="Session id, or a unique prefix of one.", show_default=False)
]


StrategyOption = Annotated[
    str | None,
    typer.Option(
        help="round-robin, role-based, plan-driven or handoff (any case; spaces or _ for -).",
        show_default=False,
    ),
]


def write(text: str | Text = "", end: str = "\n") -> None:
    """Print a line of the transcript (or anything else) on stdout, made terminal-safe."""
    out.print(text, end=end)


def strategy_named(value: str | None) -> str | None:
    """The strategy ``--strategy`` names, in any spelling (``role based``); usage error if none."""
    from agentroom.room.workflow_schema import STRATEGIES, canonical_choice

    if value is None:
        return None
    name = canonical_choice(value, STRATEGIES)
    if name is None:
        raise fail(f"unknown strategy {value!r}; choose one of: {', '.join(STRATEGIES)}", 2)
    return name


def error_text(message: str) -> Text:
    """``error: MESSAGE`` as printed on stderr; the message is text, never markup."""
    return Text.assemble(("error:", "bold red"), " ", message)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(error_text(message))
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; agentroom's own errors become one line and exit 1."""
    try:
        return asyncio.run(coro)
    except AgentroomError as exc:
        raise fail(str(exc)) from None


S = TypeVar("S", bound=StoreService)


async def listing(
    opening: Awaitable[S], read: Callable[[S], Awaitable[list[T]]], as_json: bool
) -> list[T]:
    """What ``read`` finds through the service ``opening`` opens (``sessions list``,
    ``tokens list``), printed as JSON if asked.  A missing database has nothing in it,
    and stays missing (the service is opened with ``create=False``)."""
    try:
        async with await opening as service:
            found = await read(service)
    except NoDatabaseError:
        found = []
    if as_json:  # inert for a terminal, and the same JSON
        await write_json_list(found, inert_writer("jsonl", sys.stdout.write))
    return found


def db_for(ctx: typer.Context, db: Path | None) -> Path | str:
    return resolve_db_path(db if db is not None else (ctx.obj or {}).get("db"))


def need_session(session_id: str | None) -> str:
    if not session_id or not session_id.strip():
        raise fail("missing session id; run 'agentroom sessions list' to see them", code=2)
    return session_id.strip()


def version_callback(value: bool) -> None:
    if value:
        out.print(f"agentroom {__version__}")
        raise typer.Exit()


SHORT_ID = 18  # the time part of the id and then some: unique in practice, and any prefix works


def envelope_text(env: Envelope) -> Text:
    """One transcript line, as the terminal shows it (:mod:`agentroom.room.formatting`)."""
    entry = describe(env)
    line = Text()
    line.append(f"#{entry.seq:<5} ", style="dim")
    if entry.said:
        line.append(entry.who, style="bold cyan")
        line.append(": ")
        line.append(entry.text)
    else:
        line.append(f"[{entry.kind.value}] {entry.route}: {entry.text}", style="dim italic")
    return line
