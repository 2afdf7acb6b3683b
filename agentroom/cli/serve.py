"""``agentroom serve``: one process owns a room and serves it to the people who join it.

It opens (or, with ``--resume``, resumes) the room as ``run --headless`` does,
binds its socket first (so ``--port 0`` prints the port it got), mints a token
for each human and prints the command that joins as them, then prints the
live transcript (no stdin: the humans speak through their connections) while
uvicorn serves ``/ws``, ``/events`` and ``/health``.  When the run ends the
room is still served (clients see it stopped) until SIGINT or SIGTERM; then
every connection is closed (1000), the room is closed cleanly and the session
is named with how to serve it again.

Starlette, uvicorn and websockets come with the ``server`` extra and are
imported only here, when the command runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentroom.cli.console import (
    SHORT_ID,
    DbOption,
    ModelOption,
    db_for,
    envelope_text,
    err,
    fail,
    run,
    write,
)
from agentroom.core.errors import StoreWriteError

if TYPE_CHECKING:
    from agentroom.room.live import LiveRoom, RoomOptions

INSTALL = "pip install 'agentroom[server]'"
DEFAULT_PORT = 8340


def serve_command(
    ctx: typer.Context,
    workflow: Annotated[
        str | None,
        typer.Argument(
            help="A workflow file or name (see 'workflows list'); with --resume, "
            "the file that vouches for the session's tools."
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Serve a saved session again (its tokens still work)."),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            help="The interface to listen on; anything but loopback needs TLS in "
            "front of it (or --certfile/--keyfile)."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="The port (0: any free one).")
    ] = DEFAULT_PORT,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin",
            help="A web page origin (https://host:port) allowed to connect besides the "
            "server's own; may be given several times.",
        ),
    ] = None,
    certfile: Annotated[
        str | None, typer.Option(help="A TLS certificate (PEM), to serve https and wss.")
    ] = None,
    keyfile: Annotated[str | None, typer.Option(help="The certificate's private key.")] = None,
    task: Annotated[str | None, typer.Option(help="What the room works on.")] = None,
    model: ModelOption = None,
    max_messages: Annotated[int | None, typer.Option(help="Stop after N messages.")] = None,
    db: DbOption = None,
) -> None:
    """Serve a room to other terminals: prints one 'agentroom join' command per human.

    Binds 127.0.0.1:8340 by default.  The room runs here (agents, coordinator, the saved
    session); each human joins from their own terminal with the command printed for them.
    """
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise fail(f"agentroom serve needs the server extra: {INSTALL}") from None
    if (certfile is None) != (keyfile is None):
        raise fail("--certfile and --keyfile go together: give both, or neither", code=2)
    from agentroom.cli.rooms import run_sync
    from agentroom.room.live import RoomOptions
    from agentroom.room.workflows import DEFAULT_WORKFLOW, find_workflow, load_workflow

    wf, source = None, ""
    if workflow is not None or resume is None:
        path = run_sync(lambda: find_workflow(workflow or DEFAULT_WORKFLOW))
        wf, source = run_sync(lambda: load_workflow(path)), str(path)
    options = RoomOptions(
        db=db_for(ctx, db),
        workflow=wf,
        source=source,
        task=task,
        model=model or (ctx.obj or {}).get("model"),
        max_messages=max_messages,
        session_id=resume.strip() if resume else None,
        feed=False,
    )
    run(
        serve(
            options,
            host=host,
            port=port,
            allow_origins=allow_origin or [],
            certfile=certfile,
            keyfile=keyfile,
        )
    )


async def serve(
    options: RoomOptions,
    *,
    host: str,
    port: int,
    allow_origins: list[str],
    certfile: str | None = None,
    keyfile: str | None = None,
) -> None:
    """Open the room, serve it until SIGINT/SIGTERM, close it; see the module docstring."""
    from agentroom.cli.headless import TranscriptPrinter
    from agentroom.cli.rooms import announce_opening, say_session
    from agentroom.room.live import LiveRoom
    from agentroom.server.app import create_app
    from agentroom.server.running import bind, bound_port, is_loopback, server, url_of
    from agentroom.server.served import ServedRoom

    try:
        sock = bind(host, port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise fail(
            f"cannot listen on {host}:{port} ({reason}); pick another --port (0 picks a free one)"
        ) from None
    room = LiveRoom(replace(options, feed=False))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await room.open()
        engine, coordinator = room.engine, room.coordinator
        assert engine is not None and coordinator is not None and room.workflow is not None
        assert room.model is not None and room.resolution is not None
        base = url_of(host, bound_port(sock), tls=certfile is not None)
        await _print_joins(room, base)
        if not is_loopback(host):
            err.print(
                f"agentroom: warning: serving on {host}, reachable from other machines; "
                "put TLS in front of it (a reverse proxy, or --certfile/--keyfile)"
                if certfile is None
                else f"agentroom: warning: serving on {host}, reachable from other machines"
            )
        room.watch_health(lambda health: err.print(f"agentroom: {health.describe()}"))
        shown = TranscriptPrinter(write, envelope_text, room.saved, asked=_waiting_for)
        printer = engine.bus.subscribe_live(shown)
        served = ServedRoom(
            room,
            allow_origins=allow_origins,
            on_presence=lambda human, event: shown.tell(f"{human} {event}"),
        )
        await served.start()
        await announce_opening(room)
        http = server(create_app(served, manage=False), certfile=certfile, keyfile=keyfile)
        serving = asyncio.create_task(http.serve(sockets=[sock]))
        running = asyncio.create_task(room.run())
        await _until_stopped(running, serving, stopping)
        if not running.done():
            coordinator.stop("the server was stopped")
        with contextlib.suppress(Exception):
            await running  # its end is in the transcript; a failure is said there
        await served.stop()
        http.should_exit = True
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await serving
        with contextlib.suppress(StoreWriteError):
            await engine.flush()
        room.closing()
        await printer.aclose()
        shown.close()
        write()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        sock.close()
        try:
            await room.close()
        finally:
            if room.engine is not None:
                sid = room.engine.session_id
                say_session(room, f"Serve it again with: agentroom serve --resume {sid[:SHORT_ID]}")


async def _print_joins(room: LiveRoom, base: str) -> None:
    """One line per human: who, and the command that joins as them (a fresh token)."""
    assert room.engine is not None
    humans = [h.id for h in room.humans]
    if not humans:
        write(
            "This workflow has no humans, so nobody can join it to speak; "
            f"{base}/health answers while it is served."
        )
        return
    title = room.workflow.name if room.workflow is not None else "the room"
    write(
        f"Serving {title!r} at {base} (session {room.engine.session_id[:SHORT_ID]}); "
        "give each person their own line, which joins as them "
        "(its URL also opens the room in a browser):"
    )
    width = max(len(h) for h in humans)
    for human in humans:
        token = await room.tokens.mint(room.engine.session_id, human)
        write(f"{human:<{width}}  agentroom join '{base}/#token={token}'")


def _waiting_for(human: str) -> str:
    """What the server's terminal says when the room asks a human (who types in theirs)."""
    return f"» waiting for {human} (their turn; they type where they joined)"


async def _until_stopped(
    running: asyncio.Task[Any], serving: asyncio.Task[None], stopping: asyncio.Event
) -> None:
    """Serve until a signal (or the server fails); the room may end first and is still served."""
    signalled = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({running, serving, signalled}, return_when=asyncio.FIRST_COMPLETED)
        if running.done() and not signalled.done() and not serving.done():
            write("» the room has stopped; it is still served (Ctrl+C closes it)")
            await asyncio.wait({serving, signalled}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        signalled.cancel()
    if serving.done() and serving.exception() is not None:
        err.print(f"agentroom: the server failed: {serving.exception()}")
