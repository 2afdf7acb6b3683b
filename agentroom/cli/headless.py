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
import os
import select
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, BinaryIO, TextIO

from agentroom.agents import HumanAgent
from agentroom.core.chunk import LiveItem, StreamChunk
from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType
from agentroom.core.text import decode_line
from agentroom.room.formatting import describe
from agentroom.room.line import Reply
from agentroom.room.link import LocalLink
from agentroom.room.live import LiveRoom

Write = Callable[..., Any]
Send = Callable[[str], Awaitable[Reply]]
NOT_SAVED = "  [not saved]"
"""How a previewed reply's line ends when the reply could not be saved (a full disk)."""


class TranscriptPrinter:
    """Prints envelopes as a person wants to read them; a live bus callback (``subscribe_live``).

    With ``durable`` (a wait until an envelope is on disk, False if it never
    will be) an envelope is printed only once saved; stream chunks, which are
    a preview of a reply still being written and never saved, are printed as
    they come.

    A previewed reply's line is never broken: what others say meanwhile (a
    human typing, a status, an answer after ``»``) is held and printed once
    the reply's line ends, and the reply is never printed again when it is
    saved as it was previewed.  Only a terminal's own echo of what the person
    types can break the line; the preview then goes on, on a line of its own
    (:meth:`typed`).
    """

    def __init__(
        self,
        write: Write,
        line: Callable[[Envelope], Any],
        durable: Callable[[Envelope], Awaitable[bool]] | None = None,
        asked: Callable[[str], str] | None = None,
    ) -> None:
        self.write = write
        self.line = line
        self.durable = durable
        self.asked = asked or your_turn
        """What is printed when the room asks a human to speak (given their id): here, the
        person at this terminal is told to type; a server's own terminal only says whom the
        room waits for, since they type in theirs."""
        self._streaming: str | None = None
        self._streamed: list[str] = []
        self._broken = False
        self._held: list[Envelope | str] = []

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
        elif self._broken:  # a terminal echoed a typed line into this one
            self._broken = False
            self.write(f"{chunk.sender} (continued): ", end="")
        self._streamed.append(chunk.text)
        self.write(chunk.text, end="")

    def show(self, env: Envelope) -> None:
        streaming = self._streaming
        if streaming is not None:
            if env.sender == streaming and env.type is not MessageType.STATUS:
                self._finish(env)  # the reply previewed (a message, or an action such as a vote)
                return
            if not _ends_turn(env, streaming):
                if not describe(env).quiet:
                    self._held.append(env)  # after the reply's line
                return
            self._end_stream()
        self._print(env)

    def tell(self, text: str) -> None:
        """Answer the human's line (an error, ``/help``), on a line of its own after ``»``."""
        if self._streaming is not None:
            self._held.append(text)
        else:
            self.write(f"» {text}")

    def typed(self) -> None:
        """A line was typed at a terminal, which echoed it into the reply being previewed."""
        if self._streaming is not None:
            self._broken = True

    def close(self) -> None:
        """The room is over: end a previewed line still open, and print what it held back."""
        self._end_stream()

    def _finish(self, env: Envelope) -> None:
        """The previewed reply is saved: end its line (it is not printed again)."""
        whole = "".join(self._streamed)
        self._streaming, self._streamed, self._broken = None, [], False
        note = "  [interrupted]" if env.metadata.get("interrupted") else ""
        if env.content.startswith(whole):
            self.write(f"{env.content[len(whole) :]}{note}")
        else:  # saved otherwise than previewed: what was saved, whole
            self.write("")
            self._print(env)
        self._print_held()

    def _print(self, env: Envelope) -> None:
        entry = describe(env)
        if entry.quiet:
            return
        if entry.event == Event.INPUT_REQUESTED:
            self.write(self.asked(entry.receiver or "the human"))
            return
        if entry.said:  # as a streamed reply reads, whole or not
            self.write(f"{entry.who}: {entry.text}")
            return
        self.write(self.line(env))

    def _end_stream(self, note: str = "") -> None:
        if self._streaming is not None:
            self._streaming, self._streamed, self._broken = None, [], False
            self.write(note)
        self._print_held()

    def _print_held(self) -> None:
        held, self._held = self._held, []
        for item in held:
            if isinstance(item, str):
                self.write(f"» {item}")
            else:
                self._print(item)


def your_turn(human: str) -> str:
    """The line that tells the person at this terminal the room waits for them."""
    return (
        f"» your turn, {human}: type a line (@name text gives name the next turn, /help for more)"
    )


def _ends_turn(env: Envelope, speaker: str) -> bool:
    """Whether ``env`` says that ``speaker``'s reply being previewed will not come as one:
    a status of its own (a wait, an empty reply), or the room saying its turn failed or
    was interrupted with nothing kept."""
    if env.type is not MessageType.STATUS:
        return False
    if env.sender == speaker:
        return not describe(env).quiet
    return env.metadata.get("agent") == speaker and env.metadata.get("event") in (
        Event.TURN_FAILED,
        Event.INTERRUPTED,
    )


