"""A room served to clients: who may connect, where each joins the order, what their lines do.

:class:`ServedRoom` wraps a :class:`~agentroom.room.live.LiveRoom` for the
WebSocket and SSE endpoints (:mod:`agentroom.server.app`): it checks tokens
(each bound to one human of this room), joins each connection to the room's
order at one point (:meth:`join`: the bus held, the hub told, the replies
being streamed read, all at once), reads the backlog from the store, carries
each line through the human's own :class:`~agentroom.agents.HumanAgent` with
the one grammar every interface shares (:mod:`agentroom.room.line`), and
tells everyone who is here (``presence``) and what the room looks like
(``state``, coalesced).  It never touches the store itself: what is saved is
read through the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from agentroom.agents import HumanAgent
from agentroom.core.chunk import StreamChunk
from agentroom.room.line import Command, Reply, act, apply
from agentroom.room.live import LiveRoom
from agentroom.room.state import RoomState
from agentroom.server import frames
from agentroom.server.frames import ClientFrame
from agentroom.server.hub import Connection, Hub

if TYPE_CHECKING:
    from agentroom.room.tokens import Grant

log = logging.getLogger(__name__)

STATE_EVERY = 0.25
"""Seconds between two ``state`` frames at most (a busy room changes every envelope)."""
STATE_IDLE = 2.0
"""Seconds after which the state is looked at even if nothing was said."""
RECHECK_EVERY = 5.0
"""Seconds between two checks that each connection's token is still valid (not revoked)."""
TYPING_EVERY = 1.0
"""Seconds between two ``typing`` notices from one connection (more are dropped)."""

REVOKED = "your token is no longer valid (revoked?); ask the room's host for a new one"
"""The message of a connection closed because its token stopped working."""


