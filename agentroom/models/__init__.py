"""The model layer: one streaming interface over every backend agentroom can talk to."""

from agentroom.models.collect import collect
from agentroom.models.offline import OfflineModel
from agentroom.models.replay import ReplayClient
from agentroom.models.spec import ModelSpec, Resolution, make_client, resolve
from agentroom.models.types import (
    NO_HINTS,
    ChatMessage,
    Finished,
    Hints,
    Member,
    ModelClient,
    ModelEvent,
    ModelReply,
    ModelRequest,
    TextDelta,
    ToolCall,
    ToolCallRequested,
    ToolSpec,
    Usage,
    Waiting,
)

__all__ = [
    "NO_HINTS",
    "ChatMessage",
    "Finished",
    "Hints",
    "Member",
    "ModelClient",
    "ModelEvent",
    "ModelReply",
    "ModelRequest",
    "ModelSpec",
    "OfflineModel",
    "ReplayClient",
    "Resolution",
    "TextDelta",
    "ToolCall",
    "ToolCallRequested",
    "ToolSpec",
    "Usage",
    "Waiting",
    "collect",
    "make_client",
    "resolve",
]
