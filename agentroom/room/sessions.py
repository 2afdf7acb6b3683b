"""The sessions service: the one way an interface reaches saved sessions.

The CLI, the TUI (and later a room server and its web page) list, show,
read, export, fork and delete saved sessions through :class:`Sessions` and
nothing else: interfaces never open the store, so what a session *is* to a
user (a fork's title, what it keeps, how its coordinator resumes) is decided
once, here, and every SQL statement stays in ``store/``.

``async with await Sessions.open(db) as sessions:`` opens the database for
these uses and closes it after; a live room lends its own store instead
(:attr:`agentroom.room.live.LiveRoom.sessions`), so a room can export or fork
itself while it runs without a second connection.

A fork is a new room whose log is a copy of another room's log up to one
``seq``: same numbers, senders, receivers, contents, types, times and
metadata, new ids (``reply_to`` follows the copies).  Every agent's own
conversation is its history cut at the fork point, and the coordinator's
checkpoint is the one it had there (whose turn came next, how far a plan had
got), so ``agentroom resume`` continues the fork at ``seq + 1`` with the same
workflow, as the source would have gone on had it stopped right there.  Nothing in the source room
is touched.  The copy is the store's, in one transaction (a crash mid-fork
leaves the whole fork or nothing); what the coordinator's saved state means
at the fork point is coordination knowledge, which the store cannot have, so
it is this module's :func:`state_at_fork`, handed to the store's transaction.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from agentroom.core.protocol import Envelope
from agentroom.core.records import RoomInfo
from agentroom.room.export import Write, export_to_file, write_export
from agentroom.room.service import StoreService
from agentroom.room.usage import UsageLedger
from agentroom.store.forking import Counted

KEPT_METADATA = ("workflow", "workflow_path", "model")
"""What a fork keeps of its source room's metadata: enough to resume it the same way.
Not the sampling seed: a fork is another run, and samples anew (it gets its own seed)."""


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One saved session as ``sessions show`` heads it: the room and its token usage."""

    room: RoomInfo
    usage: UsageLedger

    def to_dict(self) -> dict[str, Any]:
        return self.room.to_dict() | {"usage": self.usage.to_dict()}


