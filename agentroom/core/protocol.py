"""The wire protocol: envelopes on the bus, and the per-agent records built from them.

Everything said or done in a room is an :class:`Envelope`.  An agent's own
view of the room is a list of :class:`Message` (its role view, as a model is
fed it), kept in a :class:`Session` namespaced by the agent's id.  These are
plain pydantic models with no I/O, so every other layer can depend on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from agentroom.core.errors import ProtocolError
from agentroom.core.events import Event
from agentroom.core.ids import mint, new_id
from agentroom.core.pydantic_fast import trusted
from agentroom.core.text import valid_data

BROADCAST = "*"
"""The receiver that means everyone in the room."""

ROOM = "room"
"""The sender of what the room itself says (bounces, stop reasons, errors)."""


class MessageType(StrEnum):
    MESSAGE = "message"
    """Something said in the room; other agents see it as dialogue."""
    ACTION = "action"
    """Something done: a tool call or result, a handoff, a delegation, a plan, a vote."""
    STATUS = "status"
    """What the room shows but no model is fed: turns, errors, usage, stop reasons."""


class Role(StrEnum):
    """The role a message plays in one agent's own view of the room."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class _Record(BaseModel):
    """Shared plumbing: dict round trips whose errors name the offending field."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    @field_validator("created_at", "updated_at", check_fields=False)
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict that :meth:`from_dict` turns back into an equal object."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ProtocolError.from_validation(cls.__name__.lower(), exc) from None


class Envelope(_Record):
    """One utterance on the bus: who said what to whom, and where it sits in the order.

    The bus, not the publisher, fills in ``id``, ``seq``, ``session_id``,
    ``created_at`` and ``sender`` when it publishes, so no agent can speak as
    another and the room has one total order.
    """

    sender: str = Field(min_length=1)
    receiver: str = Field(default=BROADCAST, min_length=1)
    content: str = ""
    type: MessageType = MessageType.MESSAGE
    id: str = Field(default_factory=new_id, min_length=1)
    seq: int | None = Field(default=None, ge=0)
    session_id: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    reply_to: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("sender", "receiver")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @property
    def route(self) -> str:
        """``sender``, or ``sender → receiver`` when not said to everyone: how rooms label it."""
        return self.sender if self.receiver == BROADCAST else f"{self.sender} → {self.receiver}"


class Message(_Record):
    """One entry in one agent's conversation, in that agent's role view.

    ``agent_id`` is who said it (the author), ``recipient_id`` whom it was for;
    ``envelope_id``/``seq`` point back at the envelope on the bus it came from.
    """

    role: Role
    content: str
    agent_id: str = Field(min_length=1)
    recipient_id: str = BROADCAST
    message_type: MessageType = MessageType.MESSAGE
    envelope_id: str | None = None
    seq: int | None = Field(default=None, ge=0)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @classmethod
    def from_envelope(cls, envelope: Envelope, role: Role) -> Message:
        """The message an agent records for an envelope it saw (trusted: no re-validation)."""
        return trusted(
            cls,
            {
                "role": role,
                "content": envelope.content,
                "agent_id": envelope.sender,
                "recipient_id": envelope.receiver,
                "message_type": envelope.type,
                "envelope_id": envelope.id,
                "seq": envelope.seq,
                "created_at": envelope.created_at,
                "metadata": envelope.metadata,
            },
        )


class Session(_Record):
    """One agent's session in one room: the namespace its history lives in."""

    id: str = Field(default_factory=new_id, min_length=1)
    session_id: str = Field(min_length=1)
    agent_id: str = Field(min_length=1)
    title: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


_METADATA = TypeAdapter(dict[str, JsonValue])


_PLAIN = frozenset({str, int, float, bool, type(None), Event})


def check_metadata(metadata: Any) -> dict[str, Any]:
    """Validate metadata as JSON-serialisable, with valid text; the error names the key.

    Nearly all metadata is flat (an event name, a few counts and ASCII labels):
    a dict of exactly-typed scalars needs no validator, only a copy (~4x faster,
    and it runs twice per turn).  Anything else goes through pydantic, and then
    every string in it is made valid Unicode (see :mod:`agentroom.core.text`).
    An :class:`~agentroom.core.events.Event` becomes its plain string either way,
    so a live envelope holds exactly what is stored and sent.
    """
    if metadata.__class__ is dict:
        plain = _PLAIN
        for key, value in metadata.items():
            if (
                key.__class__ is not str
                or value.__class__ not in plain
                or not key.isascii()
                or (value.__class__ is str and not value.isascii())
            ):
                break
        else:
            plain_copy = dict(metadata)
            event = plain_copy.get("event")
            if event.__class__ is Event:
                plain_copy["event"] = event._value_  # .value is a slow property
            return plain_copy
    try:
        checked = _METADATA.validate_python(metadata)
    except ValidationError as exc:
        raise ProtocolError.from_validation("metadata", exc) from None
    return valid_data(checked)  # type: ignore[no-any-return]


def trusted_envelope(
    sender: str,
    receiver: str,
    content: str,
    kind: MessageType,
    seq: int,
    session_id: str,
    reply_to: str | None,
    metadata: dict[str, Any],
) -> Envelope:
    """An envelope minted now from already-validated fields (the bus's publish path).

    Its id's bytes go to the store through ``ids.MINTED`` (see ``ids.MintedIds``).
    """
    id_, created_at = mint()
    return trusted(
        Envelope,
        {
            "sender": sender,
            "receiver": receiver,
            "content": content,
            "type": kind,
            "id": id_,
            "seq": seq,
            "session_id": session_id,
            "created_at": created_at,
            "reply_to": reply_to,
            "metadata": metadata,
        },
    )


def stored_envelope(values: dict[str, Any]) -> Envelope:
    """An envelope rebuilt from the store's own rows (trusted, all fields present)."""
    return trusted(Envelope, values)
