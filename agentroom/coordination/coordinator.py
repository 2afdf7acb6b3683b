"""The coordinator: asks the strategy who speaks, gives them the floor, stops when told to.

It runs on the bus's event loop next to the room it schedules (any
:class:`~agentroom.coordination.host.RoomHost`).  An inline bus sink lets
the termination conditions, the strategy, the shared memory and the room view
see every envelope, including what a human says at any moment (which the next
speaker then finds in its own context).  After every turn the coordinator's
whole state is checkpointed (one small row), so a stopped or crashed session
resumes exactly where it was.  Before each turn the room says who speaks
and why (a ``speaker_selected`` status), whatever the strategy.  A human's
line to one agent gives that agent the next turn before the strategy is
asked (:mod:`~agentroom.coordination.floor`), so no selector model is asked
for a choice a person already made.  Control from
a human interface arrives as
method calls: :meth:`stop`, :meth:`pause`, :meth:`resume`,
:meth:`switch_strategy`; each is announced as a ``status`` envelope.  A human's line
that cuts a speaker short goes through :meth:`interject`, so it lands between
the interrupted reply and the next turn.

Runs behave as AutoGen's teams do: each :meth:`run` starts with a fresh
termination budget and carries on the order (cursor, active agent, plan)
where the last one left it; only one run at a time; :meth:`reset` starts the
team over.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from agentroom.coordination.floor import FloorRequest, FloorRequests
from agentroom.coordination.host import RoomHost
from agentroom.coordination.memory import MEMORY_EVENTS, Blackboard
from agentroom.coordination.strategy import Participant, RoomView, Speak, Strategy
from agentroom.coordination.termination import ExternalStop, FailedTurns, Termination
from agentroom.core.errors import AgentTurnError, RunInProgressError, StoreWriteError
from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType
from agentroom.store import SqliteStore

log = logging.getLogger(__name__)


T = TypeVar("T")

RUN_TAIL = 1000
"""How many of a run's newest envelopes a :class:`RunResult` holds (``keep_envelopes``)."""


@dataclass(slots=True)
class RunResult:
    """Why a run stopped, and its envelopes: the newest in memory, all of them in SQLite.

    ``envelopes`` holds the run's newest envelopes (all of a run of up to
    ``RUN_TAIL``; see the coordinator's ``keep_envelopes``), so a long run does
    not keep its whole log in memory.  The run is envelopes ``first_seq`` to
    ``last_seq`` of the session; :meth:`read` streams all of them from the store.
    """

    session_id: str
    reason: str
    envelopes: list[Envelope] = field(default_factory=list)
    turns: int = 0
    failed: bool = False
    """The run ended because turns kept failing (``reason`` says whose, and why)."""
    first_seq: int = 0
    last_seq: int = 0

    @property
    def messages(self) -> list[Envelope]:
        """The ``message`` envelopes among :attr:`envelopes`."""
        return [e for e in self.envelopes if e.type is MessageType.MESSAGE]

    @property
    def count(self) -> int:
        """How many envelopes the run published (``envelopes`` may hold only the newest)."""
        return max(0, self.last_seq - self.first_seq + 1)

    @property
    def complete(self) -> bool:
        """True when :attr:`envelopes` holds every envelope of the run."""
        return len(self.envelopes) == self.count

    def read(self, store: SqliteStore) -> AsyncIterator[Envelope]:
        """Every envelope of the run, in ``seq`` order, read from ``store`` in chunks."""
        return store.read_envelopes(self.session_id, after_seq=self.first_seq - 1, limit=self.count)


StrategyFactory = Callable[[str], Strategy]


