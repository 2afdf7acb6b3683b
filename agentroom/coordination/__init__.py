"""Who speaks next, when to stop, and what the room remembers."""

from agentroom.coordination.coordinator import MultiAgentCoordinator, RunResult
from agentroom.coordination.handoff import Handoff
from agentroom.coordination.memory import Blackboard
from agentroom.coordination.plan_driven import PlanDriven
from agentroom.coordination.role_based import RoleBased
from agentroom.coordination.round_robin import RoundRobin
from agentroom.coordination.strategy import Participant, RoomView, Speak, Strategy
from agentroom.coordination.termination import (
    AgentAnswered,
    AllOf,
    AnyOf,
    ExternalStop,
    FailedTurns,
    HandoffToHuman,
    MaxMessages,
    MaxTurns,
    Termination,
    TextMention,
    Timeout,
    TokenBudget,
    ToolCalled,
)

__all__ = [
    "AgentAnswered",
    "AllOf",
    "AnyOf",
    "Blackboard",
    "ExternalStop",
    "FailedTurns",
    "Handoff",
    "HandoffToHuman",
    "MaxMessages",
    "MaxTurns",
    "MultiAgentCoordinator",
    "Participant",
    "PlanDriven",
    "RoleBased",
    "RoomView",
    "RoundRobin",
    "RunResult",
    "Speak",
    "Strategy",
    "Termination",
    "TextMention",
    "Timeout",
    "TokenBudget",
    "ToolCalled",
]
