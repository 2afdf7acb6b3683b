"""A running room for an interface: the engine and coordinator of one session, opened and closed.

The UI holds one :class:`LiveRoom`.  It never calls an agent: it reads the
bus (through a subscription it drains at its own pace), says things as the
human (:meth:`say`), and sends control commands to the coordinator
(:meth:`stop`, :meth:`pause`, :meth:`switch_strategy`, :meth:`interrupt`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from agentroom.agents import HumanAgent
from agentroom.bus import Subscription
from agentroom.coordination.coordinator import MultiAgentCoordinator, RunResult
from agentroom.engine import Engine
from agentroom.errors import SessionNotFoundError
from agentroom.models.spec import Resolution, make_client, resolve
from agentroom.models.types import ModelClient
from agentroom.protocol import BROADCAST, Envelope
from agentroom.runner import build_room, workflow_metadata
from agentroom.workflows import Workflow


@dataclass
class RoomOptions:
    db: str | os.PathLike[str]
    workflow: Workflow | None = None
    source: str = ""
    task: str | None = None
    strategy: str | None = None
    model: str | None = None
    max_messages: int | None = None
    session_id: str | None = None
    default_model: ModelClient | None = None
    """A ready client (tests pass a replay or a fast offline model)."""
    extra: dict[str, Any] = field(default_factory=dict)


class LiveRoom:
    """Opens the session, builds the room, and runs it until stopped."""

    def __init__(self, options: RoomOptions) -> None:
        self.options = options
        self._stack = contextlib.AsyncExitStack()
        self.engine: Engine | None = None
        self.coordinator: MultiAgentCoordinator | None = None
        self.workflow: Workflow | None = options.workflow
        self.model: ModelClient | None = None
        self.resolution: Resolution | None = None
        self.humans: list[HumanAgent] = []
        self.feed: Subscription | None = None
        self.result: RunResult | None = None
        self._state: dict[str, Any] | None = None

    async def open(self) -> None:
        opts = self.options
        metadata = None
        if self.workflow is not None and opts.session_id is None:
            self.resolution = await resolve(workflow=self.workflow.model, cli=opts.model)
            metadata = workflow_metadata(self.workflow, opts.source, str(self.resolution.spec))
        engine = await self._stack.enter_async_context(
            Engine.open(
                opts.db,
                session_id=opts.session_id,
                title=self.workflow.name if self.workflow else "",
                metadata=metadata,
            )
        )
        self.engine = engine
        if opts.session_id is not None:
            room = await engine.store.get_room(engine.session_id)
            saved = room.metadata.get("workflow")
            if not saved:
                raise SessionNotFoundError(
                    f"session {engine.session_id} was not started from a workflow; "
                    "there is nothing to resume"
                )
            self.workflow = Workflow.model_validate(saved)
            self.resolution = await resolve(
                workflow=self.workflow.model, cli=opts.model or room.metadata.get("model")
            )
            checkpoint = await engine.store.load_room_state(engine.session_id)
            self._state = checkpoint[1] if checkpoint else None
        assert self.workflow is not None and self.resolution is not None
        self.model = opts.default_model or make_client(self.resolution.spec)
        # The UI's feed attaches before anything is said, so it misses nothing.
        self.feed = engine.bus.subscribe(maxsize=4096)
        self.coordinator = build_room(
            engine,
            self.workflow,
            self.model,
            strategy=opts.strategy,
            max_messages=opts.max_messages,
        )
        self.humans = [engine.get_agent(h.id) for h in self.workflow.humans]  # type: ignore[misc]
        if self._state is not None:
            fresh = self._state.get("stopped") is not None or opts.max_messages is not None
            await self.coordinator.resume_from(self._state, fresh_budget=fresh)

    async def run(self) -> RunResult:
        """Run the room; returns when a termination condition or /stop ends it."""
        assert self.coordinator is not None and self.workflow is not None
        task = None
        if self._state is None:
            task = self.options.task or self.workflow.task or "Introduce yourselves."
        self.result = await self.coordinator.run(task)
        return self.result

    async def close(self) -> None:
        await self._stack.aclose()

    # -- what the human does ----------------------------------------------------------------

    @property
    def human(self) -> HumanAgent | None:
        return self.humans[0] if self.humans else None

    async def say(self, text: str, to: str = BROADCAST) -> Envelope | None:
        if self.human is None:
            return None
        return await self.human.say(text, to=to)

    def interrupt(self) -> str | None:
        """Stop whoever is speaking (their partial reply is kept); returns who it was."""
        if self.coordinator is None or self.engine is None:
            return None
        current = self.coordinator.current_speaker
        if current is not None and self.engine.interrupt(current):
            return current
        return None

    @property
    def participants(self) -> list[str]:
        return list(self.engine.agents) if self.engine else []
