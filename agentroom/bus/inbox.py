"""A bounded FIFO between one producer (the bus) and one consumer.

Why not ``asyncio.Queue``: consumers here want whole batches (the store's
group commit, a UI flushing at 10-20 Hz), a lossy mode that drops the oldest
item instead of blocking, and a ``close()`` after which the consumer drains
what is left and then stops.  All of it is cheap enough for the bus's hot path:
``offer`` never suspends.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class InboxClosed(Exception):
    """The inbox was closed and everything in it has been taken."""


class Inbox(Generic[T]):
    """Bounded FIFO with backpressure (lossless) or drop-oldest (lossy)."""

    __slots__ = ("_closed", "_getter", "_items", "_putter", "dropped", "lossless", "maxsize")

    def __init__(self, maxsize: int = 1024, *, lossless: bool = True) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.lossless = lossless
        self.dropped = 0
        self._items: deque[T] = deque()
        self._getter: asyncio.Future[None] | None = None
        self._putter: deque[asyncio.Future[None]] = deque()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, item: T) -> bool:
        """Take ``item`` now if there is room (or if lossy); False means call :meth:`put`."""
        items = self._items
        if len(items) >= self.maxsize and not self._closed:
            if self.lossless:
                return False
            items.popleft()
            self.dropped += 1
        items.append(item)
        getter = self._getter
        if getter is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)
        return True

    def force(self, item: T) -> None:
        """Append past the bound: for records that ride along with an already-bounded flow."""
        self._items.append(item)
        getter = self._getter
        if getter is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)

    async def put(self, item: T) -> None:
        """Append ``item``, waiting while the inbox is full (the backpressure)."""
        while not self.offer(item):
            fut = asyncio.get_running_loop().create_future()
            self._putter.append(fut)
            try:
                await fut
            finally:
                if fut in self._putter:
                    self._putter.remove(fut)

    def _room_made(self) -> None:
        while self._putter and len(self._items) < self.maxsize:
            fut = self._putter.popleft()
            if not fut.done():
                fut.set_result(None)
                break

    async def _wait(self) -> None:
        while not self._items:
            if self._closed:
                raise InboxClosed
            fut = asyncio.get_running_loop().create_future()
            self._getter = fut
            try:
                await fut
            finally:
                if self._getter is fut:
                    self._getter = None

    async def get(self) -> T:
        """The oldest item, waiting for one; raises :class:`InboxClosed` once drained."""
        if not self._items:
            await self._wait()
        item = self._items.popleft()
        if self._putter:
            self._room_made()
        return item

    async def get_batch(self, limit: int = 4096) -> list[T]:
        """Everything waiting (at most ``limit``), waiting for at least one item."""
        items = self._items
        if not items:
            await self._wait()
        if len(items) <= limit:
            batch = list(items)
            items.clear()
        else:
            batch = [items.popleft() for _ in range(limit)]
        if self._putter:
            self._room_made()
        return batch

    def unbound(self) -> None:
        """No bound any more: producers waiting for room go on at once (shutting down)."""
        self.maxsize = sys.maxsize
        for fut in self._putter:
            if not fut.done():
                fut.set_result(None)

    def close(self) -> None:
        """No more waiting: the consumer drains what is left, then gets InboxClosed."""
        self._closed = True
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)
        for fut in self._putter:
            if not fut.done():
                fut.set_result(None)
