"""Durable envelopes per second through the SQLite store (and through the engine).

Goal: >= 100,000 durable envelopes/s on the plain bus -> store path.  Timed
from the first publish until ``store.flush()`` returns (everything committed).
"""

from __future__ import annotations

import os
import statistics

from agentroom import Engine, ScriptedAgent
from agentroom.bus import MessageBus
from agentroom.store import SqliteStore
from agentroom.store.sqlite import Durability
from bench.util import Result, median_best, note, now, rates, repeat, report, section, tempdir

N = 50_000
REPEATS = 5
GOAL = 100_000
CONTENT = "x" * 100
LATENCY_SAMPLES = 500
TURNS = 10_000
AGENTS = 3


async def _throughput(durability: Durability) -> float:
    with tempdir() as folder:
        store = await SqliteStore.open(os.path.join(folder, "bench.db"), durability=durability)
        room = store.create_room("bench")
        await store.flush()  # the room row is setup, not part of the timing
        bus = MessageBus(room)
        bus.attach(store.sink)
        handle = bus.register("pub")
        start = now()
        for _ in range(N):
            await handle.publish(CONTENT)
        await store.flush()
        elapsed = now() - start
        await bus.aclose()
        await store.close()
        return elapsed


async def _store_alone(durability: Durability) -> float:
    """Envelopes made beforehand, handed straight to the store's sink, then flushed.

    This isolates the store (row encoding, group commit, SQLite) from the
    cost of minting envelopes on the bus, which ``bench bus`` measures.
    """
    with tempdir() as folder:
        store = await SqliteStore.open(os.path.join(folder, "bench.db"), durability=durability)
        room = store.create_room("bench")
        await store.flush()
        made: list = []
        maker = MessageBus(room)
        maker.attach(_Collect(made))
        handle = maker.register("pub")
        for _ in range(N):
            await handle.publish(CONTENT)
        sink = store.sink
        start = now()
        for env in made:
            if not sink.offer(env):
                await sink.put(env)
        await store.flush()
        elapsed = now() - start
        await store.close()
        return elapsed


class _Collect:
    """A bus sink that just keeps what it is given."""

    def __init__(self, into: list) -> None:
        self.into = into

    def offer(self, envelope) -> bool:
        self.into.append(envelope)
        return True

    async def put(self, envelope) -> None:
        self.into.append(envelope)


async def _latencies(durability: Durability) -> list[float]:
    """Seconds for each of LATENCY_SAMPLES publish + flush pairs (one commit each)."""
    with tempdir() as folder:
        store = await SqliteStore.open(os.path.join(folder, "bench.db"), durability=durability)
        room = store.create_room("bench")
        await store.flush()
        bus = MessageBus(room)
        bus.attach(store.sink)
        handle = bus.register("pub")
        for _ in range(20):  # warm up the connection and the file
            await handle.publish(CONTENT)
            await store.flush()
        samples = []
        for _ in range(LATENCY_SAMPLES):
            start = now()
            await handle.publish(CONTENT)
            await store.flush()
            samples.append(now() - start)
        await bus.aclose()
        await store.close()
        return samples


async def _engine_turns() -> float:
    with tempdir() as folder:
        async with Engine.open(os.path.join(folder, "bench.db"), title="bench") as engine:
            names = [f"agent{i}" for i in range(AGENTS)]
            for name in names:
                engine.register_agent(ScriptedAgent(name, lambda turn: "x" * 100))
            await engine.flush()
            start = now()
            for i in range(TURNS):
                await engine.run_agent_turn(names[i % AGENTS])
            await engine.flush()
            return now() - start


async def run() -> list[Result]:
    section(f"store: {N:,} envelopes of 100 chars, publish -> flush, median of {REPEATS}")
    results = []
    for durability in ("full", "normal"):
        median, best = rates(N, await repeat(lambda d=durability: _store_alone(d), REPEATS))
        results.append(
            report(
                f"store durable envelopes/s, store alone (durability={durability})",
                median,
                best=best,
                goal=GOAL,
            )
        )
    for durability in ("full", "normal"):
        median, best = rates(N, await repeat(lambda d=durability: _throughput(d), REPEATS))
        results.append(
            report(
                f"bus -> store durable envelopes/s, end to end (durability={durability})",
                median,
                best=best,
            )
        )
    for durability in ("full", "normal"):
        samples = await _latencies(durability)
        median, best = median_best([s * 1e6 for s in samples])
        p99 = statistics.quantiles(samples, n=100)[98] * 1e6
        results.append(
            report(
                f"store publish+flush latency, 1 at a time (durability={durability})",
                median,
                f"µs median of {LATENCY_SAMPLES}",
                best=best,
            )
        )
        note(f"p99 {p99:,.0f} µs, i.e. {1e6 / median:,.0f} commits/s one envelope at a time")
    median, best = rates(TURNS, await repeat(_engine_turns, REPEATS))
    results.append(
        report(
            f"engine turns/s ({AGENTS} scripted agents, durability=full, incl. history)",
            median,
            best=best,
        )
    )
    note(f"i.e. {median * AGENTS:,.0f} history rows/s on top of {median:,.0f} envelopes/s")
    return results
