"""What a subscriber gets: a filter over envelopes, and its end of the bus.

A :class:`Subscription` is an iterator (``async for``) or drives a callback;
either way it reads from its own bounded :class:`~agentroom.bus.inbox.Inbox`, in
``seq`` order.  The bus decides what goes in; see :mod:`agentroom.bus`.  A live
viewer's subscription (``MessageBus.subscribe_live``) also gets the stream
chunks, in order among the envelopes, so it is a ``Subscription[LiveItem]``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from agentroom.bus.inbox import Inbox, InboxClosed
from agentroom.core.protocol import BROADCAST, Envelope, MessageType

if TYPE_CHECKING:
    from agentroom.bus.message_bus import MessageBus

log = logging.getLogger(__name__)

Match = Callable[[Envelope], bool]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EnvelopeFilter:
    """Which envelopes a subscriber wants; ``None`` means any.

    ``receivers`` matches envelopes addressed to one of them, and (unless
    ``include_broadcast`` is off) those addressed to everyone.
    """

    senders: frozenset[str] | None = None
    receivers: frozenset[str] | None = None
    types: frozenset[MessageType] | None = None
    include_broadcast: bool = True
    exclude_senders: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        senders: Iterable[str] | str | None = None,
        receivers: Iterable[str] | str | None = None,
        types: Iterable[MessageType | str] | MessageType | str | None = None,
        include_broadcast: bool = True,
        exclude_senders: Iterable[str] | str = (),
    ) -> EnvelopeFilter:
        def names(value: Iterable[str] | str | None) -> frozenset[str] | None:
            if value is None:
                return None
            return frozenset([value] if isinstance(value, str) else value)

        kinds = None
        if types is not None:
            kinds = frozenset(
                MessageType(t) for t in ([types] if isinstance(types, str) else types)
            )
        return cls(
            senders=names(senders),
            receivers=names(receivers),
            types=kinds,
            include_broadcast=include_broadcast,
            exclude_senders=names(exclude_senders) or frozenset(),
        )

    def compile(self) -> Match | None:
        """A predicate for the hot path, or None when everything matches."""
        if (
            self.senders is None
            and self.receivers is None
            and self.types is None
            and not self.exclude_senders
        ):
            return None
        senders, receivers, types = self.senders, self.receivers, self.types
        excluded, broadcast = self.exclude_senders, self.include_broadcast

        def match(env: Envelope) -> bool:
            if types is not None and env.type not in types:
                return False
            if senders is not None and env.sender not in senders:
                return False
            if env.sender in excluded:
                return False
            if receivers is not None:
                r = env.receiver
                return r in receivers or (broadcast and r == BROADCAST)
            return True

        return match


class Subscription(Generic[T]):
    """A subscriber's end: iterate it (``async for``) or let it drive a callback."""

    def __init__(
        self,
        bus: MessageBus,
        inbox: Inbox[T],
        callback: Callable[[T], Any] | None = None,
    ) -> None:
        self._bus = bus
        self.inbox = inbox
        self._task: asyncio.Task[None] | None = None
        if callback is not None:
            self._task = asyncio.get_running_loop().create_task(self._pump(callback))

    @property
    def dropped(self) -> int:
        """How many envelopes a lossy subscription let go (always 0 when lossless)."""
        return self.inbox.dropped

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.inbox.get()
        except InboxClosed:
            raise StopAsyncIteration from None

    async def get_batch(self, limit: int = 4096) -> list[T]:
        """What has arrived (at least one); an empty list once closed and drained."""
        try:
            return await self.inbox.get_batch(limit)
        except InboxClosed:
            return []

    async def _pump(self, callback: Callable[[T], Any]) -> None:
        is_async = inspect.iscoroutinefunction(callback)
        while True:
            try:
                batch = await self.inbox.get_batch()
            except InboxClosed:
                return
            for item in batch:
                try:
                    result = callback(item)
                    if is_async or inspect.isawaitable(result):
                        await result
                except Exception:
                    where = getattr(item, "seq", None)  # a stream chunk has none
                    log.exception("subscriber %r failed on envelope seq=%s", callback, where)

    def close(self) -> None:
        """Stop receiving; what already arrived is still delivered."""
        self._bus.detach(self.inbox)
        if self._task is None:  # a callback's pump is awaited by the bus's aclose()
            self._bus.forget(self)
        self.inbox.close()

    async def aclose(self) -> None:
        """Close and wait until a callback has seen everything that arrived."""
        self.close()
        if self._task is not None:
            await self._task
