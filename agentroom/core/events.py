"""Every kind of event an envelope names in ``metadata["event"]``, and what comes with it.

The name is the contract between whoever publishes an envelope and everyone
who reacts to it (the coordinator, strategies, the store's filters, every
screen), and it is written to the database: one enumeration makes a misspelt
name a type error instead of a silent miss, and gives a newcomer one list to
read.  :class:`Event` is a ``StrEnum``, so a member equals its string: the
stored metadata stays plain JSON and databases written before it read the same.
Renaming a member's value would orphan every room that recorded it; the
recorded list in ``tests/core/test_events.py`` says so loudly.

Each member's docstring says what it means and which envelope type carries it
(``message``: dialogue; ``action``: something done; ``status``: shown, never
fed to a model).  The payloads are ``TypedDict``\\ s, so the keys that come with
an event are declared without changing what is stored: at run time a payload
is the plain dict it always was.  :data:`PAYLOADS` maps every member to its own.
"""

# No ``from __future__ import annotations`` here: a TypedDict must see NotRequired[...]
# itself, not a string, or the key counts as required at run time.
from enum import StrEnum, unique
from typing import Any, Literal, NotRequired

# typing_extensions' TypedDict (pydantic's own dependency): pydantic can validate it on 3.11.
from typing_extensions import TypedDict


@unique
class Event(StrEnum):
    # -- a turn, as the agent taking it tells it ------------------------------------------
    STREAM = "stream"
    """status: a piece of a reply being written, as rooms saved before chunks became
    ephemeral (:mod:`agentroom.core.chunk`) stored it; still read, never written now."""
    USAGE = "usage"
    """status: tokens and cost of one model call (an agent's or the selector's)."""
    WAITING = "waiting"
    """status: the model backend waits before trying again (a 429, a dropped connection)."""
    INTERRUPTED = "interrupted"
    """status: a turn was interrupted before its agent said anything."""
    EMPTY_REPLY = "empty_reply"
    """status: the model answered with nothing (counts as a failed turn)."""
    TOOL_LIMIT = "tool_limit"
    """status: the turn's tool calls are used up; the calls past the limit were not run."""
    TOOL_CALL = "tool_call"
    """action: an agent calls a tool (a handoff is one too)."""
    TOOL_RESULT = "tool_result"
    """action: what a tool returned to the agent that called it."""
    # -- a turn, as the room tells it -----------------------------------------------------
    TURN_FAILED = "turn_failed"
    """status: an agent could not take its turn (its error, redacted, is the content)."""
    SKIPPED = "skipped"
    """status: a human did not answer in time; their turn is skipped."""
    INPUT_REQUESTED = "input_requested"
    """status: it is a human's turn; the room waits for them to speak."""
    UNDELIVERED = "undelivered"
    """status: a message to someone not in the room bounced back to its sender."""
    SPEAKER_SELECTED = "speaker_selected"
    """status: who speaks next, and which rule chose them."""
    # -- delegation and sub-agents ----------------------------------------------------------
    DELEGATE = "delegate"
    """action: one agent hands a task to another (the content is the task)."""
    DELEGATION_RESULT = "delegation_result"
    """action: the delegate's answer, addressed to the agent that delegated."""
    SPAWN = "spawn"
    """action: an agent creates a sub-agent for a narrow question."""
    SUBTASK = "subtask"
    """action: the task a sub-agent is given (the content is the task)."""
    SUBAGENT_RESULT = "subagent_result"
    """action: a sub-agent's answer, addressed to its parent."""
    # -- the session ----------------------------------------------------------------------
    TASK = "task"
    """message: the task a run works on, as the room states it."""
    ASIDE = "aside"
    """message: a human's line to one participant that does not give them the next turn
    (``/aside NAME TEXT``); a line to one agent without it does (``@NAME TEXT``)."""
    ROOM_OPENED = "room_opened"
    """status: the headless room has started: workflow, agents, model and strategy."""
    RESUMED_SESSION = "resumed_session"
    """status: a saved session carries on where it stopped."""
    PAUSED = "paused"
    """status: the room gives nobody a turn until it is resumed."""
    RESUMED = "resumed"
    """status: a paused room gives turns again."""
    STRATEGY_SWITCHED = "strategy_switched"
    """status: the way the next speaker is picked changed mid-session."""
    RESET = "reset"
    """status: the room starts over (order, counters and strategy reset)."""
    STOPPED = "stopped"
    """status: a run stopped, and why (a termination condition, a human's /stop, ...)."""
    STORE_FAILING = "store_failing"
    """status: the room cannot be saved; nobody gets a turn until it can."""
    STORE_RECOVERED = "store_recovered"
    """status: the room can be saved again and carries on."""
    # -- the role-based strategy's selector ---------------------------------------------------
    CANDIDATES_IGNORED = "candidates_ignored"
    """status: the candidate function named nobody who may speak; anyone eligible may."""
    SELECTOR_RETRY = "selector_retry"
    """status: the selector model's answer named nobody usable; it is asked again."""
    SELECTOR_FAILED = "selector_failed"
    """status: the selector (or the candidate function) failed; a fallback decides."""
    # -- the plan-driven strategy -------------------------------------------------------------
    PLAN_REQUESTED = "plan_requested"
    """action: the room asks the planner for a (new) numbered plan."""
    PLAN = "plan"
    """action: the planner's reply, the plan itself."""
    PLAN_MISSING = "plan_missing"
    """status: the planner's reply held no numbered plan."""
    PLAN_ASSIGNED = "plan_assigned"
    """action: the plan's steps, each with the agent that does it."""
    STEP_ASSIGNED = "step_assigned"
    """action: the room gives the next pending step to its agent."""
    STEP_DONE = "step_done"
    """action: a step was answered and counts as done."""
    STEP_STALLED = "step_stalled"
    """status: a step was not answered (or was blocked); it is asked again."""
    REPLAN = "replan"
    """action: a step stalled too often; the planner is asked to plan again."""
    # -- the handoff strategy -------------------------------------------------------------
    HANDOFF = "handoff"
    """action: the floor passes from one agent (or human) to another."""
    HANDOFF_REFUSED = "handoff_refused"
    """status: an agent tried to hand off to someone who is not in the room."""
    # -- shared memory --------------------------------------------------------------------
    MEMORY_WRITE = "memory_write"
    """action: an agent writes a value under a key of the room's shared memory."""
    MEMORY_RESOLVED = "memory_resolved"
    """action: the room settles a key that agents wrote differently in one round."""
    VOTE_REQUESTED = "vote_requested"
    """action: the room asks an agent to pick one of a key's values."""
    VOTE = "vote"
    """action: an agent's ballot, addressed to the room."""


