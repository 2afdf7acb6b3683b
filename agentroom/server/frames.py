"""The frames of the wire protocol (docs/protocol.md): built here, read here, nowhere else.

Every frame is one JSON object with a ``type``.  A durable frame is exactly an
envelope's ``to_dict()``; the others (``hello``, ``state``, ``delta``,
``partial``, ``presence``, ``reply``, ``error``) are built by the functions
below, each returning the text to send, so a frame meant for many clients is
serialised once.  What a client sends is read by :func:`read_client`, which
turns anything unusable (not text, too big, not JSON, not an object, an
unknown type, a field of the wrong kind) into a :class:`FrameError` whose
message says what to send instead; nothing a client sends can raise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeGuard

from agentroom.core.chunk import StreamChunk
from agentroom.core.protocol import Envelope
from agentroom.core.text import one_line
from agentroom.room.state import RoomState

PROTOCOL = 1
"""The protocol's version: a change to docs/protocol.md changes it."""

SOFT_LIMIT = 256 * 1024
"""A client frame larger than this (in UTF-8 bytes) gets ``too_big`` and is not acted on."""
HARD_LIMIT = 4 * 1024 * 1024
"""A client frame larger than this closes the connection (1009; uvicorn's ``ws_max_size``)."""

CLIENT_TYPES = ("auth", "line", "interrupt", "typing", "older")
"""The frames a client may send (``decide`` comes with approvals)."""

OLDER_MOST = 200
"""Envelopes one ``older`` answer holds at most (a client asks again for more)."""
OLDER_BYTES = 1024 * 1024
"""Bytes of envelopes one ``older`` answer holds at most (it always holds one)."""

# Close codes (docs/protocol.md, "Close codes").
CLOSE_SHUTDOWN = 1000
CLOSE_BAD_REQUEST = 1008
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408

# Error codes.
BAD_FRAME = "bad_frame"
UNKNOWN_FRAME = "unknown_frame"
TOO_BIG = "too_big"
RATE_LIMITED = "rate_limited"
UNAUTHORIZED = "unauthorized"
TOO_SLOW = "too_slow"
BAD_SINCE = "bad_since"


def _dump(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


# -- from the server ------------------------------------------------------------------------


def durable(envelope: Envelope) -> str:
    """An envelope as its frame: exactly its ``to_dict()``."""
    return envelope.model_dump_json()


def older(frame_id: Any, envelopes: list[str]) -> str:
    """The answer to an ``older`` frame: ``envelopes`` are :func:`durable` texts, oldest first."""
    head = _dump({"type": "older", "id": frame_id, "envelopes": []})
    return f"{head[:-2]}{','.join(envelopes)}]}}"


def sse_event(envelope: Envelope, frame: str) -> str:
    """The same envelope as one Server-Sent Event (``frame`` is :func:`durable`'s text)."""
    return f"id: {envelope.seq}\nevent: envelope\ndata: {frame}\n\n"


def hello(you: str, session_id: str, last_seq: int, since: int, state: RoomState) -> str:
    return _dump(
        {
            "type": "hello",
            "protocol": PROTOCOL,
            "you": you,
            "session_id": session_id,
            "last_seq": last_seq,
            "since": since,
            "state": state.to_dict(),
        }
    )


def _streamed(kind: str, chunk: StreamChunk) -> str:
    return _dump(
        {
            "type": kind,
            "sender": chunk.sender,
            "turn": chunk.turn,
            "text": chunk.text,
            "model": chunk.model,
        }
    )


def delta(chunk: StreamChunk) -> str:
    """The next piece of a reply being streamed (never stored)."""
    return _streamed("delta", chunk)


def partial(chunk: StreamChunk) -> str:
    """A reply being streamed as a client joins: all its text so far."""
    return _streamed("partial", chunk)


def state(room: RoomState) -> str:
    return _dump({"type": "state", "state": room.to_dict()})


def presence(human: str, event: str, online: list[str]) -> str:
    return _dump({"type": "presence", "human": human, "event": event, "online": online})


def reply(frame_id: Any, ok: bool, text: str, seq: int | None) -> str:
    return _dump({"type": "reply", "id": frame_id, "ok": ok, "text": text, "seq": seq})


def error(code: str, message: str, frame_id: Any = None) -> str:
    """An ``error`` frame; ``message`` is one line that says what to do."""
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if frame_id is not None:
        body["id"] = frame_id
    return _dump(body)


# -- from the client ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientFrame:
    """A usable frame from a client: its ``type`` and the fields the server reads."""

    type: str
    id: Any = None
    """The client's own id for the frame (a string or a number), echoed in the answer."""
    text: str = ""
    """A ``line``'s text, or an ``auth`` frame's token."""
    before: int = 0
    """An ``older`` frame's: the envelopes wanted come before this seq."""
    limit: int = 0
    """An ``older`` frame's: how many at most (up to :data:`OLDER_MOST`)."""


@dataclass(frozen=True, slots=True)
class FrameError:
    """A frame the server cannot use: the ``error`` frame's code and message."""

    code: str
    message: str
    id: Any = None

    def frame(self) -> str:
        return error(self.code, self.message, self.id)


def read_client(data: str | bytes | None) -> ClientFrame | FrameError:
    """What a client's WebSocket message asks for, or why it cannot be used."""
    if not isinstance(data, str):
        return FrameError(BAD_FRAME, "send each frame as one JSON object in a text frame")
    if len(data) > SOFT_LIMIT // 4 and len(data.encode("utf-8", "surrogatepass")) > SOFT_LIMIT:
        return FrameError(
            TOO_BIG, f"a frame may hold at most {SOFT_LIMIT // 1024} KiB; send a shorter line"
        )
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return FrameError(BAD_FRAME, 'a frame must be a JSON object, such as {"type": "line"}')
    if not isinstance(body, dict):
        return FrameError(BAD_FRAME, 'a frame must be a JSON object with a "type"')
    frame_id = body.get("id")
    if not isinstance(frame_id, str | int | float) or isinstance(frame_id, bool):
        frame_id = None
    kind = body.get("type")
    if kind not in CLIENT_TYPES:
        shown = one_line(kind[:80], 40) if isinstance(kind, str) else repr(type(kind).__name__)
        return FrameError(
            UNKNOWN_FRAME,
            f"unknown frame type {shown}; send one of: {', '.join(CLIENT_TYPES)}",
            frame_id,
        )
    if kind in ("auth", "line"):
        field = "token" if kind == "auth" else "text"
        value = body.get(field)
        if not isinstance(value, str):
            return FrameError(BAD_FRAME, f'a {kind} frame needs "{field}": a string', frame_id)
        return ClientFrame(kind, frame_id, value)
    if kind == "older":
        before, limit = body.get("before"), body.get("limit", OLDER_MOST)
        if _count(before) and _count(limit):
            return ClientFrame(kind, frame_id, before=before, limit=min(limit, OLDER_MOST))
        return FrameError(
            BAD_FRAME,
            'an older frame needs "before": the seq to page back from, and '
            f'"limit": how many (1 to {OLDER_MOST}), both whole numbers',
            frame_id,
        )
    return ClientFrame(kind, frame_id)


def _count(value: object) -> TypeGuard[int]:
    """Whether ``value`` is a whole number a client may ask for (1 or more, not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 62
