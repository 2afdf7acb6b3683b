"""Coordination overhead: messages per second through a whole coordinated room.

Three agents take turns round-robin under a :class:`MultiAgentCoordinator`
until ``MaxMessages(N)`` fires, on a real engine (bus, SQLite store with
``durability=full``, per-agent conversations, usage ledger) opened on a temp
file.  Timed from ``coordinator.run()`` until ``engine.flush()`` returns, so
every envelope of the run (messages, stream chunks, usage statuses, the
coordinator's checkpoint after every turn) is committed.

The model is a tiny in-process ``ModelClient`` (``_InstantModel``) that yields
one ``TextDelta``, a ``Usage`` and a ``Finished`` per request and never
sleeps, so only orchestration is measured: the strategy, the terminations,
the ``LLMAgent`` turn (prompt from the bounded context, streaming publisher,
usage status, reply) and persistence.  (``ReplayClient`` would do too, but it
keeps every request and counts the prompt's words, which is not the room's
cost.)  The same run with ``ScriptedAgent`` agents is reported for comparison.

Goal: the cost per message at 10,000 messages is within 1.2x of the cost at
1,000, i.e. nothing in a turn grows with the room's history.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from agentroom import Engine, LLMAgent, ScriptedAgent
from agentroom.coordination import MaxMessages, MultiAgentCoordinator, RoundRobin
from agentroom.core.protocol import MessageType
from agentroom.models.types import Finished, ModelEvent, ModelRequest, TextDelta, Usage
from bench.util import Result, median_best, note, now, rates, repeat, report, section, tempdir

SIZES = (1_000, 10_000)
REPEATS = {1_000: 5, 10_000: 3}
AGENTS = ("a0", "a1", "a2")
GOAL_RATIO = 1.2
REPLY = "x" * 100


class _InstantModel:
    """One delta, its usage, done: a model that costs nothing."""

    label = "bench-instant"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        yield TextDelta(REPLY)
        yield Usage(10, 1)
        yield Finished("stop")


def _agents(kind: str) -> list:
    if kind == "llm":
        model = _InstantModel()
        return [LLMAgent(name, model) for name in AGENTS]
    return [ScriptedAgent(name, lambda turn: REPLY) for name in AGENTS]


class Run:
    """One measured run; keeps what a caller (or a profiler) may want to look at."""

    def __init__(self, kind: str, messages: int) -> None:
        self.kind = kind
        self.messages = messages
        self.envelopes = 0
        self.reason = ""

    async def __call__(self, profile: object | None = None) -> float:
        with tempdir() as folder:
            async with Engine.open(os.path.join(folder, "bench.db"), title="bench") as engine:
                for agent in _agents(self.kind):
                    engine.register_agent(agent)
                coordinator = MultiAgentCoordinator(
                    engine, RoundRobin(list(AGENTS)), MaxMessages(self.messages)
                )
                await engine.flush()  # the room and agent rows are setup, not timed
                if profile is not None:
                    profile.enable()  # type: ignore[attr-defined]
                start = now()
                result = await coordinator.run()
                await engine.flush()
                elapsed = now() - start
                if profile is not None:
                    profile.disable()  # type: ignore[attr-defined]
                # The result holds the run's newest envelopes; the whole run is in SQLite.
                said = 0
                async for env in result.read(engine.store):
                    said += env.type is MessageType.MESSAGE
                if said != self.messages:
                    raise RuntimeError(f"expected {self.messages} messages, the run had {said}")
                self.envelopes = result.count
                self.reason = result.reason
            return elapsed


async def run() -> list[Result]:
    results: list[Result] = []
    for kind, title in (("llm", "LLMAgent, instant model"), ("scripted", "ScriptedAgent")):
        section(
            f"room: 3 {title} agents, round-robin, MaxMessages(N), durable in SQLite, "
            f"median of {REPEATS[SIZES[0]]}/{REPEATS[SIZES[1]]}"
        )
        per_message: dict[int, float] = {}
        for size in SIZES:
            measure = Run(kind, size)
            seconds = await repeat(measure, REPEATS[size], warmup=1 if size == SIZES[0] else 0)
            median, best = rates(size, seconds)
            results.append(report(f"room messages/s, {kind} agents, N={size:,}", median, best=best))
            us, us_best = median_best([s * 1e6 / size for s in seconds])
            per_message[size] = us
            report(f"room cost per message, {kind} agents, N={size:,}", us, "µs", best=us_best)
            note(f"{measure.envelopes / size:.1f} envelopes per message ({measure.reason})")
        ratio = per_message[SIZES[1]] / per_message[SIZES[0]]
        results.append(
            report(
                f"room per-message cost ratio N={SIZES[1]:,} / N={SIZES[0]:,}, {kind} agents",
                ratio,
                "x",
                goal=GOAL_RATIO,
                higher_is_better=False,
            )
        )
    return results
