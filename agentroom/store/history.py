"""Reads that give a window or a chunk, never a whole session: histories, envelopes, usage.

An agent's history is a chain of positions (``schema.py`` says how it is
stored): runs of references to envelopes, and restore markers that send the
chain back to an earlier position.  What an agent sees is that chain walked
back from its newest position.  A room keeps only the newest part of each
chain in memory, so these reads give what it needs when it needs it: the
newest references of a chain, the positions after some point, the chain's
length, or the whole chain in order a chunk at a time; and the envelopes those
references name, decoded once each.  The usage totals of a session are summed
by SQLite rather than by decoding every ``status`` envelope.

:class:`HistoryReads` is part of :class:`~agentroom.store.SqliteStore`; it
only reads, and like every read it first waits for what is queued to be
written (``flush``), so it sees everything said so far.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from agentroom.core.errors import SessionNotFoundError
from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType
from agentroom.store.codec import RESTORE_MARKER, TYPE_CODE, row_envelope
from agentroom.store.statements import one

if TYPE_CHECKING:
    import aiosqlite

    from agentroom.store.writer import GroupCommitWriter

Ref = tuple[int, int, int | None]
"""One position of an agent's history: (position, envelope seq, role code or None)."""

Node = tuple[int, int | None, int | None, int | None]
"""One stored position: (position, seq, role code, prev); a restore marker has no seq."""

UsageRow = tuple[str, int, int, int, float, int, int]
"""Per agent: (agent, calls, prompt tokens, completion tokens, known cost, unpriced, estimated)."""

_IN_CHUNK = 900  # seqs per ``IN (...)``: well under SQLite's variable limit
_STATUS = TYPE_CODE[MessageType.STATUS]

_ENVELOPE_COLUMNS = "seq, uid, sender, receiver, type, content, created, reply_to, metadata"

_USAGE = """
SELECT coalesce(nullif(json_extract(e.metadata, '$.agent'), ''), p.name) AS agent,
       count(*),
       sum(CAST(coalesce(json_extract(e.metadata, '$.prompt_tokens'), 0) AS INTEGER)),
       sum(CAST(coalesce(json_extract(e.metadata, '$.completion_tokens'), 0) AS INTEGER)),
       total(json_extract(e.metadata, '$.cost_usd')),
       sum(json_extract(e.metadata, '$.cost_usd') IS NULL),
       sum(coalesce(json_extract(e.metadata, '$.estimated'), 0) NOT IN (0, '', '[]', '{}'))
FROM envelopes e JOIN participants p ON p.room = e.room AND p.idx = e.sender
WHERE e.room = ? AND e.type = ? AND e.seq <= ?
  AND json_extract(e.metadata, '$.event') = ?
GROUP BY agent
"""