class ServedRoom:
    """A room plus the hub that fans it out; see the module docstring."""

    def __init__(
        self,
        room: LiveRoom,
        *,
        allow_origins: Sequence[str] = (),
        run: bool = False,
        recheck: float = RECHECK_EVERY,
        on_presence: Callable[[str, str], object] | None = None,
    ) -> None:
        self.room = room
        self.on_presence = on_presence
        """Told ``(human, "joined" | "left")`` as each connection opens and closes (the
        server's own terminal says so)."""
        self.recheck = recheck
        """Seconds between two checks of every connection's token."""
        self.allow_origins = frozenset(o.rstrip("/").lower() for o in allow_origins)
        """Browser origins allowed besides the server's own (``--allow-origin``)."""
        self._run = run
        self.hub: Hub | None = None
        self.online: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[object]] = []
        self._running: asyncio.Task[object] | None = None
        self._opened = False
        self._typed: dict[int, float] = {}

    # -- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the room if it is not yet, and start fanning it out (and running it, if asked)."""
        room = self.room
        if room.engine is None:
            await room.open()
            self._opened = True
        assert room.engine is not None
        hub = self.hub = Hub(room.saved)
        room.engine.bus.attach(hub)
        room.engine.bus.attach_chunks(hub)
        hub.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._states(hub), name="agentroom-states"),
            loop.create_task(self._recheck(hub), name="agentroom-recheck"),
        ]
        if self._run:
            self._running = loop.create_task(room.run(), name="agentroom-room")

    async def stop(self) -> None:
        """Close every connection (1000: the server is shutting down) and stop the fan-out."""
        hub = self.hub
        if hub is not None:
            for conn in list(hub.connections):
                conn.end(frames.CLOSE_SHUTDOWN)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        running, self._running = self._running, None
        if running is not None:
            if self.room.coordinator is not None:
                self.room.coordinator.stop("the server is shutting down")
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await running
        if hub is not None:
            if self.room.engine is not None:
                self.room.engine.bus.detach(hub)
            await hub.stop()
        if self._opened:
            self._opened = False
            await self.room.close()

    @property
    def session_id(self) -> str:
        return self.room.engine.session_id if self.room.engine is not None else ""

    @property
    def humans(self) -> list[str]:
        return [h.id for h in self.room.humans]

    @property
    def _hub(self) -> Hub:
        if self.hub is None:
            raise RuntimeError("the served room has not started")
        return self.hub

    # -- who you are --------------------------------------------------------------------------

    async def grant(self, token: str) -> Grant | None:
        """The human ``token`` stands for in this room, or None (unknown, revoked, another
        room's, or a human this room does not have)."""
        if not token or self.room.engine is None:
            return None
        grant = await self.room.tokens.verify(token)
        if grant is None or grant.session_id != self.session_id:
            return None
        if grant.human not in self.humans:
            return None
        return grant

    def connection(self, grant: Grant, token: str, *, events: bool = False) -> Connection:
        return Connection(grant.human, token, self.humans, token_id=grant.token_id, events=events)

    # -- joining the order --------------------------------------------------------------------

    async def join(self, conn: Connection) -> tuple[int, RoomState, list[StreamChunk]]:
        """Join ``conn`` at one point in the order: the newest ``seq`` then, the room's state
        then, and the replies being streamed then (see :meth:`MessageBus.hold`)."""
        room, hub = self.room, self._hub
        assert room.engine is not None
        async with room.engine.bus.hold() as last_seq:
            hub.add(conn)
            state = RoomState.of(room)
            partial = [] if conn.events else room.partial()
        if not conn.events:
            self.online[conn.human] += 1
            hub.broadcast(frames.presence(conn.human, "joined", self.who_is_online()))
            if self.on_presence is not None:
                self.on_presence(conn.human, "joined")
            hub.changed.set()  # the others' state says who is here
        state = replace(state, online=tuple(self.who_is_online()))
        return last_seq, state, partial

    def leave(self, conn: Connection) -> None:
        hub = self.hub
        if hub is None or conn not in hub.connections:
            return
        hub.remove(conn)
        self._typed.pop(id(conn), None)
        if not conn.events:
            self.online[conn.human] -= 1
            if self.online[conn.human] <= 0:
                del self.online[conn.human]
            hub.broadcast(frames.presence(conn.human, "left", self.who_is_online()))
            if self.on_presence is not None:
                self.on_presence(conn.human, "left")
            hub.changed.set()

    def who_is_online(self) -> list[str]:
        return sorted(self.online)

    async def backlog(self, conn: Connection, since: int, last_seq: int) -> AsyncIterator[str]:
        """What ``conn`` may see after ``since`` up to ``last_seq``, read from the store, as the
        frames (or events) to send before anything live."""
        if last_seq <= since:
            return
        async for env in self.room.sessions.read(
            self.session_id, after_seq=since, limit=last_seq - since
        ):
            if env.seq is None or env.seq > last_seq:
                break
            if conn.shows(env):
                frame = frames.durable(env)
                yield frames.sse_event(env, frame) if conn.events else frame

    async def tail_since(self, conn: Connection, last_seq: int, tail: int) -> int:
        """The ``since`` that gives ``conn`` about the last ``tail`` envelopes up to ``last_seq``
        (a client that draws only a window need not be sent the whole room)."""
        recent = await self.room.sessions.read_before(self.session_id, last_seq + 1, tail)
        first = next((env.seq for env in recent if env.seq is not None), None)
        return last_seq if first is None else first - 1

    async def older(self, conn: Connection, frame: ClientFrame) -> str:
        """The answer to an ``older`` frame: up to ``frame.limit`` envelopes ``conn`` may see,
        just before ``frame.before``, oldest first, at most :data:`frames.OLDER_BYTES` of
        them (always one).  Pages hidden from ``conn`` (others' private lines) are read
        past, so a client that gets none knows there is nothing older for it."""
        found: list[str] = []
        size, before = 0, frame.before
        while len(found) < frame.limit and before > 1:
            page = await self.room.sessions.read_before(self.session_id, before, frame.limit)
            if not page:
                break
            before = page[0].seq or 0
            shown = [frames.durable(env) for env in page if conn.shows(env)]
            for text in reversed(shown[-(frame.limit - len(found)) :]):
                if found and size + len(text) > frames.OLDER_BYTES:
                    return frames.older(frame.id, found[::-1])
                found.append(text)
                size += len(text)
        return frames.older(frame.id, found[::-1])

    # -- what a client asks -------------------------------------------------------------------

    async def line(self, conn: Connection, frame: ClientFrame) -> str | None:
        """Say or do what a ``line`` frame asks, as its human; the ``reply`` frame, sent once
        what it said is on disk (None: the token stopped working, the connection is ended)."""
        human = await self._human(conn)
        if human is None:
            return None
        return await self._acknowledge(frame, await act(self.room, frame.text, human))

    async def interrupt(self, conn: Connection, frame: ClientFrame) -> str | None:
        human = await self._human(conn)
        if human is None:
            return None
        return await self._acknowledge(frame, await apply(self.room, Command("interrupt"), human))

    async def _acknowledge(self, frame: ClientFrame, answer: Reply) -> str:
        """The ``reply`` to ``frame``: at once when it said nothing, else once what it said
        has reached the clients (it is on disk)."""
        said = answer.envelope
        if said is None or said.seq is None:
            return frames.reply(frame.id, answer.ok, answer.text, None)
        if not await self._hub.sent(said.seq):
            return frames.reply(
                frame.id,
                False,
                "your line was said but could not be saved (the server's disk is failing); "
                "say it again later",
                said.seq,
            )
        return frames.reply(frame.id, answer.ok, answer.text, said.seq)

    async def _human(self, conn: Connection) -> HumanAgent | None:
        """The human ``conn`` speaks as, its token checked again (a revoked one ends it)."""
        if await self.grant(conn.token) is None:
            conn.end(frames.CLOSE_UNAUTHORIZED, frames.error(frames.UNAUTHORIZED, REVOKED))
            return None
        assert self.room.engine is not None
        agent = self.room.engine.get_agent(conn.human)
        return agent if isinstance(agent, HumanAgent) else None

    def typing(self, conn: Connection) -> None:
        """Tell the others ``conn``'s human is typing (at most once a second per connection)."""
        now = asyncio.get_running_loop().time()
        if now - self._typed.get(id(conn), -TYPING_EVERY) < TYPING_EVERY:
            return
        self._typed[id(conn)] = now
        self._hub.broadcast(frames.presence(conn.human, "typing", self.who_is_online()))

    # -- background ---------------------------------------------------------------------------

    async def _states(self, hub: Hub) -> None:
        """A ``state`` frame whenever the room's state changed, a few a second at most."""
        shown: RoomState | None = None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.changed.wait(), STATE_IDLE)
            hub.changed.clear()
            now = replace(RoomState.of(self.room), online=tuple(self.who_is_online()))
            if now != shown:
                shown = now
                hub.broadcast(frames.state(now))
            await asyncio.sleep(STATE_EVERY)

    async def _recheck(self, hub: Hub) -> None:
        """End every connection whose token was revoked while it was connected (one query a
        round for the room's tokens, not one per connection)."""
        while True:
            await asyncio.sleep(self.recheck)
            if not hub.connections:
                continue
            try:
                tokens = await self.room.tokens.list(self.session_id)
            except Exception:  # the database is failing: keep who is here, try again later
                log.warning("could not read the room's tokens; connections stay until next time")
                continue
            revoked = {t.token_id for t in tokens if t.revoked_at is not None}
            for conn in list(hub.connections):
                if conn.token_id in revoked:
                    conn.end(frames.CLOSE_UNAUTHORIZED, frames.error(frames.UNAUTHORIZED, REVOKED))
