"""The message bus: one total order per room, senders stamped from handles.

Every envelope passes through :meth:`MessageBus.publish` under one lock: the
bus mints ``id``/``created_at``, assigns the next ``seq`` and the sender of the
:class:`AgentHandle` used, then hands the envelope to each attached sink in
attachment order before the next publish may start.  So every subscriber sees
envelopes in ``seq`` order, a publisher's envelopes in the order it published
them, and a full lossless inbox slows the publishers down instead of losing
anything.  Once a ``seq`` is assigned, delivery finishes even if the publisher
is cancelled.

Stream chunks (:class:`~agentroom.core.chunk.StreamChunk`, a reply as it is
being written) pass through the same lock, so a viewer sees them in order
among the envelopes, but they take no ``seq`` and reach only the sinks that
asked for them (:meth:`MessageBus.attach_chunks`, :meth:`MessageBus.subscribe_live`):
live viewers, never the store or the coordinator.

A viewer that joins a running room (a network client resuming with
``since=SEQ``) needs one point in that order: :meth:`MessageBus.hold` stops
publishing for a moment and says the newest ``seq``, so a sink attached
inside it gets exactly what comes after, and what came before is read from
the store: no gap, no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

from agentroom.bus.inbox import Inbox
from agentroom.bus.subscriptions import EnvelopeFilter, Match, Subscription
from agentroom.core.chunk import LiveItem, StreamChunk
from agentroom.core.errors import (
    BusClosedError,
    DuplicateAgentError,
    ForeignHandleError,
    InvalidParticipantError,
)
from agentroom.core.events import Event
from agentroom.core.protocol import (
    BROADCAST,
    ROOM,
    Envelope,
    MessageType,
    check_metadata,
    trusted_envelope,
)
from agentroom.core.text import valid_text

log = logging.getLogger(__name__)

PARTICIPANT_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}\Z")
"""Participant ids (use ``match``: ``\\Z`` refuses a trailing newline, which ``$`` lets by)."""
RESERVED = frozenset({BROADCAST, ROOM})


class Sink(Protocol):
    """Where the bus delivers: ``offer`` without waiting, else ``put`` with backpressure."""

    def offer(self, envelope: Envelope) -> bool: ...

    async def put(self, envelope: Envelope) -> None: ...


class ChunkSink(Protocol):
    """Where the bus delivers stream chunks: the same two doors as a :class:`Sink`."""

    def offer(self, chunk: StreamChunk) -> bool: ...

    async def put(self, chunk: StreamChunk) -> None: ...


class AgentHandle:
    """The only way to publish: whoever holds it speaks as ``participant_id``, nobody else."""

    __slots__ = ("_bus", "_revoked", "participant_id")

    def __init__(self, bus: MessageBus, participant_id: str) -> None:
        self._bus = bus
        self.participant_id = participant_id
        self._revoked = False

    def __repr__(self) -> str:
        return f"AgentHandle({self.participant_id!r})"

    async def publish(
        self,
        content: str,
        *,
        to: str = BROADCAST,
        type: MessageType | str = MessageType.MESSAGE,
        reply_to: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Envelope:
        return await self._bus.publish(
            self, content, to=to, type=type, reply_to=reply_to, metadata=metadata
        )

    async def publish_envelope(self, envelope: Envelope) -> Envelope:
        """Publish a prepared envelope; its sender/seq/id/time are re-stamped by the bus."""
        return await self._bus.publish_envelope(self, envelope)

    async def publish_chunk(self, text: str, *, turn: str, model: str = "") -> StreamChunk:
        """Show the next piece of this participant's reply in ``turn`` to live viewers."""
        return await self._bus.publish_chunk(self, text, turn=turn, model=model)

    def subscribe(
        self,
        *,
        types: Iterable[MessageType | str] | None = None,
        include_own: bool = False,
        maxsize: int = 1024,
        lossless: bool = True,
        callback: Callable[[Envelope], Any] | None = None,
    ) -> Subscription[Envelope]:
        """Envelopes addressed to this participant (directly or to everyone)."""
        return self._bus.subscribe(
            callback,
            receivers=[self.participant_id],
            types=types,
            exclude_senders=() if include_own else [self.participant_id],
            maxsize=maxsize,
            lossless=lossless,
        )