class HistoryReads:
    """The windowed reads of :class:`~agentroom.store.SqliteStore`; see the module docstring."""

    _writer: GroupCommitWriter

    if TYPE_CHECKING:

        @property
        def _db(self) -> aiosqlite.Connection: ...

        async def flush(self) -> None: ...
        async def _room_key(self, uid: str) -> int: ...
        async def _names(self, room_key: int) -> dict[int, str]: ...

    async def _session_key(self, uid: str) -> int:
        await self.flush()
        known = self._writer.keys.agent_sessions
        return await self._key_of("agent_sessions", uid, known, "agent session")

    async def _key_of(self, table: str, uid: str, known: dict[str, int], what: str) -> int:
        """The integer key of row ``uid`` of ``table`` (a room or an agent session)."""
        key = known.get(uid)
        if key is not None:
            return key
        async with self._db.execute(f"SELECT id FROM {table} WHERE uid = ?", (uid,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise SessionNotFoundError(f"no saved {what} {uid!r}")
        return int(row[0])

    async def history_end(self, session_uid: str) -> int:
        """The position an agent's next history entry takes (0 for an empty history)."""
        key = await self._session_key(session_uid)
        async with self._db.execute(
            "SELECT pos + coalesce(n, 1) FROM history WHERE agent_session = ? "
            "ORDER BY pos DESC LIMIT 1",
            (key,),
        ) as cur:
            row = await cur.fetchone()
        return 0 if row is None else row[0]

    async def history_nodes(self, session_uid: str, start: int) -> list[Node]:
        """Every stored position from ``start`` on, runs expanded, in order (markers too)."""
        key = await self._session_key(session_uid)
        async with self._db.execute(
            "SELECT pos, seq, coalesce(n, 1), role, prev FROM history WHERE agent_session = ? "
            "AND pos >= coalesce((SELECT max(pos) FROM history WHERE agent_session = ? "
            "AND pos <= ?), 0) ORDER BY pos",
            (key, key, start),
        ) as cur:
            rows = list(await cur.fetchall())
        out: list[Node] = []
        for pos, seq, n, role, prev in rows:
            for p in range(max(pos, start), pos + n):
                out.append((p, None if seq is None else seq + p - pos, role, prev))
        return out

    async def history_chain(self, session_uid: str, head: int, want: int) -> tuple[list[Ref], bool]:
        """Up to ``want`` references of the chain ending at position ``head``, newest first.

        Restore markers are followed as they are met.  Also says whether the
        chain's beginning was reached (nothing older is left).
        """
        key = await self._session_key(session_uid)
        out: list[Ref] = []
        p = head
        while p >= 0 and len(out) < want:
            async with self._db.execute(
                "SELECT pos, seq, coalesce(n, 1), role, prev FROM history "
                "WHERE agent_session = ? AND pos <= ? ORDER BY pos DESC LIMIT ?",
                (key, p, want - len(out) + 1),
            ) as cur:
                rows = list(await cur.fetchall())
            if not rows:
                p = -1
                break
            for pos, seq, n, role, prev in rows:
                if role == RESTORE_MARKER:
                    target = -1 if prev is None else prev
                    p = target if target < pos else -1  # a chain only ever goes back
                    break
                if seq is not None:
                    for q in range(min(pos + n - 1, p), pos - 1, -1):
                        if len(out) == want:
                            return out, False
                        out.append((q, seq + q - pos, role))
                p = pos - 1
        return out, p < 0

    async def history_segments(self, session_uid: str, head: int) -> list[tuple[int, int, int]]:
        """The chain ending at ``head`` as position ranges, oldest first: (first, last, refs).

        One range per restore on the chain; its length is the sum of the
        references in the ranges (computed by SQLite from the run rows).
        """
        key = await self._session_key(session_uid)
        out: list[tuple[int, int, int]] = []
        p = head
        while p >= 0:
            async with self._db.execute(
                "SELECT pos, prev FROM history WHERE agent_session = ? AND pos <= ? AND role = ? "
                "ORDER BY pos DESC LIMIT 1",
                (key, p, RESTORE_MARKER),
            ) as cur:
                marker = await cur.fetchone()
            first = 0 if marker is None else marker[0] + 1
            if first <= p:
                async with self._db.execute(
                    "SELECT sum(min(pos + coalesce(n, 1) - 1, ?) - pos + 1) FROM history "
                    "WHERE agent_session = ? AND pos BETWEEN ? AND ? AND seq IS NOT NULL",
                    (p, key, first, p),
                ) as cur:
                    (count,) = one(await cur.fetchone())
                out.append((first, p, count or 0))
            if marker is None:
                break
            target = -1 if marker[1] is None else marker[1]
            p = target if target < marker[0] else -1
        out.reverse()
        return out

    async def history_length(self, session_uid: str, head: int) -> int:
        """How many references the chain ending at ``head`` holds."""
        return sum(count for _, _, count in await self.history_segments(session_uid, head))

    async def history_range(
        self, session_uid: str, first: int, last: int, *, chunk: int = 2000
    ) -> AsyncIterator[list[Ref]]:
        """The references at positions ``first..last`` (no markers there), in order, in chunks."""
        key = await self._session_key(session_uid)
        p = first
        while p <= last:
            async with self._db.execute(
                "SELECT pos, seq, coalesce(n, 1), role FROM history WHERE agent_session = ? "
                "AND pos BETWEEN ? AND ? AND seq IS NOT NULL ORDER BY pos LIMIT ?",
                (key, p, last, chunk),
            ) as cur:
                rows = list(await cur.fetchall())
            if not rows:
                return
            refs: list[Ref] = []
            for pos, seq, n, role in rows:
                refs.extend((q, seq + q - pos, role) for q in range(pos, min(pos + n, last + 1)))
            yield refs
            p = rows[-1][0] + rows[-1][2]

    async def envelopes_by_seq(self, uid: str, seqs: Iterable[int]) -> dict[int, Envelope]:
        """The room's envelopes with these seqs (what histories name: a bounce status too)."""
        await self.flush()
        key = await self._room_key(uid)
        names = await self._names(key)
        wanted = sorted(set(seqs))
        out: dict[int, Envelope] = {}
        for i in range(0, len(wanted), _IN_CHUNK):
            part = wanted[i : i + _IN_CHUNK]
            marks = ", ".join("?" * len(part))
            async with self._db.execute(
                f"SELECT {_ENVELOPE_COLUMNS} FROM envelopes WHERE room = ? AND seq IN ({marks})",
                (key, *part),
            ) as cur:
                for row in await cur.fetchall():
                    out[row[0]] = row_envelope(uid, names, *row)
        return out

    async def usage_totals(self, uid: str, *, first: int | None = None) -> list[UsageRow]:
        """Token usage per agent, summed by SQLite over the room's ``usage`` statuses.

        ``first``: only over the room's first N envelopes (what ``sessions show
        --limit N`` shows).  No envelope is decoded.
        """
        await self.flush()
        key = await self._room_key(uid)
        upto = 1 << 62
        if first is not None:
            async with self._db.execute(
                "SELECT seq FROM envelopes WHERE room = ? ORDER BY seq LIMIT 1 OFFSET ?",
                (key, max(0, first - 1)),
            ) as cur:
                row = await cur.fetchone()
            if first <= 0:
                return []
            if row is not None:
                upto = row[0]
        async with self._db.execute(_USAGE, (key, _STATUS, upto, Event.USAGE)) as cur:
            rows: list[Any] = list(await cur.fetchall())
        return [(str(agent), *counts) for agent, *counts in rows]