# -- payloads ---------------------------------------------------------------------------------
# What comes with each event, beside ``event`` itself.  Keys that one producer
# writes and another does not are NotRequired.


class Payload(TypedDict):
    """The metadata of every event: its name (events that carry nothing else use this)."""

    event: str


class ReplyPayload(Payload, total=False):
    """An agent's reply that the room addressed (a plan, a vote, an answer to a delegation).

    The reply's own metadata comes along: an LLM agent's turn, model and finish
    reason, and whether the reply was interrupted or cut at the size limit.
    """

    turn: str
    model: str
    finish_reason: str
    interrupted: bool
    cut: bool


class StreamPayload(Payload):
    turn: str
    model: str


class UsagePayload(Payload):
    agent: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    estimated: bool
    """True when the server did not say and the counts are estimated from the text."""


class WaitingPayload(Payload):
    turn: str
    model: str
    seconds: float


class InterruptedPayload(Payload):
    agent: str
    turn: NotRequired[str]
    """Present when the agent says it; absent when the room does (the agent had nothing)."""


class EmptyReplyPayload(Payload):
    turn: str
    model: str


class ToolLimitPayload(Payload):
    turn: str
    model: NotRequired[str]
    """Present when the whole turn ends at the limit."""
    refused: NotRequired[int]
    """Present when some calls of one reply were not run: how many."""


class ToolCallPayload(Payload):
    turn: str
    call_id: str
    tool: str
    arguments: Any
    """The arguments as JSON when the model wrote valid JSON, else its text."""


class ToolResultPayload(Payload):
    turn: str
    call_id: str
    tool: str
    ok: bool


class AgentPayload(Payload):
    """An event about one agent's turn (``skipped``)."""

    agent: str


class TurnFailedPayload(AgentPayload):
    error: str
    """The exception's class name; the message is the envelope's content."""


class InputRequestedPayload(Payload):
    timeout: float | None


class Bounced(TypedDict):
    """The message that could not be delivered, as its sender sent it."""

    receiver: str
    content: str
    type: str
    metadata: dict[str, Any]


class UndeliveredPayload(Payload):
    known: list[str]
    undelivered: Bounced


class SpeakerSelectedPayload(AgentPayload):
    by: str
    addressed_by: NotRequired[str]
    """The human whose line to the agent gave it this turn (no strategy was asked)."""


class DelegationResultPayload(ReplyPayload):
    delegation: str
    """The id of the ``delegate`` envelope this answers."""


class SpawnPayload(Payload):
    sub: str
    role: str
    depth: int
    instructions: str


