"""The engine: one room's bus, store, conversations and agents on one event loop.

``Engine.open`` wires the one-way flow: the store and the conversation
manager are attached to the bus as lossless sinks (store first), so an
envelope is queued for SQLite and recorded in every addressed agent's history
before ``publish`` returns.  Agents are registered here; ``run_agent_turn``
gives one of them the floor.

Each session has a sampling seed, chosen at random when it starts (unless
given) and kept in its metadata, so a resumed session carries on with it:
every model request is sampled with it, varied by how far the session has
come (:meth:`Engine.sampling_seed`).  Without it a local model, whose own
seed never changes, said the same words in every run of the same room.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agentroom.agents.base import Address, Agent, AgentSettings, Turn
from agentroom.agents.llm import LLMAgent
from agentroom.bus import MessageBus
from agentroom.conversation import ConversationManager
from agentroom.coordination.coordinator import RunResult
from agentroom.core.errors import (
    AgentTurnError,
    DuplicateAgentError,
    HumanTimeoutError,
    SpawnLimitError,
    StoreError,
    StoreWriteError,
    UnknownAgentError,
)
from agentroom.core.events import Event
from agentroom.core.paths import resolve_db_path
from agentroom.core.protocol import Envelope, MessageType
from agentroom.core.text import redact
from agentroom.models.types import NO_HINTS, SEEDS, Hints, ModelClient
from agentroom.room.builder import run_workflow
from agentroom.room.usage import UsageLedger
from agentroom.room.workflows import Workflow, load_workflow
from agentroom.store import SqliteStore
from agentroom.store.opening import Durability

SEED_KEY = "seed"
"""Where a session's sampling seed is kept in its metadata."""


