"""``agentroom join URL``: take part in a room another terminal serves (``agentroom serve``).

At a terminal it opens the same room screen as ``agentroom run``, on a
:class:`~agentroom.server.remote.RemoteLink` instead of a room of this
process; with ``--headless`` (or without a terminal) it prints the live
transcript and sends the lines typed on stdin, in the grammar every interface
shares, as ``run --headless`` does.  The connection is made before anything
is drawn, so a server out of reach, a refused token or another protocol
version is one line on stderr and an exit code of its own.

websockets comes with the ``server`` extra and is imported only here, when the
command runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Annotated

import typer

from agentroom.cli.console import DbOption, db_for, envelope_text, err, fail, write
from agentroom.cli.rooms import HeadlessOption, interactive
from agentroom.cli.serve import INSTALL

if TYPE_CHECKING:
    from pathlib import Path

    from agentroom.room.link import Ended, Health
    from agentroom.server.join_url import JoinTarget
    from agentroom.server.remote import RemoteLink


def join_command(
    ctx: typer.Context,
    url: Annotated[
        str,
        typer.Argument(help="The join URL agentroom serve printed (http://HOST:PORT/#token=…)."),
    ],
    token: Annotated[
        str | None,
        typer.Option(
            help="The token, when the URL has none (AGENTROOM_TOKEN works too, and stays "
            "out of the process list)."
        ),
    ] = None,
    headless: HeadlessOption = False,
    db: DbOption = None,
) -> None:
    """Join a room served by 'agentroom serve' on this or another machine.

    Exit codes: 3 unreachable, 4 token refused, 5 another protocol version, 1 failed.
    """
    try:
        from agentroom.server.join_url import JoinError, join_target
        from agentroom.server.remote import RemoteLink
    except ImportError:
        raise fail(f"agentroom join needs the server extra: {INSTALL}") from None
    try:
        target = join_target(url, token)
        if not headless and interactive():
            _on_screen(RemoteLink(target), db_for(ctx, db))
        else:
            ended = asyncio.run(_headless(target))
            if ended.failed:
                raise fail(ended.reason)
    except JoinError as exc:
        raise fail(str(exc), exc.exit_code) from None


def _on_screen(link: RemoteLink, db: Path | str) -> None:
    """The room screen on ``link``, connected first (a refusal is a line, not a screen)."""
    from agentroom.tui.app import AgentroomApp

    async def main() -> str:
        await link.open()
        app = AgentroomApp(None, db=db, link=link)
        await app.run_async()
        return app.exit_error

    problem = asyncio.run(main())
    if link.gave_up is not None:
        raise link.gave_up
    if problem:
        raise fail(problem)


async def _headless(target: JoinTarget) -> Ended:
    """The live transcript on stdout, the human's lines from stdin, until the room is over
    or stdin ends (the human leaves; the room goes on)."""
    from agentroom.cli.headless import TranscriptPrinter, read_human_lines, stdin_lines
    from agentroom.server.remote import RemoteLink

    def tell(health: Health) -> None:
        err.print(f"agentroom: {health.text}", markup=False, highlight=False)

    link = RemoteLink(target)
    await link.open()
    link.watch_health(tell)
    printer = TranscriptPrinter(write, envelope_text)
    stdin = stdin_lines()
    stdin.start()

    async def show() -> None:
        while batch := await link.get_batch():
            for item in batch:
                await printer(item)

    shown = asyncio.create_task(show())
    reading = asyncio.create_task(read_human_lines(link.send, printer, stdin))
    running = asyncio.create_task(link.run())
    try:
        await asyncio.wait({reading, running}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await link.close()  # the feed ends once what arrived is shown
        await shown
        printer.close()
    ended = running.result() if running.done() else await running
    if link.gave_up is not None:
        raise link.gave_up
    return ended