class SubtaskPayload(Payload):
    spawn: str
    """The id of the ``spawn`` envelope."""


class SubagentResultPayload(ReplyPayload):
    spawn: str
    depth: int


class RoomOpenedPayload(Payload):
    model: str


# "from" is a Python keyword, so these two are spelt the functional way.
StrategySwitchedPayload = TypedDict(
    "StrategySwitchedPayload", {"event": str, "from": str, "to": str}
)
HandoffPayload = TypedDict("HandoffPayload", {"event": str, "from": str, "to": str})


class ResetPayload(Payload):
    strategy: str


class StoppedPayload(Payload):
    reason: str


class CandidatesIgnoredPayload(Payload):
    named: list[str]


class SelectorRetryPayload(Payload):
    attempt: int
    problem: str


class SelectorFailedPayload(Payload):
    by: str
    """Which part failed (the selector model, the candidate function)."""
    error: str


class PlanStep(TypedDict):
    n: int
    text: str
    assignee: str
    status: Literal["pending", "done", "stalled"]


class PlanRequestedPayload(Payload):
    version: int


class PlanAssignedPayload(Payload):
    version: int
    steps: list[PlanStep]


class PlanMissingPayload(Payload):
    stalled: int


class StepPayload(Payload):
    """An event about one step of the plan (``step_assigned``, ``step_done``, ``replan``)."""

    step: int


class StepStalledPayload(StepPayload):
    stalled: int


class HandoffRefusedPayload(Payload):
    to: str


class MemoryWritePayload(Payload):
    key: str
    value: str


class MemoryResolvedPayload(Payload):
    key: str
    value: str
    policy: str
    candidates: list[str]
    votes: dict[str, str]
    writer: str


class VoteRequestedPayload(Payload):
    key: str
    options: list[str]
    ballot: str


class VotePayload(ReplyPayload):
    key: str
    ballot: str


PAYLOADS: dict[Event, type[Any]] = {
    Event.STREAM: StreamPayload,
    Event.USAGE: UsagePayload,
    Event.WAITING: WaitingPayload,
    Event.INTERRUPTED: InterruptedPayload,
    Event.EMPTY_REPLY: EmptyReplyPayload,
    Event.TOOL_LIMIT: ToolLimitPayload,
    Event.TOOL_CALL: ToolCallPayload,
    Event.TOOL_RESULT: ToolResultPayload,
    Event.TURN_FAILED: TurnFailedPayload,
    Event.SKIPPED: AgentPayload,
    Event.INPUT_REQUESTED: InputRequestedPayload,
    Event.UNDELIVERED: UndeliveredPayload,
    Event.SPEAKER_SELECTED: SpeakerSelectedPayload,
    Event.DELEGATE: Payload,
    Event.DELEGATION_RESULT: DelegationResultPayload,
    Event.SPAWN: SpawnPayload,
    Event.SUBTASK: SubtaskPayload,
    Event.SUBAGENT_RESULT: SubagentResultPayload,
    Event.TASK: Payload,
    Event.ASIDE: Payload,
    Event.ROOM_OPENED: RoomOpenedPayload,
    Event.RESUMED_SESSION: Payload,
    Event.PAUSED: Payload,
    Event.RESUMED: Payload,
    Event.STRATEGY_SWITCHED: StrategySwitchedPayload,
    Event.RESET: ResetPayload,
    Event.STOPPED: StoppedPayload,
    Event.STORE_FAILING: Payload,
    Event.STORE_RECOVERED: Payload,
    Event.CANDIDATES_IGNORED: CandidatesIgnoredPayload,
    Event.SELECTOR_RETRY: SelectorRetryPayload,
    Event.SELECTOR_FAILED: SelectorFailedPayload,
    Event.PLAN_REQUESTED: PlanRequestedPayload,
    Event.PLAN: ReplyPayload,
    Event.PLAN_MISSING: PlanMissingPayload,
    Event.PLAN_ASSIGNED: PlanAssignedPayload,
    Event.STEP_ASSIGNED: StepPayload,
    Event.STEP_DONE: StepPayload,
    Event.STEP_STALLED: StepStalledPayload,
    Event.REPLAN: StepPayload,
    Event.HANDOFF: HandoffPayload,
    Event.HANDOFF_REFUSED: HandoffRefusedPayload,
    Event.MEMORY_WRITE: MemoryWritePayload,
    Event.MEMORY_RESOLVED: MemoryResolvedPayload,
    Event.VOTE_REQUESTED: VoteRequestedPayload,
    Event.VOTE: VotePayload,
}
"""Every event and the keys that come with it (the test of the room's envelopes reads it)."""


__all__ = ["PAYLOADS", "Event", "Payload", "ReplyPayload"]