class StdinLines:
    """The human's lines from stdin, read on a daemon thread; knows when it has caught up.

    A daemon thread does the blocking reads (an executor thread would keep
    the process alive at exit, waiting for a line nobody types).  Bytes are
    read as they come and decoded here, a line at a time, with anything that
    is not UTF-8 shown as U+FFFD, so a stray byte neither ends the input (a
    strict decoder raises) nor reaches the room as a lone surrogate.

    Before each read that would wait (nothing to read yet), the thread says so:
    :meth:`caught_up` returns once every line read so far has been handled and
    the input is either waiting on the person or ended.  A human's turn that
    times out asks it first (:attr:`HumanAgent.catch_up`), so input that has
    simply ended skips the human as gone, never as "did not answer in time".
    """

    def __init__(self, source: BinaryIO | TextIO) -> None:
        self._source = source
        fd = _fileno(source)
        self.terminal = fd is not None and os.isatty(fd)
        """Whether a person types at a terminal, which echoes each line onto the screen."""
        self._loop = asyncio.get_running_loop()
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._posted = 0
        self._handled = 0
        self._waiting = False
        self.ended = False
        self._changed = asyncio.Event()

    def start(self) -> None:
        threading.Thread(target=self._pump, name="agentroom-stdin", daemon=True).start()

    async def caught_up(self) -> None:
        """Return once all that was read is handled and the input waits (or has ended)."""
        while not self.ended and not (self._waiting and self._handled == self._posted):
            self._changed.clear()
            await self._changed.wait()

    def handled(self, line: str | None) -> None:
        """The room has handled ``line`` (None: the end of the input)."""
        self._handled += 1
        self.ended = self.ended or line is None
        self._changed.set()

    # -- the thread ---------------------------------------------------------------------

    def _pump(self) -> None:
        fd = _fileno(self._source)
        read = self._read_fd(fd) if fd is not None else self._read_lines()
        for line in read:
            if not self._post(self._arrived, line):
                return
            if line is None:
                return

    def _read_fd(self, fd: int) -> Iterator[str | None]:
        """Lines as the bytes come (a read returns what is there), then None at the end."""
        pending = b""
        while True:
            if not _readable(fd) and not self._post(self._wait_started, None):
                return
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                if pending:
                    yield decode_line(pending)
                yield None
                return
            *whole, pending = (pending + data).split(b"\n")
            for raw in whole:
                yield decode_line(raw)

    def _read_lines(self) -> Iterator[str | None]:
        """A stream without a file descriptor (in memory): its lines, then None."""
        source = self._source
        while True:
            self._post(self._wait_started, None)
            try:
                line = source.readline()
            except (OSError, ValueError):
                line = ""
            if not line:
                yield None
                return
            yield decode_line(line) if isinstance(line, bytes) else line.rstrip("\n")

    def _post(self, callback: Callable[[str | None], None], item: str | None) -> bool:
        try:
            self._loop.call_soon_threadsafe(callback, item)
        except RuntimeError:  # the room is over and its loop closed
            return False
        return True

    # -- on the loop --------------------------------------------------------------------

    def _arrived(self, line: str | None) -> None:
        self._waiting = False
        self._posted += 1
        self.lines.put_nowait(line)
        self._changed.set()

    def _wait_started(self, _: str | None) -> None:
        self._waiting = True
        self._changed.set()


def _fileno(source: BinaryIO | TextIO) -> int | None:
    try:
        return source.fileno()
    except (OSError, ValueError, AttributeError):
        return None


def _readable(fd: int) -> bool:
    """Whether a read of ``fd`` would return at once (data, or the end); True if unknown."""
    try:
        ready, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


async def read_human_lines(
    send: Send,
    printer: TranscriptPrinter,
    stdin: StdinLines,
    on_closed: Callable[[], Any] | None = None,
) -> None:
    """Send the human's lines to the room until the input ends; what a line answers is
    printed after ``»``.  ``send`` is a room link's (:mod:`agentroom.room.link`): a room of
    this process, or one joined across the network."""
    while (line := await stdin.lines.get()) is not None:
        if stdin.terminal:
            printer.typed()
        try:
            reply = await send(line.rstrip("\n"))
            if reply.text:
                printer.tell(reply.text)
        finally:
            stdin.handled(line)
    if on_closed is not None:
        on_closed()
    stdin.handled(None)


def stdin_lines(stream: BinaryIO | TextIO | None = None) -> StdinLines:
    """The lines of ``stream`` (by default stdin), read as bytes where it has them."""
    source = stream if stream is not None else sys.stdin
    return StdinLines(getattr(source, "buffer", source))


def skip_absent_humans(humans: list[HumanAgent]) -> Callable[[], None]:
    """Once stdin has ended nobody can answer: make the humans' turns pass at once."""

    def closed() -> None:
        for human in humans:
            human.leave("has no input any more (stdin ended)")

    return closed


@contextlib.asynccontextmanager
async def human_input(
    room: LiveRoom, printer: TranscriptPrinter, stream: BinaryIO | TextIO | None = None
) -> Any:
    """Read the (first) human's lines for as long as the run lasts."""
    humans = room.humans
    if not humans:
        yield
        return
    stdin = stdin_lines(stream)
    for human in humans:
        human.catch_up = stdin.caught_up
    stdin.start()
    task = asyncio.create_task(
        read_human_lines(LocalLink(room).send, printer, stdin, skip_absent_humans(humans))
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