class Engine:
    """A running room.  Create it with :meth:`open`."""

    def __init__(
        self,
        *,
        session_id: str,
        bus: MessageBus,
        store: SqliteStore,
        conversations: ConversationManager,
    ) -> None:
        self.session_id = session_id
        self.bus = bus
        self.store = store
        self.conversations = conversations
        self.agents: dict[str, Agent] = {}
        self.task = ""
        """What the room is working on; every agent's turn is told it."""
        self.usage = UsageLedger()
        """Token usage and cost so far, per agent and in all."""
        self.seed: int | None = None
        """The session's sampling seed (see the module docstring); None: models choose."""
        self._running: dict[str, tuple[asyncio.Task[Any], Turn]] = {}
        self._depth: dict[str, int] = {}
        self._spawned = 0

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        db_path: str | os.PathLike[str] | None = None,
        *,
        session_id: str | None = None,
        title: str = "",
        metadata: dict[str, Any] | None = None,
        durability: Durability = "full",
        take_over: bool = False,
        seed: int | None = None,
    ) -> AsyncIterator[Engine]:
        """Open a room in ``db_path``: a new one, or the saved ``session_id`` to resume it.

        A new room samples with ``seed``, or one chosen at random; a resumed one
        with the seed it was saved with (``seed`` if it has none, a saved session
        being older than seeds).

        The room is claimed in the database first: a session another live
        agentroom has open is refused (``SessionBusyError``) unless
        ``take_over``, which fences that one off (its next write fails).  On
        exit everything published is made durable, the room is marked
        ``stopped`` (``failed`` if the block raised) and given up; records
        that could not be written raise ``StoreWriteError`` saying how many.
        """
        store = await SqliteStore.open(resolve_db_path(db_path), durability=durability)
        try:
            engine = await cls._start(store, session_id, title, metadata, take_over, seed)
        except BaseException as exc:
            health = store.health
            with contextlib.suppress(StoreWriteError):  # the error that stopped it says it
                await store.close()
            if isinstance(exc, StoreWriteError) and not health.ok:
                raise StoreError(health.reason) from None  # what to do, not a count of records
            raise
        sid, bus, state = engine.session_id, engine.bus, "failed"
        try:
            try:
                yield engine
                state = "stopped"
            finally:
                store.closing()  # a failing disk must not hold the closing bus up
                await bus.aclose()
                store.set_room_state(sid, state)
                store.release(sid)
        finally:
            await store.close()

    @classmethod
    async def _start(
        cls,
        store: SqliteStore,
        session_id: str | None,
        title: str,
        metadata: dict[str, Any] | None,
        take_over: bool,
        seed: int | None,
    ) -> Engine:
        """Claim the room (a new one, or ``session_id``) and wire its bus; see :meth:`open`."""
        if seed is None:
            seed = random.randrange(SEEDS)
        if session_id is not None:
            room = await store.open_room(session_id)
            sid = room.id
            saved = room.metadata.get(SEED_KEY)
            if isinstance(saved, int) and not isinstance(saved, bool):
                seed = saved
            await store.claim(sid, take_over=take_over)
            start_seq = await store.last_seq(sid)
            conversations = await ConversationManager.load(store, sid)
        else:
            sid = store.create_room(title, {**(metadata or {}), SEED_KEY: seed})
            await store.claim(sid)
            start_seq = 0
            conversations = ConversationManager(sid, store)
        store.set_room_state(sid, "running", {SEED_KEY: seed})
        bus = MessageBus(sid, start_seq=start_seq)
        usage = UsageLedger()
        if session_id is not None:  # carry the saved session's totals on (summed by SQLite)
            usage = UsageLedger.of_totals(await store.usage_totals(sid))
        bus.attach(store.sink)
        bus.attach(conversations)
        bus.attach(usage)
        engine = cls(session_id=sid, bus=bus, store=store, conversations=conversations)
        engine.usage = usage
        engine.seed = seed
        return engine

    def sampling_seed(self) -> int | None:
        """The seed for a model request made now: the session's, moved on by every envelope
        published so far, so no two turns of a session (resumed or not) sample alike."""
        if self.seed is None:
            return None
        return (self.seed + self.bus.last_seq) % SEEDS

    # -- the agent registry --------------------------------------------------------------

    def register_agent(self, agent: Agent) -> Agent:
        """Admit ``agent`` to the room: a handle to speak with and its own conversation."""
        if agent.id in self.agents:
            raise DuplicateAgentError(
                f"an agent named {agent.id!r} is already registered; ids must be unique "
                f"(registered: {', '.join(sorted(self.agents))})"
            )
        handle = self.bus.register(agent.id)
        conversation = self.conversations.ensure_agent_conversation(agent.id, title=agent.role)
        conversation.keep = max(conversation.keep, 2 * agent.settings.max_context_messages)
        agent.bind(handle, conversation)
        self.agents[agent.id] = agent
        return agent

    def unregister_agent(self, agent_id: str) -> Agent:
        """Let an agent leave: it can no longer speak, and its conversation stops growing."""
        agent = self.get_agent(agent_id)
        self.bus.unregister(agent_id)
        self.conversations.retire(agent_id)
        del self.agents[agent_id]
        return agent

    def get_agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownAgentError(agent_id, self.agents) from None

    async def run_agent_turn(
        self,
        agent_id: str,
        *,
        hints: Hints | None = None,
        address: Address | None = None,
    ) -> Envelope:
        """Give ``agent_id`` the floor: build its context, run it, publish and record its reply.

        If the agent fails, the room is told with a ``status`` envelope and
        :class:`AgentTurnError` is raised; the room itself keeps working.
        """
        agent = self.get_agent(agent_id)
        if agent_id in self._running:
            raise AgentTurnError(f"{agent_id} is already taking a turn")
        conversation = agent.conversation
        window = agent.settings.max_context_messages
        if not conversation.holds(window):  # a resume, or a restore before the window
            await conversation.load_window(window)
        turn = Turn(
            agent_id=agent_id,
            session_id=self.session_id,
            messages=agent.context(),
            task=self.task,
            hints=hints or NO_HINTS,
            address=address,
            seed=self.sampling_seed(),
        )
        # The turn runs in the caller's task (a task per turn would cost more than a
        # scripted turn itself); interrupt() cancels that task while it waits inside
        # the turn, and the turn's control tells that apart from other cancellations.
        me = asyncio.current_task()
        assert me is not None
        self._running[agent_id] = (me, turn)
        try:
            return await agent.take_turn(turn)
        except asyncio.CancelledError:
            if turn.control.absorb_interrupt():
                # Interrupted by the room, and the agent had nothing to keep: say so.
                return await self.bus.announce(
                    f"{agent_id} was interrupted",
                    metadata={"event": Event.INTERRUPTED, "agent": agent_id},
                )
            raise
        except HumanTimeoutError as exc:  # a person who does not answer is skipped, not a failure
            return await self.bus.announce(
                f"{exc}; skipping their turn",
                metadata={"event": Event.SKIPPED, "agent": agent_id},
            )
        except Exception as exc:
            # Redacted here too (a model client redacts its own errors): whatever an agent
            # raises goes to the database and every screen, and servers echo keys back.
            failure = redact(f"{agent_id} could not take its turn: {exc}")
            await self.bus.announce(
                failure,
                type=MessageType.STATUS,
                metadata={
                    "event": Event.TURN_FAILED,
                    "agent": agent_id,
                    "error": type(exc).__name__,
                },
            )
            raise AgentTurnError(failure) from exc
        finally:
            self._running.pop(agent_id, None)

    def interrupt(self, agent_id: str) -> bool:
        """Stop ``agent_id``'s running turn; its partial reply is published, marked interrupted.

        Returns False when the agent is not taking a turn.
        """
        running = self._running.get(agent_id)
        if running is None:
            return False
        task, turn = running
        turn.control.interrupted = True
        turn.control.requested += 1
        task.cancel()
        return True

    # -- workflows --------------------------------------------------------------------------

    async def run_workflow(
        self,
        workflow: Workflow | str | os.PathLike[str],
        task: str | None = None,
        *,
        default_model: ModelClient | None = None,
        strategy: str | None = None,
        max_messages: int | None = None,
    ) -> RunResult:
        """Run a workflow (a :class:`~agentroom.room.workflows.Workflow` or a file) in this room.

        Returns why the run stopped and its envelopes, the newest 1,000 in
        memory (``envelopes``) and every one read from the store on demand
        (``result.read(engine.store)``), so a long run does not hold its whole
        log.  ``default_model`` is the model of agents that name none (else
        it is resolved as ``agentroom models`` says); ``strategy`` overrides
        the workflow's; ``max_messages`` adds a stop.
        """
        source = ""
        if not isinstance(workflow, Workflow):
            source = str(workflow)
            workflow = load_workflow(Path(workflow))
        return await run_workflow(
            self,
            workflow,
            task,
            default_model=default_model,
            strategy=strategy,
            max_messages=max_messages,
            source=source,
        )

    # -- delegation and sub-agents ---------------------------------------------------------

    async def delegate_task(self, from_agent: str, to_agent: str, task: str) -> Envelope:
        """``from_agent`` hands ``task`` to ``to_agent``, who answers it in a turn of its own.

        The request and the answer are ``action`` envelopes between the two
        (tagged ``delegate`` / ``delegation_result``), so the delegated work is
        attributed and in the log but not dialogue for everyone.  Returns the
        delegate's answer, addressed to the delegator.
        """
        delegator = self.get_agent(from_agent)
        self.get_agent(to_agent)
        request = await delegator.handle.publish(
            task, to=to_agent, type=MessageType.ACTION, metadata={"event": Event.DELEGATE}
        )
        return await self.run_agent_turn(
            to_agent,
            hints=Hints(expect="answer", delegated_by=from_agent),
            address=Address(
                receiver=from_agent,
                type=MessageType.ACTION,
                metadata={"event": Event.DELEGATION_RESULT, "delegation": request.id},
                reply_to=request.id,
            ),
        )

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
    ) -> Envelope:
        """Run a sub-agent for one sub-task in its own namespace; return its answer.

        The sub-agent is ``parent.roleN``: its conversation is its own, inside
        this session; the ``spawn`` action is published by the parent and
        every envelope of the sub-task replies to it, so the transcript nests
        under it.  ``max_depth`` (sub-agents of sub-agents) and ``budget``
        (spawns per session) stop runaway spawning with a clear error.
        """
        owner = self.get_agent(parent)
        depth = self._depth.get(parent, 0) + 1
        if depth > max_depth:
            raise SpawnLimitError(
                f"{parent} cannot spawn: sub-agents may nest {max_depth} deep at most"
            )
        spawned = sum(1 for name in self.conversations.agent_sessions if "." in name)
        if spawned >= budget:  # counted per session, so a resumed one keeps its budget
            raise SpawnLimitError(f"{parent} cannot spawn: this session's {budget} spawns are used")
        self._spawned = spawned + 1
        slug = "".join(ch for ch in role.lower() if ch.isalnum())[:16] or "sub"
        number = self._spawned
        while f"{parent}.{slug}{number}" in self.conversations.agent_sessions:
            number += 1  # a resumed session already has sub-agents of its own
        sub_id = f"{parent}.{slug}{number}"
        spawn = await owner.handle.publish(
            f"spawning {sub_id} ({role}) for: {task}",
            type=MessageType.ACTION,
            metadata={
                "event": Event.SPAWN,
                "sub": sub_id,
                "role": role,
                "depth": depth,
                "instructions": instructions,
            },
        )
        if model is None and isinstance(owner, LLMAgent):
            model = owner.client
        sub = LLMAgent(
            sub_id,
            model,
            role=role,
            description=instructions,
            settings=AgentSettings(system_prompt=instructions) if instructions else None,
            tools=tools_for(sub_id) if tools_for is not None and depth < max_depth else (),
            tool_audience=parent,  # its tool calls are the parent's business, not the room's
        )
        self.register_agent(sub)
        self._depth[sub_id] = depth
        try:
            await owner.handle.publish(
                task,
                to=sub_id,
                type=MessageType.ACTION,
                reply_to=spawn.id,
                metadata={"event": Event.SUBTASK, "spawn": spawn.id},
            )
            return await self.run_agent_turn(
                sub_id,
                hints=Hints(expect="answer"),
                address=Address(
                    receiver=parent,
                    type=MessageType.ACTION,
                    metadata={"event": Event.SUBAGENT_RESULT, "spawn": spawn.id, "depth": depth},
                    reply_to=spawn.id,
                ),
            )
        finally:
            self.unregister_agent(sub_id)

    # -- durability ----------------------------------------------------------------------

    async def flush(self) -> None:
        """Return once everything published so far is durable."""
        await self.store.flush()

    async def save_all(self) -> None:
        """Persist every agent's conversation (appended as it happens; this is the barrier)."""
        await self.conversations.save_all()
