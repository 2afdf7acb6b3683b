"""The commands that open a room: ``run``, ``resume``, and ``workflows list/validate``.

At a terminal ``run`` and ``resume`` open the Textual app; with ``--headless``
(or without a terminal: pipes, CI) the room prints its live transcript and
reads the human's lines from stdin.  Both go through one
:class:`~agentroom.room.live.LiveRoom`.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from agentroom.cli.console import (
    SHORT_ID,
    DbOption,
    ModelOption,
    SessionArg,
    StrategyOption,
    db_for,
    envelope_text,
    err,
    error_text,
    fail,
    need_session,
    out,
    run,
    strategy_named,
    write,
)
from agentroom.core.errors import AgentroomError, StoreWriteError
from agentroom.core.events import Event
from agentroom.core.text import counted
from agentroom.models.types import SEEDS

if TYPE_CHECKING:
    from agentroom.coordination.coordinator import RunResult
    from agentroom.room.live import LiveRoom, RoomOptions

HeadlessOption = Annotated[
    bool,
    typer.Option(
        "--headless",
        help="Print the live transcript and read the human's lines from stdin (no screen).",
    ),
]
TakeOverOption = Annotated[
    bool,
    typer.Option(
        "--take-over",
        help="Resume even if another agentroom has the session open; that one stops writing.",
    ),
]


def run_command(
    ctx: typer.Context,
    workflow: Annotated[
        str | None, typer.Argument(help="A workflow file or name (see 'workflows list').")
    ] = None,
    task: Annotated[str | None, typer.Option(help="What the room works on.")] = None,
    strategy: StrategyOption = None,
    model: ModelOption = None,
    max_messages: Annotated[int | None, typer.Option(help="Stop after N messages.")] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=SEEDS - 1,
            help="The sampling seed, to run a room again as it ran (default: a new one each "
            "session; 'sessions show' says which).",
        ),
    ] = None,
    headless: HeadlessOption = False,
    db: DbOption = None,
) -> None:
    """Run a workflow (the default one if none is named); prints the session id at the end.

    At a terminal it opens the room's UI; with --headless (or when stdin/stdout are not a
    terminal) it prints the live transcript and reads the human's lines from stdin.
    """
    from agentroom.room.workflows import DEFAULT_WORKFLOW, find_workflow, load_workflow

    strategy = strategy_named(strategy)
    if workflow is None and not headless and interactive():
        try:
            find_workflow(DEFAULT_WORKFLOW)
        except AgentroomError:  # no default to open: the picker opens first instead
            from agentroom.tui.app import AgentroomApp

            run_app(AgentroomApp(None, db=db_for(ctx, db)))
            return
    from agentroom.room.live import RoomOptions

    path = run_sync(lambda: find_workflow(workflow or DEFAULT_WORKFLOW))
    wf = run_sync(lambda: load_workflow(path))
    open_room(
        RoomOptions(
            db=db_for(ctx, db),
            workflow=wf,
            source=str(path),
            task=task,
            strategy=strategy,
            model=model or (ctx.obj or {}).get("model"),
            max_messages=max_messages,
            seed=seed,
        ),
        headless=headless,
    )


def resume_command(
    ctx: typer.Context,
    session_id: SessionArg = None,
    model: ModelOption = None,
    max_messages: Annotated[int | None, typer.Option(help="Stop after N more messages.")] = None,
    workflow: Annotated[
        str | None,
        typer.Option(
            help="The workflow file that started the session: a session whose agents have "
            "tools takes them from this file (default: the file it was started from)."
        ),
    ] = None,
    headless: HeadlessOption = False,
    take_over: TakeOverOption = False,
    db: DbOption = None,
) -> None:
    """Continue a stopped or crashed session exactly where it was."""
    from agentroom.room.live import RoomOptions
    from agentroom.room.workflows import find_workflow, load_workflow

    wanted = need_session(session_id)
    wf, source = None, ""
    if workflow is not None:
        path = run_sync(lambda: find_workflow(workflow))
        wf, source = run_sync(lambda: load_workflow(path)), str(path)
    open_room(
        RoomOptions(
            db=db_for(ctx, db),
            workflow=wf,
            source=source,
            session_id=wanted,
            max_messages=max_messages,
            model=model or (ctx.obj or {}).get("model"),
            take_over=take_over,
        ),
        headless=headless,
    )


def open_room(options: RoomOptions, *, headless: bool) -> None:
    """Open the room on a screen at a terminal, else headless (pipes, CI, --headless)."""
    if not headless and interactive():
        from agentroom.tui.app import AgentroomApp

        run_app(AgentroomApp(options, db=options.db))
    else:
        run(play(replace(options, feed=False)))


def run_app(app: Any) -> None:
    """Run the Textual app; then say which sessions it leaves (and how to go on with
    them); what it could not save is one line on stderr and exit 1."""
    app.run()
    for room in app.rooms:
        if room.engine is not None:
            sid = room.engine.session_id
            say_session(room, f"Resume it with: agentroom resume {sid[:SHORT_ID]}")
    if app.exit_error:
        raise fail(app.exit_error)


def say_session(room: LiveRoom, then: str) -> None:
    """``Session: ID (why it stopped)`` and what to do with it, once the room has closed;
    a new session in which nobody said anything is not kept, and that is said instead."""
    assert room.engine is not None
    sid = room.engine.session_id
    if not room.kept:
        out.print(f"Nobody said anything, so session {sid} was not kept.")
        return
    reason = room.result.reason if room.result is not None else "closed while it ran"
    out.print(Text.assemble("Session: ", (sid, "bold"), f" ({reason})"))
    out.print(then)


def interactive() -> bool:
    """A person at a terminal (else the room runs headless: pipes, CI, scripts)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def run_sync(make: Any) -> Any:
    """Call ``make``; an error of several lines (a workflow's problems) prints them all."""
    try:
        return make()
    except AgentroomError as exc:
        first, *rest = str(exc).splitlines() or [""]
        err.print(error_text(first))
        for problem in rest:
            err.print(f"       {problem}")
        raise typer.Exit(1) from None


