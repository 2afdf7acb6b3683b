"""The room's own tools, given to model-backed agents by the workflow's options.

Each is a closure over the room (its :class:`RoomHost`) and the calling agent, so what it does is
attributed to that agent: ``delegate`` and ``spawn_subagent`` run through
:meth:`RoomHost.delegate_task` / :meth:`RoomHost.spawn_subagent`; ``remember``
publishes a ``memory_write`` action; ``recall`` reads the blackboard;
``handoff`` is read by the handoff strategy from the tool-call action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from agentroom.agents.tools import Tool
from agentroom.core.errors import AgentroomError
from agentroom.core.events import Event
from agentroom.core.protocol import MessageType

if TYPE_CHECKING:
    from agentroom.coordination.host import RoomHost
    from agentroom.coordination.memory import Blackboard


def _choices(names: list[str]) -> object:
    return Literal[tuple(names)] if names else str


def delegate_tool(host: RoomHost, agent_id: str, others: list[str]) -> Tool:
    async def delegate(to: str, task: str) -> str:
        """Hand a sub-task to another agent of the room and get its answer back."""
        answer = await host.delegate_task(agent_id, to, task)
        return answer.content

    delegate.__annotations__ = {"to": _choices(others), "task": str, "return": str}
    return Tool(delegate, timeout=None)  # as long as the delegate's turn takes


def spawn_tool(host: RoomHost, agent_id: str, *, max_depth: int, budget: int) -> Tool:
    async def spawn_subagent(role: str, instructions: str, task: str) -> str:
        """Create a helper agent with a role and instructions, give it a task, get its answer."""
        try:
            answer = await host.spawn_subagent(
                agent_id,
                role,
                instructions,
                task,
                max_depth=max_depth,
                budget=budget,
                # a sub-agent may spawn in turn, as deep as the limit allows
                tools_for=lambda sub: [spawn_tool(host, sub, max_depth=max_depth, budget=budget)],
            )
        except AgentroomError as exc:
            return f"error: {exc}"
        return answer.content

    return Tool(spawn_subagent, timeout=None)  # as long as the sub-agent's turn takes


def memory_tools(host: RoomHost, agent_id: str, board: Blackboard) -> list[Tool]:
    async def remember(key: str, value: str) -> str:
        """Write a value under a key on the room's shared memory (everyone can read it)."""
        await host.get_agent(agent_id).handle.publish(
            f"{key} = {value}",
            type=MessageType.ACTION,
            metadata={"event": Event.MEMORY_WRITE, "key": key, "value": value},
        )
        return f"remembered {key!r}"

    async def recall(key: str) -> str:
        """Read a key from the room's shared memory."""
        value = board.get(key)
        known = ", ".join(sorted(board.entries)) or "nothing yet"
        return value if value is not None else f"nothing under {key!r}; keys: {known}"

    return [Tool(remember), Tool(recall)]


def handoff_tool(others: list[str]) -> Tool:
    async def handoff(to: str, reason: str = "") -> str:
        """Hand the conversation to another agent who is better placed to continue it."""
        return f"handing off to {to}"

    handoff.__annotations__ = {"to": _choices(others), "reason": str, "return": str}
    return Tool(handoff)
