"""Time-sortable identifiers (UUIDv7 layout) with microsecond timestamps.

Ids are UUIDv7 strings whose 12 ``rand_a`` bits hold the sub-millisecond
microseconds, so an id carries its own creation time exactly.  The store uses
that to keep ``created_at`` out of each row, and sorting ids sorts by time.
The clock is made strictly monotonic (per process, for ids minted on one
thread), so two ids minted in the same microsecond still sort in minting
order; the 62 random bits keep ids from different processes apart.
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_last_us = 0
_rand = random.Random()  # seeded from os.urandom; reseeded after fork below


def _reseed() -> None:
    _rand.seed()


os.register_at_fork(after_in_child=_reseed)


def next_micros() -> int:
    """A strictly increasing wall-clock reading in microseconds since the epoch."""
    global _last_us
    now = time.time_ns() // 1000
    if now <= _last_us:
        now = _last_us + 1
    _last_us = now
    return now


def uuid7_bytes(us: int) -> bytes:
    """The 16 bytes of a UUIDv7 for a microsecond timestamp (random tail)."""
    ms, sub = divmod(us, 1000)
    value = (ms << 80) | (0x7 << 76) | (sub << 64) | (0b10 << 62) | _rand.getrandbits(62)
    return value.to_bytes(16, "big")


def uuid7_from_micros(us: int) -> str:
    """The canonical UUIDv7 string for a microsecond timestamp (random tail)."""
    return _format(uuid7_bytes(us))


class MintedIds:
    """The ids :func:`mint` made that nobody has claimed yet, with the 16 bytes they were made of.

    Why: the bus's envelope ids are minted here from 16 bytes, and the store
    keeps exactly those 16 bytes (the id's time is the envelope's, so the row
    stores no time).  Parsing the text back costs about 1.4 µs an envelope, a
    sixth of a durable append; this hands the bytes over instead.

    The hand-over: :func:`mint` records every id it makes in :data:`MINTED`;
    whoever writes envelopes claims them with :meth:`claim`, once, and gets the
    bytes only for the envelope as minted (the same ``created_at`` object: a
    copy given another time must be stored with that time).  It is only a
    cache: an id never claimed, or claimed by no one, is parsed like any other
    id, and with no store taking them the ledger forgets them all at
    ``limit``.  Ids are minted and claimed on the event loop's thread.
    """

    __slots__ = ("_ids", "limit")

    def __init__(self, limit: int = 1 << 14) -> None:  # a writer lags by at most its batch
        self._ids: dict[str, tuple[bytes, datetime]] = {}
        self.limit = limit

    def __len__(self) -> int:
        return len(self._ids)

    def record(self, id_: str, raw: bytes, when: datetime) -> None:
        """Remember that ``id_`` was made from ``raw`` at ``when``."""
        ids = self._ids
        if len(ids) >= self.limit:  # nobody is claiming them (no store attached)
            ids.clear()
        ids[id_] = (raw, when)

    def claim(self, id_: str, created_at: datetime) -> bytes | None:
        """``id_``'s 16 bytes if it was minted here with ``created_at`` and not claimed yet."""
        minted = self._ids.pop(id_, None)
        if minted is None or minted[1] is not created_at:
            return None
        return minted[0]


MINTED = MintedIds()
"""This process's ledger of minted ids (see :class:`MintedIds`)."""


def mint() -> tuple[str, datetime]:
    """A fresh id and its time for an envelope the bus is about to publish.

    The id's bytes are recorded in :data:`MINTED` for the store to claim.
    """
    us = next_micros()
    raw = uuid7_bytes(us)
    id_ = _format(raw)
    when = _EPOCH + timedelta(0, 0, us)  # positional: a third faster than microseconds=
    MINTED.record(id_, raw, when)
    return id_, when


def new_id() -> str:
    """A fresh time-sortable unique id."""
    return uuid7_from_micros(next_micros())


def micros_to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def datetime_to_micros(dt: datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def id_micros(id_bytes: bytes) -> int | None:
    """The microsecond timestamp inside a UUIDv7's 16 bytes, or None if not v7."""
    if len(id_bytes) != 16 or (id_bytes[6] >> 4) != 7:
        return None
    value = int.from_bytes(id_bytes, "big")
    ms = value >> 80
    sub = (value >> 64) & 0xFFF
    if sub >= 1000:
        return None
    return ms * 1000 + sub


def bytes_to_id(raw: bytes) -> str:
    return _format(raw)


def _format(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
