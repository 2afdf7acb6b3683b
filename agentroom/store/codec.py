"""Envelopes to rows and back, compactly and exactly.

Ids minted by the bus are UUIDv7 with the creation microsecond inside, so the
row keeps 16 bytes of id and a ``created`` offset of 0 (stored in no bytes at
all); their bytes are claimed from the ids module's ledger of minted ids
(``ids.MINTED``) rather than parsed back from the text.  Any other id is kept
as text with an absolute ``created``, so foreign envelopes still round-trip
exactly.

The coordinator's checkpoint is taken after every turn but only the newest
one per batch is written, so it is queued as a frozen copy (:func:`freeze_state`,
a ``marshal`` snapshot: ~1 µs, a fifth of encoding it) and made JSON text by the
writer (:func:`state_text`) only if it is the one written.
"""

from __future__ import annotations

import json
import marshal
from typing import Any

from agentroom.core.ids import (
    MINTED,
    bytes_to_id,
    datetime_to_micros,
    id_micros,
    micros_to_datetime,
)
from agentroom.core.protocol import Envelope, MessageType, Role, stored_envelope

TYPE_CODE = {MessageType.MESSAGE: 0, MessageType.ACTION: 1, MessageType.STATUS: 2}
CODE_TYPE = {code: kind for kind, code in TYPE_CODE.items()}

ROLE_CODE = {Role.SYSTEM: 0, Role.USER: 1, Role.ASSISTANT: 2, Role.TOOL: 3}
CODE_ROLE = {code: role for role, code in ROLE_CODE.items()}
RESTORE_MARKER = 9
"""A history row that moves the agent's head back to a checkpoint (``prev``)."""

_HEX = frozenset("0123456789abcdef")

# One encoder each, built once: ``json.dumps`` with any keyword builds a new
# ``JSONEncoder`` per call (same output; ``.encode`` keeps no state between calls).
_encode_metadata = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# Room checkpoints are ASCII (non-ASCII as escapes), byte for byte as they always were.
_encode_state = json.JSONEncoder(separators=(",", ":")).encode


def id_bytes(value: str) -> bytes | None:
    """16 bytes for a canonical lowercase UUID string; None keeps the id as text."""
    if (
        len(value) != 36
        or value[8] != "-"
        or value[13] != "-"
        or value[18] != "-"
        or value[23] != "-"
    ):
        return None
    hex_digits = value.replace("-", "")
    if not _HEX.issuperset(hex_digits):
        return None
    return bytes.fromhex(hex_digits)


def encode_id(value: str) -> bytes | str:
    raw = id_bytes(value)
    return value if raw is None else raw


def decode_id(value: bytes | str) -> str:
    return bytes_to_id(value) if isinstance(value, bytes) else value


def encode_metadata(metadata: dict[str, Any]) -> str | None:
    if not metadata:
        return None
    return _encode_metadata(metadata)


def decode_metadata(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def freeze_state(state: dict[str, Any]) -> bytes | str:
    """A copy of ``state`` as it is now, which later changes to ``state`` cannot reach.

    Plain JSON data (dicts, lists, str, int, float, bool, None, exactly those
    types) is snapshotted with ``marshal``; anything else (an enum member, a
    dict subclass, an object JSON cannot hold) is encoded right away, so an
    object JSON refuses still raises here, in the caller.
    """
    try:
        return marshal.dumps(state)
    except ValueError:  # "unmarshallable object": not plain builtins
        return _encode_state(state)


def encode_state(state: dict[str, Any]) -> str:
    """A room checkpoint's JSON text (compact, non-ASCII as escapes)."""
    return _encode_state(state)


def state_text(frozen: bytes | str) -> str:
    """The JSON text of a :func:`freeze_state` snapshot (the writer calls this).

    Raises ``TypeError``/``ValueError`` for a snapshot JSON cannot hold: one
    that ``marshal`` took but JSON does not (a set, bytes, a circular list).
    """
    if isinstance(frozen, str):
        return frozen
    return _encode_state(marshal.loads(frozen))


def envelope_row(room: int, env: Envelope, sender: int, receiver: int) -> tuple[Any, ...]:
    uid: bytes | str | None = MINTED.claim(env.id, env.created_at)
    if uid is not None:
        created = 0  # the bus's own id: its time is the creation time
    else:
        us = datetime_to_micros(env.created_at)
        raw = id_bytes(env.id)
        if raw is not None and (stamp := id_micros(raw)) is not None:
            uid, created = raw, us - stamp
        else:
            uid = env.id if raw is None else raw
            created = us
    return (
        room,
        env.seq,
        uid,
        sender,
        receiver,
        TYPE_CODE[env.type],
        env.content,
        created,
        None if env.reply_to is None else encode_id(env.reply_to),
        encode_metadata(env.metadata),
    )


def row_envelope(
    session_id: str,
    names: dict[int, str],
    seq: int,
    uid: bytes | str,
    sender: int,
    receiver: int,
    kind: int,
    content: str,
    created: int,
    reply_to: bytes | str | None,
    metadata: str | None,
) -> Envelope:
    if isinstance(uid, bytes):
        stamp = id_micros(uid)
        created_us = created if stamp is None else stamp + created
        id_ = bytes_to_id(uid)
    else:
        created_us = created
        id_ = uid
    return stored_envelope(
        {
            "sender": names[sender],
            "receiver": names[receiver],
            "content": content,
            "type": CODE_TYPE[kind],
            "id": id_,
            "seq": seq,
            "session_id": session_id,
            "created_at": micros_to_datetime(created_us),
            "reply_to": None if reply_to is None else decode_id(reply_to),
            "metadata": decode_metadata(metadata),
        }
    )
