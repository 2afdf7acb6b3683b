"""``agentroom sessions list``, ``agentroom sessions show`` and ``agentroom export``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from agentroom.cli.console import (
    SHORT_ID,
    DbOption,
    JsonOption,
    SessionArg,
    db_for,
    envelope_text,
    err,
    fail,
    listing,
    need_session,
    out,
    run,
)
from agentroom.core.records import RoomInfo
from agentroom.room.export import (
    FORMATS,
    ROUTINE_CHOICES,
    inert_writer,
    write_json_document,
)
from agentroom.room.formatting import is_quiet
from agentroom.room.sessions import Sessions
from agentroom.room.usage import UsageLedger

# -- sessions ---------------------------------------------------------------------------


def _rooms_table(rooms: list[RoomInfo]) -> Table:
    table = Table(
        title="Saved sessions (any unique id prefix works; --json for full ids)",
        title_justify="left",
        header_style="bold",
    )
    table.add_column("id", no_wrap=True, style="bold", min_width=SHORT_ID)
    table.add_column("title", overflow="ellipsis", no_wrap=True, max_width=36)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("agents", overflow="ellipsis", no_wrap=True, max_width=28)
    table.add_column("messages", justify="right", no_wrap=True, min_width=8)
    table.add_column("state", no_wrap=True, min_width=11)
    for room in rooms:
        cells = (
            room.id[:SHORT_ID],
            room.title or "-",
            f"{room.created_at:%m-%d %H:%M}",
            ", ".join(room.agents) or "-",
            str(room.messages),
            room.live_state,
        )
        table.add_row(*map(Text, cells))  # Text, not str: a title is never read as markup
    return table


def sessions_list(
    ctx: typer.Context,
    db: DbOption = None,
    as_json: JsonOption = False,
    limit: Annotated[int | None, typer.Option(help="Show at most this many.")] = None,
) -> None:
    """List saved sessions, most recent first."""
    where = db_for(ctx, db)

    rooms = run(
        listing(
            Sessions.open(where, create=False),
            lambda sessions: sessions.recent(limit, metadata=as_json),
            as_json,
        )
    )
    if as_json:
        return
    if not rooms:
        out.print(
            Text.assemble(
                f"No saved sessions yet (looked in {where}). Run ",
                ("agentroom", "bold"),
                " to start one.",
            )
        )
    else:
        out.print(_rooms_table(rooms))


def sessions_show(
    ctx: typer.Context,
    session_id: SessionArg = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    limit: Annotated[
        int | None, typer.Option(help="Show only the first N envelopes of the transcript.")
    ] = None,
) -> None:
    """Show one session: its summary and its transcript in seq order."""
    wanted = need_session(session_id)

    async def go() -> None:
        # Written as the envelopes are read (a chunk at a time), never held whole.
        async with await Sessions.open(db_for(ctx, db), create=False) as sessions:
            if as_json:
                shown = await sessions.show(wanted, first=limit)
                envelopes = sessions.read(shown.room.id, limit=limit)
                stdout = inert_writer("jsonl", sys.stdout.write)  # the same JSON, inert
                await write_json_document(shown.to_dict(), "envelopes", envelopes, stdout)
                return
            room = await sessions.find(wanted)
            envelopes = sessions.read(room.id, limit=limit)
            out.print(_rooms_table([room]))
            seed = room.metadata.get("seed")
            if isinstance(seed, int):
                out.print(Text.assemble(("sampling seed: ", "bold"), str(seed)))
            usage = UsageLedger()
            async for env in envelopes:
                usage.offer(env)
                if not is_quiet(env):  # usage is summed up below
                    out.print(envelope_text(env))
            if usage.total.calls:
                out.print(usage_text(usage))

    run(go())


def usage_text(usage: UsageLedger) -> Text:
    return Text.assemble(("usage: ", "bold"), usage.summary())


# -- export -----------------------------------------------------------------------------


def export(
    ctx: typer.Context,
    session_id: SessionArg = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="md or jsonl (one envelope per line).")
    ] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    routine: Annotated[
        str | None,
        typer.Option(
            "--routine",
            help="Markdown only: the room's routine status lines (who speaks next) folded "
            "into collapsed blocks (fold, the default), shown inline (show) or left out "
            "(hide). Other status lines (errors, pauses) are always shown.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Export a session as Markdown or JSONL (every field, in seq order)."""
    wanted = need_session(session_id)
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}", code=2)
    if routine is not None and routine not in ROUTINE_CHOICES:
        raise fail(f"unknown --routine {routine!r}; use one of: {', '.join(ROUTINE_CHOICES)}", 2)
    if routine is not None and fmt != "md":
        raise fail(f"--routine is for Markdown (--format md); {fmt} has every envelope", 2)
    folding = routine or "fold"

    async def go() -> int:
        async with await Sessions.open(db_for(ctx, db), create=False) as sessions:
            if output is None:
                write = inert_writer(fmt, sys.stdout.write)
                return await sessions.export(wanted, fmt, write, routine=folding)
            return await sessions.export_to_file(wanted, fmt, output, routine=folding)

    count = run(go())
    if output is not None:
        err.print(f"wrote {count} envelopes to {output}")
