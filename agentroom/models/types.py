"""What flows between an agent and a model: requests, streamed events, collected replies.

Every backend (OpenAI-compatible servers, the replay client, the offline
model) speaks this one small vocabulary, so agents never depend on a vendor
SDK's types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

ChatRole = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model asking for a tool: ``arguments`` is the JSON text the model wrote."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One prompt message in the OpenAI chat shape (the lingua franca of servers)."""

    role: ChatRole
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def to_openai(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name:
            msg["name"] = self.name
        if self.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ]
        if self.tool_call_id:
            msg["tool_call_id"] = self.tool_call_id
        return msg


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as a model sees it: name, description and JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]

    def to_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """The reply must be one JSON value that ``schema`` (a JSON schema) allows.

    A backend that can enforce it does (a grammar in llama.cpp, ``response_format``
    on an OpenAI-compatible server), so a small model can only answer a name
    from the list, or a plan whose steps go to someone in the room; a backend
    that cannot (the offline demo model, a server that refuses the field)
    answers in words, and whoever asked reads those as before.  The schema
    keeps to what both enforce: objects whose properties are all required,
    ``additionalProperties: false``, ``enum``, ``maxLength``, ``minItems`` and
    ``maxItems``.
    """

    name: str
    """A short name for the shape (``speaker``, ``plan``): OpenAI asks for one."""
    schema: dict[str, Any]
    max_tokens: int = 64
    """Enough tokens for the longest answer the schema allows: a reply cut short is not JSON,
    so a turn asking for this shape gets at least these many."""


class Member(NamedTuple):
    """Someone in the room as a hint names them: an id, and what their role says about them."""

    id: str
    role: str = ""
    description: str = ""


Expect = Literal["plan", "step", "answer"]
"""What kind of reply is wanted: a numbered plan, one step of it, an answer to a request."""


class Hints(NamedTuple):
    """What the room tells a model about the reply it wants, beside the prompt itself.

    A real model reads only the prompt (these are never sent to a server, but
    for :attr:`response_format`, which the agent puts on its request); a
    backend that cannot understand the prompt, such as the offline demo model,
    shapes its reply from them.  Strategies and the engine set what they want
    (through ``Speak.hints`` and ``Engine.run_agent_turn(hints=)``); the agent
    adds who is speaking (:meth:`speaking_as`).  Every field is optional.

    Immutable, so one :data:`NO_HINTS` serves every turn that needs none.  A
    NamedTuple rather than a frozen dataclass: it is built per turn and per
    model request, and a frozen dataclass costs ~1.8 µs to build, this ~0.3.
    """

    # -- who is asking (the agent fills these in) -----------------------------------------
    agent: str = ""
    """The id of the agent the reply is for (the selector's is ``selector``)."""
    role: str = ""
    description: str = ""
    task: str = ""
    """The task the room works on."""
    # -- what is wanted (the strategies and the engine set these) ---------------------------
    expect: Expect | None = None
    step: str = ""
    """With ``expect="step"``: the text of the plan step to do."""
    team: tuple[Member, ...] = ()
    """With ``expect="plan"``: who the plan's steps may go to."""
    choose_from: tuple[str, ...] = ()
    """The reply must pick one of these (a speaker's id, a vote's value)."""
    candidates: tuple[Member, ...] = ()
    """Who the ``choose_from`` ids are, for a pick that fits the conversation."""
    handoff_targets: tuple[Member, ...] = ()
    """Who the speaker may hand the floor to (the handoff strategy)."""
    delegated_by: str = ""
    """The agent that delegated the task this reply answers."""
    end_word: str = ""
    """The word that ends the conversation.  Nothing built in sets it yet; without it the
    offline model looks for one in the system prompt (``say TERMINATE when done``)."""
    response_format: ResponseFormat | None = None
    """The shape the reply must have (a plan, a vote): unlike the rest, this one is sent to
    the model, as the request's ``response_format``, and the turn offers no tools."""

    def speaking_as(self, agent: str, role: str, description: str, task: str) -> Hints:
        """These hints with who is speaking filled in where the strategy left it empty."""
        return Hints(
            agent=self.agent or agent,
            role=self.role or role,
            description=self.description or description,
            task=self.task or task,
            expect=self.expect,
            step=self.step,
            team=self.team,
            choose_from=self.choose_from,
            candidates=self.candidates,
            handoff_targets=self.handoff_targets,
            delegated_by=self.delegated_by,
            end_word=self.end_word,
            response_format=self.response_format,
        )


NO_HINTS = Hints()
"""The hints of a turn the room says nothing special about (most turns)."""


SEEDS = 1 << 31
"""A request's seed is below this (llama.cpp and OpenAI take a 32-bit signed seed)."""


@dataclass(frozen=True, slots=True)
class ModelRequest:
    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    seed: int | None = None
    """The sampling seed: the room's own (chosen per session), varied per turn, so a room run
    twice does not say the same words while a resumed one carries on its own sequence."""
    hints: Hints = NO_HINTS
    """What the room wants from this reply, for backends that read it (see :class:`Hints`)."""
    response_format: ResponseFormat | None = None
    """The reply must be JSON of this shape, where the backend can enforce it."""


# -- streamed events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequested:
    call: ToolCall


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class Finished:
    reason: str
    """``stop``, ``length``, ``tool_calls``, ``interrupted``, ... as the backend says."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """The backend is about to wait before trying again (a 429, a 5xx, a dropped connection).

    Sent before the wait, so the room can say what it is waiting for instead
    of falling silent; ``reason`` is one plain sentence without a full stop.
    """

    seconds: float
    reason: str


ModelEvent = TextDelta | ToolCallRequested | Usage | Finished | Waiting


@runtime_checkable
class ModelClient(Protocol):
    """A streaming chat model.  ``label`` is what the room shows as the model's name."""

    label: str

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]: ...


@dataclass(slots=True)
class ModelReply:
    """A whole reply, gathered from a stream (see :func:`collect`).

    Text arrives as parts and is joined only when read, so gathering a long
    reply stays linear in its length.
    """

    parts: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str = ""
    interrupted: bool = False
    cut: bool = False
    """The text reached the size limit of :func:`collect` and the rest was not read."""

    @property
    def text(self) -> str:
        if len(self.parts) > 1:
            self.parts[:] = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""