class MessageBus:
    """Ordered pub/sub for one room (session)."""

    def __init__(self, session_id: str, *, start_seq: int = 0) -> None:
        self.session_id = session_id
        self._seq = start_seq
        self._lock = asyncio.Lock()
        self._sinks: tuple[tuple[Match | None, Sink], ...] = ()
        self._chunk_sinks: tuple[ChunkSink, ...] = ()
        self._handles: dict[str, AgentHandle] = {}
        self._subscriptions: list[Subscription[Any]] = []
        self._room = AgentHandle(self, ROOM)
        self._closed = False

    # -- participants -------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def participants(self) -> tuple[str, ...]:
        return tuple(self._handles)

    def register(self, participant_id: str) -> AgentHandle:
        """Admit a participant and return the handle it will publish with."""
        if not isinstance(participant_id, str) or not PARTICIPANT_ID.match(participant_id):
            raise InvalidParticipantError(
                f"participant id {participant_id!r} is not usable: use 1-64 letters, digits, "
                "'_', '-' or '.', starting with a letter, digit or '_'"
            )
        if participant_id in RESERVED:
            raise InvalidParticipantError(
                f"participant id {participant_id!r} is reserved; pick another name"
            )
        if participant_id in self._handles:
            raise DuplicateAgentError(
                f"a participant named {participant_id!r} is already in the room"
            )
        handle = AgentHandle(self, participant_id)
        self._handles[participant_id] = handle
        return handle

    def unregister(self, participant_id: str) -> None:
        handle = self._handles.pop(participant_id, None)
        if handle is not None:
            handle._revoked = True

    # -- subscribers --------------------------------------------------------------------

    def attach(self, sink: Sink, match: Match | None = None) -> None:
        """Deliver to ``sink`` inline, in attachment order (the store attaches first)."""
        self._sinks = (*self._sinks, (match, sink))

    def attach_chunks(self, sink: ChunkSink) -> None:
        """Deliver stream chunks to ``sink`` too (a live viewer; never a store)."""
        self._chunk_sinks = (*self._chunk_sinks, sink)

    def detach(self, sink: object) -> None:
        """Deliver nothing more to ``sink``: neither envelopes nor chunks."""
        self._sinks = tuple(pair for pair in self._sinks if pair[1] is not sink)
        self._chunk_sinks = tuple(s for s in self._chunk_sinks if s is not sink)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[int]:
        """Hold every publish (envelopes and chunks) while the block runs; yields ``last_seq``.

        A sink attached (or a viewer added to one) inside the block gets every
        envelope after the yielded ``seq`` and none before, and every chunk
        published after that point: the block is one point in the room's order.
        Keep it short and never publish inside it (that waits for the block).
        """
        async with self._lock:
            yield self._seq

    def forget(self, subscription: Subscription[Any]) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def subscribe(
        self,
        callback: Callable[[Envelope], Any] | None = None,
        *,
        senders: Iterable[str] | str | None = None,
        receivers: Iterable[str] | str | None = None,
        types: Iterable[MessageType | str] | MessageType | str | None = None,
        include_broadcast: bool = True,
        exclude_senders: Iterable[str] | str = (),
        maxsize: int = 1024,
        lossless: bool = True,
    ) -> Subscription[Envelope]:
        """A filtered subscription: a callback (sync or async) or, without one, an iterator."""
        match = EnvelopeFilter.of(
            senders=senders,
            receivers=receivers,
            types=types,
            include_broadcast=include_broadcast,
            exclude_senders=exclude_senders,
        ).compile()
        inbox: Inbox[Envelope] = Inbox(maxsize, lossless=lossless)
        sub = Subscription(self, inbox, callback)
        self._subscriptions.append(sub)
        self.attach(inbox, match)
        return sub

    def subscribe_live(
        self,
        callback: Callable[[LiveItem], Any] | None = None,
        *,
        maxsize: int = 1024,
        lossless: bool = True,
    ) -> Subscription[LiveItem]:
        """Everything a live viewer shows: every envelope, and the stream chunks among them."""
        inbox: Inbox[LiveItem] = Inbox(maxsize, lossless=lossless)
        sub = Subscription(self, inbox, callback)
        self._subscriptions.append(sub)
        self.attach(inbox)
        self.attach_chunks(inbox)
        return sub

    # -- publishing ---------------------------------------------------------------------

    async def publish(
        self,
        handle: AgentHandle,
        content: str,
        *,
        to: str = BROADCAST,
        type: MessageType | str = MessageType.MESSAGE,
        reply_to: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Envelope:
        """Publish as ``handle``'s participant; returns the envelope as delivered.

        A receiver nobody answers to is not delivered: a ``status`` envelope
        comes back to the sender instead, naming who is in the room and
        carrying the undelivered message so nothing is lost.  Text is made
        valid Unicode here, the one door into the room, so no string can
        later stop the store, a screen or a client.
        """
        self._check(handle)
        if not isinstance(content, str):
            raise TypeError(f"content must be a str, not {content.__class__.__name__}")
        if not isinstance(to, str) or not to.strip():
            raise InvalidParticipantError(f"receiver {to!r} is not a participant id")
        content = valid_text(content)
        to = valid_text(to)
        if reply_to is not None:
            reply_to = valid_text(reply_to)
        kind = type if type.__class__ is MessageType else MessageType(type)
        meta = check_metadata(metadata) if metadata else {}
        if to != BROADCAST and to != ROOM and to not in self._handles:
            return await self._bounce(handle, to, content, kind, meta)
        return await self._emit(handle.participant_id, to, content, kind, reply_to, meta)

    async def publish_envelope(self, handle: AgentHandle, envelope: Envelope) -> Envelope:
        """Publish a prepared (already validated) envelope, re-stamped by the bus."""
        return await self.publish(
            handle,
            envelope.content,
            to=envelope.receiver,
            type=envelope.type,
            reply_to=envelope.reply_to,
            metadata=envelope.metadata,
        )

    async def publish_chunk(
        self, handle: AgentHandle, text: str, *, turn: str, model: str = ""
    ) -> StreamChunk:
        """Show a piece of ``handle``'s reply in ``turn`` to the chunk sinks; nothing is kept.

        Under the publish lock, so each viewer gets it after every envelope
        published before it; a full lossless viewer holds the speaker up as
        an envelope would (a cancelled speaker's chunk may then be lost: it
        is only ever a preview of the reply that follows).
        """
        self._check(handle)
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {text.__class__.__name__}")
        chunk = StreamChunk(
            handle.participant_id,
            self.session_id,
            valid_text(turn),
            valid_text(text),
            valid_text(model),
        )
        async with self._lock:
            for sink in self._chunk_sinks:
                if not sink.offer(chunk):
                    await sink.put(chunk)
        return chunk

    async def announce(
        self,
        content: str,
        *,
        to: str = BROADCAST,
        type: MessageType | str = MessageType.STATUS,
        reply_to: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Envelope:
        """Publish as the room itself (bounces, errors, stop reasons)."""
        return await self.publish(
            self._room, content, to=to, type=type, reply_to=reply_to, metadata=metadata
        )

    def _check(self, handle: AgentHandle) -> None:
        if self._closed:
            raise BusClosedError("the room's bus is closed; nothing more can be published")
        if not isinstance(handle, AgentHandle) or handle._bus is not self:
            raise ForeignHandleError("this handle does not belong to this room's bus")
        if handle._revoked:
            raise ForeignHandleError(
                f"{handle.participant_id!r} has left the room; its handle no longer publishes"
            )

    async def _bounce(
        self,
        handle: AgentHandle,
        to: str,
        content: str,
        kind: MessageType,
        meta: dict[str, Any],
    ) -> Envelope:
        known = sorted(self._handles)
        who = ", ".join(known) if known else "nobody yet"
        return await self._emit(
            ROOM,
            handle.participant_id,
            f"No participant named {to!r} is in the room; your message was not delivered. "
            f"Known participants: {who}.",
            MessageType.STATUS,
            None,
            {
                "event": Event.UNDELIVERED.value,  # plain: this metadata skips check_metadata
                "known": known,
                "undelivered": {
                    "receiver": to,
                    "content": content,
                    "type": kind.value,
                    "metadata": meta,
                },
            },
        )

    async def _emit(
        self,
        sender: str,
        receiver: str,
        content: str,
        kind: MessageType,
        reply_to: str | None,
        meta: dict[str, Any],
    ) -> Envelope:
        lock = self._lock
        await lock.acquire()
        handed_off = False
        try:
            self._seq += 1
            env = trusted_envelope(
                sender, receiver, content, kind, self._seq, self.session_id, reply_to, meta
            )
            sinks = self._sinks
            for i, (match, sink) in enumerate(sinks):
                if match is not None and not match(env):
                    continue
                if not sink.offer(env):
                    # Slow path: a lossless sink is full.  Finish delivering in a task of
                    # its own, which releases the lock, so a cancelled publisher cannot
                    # leave an envelope half-delivered.
                    handed_off = True
                    task = asyncio.get_running_loop().create_task(self._finish(env, sinks, i))
                    await asyncio.shield(task)
                    return env
            return env
        finally:
            if not handed_off:
                lock.release()

    async def _finish(
        self, env: Envelope, sinks: tuple[tuple[Match | None, Sink], ...], start: int
    ) -> None:
        try:
            await sinks[start][1].put(env)
            for match, sink in sinks[start + 1 :]:
                if (match is None or match(env)) and not sink.offer(env):
                    await sink.put(env)
        finally:
            self._lock.release()

    # -- shutdown -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Refuse further publishes and let every callback subscriber drain."""
        self._closed = True
        async with self._lock:  # wait for a delivery in flight
            pass
        subs, self._subscriptions = self._subscriptions, []
        for sub in subs:
            await sub.aclose()
