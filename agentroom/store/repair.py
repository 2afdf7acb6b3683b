"""A record SQLite refused, made into one it will take, so that the log has no gap.

The bus makes text valid on the way in, but the writer must never be stopped
by one record whatever slipped past (a record queued around the bus, metadata
JSON cannot hold, a string with a lone surrogate).  An envelope keeps its
``seq``, sender, receiver, type and time; its text is made valid, and its
metadata is made valid too or, if it still cannot be encoded, replaced by a
note of what was wrong.  Other records are repaired the same way where they
can be; a coordinator checkpoint that cannot be saved is dropped (the next
turn writes another).
"""

from __future__ import annotations

from typing import Any

from agentroom.core.protocol import Envelope
from agentroom.core.text import one_line, valid_data, valid_text
from agentroom.store.codec import encode_metadata
from agentroom.store.ops import DROPPABLE

REPAIRED = "repaired"
"""The metadata key of an envelope saved in a repaired form: what was wrong."""


def repaired(op: Any, exc: BaseException) -> Any | None:
    """The repaired form of ``op`` (a queued record), or None if it is better dropped."""
    why = one_line(f"{type(exc).__name__}: {exc}")
    if op.__class__ is Envelope:
        return _envelope(op, why)
    if op[0] in DROPPABLE:
        return None
    return tuple(valid_text(v) if isinstance(v, str) else v for v in op)


def _envelope(env: Envelope, why: str) -> Envelope:
    metadata: dict[str, Any]
    try:
        metadata = valid_data(env.metadata)
        encode_metadata(metadata)
    except Exception as exc:  # JSON cannot hold it: say so instead of losing the envelope
        event = env.metadata.get("event") if isinstance(env.metadata, dict) else None
        metadata = {"event": valid_text(event)} if isinstance(event, str) else {}
        metadata[REPAIRED] = f"metadata not saved ({one_line(str(exc), 120)}); {why}"
    else:
        metadata = {**metadata, REPAIRED: why}
    return env.model_copy(
        update={
            "sender": valid_text(env.sender),
            "receiver": valid_text(env.receiver),
            "content": valid_text(env.content),
            "id": valid_text(env.id),
            "reply_to": None if env.reply_to is None else valid_text(env.reply_to),
            "metadata": metadata,
        }
    )