class Sessions(StoreService):
    """Saved sessions in one database; see the module docstring.

    Built on a store it borrows (a live room's), or by :meth:`open`, which
    opens one and closes it with the service.  Session ids may be unique
    prefixes where a person types them (:meth:`find`, :meth:`show`,
    :meth:`export`, :meth:`fork`, :meth:`delete`); the readers take the full
    id that :meth:`find` returned, as they are called again and again.
    """

    @classmethod
    async def open(cls, db: str | os.PathLike[str], *, create: bool = True) -> Sessions:
        """Open the database at ``db`` for the sessions in it, creating it if needed.

        With ``create`` False a missing file is :class:`NoDatabaseError` and stays
        missing: a command that only reads (``sessions list``) must not leave an
        empty database behind wherever it looked.
        """
        return await cls._opened(
            db,
            create=create,
            missing="no saved sessions: there is no database at {where} (run 'agentroom' to "
            "start a session there, or pass --db with another file)",
        )

    # -- listing and showing ------------------------------------------------------------------

    async def recent(self, limit: int | None = None, *, metadata: bool = False) -> list[RoomInfo]:
        """The saved sessions, most recently active first: all, or the ``limit`` latest.

        Their metadata (a whole workflow each) is read only if asked for.
        """
        return await self._store.list_rooms(limit, metadata=metadata)

    async def find(self, session_id: str) -> RoomInfo:
        """One session by id or unique id prefix; ``SessionNotFoundError`` says what matched."""
        return await self._store.get_room(session_id)

    async def show(self, session_id: str, *, first: int | None = None) -> SessionSummary:
        """A session and its usage totals (over its ``first`` envelopes only, if given)."""
        room = await self.find(session_id)
        usage = UsageLedger.of_totals(await self._store.usage_totals(room.id, first=first))
        return SessionSummary(room, usage)

    # -- reading ------------------------------------------------------------------------------

    async def last_seq(self, session_id: str) -> int:
        """The ``seq`` of the session's last envelope (0 if it has none)."""
        return await self._store.last_seq(session_id)

    def read(
        self, session_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> AsyncIterator[Envelope]:
        """The session's envelopes after ``after_seq``, in ``seq`` order, read a chunk at a time."""
        return self._store.read_envelopes(session_id, after_seq=after_seq, limit=limit)

    async def read_before(self, session_id: str, before_seq: int, count: int) -> list[Envelope]:
        """The ``count`` envelopes just before ``before_seq``, oldest first (paging back)."""
        return await self._store.read_envelopes_before(session_id, before_seq, count)

    # -- exporting ----------------------------------------------------------------------------

    async def export(
        self, session_id: str, fmt: str, write: Write, *, routine: str = "fold"
    ) -> int:
        """Write a session out in ``fmt`` (see :mod:`agentroom.room.export`), as it is read;
        returns how many envelopes were written.  ``routine``: what Markdown does with
        the routine status lines (``fold``, ``show``, ``hide``)."""
        room = await self.find(session_id)
        return await write_export(room, self.read(room.id), fmt, write, routine)

    async def export_to_file(
        self,
        session_id: str,
        fmt: str,
        path: str | os.PathLike[str],
        *,
        routine: str = "fold",
    ) -> int:
        """Write a session to ``path``, whole or not at all, readable by its owner only."""
        room = await self.find(session_id)
        return await export_to_file(room, self.read(room.id), fmt, path, routine)

    # -- forking and deleting -----------------------------------------------------------------

    async def fork(self, session_id: str, upto_seq: int, *, title: str | None = None) -> str:
        """Copy a session up to ``upto_seq`` into a new one; returns the new session's id.

        The fork is ``stopped``, ready to be resumed.  ``upto_seq`` may be 0 (an
        empty room with the same workflow) up to the source's last ``seq``.
        """
        source = await self.find(session_id)
        sid = source.id
        last = await self._store.last_seq(sid)
        if not 0 <= upto_seq <= last:
            raise ValueError(
                f"session {sid} has envelopes #1 to #{last}; cannot fork it at #{upto_seq}"
            )
        metadata: dict[str, Any] = {"forked_from": {"session": sid, "seq": upto_seq}}
        metadata.update({k: source.metadata[k] for k in KEPT_METADATA if k in source.metadata})
        name = title if title is not None else f"{source.title or sid[:18]} (fork at #{upto_seq})"
        return await self._store.fork_room(
            sid,
            upto_seq,
            title=name,
            metadata=metadata,
            move_state=partial(state_at_fork, upto_seq=upto_seq, metadata=source.metadata),
        )

    async def delete(self, session_id: str, *, force: bool = False) -> None:
        """Delete a session and everything in it, in one transaction.

        Its envelopes, participants, agent sessions with their histories and
        checkpoints, the coordinator's checkpoint, its owner's record and the
        room itself go.  A session that is running (its owner alive) is
        refused with ``SessionBusyError`` unless ``force``.  Forks of it are
        copies and stay.
        """
        room = await self.find(session_id)
        await self._store.delete_room(room.id, force=force)


# -- the coordinator at a fork point ------------------------------------------------------------


def state_at_fork(
    state: dict[str, Any],
    counted: Counted | None,
    *,
    upto_seq: int,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """The coordinator's checkpoint for a fork at ``upto_seq``.

    ``state`` is the source's checkpoint as it was at the fork point (the
    store puts it together from the changes it kept), with ``counted`` None.
    A fork is a new run: the termination conditions get a new budget and
    nothing is stopped; everything else carries on exactly (whose turn is
    next, the plan's progress, the strategy, the shared memory's open round).

    A room saved before the changes were kept gives its newest checkpoint and
    ``counted``: the turns and the last speaker up to the fork point as the
    log counts them (messages said), and its agents; ``metadata`` (the source
    room's, whose workflow says the round-robin order) then moves the
    round-robin cursor, the shared memory's open round keeps only the writes
    made before the fork, and no human's line waits for an answer (the
    source's may have come after it).  That is as near as a count can get.
    """
    state = dict(state)
    state["stopped"] = None
    state["termination"] = {}
    if counted is None:
        return state
    state["turns"] = counted.turns
    state["last_speaker"] = last_speaker = counted.last_speaker
    state["addressed"] = []
    memory = state.get("memory")
    if isinstance(memory, dict) and isinstance(memory.get("round"), dict):
        state["memory"] = memory | {
            "round": {
                key: [w for w in writes if w[2] <= upto_seq]
                for key, writes in memory["round"].items()
            }
        }
    if state.get("strategy") == "round-robin":
        order = _round_robin_order(metadata) or counted.agents
        cursor = 0
        if last_speaker is not None and last_speaker in order:
            cursor = (order.index(last_speaker) + 1) % len(order)
        state["strategy_state"] = {**(state.get("strategy_state") or {}), "cursor": cursor}
    return state


def _round_robin_order(metadata: dict[str, Any]) -> list[str]:
    workflow = metadata.get("workflow")
    if not isinstance(workflow, dict):
        return []
    order = (workflow.get("strategy") or {}).get("order")
    if order:
        return [str(name) for name in order]
    ids = [a.get("id") for a in workflow.get("agents") or []]
    ids += [h.get("id", "human") for h in workflow.get("humans") or []]
    return [str(name) for name in ids if name]
