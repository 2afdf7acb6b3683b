"""What a room screen holds: a link to a room, open in this process or served elsewhere.

The room screen (``agentroom/tui/room.py``) draws one room and sends the
human's lines to it.  Whether that room runs here (``agentroom run``) or on
another machine (``agentroom join URL``), the screen needs the same few
things: open, run until the room is over, close; a feed of the envelopes and
stream chunks as they happen; a snapshot of the room (:class:`RoomState`);
who it speaks as; a way to send a line; older envelopes, one envelope by
``seq``, an agent's own view; export and fork; and news of whether the room
is still reachable (the disk here, the connection there).  :class:`RoomLink`
is exactly that and nothing more, so nothing in the screen is written twice:
:class:`LocalLink` wraps a :class:`~agentroom.room.live.LiveRoom`, and the
network client (``agentroom/server/``) is the other implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agentroom.conversation import MessageView
from agentroom.core.chunk import LiveItem
from agentroom.core.errors import AgentroomError
from agentroom.core.protocol import Envelope
from agentroom.core.records import StoreHealth
from agentroom.room.line import Reply, act
from agentroom.room.live import LiveRoom
from agentroom.room.state import RoomState

RECENT = 60
"""Envelopes a resumed room shows at once (older ones are paged in on request)."""


@dataclass(frozen=True, slots=True)
class Ended:
    """Why a room's run ended, and whether that was a failure (turns kept failing, the
    connection could not be made again)."""

    reason: str
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Health:
    """Whether the room is still being kept: here, whether the disk takes what is said;
    across the network, whether the connection is up.  ``title`` is the few words a
    notification leads with, ``text`` the one line that says what is going on."""

    ok: bool
    text: str
    title: str


class RoomLink(Protocol):
    """A room as a screen sees it; see the module docstring."""

    @property
    def me(self) -> str | None:
        """The human this screen speaks as (None: a room with no human, or an observer)."""
        ...

    async def open(self) -> None:
        """Open the room (raises with a one-line message when it cannot be)."""
        ...

    async def run(self) -> Ended:
        """Return once the room is over."""
        ...

    def leave(self, reason: str) -> None:
        """The screen is going away: a room of this process stops with ``reason``; a room
        served elsewhere goes on without us."""
        ...

    async def close(self) -> None: ...

    async def get_batch(self) -> list[LiveItem]:
        """What the room said since the last call (at least one item); [] once it is over."""
        ...

    def state(self) -> RoomState: ...

    async def send(self, text: str) -> Reply:
        """Say or do what ``text`` asks, in the grammar every interface shares
        (:mod:`agentroom.room.line`), as :attr:`me`."""
        ...

    async def recent(self) -> list[Envelope]:
        """What to show at once when the screen opens, before the feed (a resumed room's
        last turns)."""
        ...

    async def older(self, before_seq: int, count: int) -> list[Envelope]:
        """The ``count`` envelopes before ``before_seq``, oldest first."""
        ...

    async def envelope(self, seq: int) -> Envelope | None:
        """Envelope ``#seq`` (None: there is none that this screen may see)."""
        ...

    def agent_view(self, agent_id: str) -> MessageView | None:
        """What ``agent_id`` has seen, in its own role view (None: not known here)."""
        ...

    async def export(self, folder: Path) -> Path:
        """Write the session as Markdown into ``folder``; returns the file (raises
        :class:`AgentroomError`, with what to do, when it cannot)."""
        ...

    async def fork(self) -> str:
        """A new session that starts from here; returns its id (raises
        :class:`AgentroomError`, with what to do, when it cannot)."""
        ...

    def watch_health(self, callback: Callable[[Health], Any]) -> Callable[[], None]:
        """Call ``callback`` when the room stops being kept, or is kept again; returns how
        to stop that."""
        ...


def store_health(health: StoreHealth) -> Health:
    """The disk's news, as a room screen says it."""
    return Health(health.ok, health.describe(), "saved" if health.ok else "not saved")


class LocalLink:
    """A room of this process: a :class:`LiveRoom` as a :class:`RoomLink`."""

    def __init__(self, room: LiveRoom) -> None:
        self.room = room

    @property
    def me(self) -> str | None:
        human = self.room.human
        return human.id if human is not None else None

    async def open(self) -> None:
        await self.room.open()

    async def run(self) -> Ended:
        result = await self.room.run()
        return Ended(result.reason, result.failed)

    def leave(self, reason: str) -> None:
        if self.room.coordinator is not None:
            self.room.coordinator.stop(reason)

    async def close(self) -> None:
        await self.room.close()

    async def get_batch(self) -> list[LiveItem]:
        feed = self.room.feed
        return [] if feed is None else await feed.get_batch()

    def state(self) -> RoomState:
        return RoomState.of(self.room)

    async def send(self, text: str) -> Reply:
        return await act(self.room, text, self.room.human)

    async def recent(self) -> list[Envelope]:
        room = self.room
        if room.options.session_id is None or room.engine is None:
            return []  # a new room: everything it says comes through the feed
        engine = room.engine
        return await room.sessions.read_before(engine.session_id, engine.bus.last_seq + 1, RECENT)

    async def older(self, before_seq: int, count: int) -> list[Envelope]:
        if self.room.engine is None:
            return []
        return await self.room.sessions.read_before(self.room.engine.session_id, before_seq, count)

    async def envelope(self, seq: int) -> Envelope | None:
        if self.room.engine is None:
            return None
        sid = self.room.engine.session_id
        async for env in self.room.sessions.read(sid, after_seq=seq - 1, limit=1):
            return env if env.seq == seq else None
        return None

    def agent_view(self, agent_id: str) -> MessageView | None:
        engine = self.room.engine
        if engine is None:
            return None
        conv = engine.conversations.agent_sessions.get(agent_id)
        return conv.messages if conv is not None else None

    async def export(self, folder: Path) -> Path:
        engine = self.room.engine
        if engine is None:
            raise AgentroomError("the room is not open yet; export it once it is")
        await engine.flush()
        path = folder / f"agentroom-{engine.session_id[:13]}.md"
        await self.room.sessions.export_to_file(engine.session_id, "md", path)
        return path

    async def fork(self) -> str:
        engine = self.room.engine
        if engine is None:
            raise AgentroomError("the room is not open yet; fork it once it is")
        await engine.flush()
        return await self.room.sessions.fork(engine.session_id, engine.bus.last_seq)

    def watch_health(self, callback: Callable[[Health], Any]) -> Callable[[], None]:
        return self.room.watch_health(lambda health: callback(store_health(health)))