async def announce_opening(room: LiveRoom) -> None:
    """The room's first words: the workflow, its agents, the model and why, the strategy;
    and, for a resumed session, how far it had got."""
    engine, coordinator = room.engine, room.coordinator
    assert engine is not None and coordinator is not None and room.workflow is not None
    assert room.model is not None and room.resolution is not None
    await engine.bus.announce(
        f"{room.workflow.name}: {', '.join(a.id for a in room.workflow.agents)} on "
        f"{room.model.label} ({room.resolution.reason}); {coordinator.strategy.name}",
        metadata={"event": Event.ROOM_OPENED, "model": room.model.label},
    )
    if room.options.session_id is not None:
        await engine.bus.announce(
            f"resumed after {counted(coordinator.turns, 'turn')}",
            metadata={"event": Event.RESUMED_SESSION},
        )


async def play(options: RoomOptions) -> None:
    """Run (or resume) a workflow headless: live transcript out, human lines in.

    A line is printed once it is saved; when the store cannot write, stderr
    says so (and when it can again).
    """
    from agentroom.cli.headless import TranscriptPrinter, human_input
    from agentroom.core.records import StoreHealth
    from agentroom.room.live import LiveRoom

    def tell(health: StoreHealth) -> None:
        err.print(f"agentroom: {health.describe()}", markup=False, highlight=False)

    room = LiveRoom(options)
    result: RunResult | None = None
    try:
        await room.open()
        engine, coordinator = room.engine, room.coordinator
        assert engine is not None and coordinator is not None and room.workflow is not None
        assert room.model is not None and room.resolution is not None
        room.watch_health(tell)
        shown = TranscriptPrinter(write, envelope_text, room.saved)
        printer = engine.bus.subscribe_live(shown)
        await announce_opening(room)
        async with human_input(room, shown):
            result = await room.run()
        with contextlib.suppress(StoreWriteError):  # what could not be saved is said at close
            await engine.flush()
        room.closing()  # the printer shows what is saved, and waits no longer than that
        await printer.aclose()  # everything saved is on screen before the last word
        shown.close()
        write()
    finally:
        try:
            await room.close()
        finally:  # even when the close could not save everything: the line after says so
            if result is not None:
                say_session(
                    room, f"Show it with: agentroom sessions show {result.session_id[:SHORT_ID]}"
                )
    if result.failed:  # turns kept failing: a script must see that the room did not work
        err.print(error_text(f"stopped: {result.reason}"))
        raise typer.Exit(1)
