"""The coordinator's checkpoints over time, kept as changes: what a fork at an earlier seq needs.

``room_state`` holds a room's newest coordinator checkpoint (all a resume
needs).  A fork at an earlier ``seq`` must continue with the coordinator as
it was *there*: whose turn came next, how far a plan had got, which strategy
ran.  Counting the log cannot tell that (a human's aside is no turn, a
skipped turn says nothing), so every checkpoint also leaves a row in
``room_state_changes``: the top-level keys that changed since the room's
previous row.  The first checkpoint a process queues for a room holds every
key, so rows written by several processes (a resumed room) still merge
right.  The termination counters and the stop reason are not kept: a fork
is a new run with a budget of its own (``agentroom.room.sessions``).

:class:`StateChanges` works out the change when a checkpoint is queued (in
queue order, which is the order the writer commits), so the writer only
encodes it; :func:`merge` puts the rows back together.
"""

from __future__ import annotations

import json
import marshal
from collections.abc import Iterable
from typing import Any

from agentroom.store.codec import freeze_state

NOT_KEPT = frozenset({"termination", "stopped"})
"""Keys a fork starts afresh, so no row records them (they change every turn)."""


def thaw(frozen: bytes | str) -> dict[str, Any]:
    """The state a :func:`~agentroom.store.codec.freeze_state` snapshot holds (a new copy)."""
    value = marshal.loads(frozen) if isinstance(frozen, bytes) else json.loads(frozen)
    return value if isinstance(value, dict) else {}


class StateChanges:
    """Per room, the last checkpoint queued, so the next one queues only what it changed."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {}

    def change(self, uid: str, seq: int, frozen: bytes | str) -> bytes | str | None:
        """The row to queue for the checkpoint ``frozen`` of room ``uid`` at ``seq``.

        None when it changes nothing a fork needs.  A second checkpoint at the
        same ``seq`` (a round settled with no vote, right after its turn) replaces
        that seq's row, so the row carries both changes.
        """
        now = thaw(frozen)
        kept = {k: v for k, v in now.items() if k not in NOT_KEPT}
        last = self._last.get(uid)
        if last is None or not last[1].keys() <= kept.keys():
            change = kept  # the first of this process, or keys went away: all of them
        else:
            before = last[1]
            change = {k: v for k, v in kept.items() if k not in before or before[k] != v}
            if last[0] == seq:
                change = last[2] | change
        self._last[uid] = (seq, kept, change)
        return freeze_state(change) if change else None

    def forget(self, uid: str) -> None:
        """The room is gone (deleted): its next checkpoint, if any, starts over whole."""
        self._last.pop(uid, None)


def merge(rows: Iterable[str]) -> dict[str, Any]:
    """The state that ``room_state_changes`` rows (JSON, in ``seq`` order) add up to."""
    state: dict[str, Any] = {}
    for text in rows:
        state.update(json.loads(text))
    return state
