"""What the coordination layer needs of the room it schedules, and nothing more.

The room layer's :class:`~agentroom.room.engine.Engine` is one such host; the
coordinator, the blackboard and the coordination tools are written against
this protocol instead, so the import graph points one way (room builds on
coordination, never the reverse) and a test or a future server can host a
room without the whole engine.  Strategies see less still: a
:class:`~agentroom.coordination.strategy.RoomView`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from agentroom.agents.base import Address, Agent
from agentroom.bus import MessageBus
from agentroom.core.protocol import Envelope
from agentroom.models.types import Hints
from agentroom.store import SqliteStore


class RoomHost(Protocol):
    """A running room: its bus, its store, its agents, and turns on demand."""

    bus: MessageBus
    store: SqliteStore
    session_id: str
    task: str
    """What the room is working on (a run sets it; a resumed checkpoint restores it)."""

    @property
    def agents(self) -> Mapping[str, Agent]: ...

    def get_agent(self, agent_id: str) -> Agent: ...

    def sampling_seed(self) -> int | None:
        """The seed for a model request made now: the session's, varied per turn."""
        ...

    async def run_agent_turn(
        self,
        agent_id: str,
        *,
        hints: Hints | None = None,
        address: Address | None = None,
    ) -> Envelope:
        """Give ``agent_id`` the floor; raise AgentTurnError when its turn fails."""
        ...

    def interrupt(self, agent_id: str) -> bool:
        """Stop ``agent_id``'s running turn (False when it is not taking one)."""
        ...

    async def flush(self) -> None:
        """Return once everything published so far is durable."""
        ...

    async def delegate_task(self, from_agent: str, to_agent: str, task: str) -> Envelope: ...

    async def spawn_subagent(
        self,
        parent: str,
        role: str,
        instructions: str,
        task: str,
        *,
        model: Any = None,
        max_depth: int = 2,
        budget: int = 8,
        tools_for: Callable[[str], list[Any]] | None = None,
    ) -> Envelope: ...
