"""A room an interface drives: open (or resume) a session, run it, close it.

:class:`LiveRoom` is what the TUI and the headless command hold: it opens the
engine on the database, builds the room from the workflow
(:mod:`agentroom.room.builder`), subscribes a lossless feed for a screen
(envelopes and the stream chunks among them), keeps what the replies being
streamed say so far (:meth:`LiveRoom.partial`), and gives the human's actions
(say, interrupt) one place to go.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agentroom.agents import HumanAgent
from agentroom.bus.subscriptions import Subscription
from agentroom.coordination.coordinator import MultiAgentCoordinator, RunResult
from agentroom.core.chunk import LiveItem, StreamChunk
from agentroom.core.errors import AgentroomError, SessionNotFoundError, WorkflowError
from agentroom.core.paths import resolve_db_path
from agentroom.core.protocol import BROADCAST, ROOM, Envelope, MessageType
from agentroom.core.records import RoomInfo, StoreHealth
from agentroom.models.spec import Resolution, make_client, resolve
from agentroom.models.types import ModelClient
from agentroom.room.builder import (
    absolute_source,
    build_room,
    workflow_metadata,
    workflow_to_resume,
)
from agentroom.room.engine import Engine
from agentroom.room.inflight import InFlight
from agentroom.room.sessions import Sessions
from agentroom.room.tokens import Tokens
from agentroom.room.workflow_errors import located
from agentroom.room.workflows import WhileSpeaking, Workflow


@dataclass
class RoomOptions:
    db: str | os.PathLike[str]
    workflow: Workflow | None = None
    """The workflow to run; with ``session_id``, the file that vouches for its tools."""
    source: str = ""
    """The file ``workflow`` was read from (kept with a new session, named in errors)."""
    task: str | None = None
    strategy: str | None = None
    model: str | None = None
    max_messages: int | None = None
    session_id: str | None = None
    default_model: ModelClient | None = None
    """A ready client (tests pass a replay or a fast offline model)."""
    feed: bool = True
    """Subscribe a lossless feed (envelopes and stream chunks) for a screen to drain
    (a headless room has none)."""
    take_over: bool = False
    """Resume a session another live agentroom has open; that one is fenced off."""
    seed: int | None = None
    """The sampling seed of a new session (None: one chosen at random); a resumed session
    keeps its own."""


class _Said:
    """A bus sink that notes whether anyone (not the room itself) has said anything."""

    def __init__(self) -> None:
        self.said = False

    def __bool__(self) -> bool:
        return self.said

    def offer(self, envelope: Envelope) -> bool:
        if not self.said and envelope.type is not MessageType.STATUS:
            self.said = envelope.sender != ROOM
        return True

    async def put(self, envelope: Envelope) -> None:
        self.offer(envelope)


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
        self.feed: Subscription[LiveItem] | None = None
        self.inflight = InFlight()
        self.result: RunResult | None = None
        self._state: dict[str, Any] | None = None
        self._since = 0
        """The seq the saved checkpoint was taken at."""
        self.source = options.source
        """The workflow file the room's tools are imported beside (on resume, the file that
        vouches for them: the one given, else the one the session was started from)."""
        self._said = _Said()
        self.kept = False
        """Whether the session is saved once the room has closed: a new one in which
        nobody said anything (a start that failed: a model out of reach, a workflow that
        could not be built) is deleted as it closes, so it does not pile up in the list."""

    async def open(self) -> None:
        opts = self.options
        metadata = None
        saved: RoomInfo | None = None
        if opts.session_id is not None:
            # Whatever can refuse a resume is decided before the session is claimed.
            saved = await self._saved_room(opts.session_id)
        elif self.workflow is not None:
            self.resolution = await resolve(workflow=self.workflow.model, cli=opts.model)
            metadata = workflow_metadata(
                self.workflow, absolute_source(opts.source), str(self.resolution.spec)
            )
        engine = await self._stack.enter_async_context(
            Engine.open(
                opts.db,
                session_id=opts.session_id,
                title=self.workflow.name if self.workflow else "",
                metadata=metadata,
                take_over=opts.take_over,
                seed=opts.seed,
            )
        )
        self.engine = engine
        self.kept = True
        engine.bus.attach(self._said)
        if saved is not None:
            assert self.workflow is not None
            self.resolution = await resolve(
                workflow=self.workflow.model, cli=opts.model or saved.metadata.get("model")
            )
            checkpoint = await engine.store.load_room_state(engine.session_id)
            if checkpoint is not None:
                self._since, self._state = checkpoint
        assert self.workflow is not None and self.resolution is not None
        self.model = opts.default_model or make_client(self.resolution.spec)
        # The UI's feed attaches before anything is said, so it misses nothing.
        if opts.feed:
            self.feed = engine.bus.subscribe_live(maxsize=4096)
        engine.bus.attach(self.inflight)
        engine.bus.attach_chunks(self.inflight)
        self.coordinator = build_room(
            engine,
            self.workflow,
            self.model,
            strategy=opts.strategy,
            max_messages=opts.max_messages,
            source=self.source,
        )
        self.humans = [engine.get_agent(h.id) for h in self.workflow.humans]  # type: ignore[misc]
        if self._state is not None:
            fresh = self._state.get("stopped") is not None or opts.max_messages is not None
            await self.coordinator.resume_from(self._state, fresh_budget=fresh, since=self._since)

    async def _saved_room(self, session_id: str) -> RoomInfo:
        """The saved session to resume; sets the workflow it resumes with
        (:func:`workflow_to_resume`).  Only reads: a refused resume changes nothing."""
        async with await Sessions.open(resolve_db_path(self.options.db), create=False) as sessions:
            room = await sessions.find(session_id)
        saved = room.metadata.get("workflow")
        if not saved:
            raise SessionNotFoundError(
                f"session {room.id} was not started from a workflow; there is nothing to resume"
            )
        try:
            workflow = Workflow.model_validate(saved)
        except ValidationError as exc:
            _, where, problem = located(exc.errors()[0])
            raise WorkflowError(
                f"session {room.id}'s saved workflow is not valid ({where}: {problem}); "
                "it cannot be resumed"
            ) from None
        path = room.metadata.get("workflow_path")
        saved_path = path if isinstance(path, str) else ""
        self.workflow = workflow_to_resume(
            workflow, room.id, saved_path, self.options.workflow, self.options.source
        )
        self.source = self.options.source or saved_path
        return room

    async def run(self) -> RunResult:
        """Run the room; returns when a termination condition or /stop ends it."""
        assert self.coordinator is not None and self.workflow is not None
        task = None
        if self._state is None:
            task = self.options.task or self.workflow.task or "Introduce yourselves."
        self.result = await self.coordinator.run(task)
        return self.result

    async def close(self) -> None:
        """Close the session (see :attr:`kept`: one nobody spoke in is deleted)."""
        try:
            await self._stack.aclose()
        finally:
            if self.engine is not None and self.options.session_id is None and not self._said:
                await self._forget(self.engine.session_id)

    async def _forget(self, session_id: str) -> None:
        """Delete the new session nobody spoke in; if that cannot be done now, it stays."""
        with contextlib.suppress(AgentroomError):
            async with await Sessions.open(resolve_db_path(self.options.db)) as sessions:
                await sessions.delete(session_id)
            self.kept = False

    # -- what is saved (an interface asks the room, never the store) ------------------------

    @property
    def sessions(self) -> Sessions:
        """The sessions service on this room's own database connection (open rooms only):
        to page its older envelopes, export it or fork it while it runs."""
        return Sessions(self._engine.store)

    @property
    def tokens(self) -> Tokens:
        """The tokens service on this room's own database connection (open rooms only):
        a served room mints its humans' tokens and checks every connection's with it."""
        return Tokens(self._engine.store)

    def watch_health(self, callback: Callable[[StoreHealth], Any]) -> Callable[[], None]:
        """Call ``callback`` whenever saving fails or works again; returns how to stop that."""
        return self._engine.store.watch_health(callback)

    async def saved(self, env: Envelope) -> bool:
        """Wait until ``env`` is on disk; False if it never will be (see ``closing``)."""
        if env.session_id is None or env.seq is None:
            return False  # not stamped by a bus: not a record of any room
        return await self._engine.store.durable(env.session_id, env.seq)

    def closing(self) -> None:
        """The room is ending: nobody waits on a failing disk any more (``saved`` answers)."""
        self._engine.store.closing()

    @property
    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("the room is not open; call open() first")
        return self.engine

    # -- what the human does ----------------------------------------------------------------

    @property
    def human(self) -> HumanAgent | None:
        """The first human: the one a single-person interface (a local screen, stdin) speaks as."""
        return self.humans[0] if self.humans else None

    def human_named(self, human_id: str) -> HumanAgent | None:
        """The human called ``human_id`` (None: no human here is): whom a line from one of
        several people (a network client) is said as."""
        return next((h for h in self.humans if h.id == human_id), None)

    @property
    def speaking_agent(self) -> str | None:
        """The agent (not a human: a person's turn is no one speaking) mid-turn right now."""
        current = self.coordinator.current_speaker if self.coordinator is not None else None
        if current is None or self.human_named(current) is not None:
            return None
        return current

    @property
    def while_speaking(self) -> WhileSpeaking:
        """What a human's line said while an agent is mid-turn does (``room.while_speaking``)."""
        return self.workflow.room.while_speaking if self.workflow is not None else "enqueue"

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

    def partial(self) -> list[StreamChunk]:
        """The replies being streamed right now, each with all its text so far."""
        return self.inflight.partial()

    @property
    def participants(self) -> list[str]:
        return list(self.engine.agents) if self.engine else []
