"""Agents whose words are given in advance: for tests, demos and benchmarks."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable

from agentroom.agents.base import Agent, AgentSettings, Reply, Turn
from agentroom.core.errors import ScriptExhaustedError

ReplyFunction = Callable[[Turn], Reply | str | Awaitable[Reply | str]]


class ScriptedAgent(Agent):
    """Replies from a list (in order) or from a function of the turn; deterministic."""

    kind = "scripted"

    def __init__(
        self,
        id: str,
        replies: Iterable[Reply | str] | ReplyFunction,
        *,
        role: str = "",
        description: str = "",
        settings: AgentSettings | None = None,
        cycle: bool = False,
        delay: float = 0.0,
    ) -> None:
        super().__init__(id, role=role, description=description, settings=settings)
        self._function: ReplyFunction | None = None
        self._script: list[Reply | str] = []
        if callable(replies):
            self._function = replies
        else:
            self._script = list(replies)
        self.cycle = cycle
        self.delay = delay
        self.turns_taken = 0

    async def reply(self, turn: Turn) -> Reply | str:
        if self.delay:
            await asyncio.sleep(self.delay)
        index = self.turns_taken
        self.turns_taken += 1
        if self._function is not None:
            result = self._function(turn)
            if inspect.isawaitable(result):
                result = await result
            return result
        if index >= len(self._script):
            if not self.cycle or not self._script:
                self.turns_taken -= 1
                raise ScriptExhaustedError(
                    f"scripted agent {self.id!r} has no replies left "
                    f"(it was given {len(self._script)})"
                )
            index %= len(self._script)
        return self._script[index]
