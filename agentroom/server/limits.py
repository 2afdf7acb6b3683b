"""How often a connection may ask the room for something: a token bucket per connection.

A client may send a burst of lines (a paste, a reconnect replaying what it
queued), then a steady few a second; past that a line is refused with
``rate_limited`` and not said, so one client cannot flood the room or its
store while everyone else goes on.
"""

from __future__ import annotations

import time

BURST = 20
RATE = 5.0
"""Lines a second, once the burst is spent."""


class Bucket:
    """``burst`` at once, then ``rate`` a second; :meth:`take` says whether one more may go."""

    __slots__ = ("_at", "_left", "burst", "rate")

    def __init__(self, burst: int = BURST, rate: float = RATE) -> None:
        self.burst = burst
        self.rate = rate
        self._left = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._left = min(self.burst, self._left + (now - self._at) * self.rate)
        self._at = now
        if self._left < 1:
            return False
        self._left -= 1
        return True
