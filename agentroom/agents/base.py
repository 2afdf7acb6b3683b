"""The agent abstraction: an id, a role, settings, and a way to take a turn.

An agent never touches the bus or the store directly.  The engine binds it to
an :class:`~agentroom.bus.AgentHandle` (so it can only ever speak as itself)
and to its own :class:`~agentroom.conversation.ConversationSystem` (so it only
ever reads what it saw).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from agentroom.bus import PARTICIPANT_ID
from agentroom.core.errors import InvalidParticipantError
from agentroom.core.protocol import BROADCAST, Envelope, Message, MessageType
from agentroom.models.types import NO_HINTS, Hints

if TYPE_CHECKING:
    from agentroom.bus import AgentHandle
    from agentroom.conversation import ContextWindow, ConversationSystem


class AgentSettings(BaseModel):
    """Per-agent knobs; the model-related ones are read by model-backed agents."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    system_prompt: str = ""
    max_context_messages: int = Field(default=50, ge=1)
    max_context_chars: int = Field(default=32_000, ge=1)
    turn_timeout: float | None = Field(default=None, gt=0)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    """What an agent wants to say on its turn; the bus turns it into an envelope."""

    content: str
    to: str = BROADCAST
    type: MessageType = MessageType.MESSAGE
    reply_to: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, value: Reply | str) -> Reply:
        if isinstance(value, Reply):
            return value
        if isinstance(value, str):
            return cls(value)
        raise TypeError(f"an agent's reply must be a str or Reply, not {type(value).__name__}")


@dataclass(slots=True)
class TurnControl:
    """What the room may ask of a running turn; the engine sets it, the agent reads it.

    An interrupt is delivered as a cancellation of the task running the turn
    (so a model stream stops at once, wherever it is waiting).  Whoever ends
    the turn because of it calls :meth:`absorb_interrupt`, which tells a room
    interrupt (absorbed: the turn ends normally with what it had) from any
    other cancellation (which must go on up).
    """

    interrupted: bool = False
    requested: int = 0

    def absorb_interrupt(self) -> bool:
        task = asyncio.current_task()
        if not self.interrupted or task is None or task.cancelling() > self.requested:
            return False
        while task.cancelling():
            task.uncancel()
        self.requested = 0
        return True


@dataclass(frozen=True, slots=True)
class Address:
    """Where a turn's reply goes when it is not an ordinary message to everyone.

    Delegations, sub-agent answers, votes and plans are replies too, but they
    are ``action`` envelopes addressed to someone, tagged in their metadata.
    """

    receiver: str = BROADCAST
    type: MessageType = MessageType.MESSAGE
    metadata: dict[str, Any] = field(default_factory=dict)
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """What an agent is given when it is its turn: its own bounded view of the room.

    ``hints`` are for the model backend (what kind of answer is wanted, such as
    a plan or a choice among names; see :class:`~agentroom.models.types.Hints`);
    ``address`` says where the reply goes.
    """

    agent_id: str
    session_id: str
    messages: list[Message]
    task: str = ""
    control: TurnControl = field(default_factory=TurnControl)
    hints: Hints = NO_HINTS
    address: Address | None = None
    seed: int | None = None
    """The sampling seed for this turn's model requests (the room's, varied per turn)."""


class Agent:
    """Base class of every participant the engine can give a turn to."""

    kind = "agent"

    def __init__(
        self,
        id: str,
        *,
        role: str = "",
        description: str = "",
        settings: AgentSettings | None = None,
    ) -> None:
        if not isinstance(id, str) or not PARTICIPANT_ID.match(id):
            raise InvalidParticipantError(
                f"agent id {id!r} is not usable: use 1-64 letters, digits, '_', '-' or '.'"
            )
        self.id = id
        self.role = role
        self.description = description
        self.settings = settings or AgentSettings()
        self._handle: AgentHandle | None = None
        self._conversation: ConversationSystem | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, role={self.role!r})"

    def bind(self, handle: AgentHandle, conversation: ConversationSystem) -> None:
        """Give the agent its publishing handle and its conversation (the engine does this)."""
        self._handle = handle
        self._conversation = conversation

    @property
    def handle(self) -> AgentHandle:
        if self._handle is None:
            raise RuntimeError(f"agent {self.id!r} is not registered with an engine yet")
        return self._handle

    @property
    def conversation(self) -> ConversationSystem:
        if self._conversation is None:
            raise RuntimeError(f"agent {self.id!r} is not registered with an engine yet")
        return self._conversation

    def context(self) -> ContextWindow:
        """This agent's bounded view of its own history, for a model prompt."""
        return self.conversation.context(
            self.settings.max_context_messages, self.settings.max_context_chars
        )

    async def reply(self, turn: Turn) -> Reply | str:
        """Produce what to say on this turn; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement reply()")

    async def take_turn(self, turn: Turn) -> Envelope:
        """Reply and publish it as this agent; returns the published envelope."""
        reply = Reply.of(await self.reply(turn))
        return await self.publish_reply(turn, reply.content, reply)

    async def publish_reply(
        self,
        turn: Turn,
        content: str,
        reply: Reply | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Envelope:
        """Publish a turn's answer where the turn says (or where ``reply`` says, by default)."""
        meta = {**(reply.metadata if reply else {}), **(metadata or {})}
        address = turn.address
        if address is None:
            return await self.handle.publish(
                content,
                to=reply.to if reply else BROADCAST,
                type=reply.type if reply else MessageType.MESSAGE,
                reply_to=reply.reply_to if reply else None,
                metadata=meta or None,
            )
        return await self.handle.publish(
            content,
            to=address.receiver,
            type=address.type,
            reply_to=address.reply_to,
            metadata={**meta, **address.metadata} or None,
        )