class MultiAgentCoordinator:
    """Schedules the room's turns; see the module docstring."""

    def __init__(
        self,
        host: RoomHost,
        strategy: Strategy,
        termination: Termination,
        *,
        participants: dict[str, Participant] | None = None,
        memory: Blackboard | None = None,
        strategies: StrategyFactory | None = None,
        keep_envelopes: bool | int = True,
        failures: FailedTurns | None = None,
    ) -> None:
        self.host = host
        self.strategy = strategy
        self.external = ExternalStop()
        self.failures = failures or FailedTurns()
        """Always part of the termination: a room whose turns keep failing ends."""
        self.termination = termination | self.failures | self.external
        self.memory = memory
        self.make_strategy = strategies
        if participants is None:
            participants = {
                a.id: Participant(a.id, a.role, a.description, a.kind == "human")
                for a in host.agents.values()
            }
        self.room = RoomView(host, participants)
        self.floor = FloorRequests(participants)
        """The agents humans have given the floor to, not yet heard from."""
        self.turns = 0
        self.rounds = 0
        self.stopped: str | None = None
        # A run's result holds its newest envelopes only (True: RUN_TAIL; False: none).
        self._keep = RUN_TAIL if keep_envelopes is True else int(keep_envelopes)
        self._seen: deque[Envelope] = deque(maxlen=self._keep)
        self._running = asyncio.Event()
        self._running.set()
        self._wake = asyncio.Event()  # a stop, or a termination firing, while waiting on the store
        self._current: str | None = None
        self._turn_lock = asyncio.Lock()
        """Held while a speaker is chosen and speaks: :meth:`interject` waits for the gap."""
        self._round_due = False
        self._in_run = False
        host.bus.attach(self)
        if memory is not None:
            host.bus.attach(memory)

    # -- the bus sink --------------------------------------------------------------------

    def offer(self, envelope: Envelope) -> bool:
        self.room.observe(envelope)
        self.floor.observe(envelope)
        self.strategy.observe(envelope)
        self.termination.observe(envelope)
        self._seen.append(envelope)
        return True

    async def put(self, envelope: Envelope) -> None:
        self.offer(envelope)

    # -- control ------------------------------------------------------------------------

    @property
    def current_speaker(self) -> str | None:
        """Who has the floor right now (None between turns)."""
        return self._current

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def stop(self, reason: str = "stopped by the human") -> None:
        """End the run after (or, if someone is speaking, by interrupting) the current turn."""
        self.external.request(reason)
        self._running.set()
        self._wake.set()
        if self._current is not None:
            self.host.interrupt(self._current)

    async def interject(self, line: Callable[[], Awaitable[T]]) -> T:
        """Interrupt whoever is speaking, then do ``line`` (say a human's line) once that turn
        is over and before anyone is given the next one; returns what ``line`` returns.

        The interrupted reply (kept, marked as such) comes first in the log, then
        the line, and the next speaker reads both; a line naming an agent gives
        it the floor as any line does.  Saying the line at once instead could
        put it before the partial reply, or after the next speaker has built
        its context.  Between turns (or with no run going) ``line`` runs now.
        """
        if self._current is not None:
            self.host.interrupt(self._current)
        async with self._turn_lock:
            return await line()

    async def pause(self) -> None:
        if self._running.is_set():
            self._running.clear()
            await self.host.bus.announce(
                "paused: no one is given a turn until resumed", metadata={"event": Event.PAUSED}
            )

    async def resume(self) -> None:
        if not self._running.is_set():
            self._running.set()
            await self.host.bus.announce("resumed", metadata={"event": Event.RESUMED})

    async def switch_strategy(self, name: str, strategy: Strategy | None = None) -> None:
        """Change how the next speaker is picked, mid-session; recorded as a status."""
        if strategy is None:
            if self.make_strategy is None:
                raise ValueError("this coordinator has no way to build other strategies")
            strategy = self.make_strategy(name)
        before = self.strategy.name
        self.strategy = strategy
        await self.host.bus.announce(
            f"strategy switched from {before} to {strategy.name}",
            metadata={"event": Event.STRATEGY_SWITCHED, "from": before, "to": strategy.name},
        )
        self.checkpoint()

    # -- state ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy.name,
            "strategy_state": self.strategy.state(),
            "turns": self.turns,
            "rounds": self.rounds,
            "round_due": self._round_due,
            "termination": self.termination.state(),
            "memory": self.memory.state() if self.memory is not None else None,
            "stopped": self.stopped,
            "task": self.host.task,
            "last_speaker": self.room.last_speaker,
            "addressed": self.floor.state(),
        }

    async def resume_from(
        self, state: dict[str, Any], *, fresh_budget: bool, since: int | None = None
    ) -> None:
        """Continue a saved session: rebuild the blackboard from the log, then :meth:`load`.

        ``since`` is the seq the checkpoint was taken at: a human's line to an
        agent said after it (the process died before the next one) still gives
        that agent the floor.
        """
        store, session = self.host.store, self.host.session_id
        if self.memory is not None:
            async for env in store.read_envelopes(
                session, type=MessageType.ACTION, events=MEMORY_EVENTS
            ):
                self.memory.offer(env)
            self.memory.load({})  # the writes replayed are history, not this round's clash
        self.load(state, fresh_budget=fresh_budget)
        if since is not None:
            async for env in store.read_envelopes(
                session, after_seq=since, type=MessageType.MESSAGE
            ):
                self.floor.observe(env)

    def load(self, state: dict[str, Any], *, fresh_budget: bool) -> None:
        """Continue from a checkpoint; ``fresh_budget`` restarts the termination counters.

        Nothing of ``state`` is kept by reference: the caller's object never changes.
        """
        state = copy.deepcopy(state)
        if state.get("strategy") != self.strategy.name and self.make_strategy is not None:
            self.strategy = self.make_strategy(state["strategy"])
        self.strategy.load(state.get("strategy_state") or {})
        self.turns = int(state.get("turns", 0))
        self.rounds = int(state.get("rounds", 0))
        self._round_due = bool(state.get("round_due")) and self.memory is not None
        self.room.last_speaker = state.get("last_speaker")
        self.floor.load(state.get("addressed"))
        if self.memory is not None and state.get("memory"):
            self.memory.load(state["memory"])
        if not fresh_budget:
            self.termination.load(state.get("termination") or {})
            self.external.reason = None  # a stop request ends only the run it was made in
            self.termination.refresh()
        self.host.task = state.get("task") or self.host.task

    def checkpoint(self) -> None:
        self.host.store.save_room_state(self.host.session_id, self.host.bus.last_seq, self.state())

    # -- the run --------------------------------------------------------------------------

    async def reset(self) -> None:
        """Start the team over: the order, the counters and the strategy's state.

        The session's log and every agent's history stay as they are (they
        are the record); the next :meth:`run` begins as a new team's first.
        A human's line to an agent not yet answered still gives it the floor.
        """
        if self._in_run:
            raise RunInProgressError(
                "cannot reset the room while it runs: stop() it and wait for run() to return"
            )
        self.strategy.reset()
        self.termination.reset()
        self.turns = self.rounds = 0
        self.stopped = None
        self.room.last_speaker = None
        self.room.recent.clear()
        if self.memory is not None:
            self.memory.load({})  # the open round's writes are forgotten; the board stays
        self._round_due = False
        await self.host.bus.announce(
            "the room starts over: order, counters and strategy reset",
            metadata={"event": Event.RESET, "strategy": self.strategy.name},
        )
        self.checkpoint()

    async def run(self, task: str | None = None) -> RunResult:
        """Run until a termination condition fires (or the strategy runs out).

        Refused while another run is going.  When it returns, the termination
        conditions are reset, so the next run has a budget of its own.
        """
        if self._in_run:
            raise RunInProgressError(
                "this room is already running: wait for run() to return, or stop() it first"
            )
        self._in_run = True
        try:
            return await self._run(task)
        finally:
            self._in_run = False
            self.termination.reset()

    async def _run(self, task: str | None) -> RunResult:
        host = self.host
        self.stopped = None
        self._seen.clear()
        first_seq = host.bus.last_seq + 1
        self.termination.started()
        if task:
            host.task = task
            self.strategy.new_task(task)
            await host.bus.announce(task, type=MessageType.MESSAGE, metadata={"event": Event.TASK})
            self.checkpoint()  # the run has begun: a resume (or a fork from here) goes on with it
        reason: str | None = None
        ticker = asyncio.get_running_loop().create_task(self._tick())
        try:
            if self._round_due:  # a crash came while the last round was being settled
                await self._end_round()
            while reason is None:
                reason = self._stop_reason()
                if reason is not None:
                    break
                await self._running.wait()
                reason = self._stop_reason() or await self._store_writable()
                if reason is not None:
                    break
                strategy = self.strategy
                async with self._turn_lock:
                    speak, addressed, own = await self._next(strategy)
                    if speak is None:
                        reason = strategy.finished_reason
                        break
                    await self._announce(speak, strategy, addressed)
                    result = await self._turn(speak)
                    self.turns += 1
                    self.room.last_speaker = speak.agent_id
                    if own and strategy is self.strategy:  # a switch mid-turn starts the new one
                        await strategy.turn_done(self.room, speak, result)
                    self.termination.turn_ended()
                    self._round_due = self.memory is not None and (
                        self.turns % self.strategy.round_size(self.room) == 0
                    )
                    self.checkpoint()  # the turn is done: whatever happens next, it never reruns
                if self._round_due:
                    await self._end_round()
        finally:
            ticker.cancel()
        self.stopped = reason
        await host.bus.announce(
            f"stopped: {reason}", metadata={"event": Event.STOPPED, "reason": reason}
        )
        self.checkpoint()
        with contextlib.suppress(StoreWriteError):  # the room's close tries once more, and says
            await host.flush()
        failed = self.failures.fired and reason == self.failures.reason
        return RunResult(
            host.session_id,
            reason,
            list(self._seen),
            self.turns,
            failed,
            first_seq,
            host.bus.last_seq,
        )

    async def _store_writable(self) -> str | None:
        """While the store cannot write, give no turn: say so once, wait, say when it can again.

        Returns a reason to stop when it never will (the room was taken over),
        or when the run is stopped meanwhile.
        """
        store = self.host.store
        health = store.health
        if health.ok:
            return None
        if not health.permanent:
            await self.host.bus.announce(health.describe(), metadata={"event": Event.STORE_FAILING})
        self._wake.clear()
        while not health.ok and not health.permanent and self._stop_reason() is None:
            changed = asyncio.ensure_future(store.health_changed())
            woken = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait((changed, woken), return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            woken.cancel()
            health = store.health
        if health.permanent:
            return health.describe()
        if health.ok:
            await self.host.bus.announce(
                "the room can be saved again; carrying on",
                metadata={"event": Event.STORE_RECOVERED},
            )
        return self._stop_reason()

    def _stop_reason(self) -> str | None:
        # The external stop is asked for between envelopes too (a /stop while paused).
        return self.termination.reason or self.external.reason

    async def _end_round(self) -> None:
        """Settle the round's memory conflicts; resumable, since the turn is checkpointed first.

        A crash here leaves ``round_due`` and the round's writes in the checkpoint
        and the votes already cast in the log, so the resumed run finishes this
        (and only this) before anyone takes a turn.
        """
        assert self.memory is not None
        await self.memory.end_round(self.room)
        self.rounds += 1
        self._round_due = False
        self.checkpoint()

    async def _tick(self, every: float = 0.25) -> None:
        """Time-based conditions fire even while someone (a human) is silent for long."""
        while True:
            await asyncio.sleep(every)
            self.termination.tick()
            if self.termination.fired:
                self._wake.set()
            if self.termination.fired and self._current is not None:
                self.host.interrupt(self._current)
                self._running.set()

    async def _next(self, strategy: Strategy) -> tuple[Speak | None, FloorRequest | None, bool]:
        """Who speaks next, the human's request that gave them the turn, if one did, and
        whether the turn is the strategy's own (its ``turn_done`` is told of it).

        A human's request comes first and asks nobody.  When it names the agent
        the strategy would give the turn to anyway, the strategy's own pick is
        used (with its hints), so that agent does not speak twice.
        """
        request = self.floor.take()
        if request is not None and strategy.due(self.room) != request.agent:
            return Speak(request.agent, by=request.why), request, False
        speak = await strategy.next_speaker(self.room)
        if request is not None and speak is not None:
            speak = replace(speak, by=request.why)
        return speak, request, True

    async def _announce(
        self, speak: Speak, strategy: Strategy, addressed: FloorRequest | None
    ) -> None:
        """Say who speaks next and why, once here for every strategy."""
        by = speak.by or f"the {strategy.name} strategy"
        metadata = {"event": Event.SPEAKER_SELECTED, "agent": speak.agent_id, "by": by}
        if addressed is not None:
            metadata["addressed_by"] = addressed.by
        await self.host.bus.announce(f"next: {speak.agent_id}, chosen by {by}", metadata=metadata)

    async def _turn(self, speak: Speak) -> Envelope | None:
        """Run one turn and tell :attr:`failures` how it went."""
        agent_id = self._current = speak.agent_id
        try:
            result = await self.host.run_agent_turn(
                agent_id, hints=speak.hints, address=speak.address
            )
        except AgentTurnError as exc:  # already told to the room as a status
            log.info("turn failed: %s", exc)
            self.failures.failed(agent_id, str(exc.__cause__ or exc))
            return None
        finally:
            self._current = None
        if result.type is not MessageType.STATUS:
            self.failures.succeeded(agent_id)
        elif result.metadata.get("event") == Event.EMPTY_REPLY:  # a model that says nothing
            self.failures.failed(agent_id, result.content)
        # Anything else said nothing and failed at nothing: a person skipped, an interrupt.
        return result

    def detach(self) -> None:
        self.host.bus.detach(self)
        if self.memory is not None:
            self.host.bus.detach(self.memory)
