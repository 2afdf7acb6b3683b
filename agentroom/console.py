"""What every ``agentroom`` command shares: the Typer app, the consoles, options, errors.

Commands live in :mod:`agentroom.cli` (sessions, export, models) and
:mod:`agentroom.tui.launch` (workflows, run, resume); both register on the
``app`` defined here.  Errors are one line on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from agentroom import __version__
from agentroom.config import resolve_db_path
from agentroom.errors import AgentroomError
from agentroom.protocol import Envelope, MessageType

T = TypeVar("T")

app = typer.Typer(
    name="agentroom",
    help="A multi-agent chat room for the terminal.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode="rich",
)
sessions_app = typer.Typer(help="Saved sessions: list them, show one.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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
        "offline. Default: see 'agentroom models'.",
        show_default=False,
    ),
]
SessionArg = Annotated[
    str | None, typer.Argument(help="Session id, or a unique prefix of one.", show_default=False)
]


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; agentroom's own errors become one line and exit 1."""
    try:
        return asyncio.run(coro)
    except AgentroomError as exc:
        raise fail(str(exc)) from None


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
    """One transcript line, as the terminal shows it."""
    who = env.route
    line = Text()
    line.append(f"#{env.seq:<5} ", style="dim")
    if env.type is MessageType.MESSAGE:
        line.append(who, style="bold cyan")
        line.append(": ")
        line.append(env.content)
    else:
        line.append(f"[{env.type.value}] {who}: {env.content}", style="dim italic")
    return line
