"""agentroom: a multi-agent chat room for the terminal.

Every utterance is an :class:`Envelope` on an ordered :class:`MessageBus`;
every agent keeps its own :class:`ConversationSystem`, persisted to SQLite;
the :class:`Engine` owns them all on one event loop.
"""

__version__ = "0.1.0"

from agentroom.agents import (
    Agent,
    AgentSettings,
    HumanAgent,
    LLMAgent,
    Reply,
    ScriptedAgent,
    Turn,
)
from agentroom.bus import AgentHandle, MessageBus
from agentroom.bus.subscriptions import EnvelopeFilter, Subscription
from agentroom.conversation import ConversationManager, ConversationSystem
from agentroom.coordination import MultiAgentCoordinator, RunResult
from agentroom.core.errors import (
    AgentroomError,
    AgentTurnError,
    DuplicateAgentError,
    HumanTimeoutError,
    NotAnAgentroomDatabase,
    ProtocolError,
    SchemaTooNewError,
    ScriptExhaustedError,
    SessionBusyError,
    SessionNotFoundError,
    StoreError,
    UnknownAgentError,
)
from agentroom.core.protocol import BROADCAST, ROOM, Envelope, Message, MessageType, Role, Session
from agentroom.room.engine import Engine
from agentroom.store import SqliteStore

__all__ = [
    "BROADCAST",
    "ROOM",
    "Agent",
    "AgentHandle",
    "AgentSettings",
    "AgentTurnError",
    "AgentroomError",
    "ConversationManager",
    "ConversationSystem",
    "DuplicateAgentError",
    "Engine",
    "Envelope",
    "EnvelopeFilter",
    "HumanAgent",
    "HumanTimeoutError",
    "LLMAgent",
    "Message",
    "MessageBus",
    "MessageType",
    "MultiAgentCoordinator",
    "NotAnAgentroomDatabase",
    "ProtocolError",
    "Reply",
    "Role",
    "RunResult",
    "SchemaTooNewError",
    "ScriptExhaustedError",
    "ScriptedAgent",
    "Session",
    "SessionBusyError",
    "SessionNotFoundError",
    "SqliteStore",
    "StoreError",
    "Subscription",
    "Turn",
    "UnknownAgentError",
    "__version__",
]
