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

:class:`StateChanges` works out the change, and encodes it, when a
checkpoint is queued (in queue order, which is the order the writer
commits); :func:`merge` puts the rows back together.
"""

from __future__ import annotations

import json
import logging
import marshal
from collections.abc import Iterable
from typing import Any

from agentroom.store.codec import encode_state

log = logging.getLogger(__name__)

NOT_KEPT = frozenset({"termination", "stopped"})
"""Keys a fork starts afresh, so no row records them (they change every turn)."""


def _snapshot(change: dict[str, Any], text: str) -> dict[str, Any]:
    """A copy of ``change`` that later changes to its objects cannot reach."""
    try:
        value = marshal.loads(marshal.dumps(change))
    except ValueError:  # not plain builtins (an enum member, say): as JSON has it
        value = json.loads(text)
    return value if isinstance(value, dict) else {}


class StateChanges:
    """Per room, what its checkpoints hold so far, so the next one queues only what it changed.

    Only the changed keys are copied and encoded (the checkpoint's whole state is
    frozen for ``room_state`` anyway): a turn adds a few microseconds, not a second
    copy of the state.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {}

    def change(self, uid: str, seq: int, state: dict[str, Any]) -> str | None:
        """The JSON row to queue for checkpoint ``state`` of room ``uid`` at ``seq``.

        None when it changes nothing a fork needs.  A second checkpoint at the
        same ``seq`` (a round settled with no vote, right after its turn) replaces
        that seq's row, so the row carries both changes.  A state JSON cannot hold
        leaves no row, and the room's next checkpoint queues all of itself.
        """
        last = self._last.get(uid)
        if last is None or not last[1].keys() <= state.keys():
            before: dict[str, Any] = {}  # the first of this process, or keys went away
            change = {k: v for k, v in state.items() if k not in NOT_KEPT}
        else:
            before = last[1]
            change = {
                k: v
                for k, v in state.items()
                if k not in NOT_KEPT and (k not in before or before[k] != v)
            }
            if last[0] == seq:
                change = last[2] | change
        if not change:
            return None
        try:
            text = encode_state(change)
        except (TypeError, ValueError) as exc:
            log.error("room %s: what the checkpoint at seq %s changed not kept: %s", uid, seq, exc)
            self._last.pop(uid, None)
            return None
        snapshot = _snapshot(change, text)
        self._last[uid] = (seq, before | snapshot, snapshot)
        return text

    def forget(self, uid: str) -> None:
        """The room is gone (deleted): its next checkpoint, if any, starts over whole."""
        self._last.pop(uid, None)


def merge(rows: Iterable[str]) -> dict[str, Any]:
    """The state that ``room_state_changes`` rows (JSON, in ``seq`` order) add up to."""
    state: dict[str, Any] = {}
    for text in rows:
        state.update(json.loads(text))
    return state
