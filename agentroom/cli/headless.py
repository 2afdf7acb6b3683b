"""The room without a screen: the live transcript on stdout, the human's lines from stdin.

``agentroom run --headless`` prints every envelope once it is saved (streamed
replies as they arrive, as a live preview; the finished reply once it is on
disk), so whatever the transcript shows survives a crash, and, when the
workflow has a human, reads their lines from stdin in the grammar every
interface shares (:mod:`agentroom.room.line`: text to everyone, ``@name text``
to one, ``/stop``, ``/pause``, ``/strategy NAME``, ``/help``, ...); what a line
answers is printed after ``»``.  When stdin ends, the humans are skipped from
then on (the run still ends as its workflow says).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from agentroom.agents import HumanAgent
from agentroom.core.chunk import LiveItem, StreamChunk
from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType
from agentroom.core.text import decode_line
from agentroom.room.formatting import describe
from agentroom.room.line import apply, parse_line
from agentroom.room.live import LiveRoom

Write = Callable[..., Any]
Tell = Callable[[str], None]
NOT_SAVED = "  [not saved]"
"""How a previewed reply's line ends when the reply could not be saved (a full disk)."""


class TranscriptPrinter:
    """Prints envelopes as a person wants to read them; a live bus callback (``subscribe_live``).

    With ``durable`` (a wait until an envelope is on disk, False if it never
    will be) an envelope is printed only once saved; stream chunks, which are
    a preview of a reply still being written and never saved, are printed as
    they come.
    """

    def __init__(
        self,
        write: Write,
        line: Callable[[Envelope], Any],
        durable: Callable[[Envelope], Awaitable[bool]] | None = None,
    ) -> None:
        self.write = write
        self.line = line
        self.durable = durable
        self._streaming: str | None = None
        self._streamed: list[str] = []

    async def __call__(self, env: LiveItem) -> None:
        if isinstance(env, StreamChunk):
            self.show_chunk(env)
            return
        if self.durable is not None and not await self.durable(env):
            # Never saved: not shown as if it were, and a reply being previewed (its
            # envelopes are saved in order, so it will not be either) says so.
            self._end_stream(NOT_SAVED)
            return
        self.show(env)

    def show_chunk(self, chunk: StreamChunk) -> None:
        if self._streaming != chunk.sender:
            self._end_stream()
            self._streaming = chunk.sender
            self.write(f"{chunk.sender}: ", end="")  # the route is known at the end only
        self._streamed.append(chunk.text)
        self.write(chunk.text, end="")

    def show(self, env: Envelope) -> None:
        if self._streaming == env.sender and env.type is not MessageType.STATUS:
            # The finished reply (a message, or an action such as a vote): already shown.
            whole = "".join(self._streamed)
            self._streaming, self._streamed = None, []
            if env.content == whole:
                self.write("" if not env.metadata.get("interrupted") else "  [interrupted]")
                return
            self.write("")
        entry = describe(env)
        if entry.quiet:
            return
        self._end_stream()
        if entry.event == Event.INPUT_REQUESTED:
            self.write(
                f"» your turn, {entry.receiver}: type a line "
                "(@name text gives name the next turn, /help for more)"
            )
            return
        if entry.said:  # as a streamed reply reads, whole or not
            self.write(f"{entry.who}: {entry.text}")
            return
        self.write(self.line(env))

    def tell(self, text: str) -> None:
        """Answer the human's line (an error, ``/help``), on a line of its own after ``»``."""
        self._end_stream()
        self.write(f"» {text}")

    def _end_stream(self, note: str = "") -> None:
        if self._streaming is not None:
            self._streaming, self._streamed = None, []
            self.write(note)


async def read_human_lines(
    room: LiveRoom,
    human: HumanAgent,
    tell: Tell,
    stream: TextIO | None = None,
    on_closed: Callable[[], Any] | None = None,
) -> None:
    """Feed the human's lines into the room until the input ends.

    A daemon thread does the blocking reads (an executor thread would keep
    the process alive at exit, waiting for a line nobody types).  Bytes are
    read and decoded here, with anything that is not UTF-8 shown as U+FFFD, so
    a stray byte neither ends the input (a strict decoder raises) nor reaches
    the room as a lone surrogate (a ``surrogateescape`` one).
    """
    source = stream or sys.stdin
    raw = getattr(source, "buffer", None)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> str:
        return decode_line(raw.readline()) if raw is not None else source.readline()

    def pump() -> None:
        while True:
            try:
                line = read()
            except (OSError, ValueError):
                line = ""
            try:
                loop.call_soon_threadsafe(lines.put_nowait, line or None)
            except RuntimeError:  # the room is over and its loop closed
                return
            if not line:
                return

    threading.Thread(target=pump, name="agentroom-stdin", daemon=True).start()
    while (line := await lines.get()) is not None:
        await handle_line(room, human, line.rstrip("\n"), tell)
    if on_closed is not None:
        on_closed()


async def handle_line(room: LiveRoom, human: HumanAgent, line: str, tell: Tell) -> None:
    """Parse and apply one of ``human``'s lines; ``tell`` shows what it answers."""
    parsed = parse_line(line, room.participants)
    if parsed is None:
        return
    reply = await apply(room, parsed, human)
    if reply.text:
        tell(reply.text)


def skip_absent_humans(humans: list[HumanAgent]) -> Callable[[], None]:
    """Once stdin has ended nobody can answer: make the humans' turns pass at once."""

    def closed() -> None:
        for human in humans:
            human.leave("has no input any more (stdin ended)")

    return closed


@contextlib.asynccontextmanager
async def human_input(room: LiveRoom, tell: Tell, stream: TextIO | None = None) -> Any:
    """Read the (first) human's lines for as long as the run lasts."""
    humans = room.humans
    if not humans:
        yield
        return
    task = asyncio.create_task(
        read_human_lines(room, humans[0], tell, stream, skip_absent_humans(humans))
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
