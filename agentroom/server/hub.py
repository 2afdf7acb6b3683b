"""The fan-out from one room to every connected client, which never holds the room back.

The :class:`Hub` is one sink on the room's bus (envelopes and stream chunks).
Taking an item costs the room an append to a list: the bus never waits on a
client.  A pump task then hands each item on, in the bus's order:

- an envelope only once it is on disk (so a client never sees a ``seq`` that a
  crash could give to another envelope after a resume), serialised once and
  the same text queued to every connection that may see it;
- a stream chunk as a ``delta``, likewise once, to every WebSocket client.

Each :class:`Connection` has its own queue; one that holds more than
:data:`QUEUE_LIMIT` frames is too far behind and is ended (``too_slow``, close
4408): it catches up on reconnect from the store with ``since=``.

A connection joins at one point in the order (inside
:meth:`~agentroom.bus.MessageBus.hold`): it records how many items the hub had
taken by then and is given only later ones, so what it reads from the store
up to the held ``seq`` and what the pump gives it neither overlap nor leave a
gap, even while the pump still waits for earlier envelopes to be saved.

A client sees every envelope except one addressed to *another* human that it
did not send (:meth:`Connection.shows`), in the backlog and live alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from agentroom.core.chunk import LiveItem, StreamChunk
from agentroom.core.protocol import Envelope
from agentroom.server import frames

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000
"""Frames a connection may have waiting before it is dropped as too slow."""


class Connection:
    """One client: who it is, where it joined the order, and the frames waiting for it."""

    __slots__ = (
        "_frames",
        "_limit",
        "ended",
        "events",
        "human",
        "humans",
        "joined",
        "token",
        "token_id",
    )

    def __init__(
        self,
        human: str,
        token: str,
        humans: Iterable[str],
        *,
        token_id: str = "",
        events: bool = False,
        limit: int = QUEUE_LIMIT,
    ) -> None:
        self.human = human
        self.token = token
        """Checked again before each line; never shown or logged."""
        self.token_id = token_id
        """The token's public id: a revoked one ends the connection."""
        self.humans = frozenset(humans)
        self.events = events
        """A Server-Sent Events feed: durable envelopes only, as events."""
        self.joined = 0
        """How many items the hub had taken when this connection joined."""
        self.ended: tuple[int, str | None] | None = None
        """Why the connection ends (close code, last frame to send), once it must."""
        self._frames: asyncio.Queue[str | None] = asyncio.Queue()
        self._limit = limit

    def __repr__(self) -> str:  # never the token
        return f"Connection({self.human!r}, events={self.events})"

    def shows(self, env: Envelope) -> bool:
        """Whether this client may see ``env``: not one to another human it did not send."""
        receiver = env.receiver
        return receiver not in self.humans or receiver == self.human or env.sender == self.human

    def push(self, frame: str) -> None:
        """Queue ``frame``; a client this far behind is ended as too slow instead."""
        if self.ended is not None:
            return
        if self._frames.qsize() >= self._limit:
            self.end(
                frames.CLOSE_TOO_SLOW,
                frames.error(
                    frames.TOO_SLOW,
                    f"more than {self._limit} frames were waiting for you; "
                    "reconnect with since= the last seq you saw",
                ),
            )
            return
        self._frames.put_nowait(frame)

    def end(self, code: int, frame: str | None = None) -> None:
        """Close the connection with ``code`` once ``frame`` (if any) is sent."""
        if self.ended is None:
            self.ended = (code, frame)
            self._frames.put_nowait(None)

    async def next(self) -> str | None:
        """The next frame to send; None once the connection must close (see :attr:`ended`)."""
        if self.ended is not None:
            return None
        return await self._frames.get()

    @property
    def waiting(self) -> int:
        return self._frames.qsize()


class Hub:
    """The bus sink that fans the room out to connections; see the module docstring."""

    def __init__(self, durable: Callable[[Envelope], Awaitable[bool]]) -> None:
        self._durable = durable
        self._pending: deque[LiveItem] = deque()
        self._more = asyncio.Event()
        self.taken = 0
        """Items taken from the bus so far (a joining connection's place in the order)."""
        self._pumped = 0
        self.connections: list[Connection] = []
        self.changed = asyncio.Event()
        """Set whenever the room said something (its state may have changed)."""
        self._sent_seq = 0
        self._waiters: list[tuple[int, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    # -- the bus's side: never waits ----------------------------------------------------------

    def offer(self, item: LiveItem) -> bool:
        self._pending.append(item)
        self.taken += 1
        self._more.set()
        if not isinstance(item, StreamChunk):
            self.changed.set()
        return True

    async def put(self, item: LiveItem) -> None:
        self.offer(item)

    # -- connections --------------------------------------------------------------------------

    def add(self, conn: Connection) -> None:
        """Join ``conn`` at this point in the order (call it while the bus is held)."""
        conn.joined = self.taken
        self.connections.append(conn)

    def remove(self, conn: Connection) -> None:
        with contextlib.suppress(ValueError):
            self.connections.remove(conn)

    def broadcast(self, frame: str) -> None:
        """Queue an ephemeral frame (state, presence) to every WebSocket client."""
        for conn in self.connections:
            if not conn.events:
                conn.push(frame)

    async def sent(self, seq: int) -> bool:
        """Wait until envelope ``seq`` has been handed to the connections (it is on disk);
        False if it never will be (not saved, or the hub stopped)."""
        if self._sent_seq >= seq:
            return True
        if self._task is None or self._task.done():
            return False
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, fut))
        return await fut

    # -- the pump -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump(), name="agentroom-hub")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._answer(None, False)

    async def _pump(self) -> None:
        pending = self._pending
        while True:
            while not pending:
                self._more.clear()
                await self._more.wait()
            item = pending.popleft()
            self._pumped += 1
            if isinstance(item, StreamChunk):
                self._fan_chunk(item, self._pumped)
                continue
            try:
                saved = await self._durable(item)
            except Exception:  # a failing disk must not end the fan-out
                log.exception("could not learn whether envelope %s was saved", item.seq)
                saved = False
            if saved:
                self._fan_envelope(item, self._pumped)
            self._answer(item.seq, saved)

    def _fan_envelope(self, env: Envelope, position: int) -> None:
        frame = event = None
        for conn in self.connections:
            if conn.joined >= position or not conn.shows(env):
                continue
            if frame is None:
                frame = frames.durable(env)
            if conn.events:
                if event is None:
                    event = frames.sse_event(env, frame)
                conn.push(event)
            else:
                conn.push(frame)

    def _fan_chunk(self, chunk: StreamChunk, position: int) -> None:
        frame = None
        for conn in self.connections:
            if conn.joined >= position or conn.events:
                continue
            if frame is None:
                frame = frames.delta(chunk)
            conn.push(frame)

    def _answer(self, seq: int | None, saved: bool) -> None:
        """Wake whoever waits for ``seq`` or an earlier one (None: everyone)."""
        if seq is not None and saved:
            self._sent_seq = seq
        if not self._waiters:
            return
        keep = []
        for wanted, fut in self._waiters:
            if seq is not None and wanted > seq:
                keep.append((wanted, fut))
            elif not fut.done():
                fut.set_result(seq is not None and (saved if wanted == seq else True))
        self._waiters = keep
