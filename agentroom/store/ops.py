"""The records the store queues for its writer, by tag (an Envelope is queued as itself).

Each is a tuple whose first item is its tag; ``writer.py`` turns a batch of
them into one transaction.
"""

from __future__ import annotations

ROOM_NEW = "room_new"
ROOM_STATE = "room_state"
AGENT_SESSION = "agent_session"
HISTORY = "history"
CHECKPOINT = "checkpoint"
ROOM_CHECKPOINT = "room_checkpoint"
RELEASE = "release"
"""Let go of a room this store owns (the owner's row keeps its epoch)."""
TOKEN_USED = "token_used"
"""A token was used (its ``last_used_at``): queued, so checking one never waits on a commit."""

DROPPABLE = frozenset({ROOM_CHECKPOINT, RELEASE, TOKEN_USED})
"""Records that may be dropped, with a log line, when they cannot be written in any form."""
