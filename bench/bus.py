"""Bus fan-out: deliveries per second with 1 publisher and 10 subscribers.

Goal: >= 200,000 deliveries/s.  Timed from the first publish until every
subscriber has received all N envelopes; deliveries = N * subscribers.
"""

from __future__ import annotations

import asyncio

from agentroom.bus import MessageBus
from bench.util import Result, now, rates, repeat, report, section

N = 20_000
SUBSCRIBERS = 10
REPEATS = 5
GOAL = 200_000
CONTENT = "x" * 100


async def _iterators() -> float:
    """10 ``bus.subscribe()`` subscriptions, each drained with ``get_batch`` in a task."""
    bus = MessageBus("bench-session")
    handle = bus.register("pub")
    subs = [bus.subscribe() for _ in range(SUBSCRIBERS)]

    async def consume(sub) -> None:
        seen = 0
        while seen < N:
            batch = await sub.get_batch()
            if not batch:
                raise RuntimeError(f"subscription closed after {seen} of {N} envelopes")
            seen += len(batch)

    consumers = [asyncio.create_task(consume(sub)) for sub in subs]
    await asyncio.sleep(0)  # let every consumer reach its first wait
    start = now()
    for _ in range(N):
        await handle.publish(CONTENT)
    await asyncio.gather(*consumers)
    elapsed = now() - start
    for sub in subs:
        await sub.aclose()
    await bus.aclose()
    return elapsed


async def _callbacks() -> float:
    """10 ``bus.subscribe(callback)`` subscribers with a cheap sync counting callback."""
    bus = MessageBus("bench-session")
    handle = bus.register("pub")
    loop = asyncio.get_running_loop()
    finished = [loop.create_future() for _ in range(SUBSCRIBERS)]
    counts = [0] * SUBSCRIBERS

    def counter(i: int):
        done = finished[i]

        def callback(_envelope) -> None:
            counts[i] += 1
            if counts[i] == N:
                done.set_result(None)

        return callback

    for i in range(SUBSCRIBERS):
        bus.subscribe(counter(i))
    start = now()
    for _ in range(N):
        await handle.publish(CONTENT)
    await asyncio.gather(*finished)
    elapsed = now() - start
    await bus.aclose()
    if counts != [N] * SUBSCRIBERS:
        raise RuntimeError(f"callbacks saw {counts}, expected {N} each")
    return elapsed


async def run() -> list[Result]:
    section(f"bus: {N:,} envelopes of 100 chars, median of {REPEATS}")
    results = []
    for name, measure in (("async iterators", _iterators), ("callbacks", _callbacks)):
        median, best = rates(N * SUBSCRIBERS, await repeat(measure, REPEATS, warmup=1))
        results.append(
            report(
                f"bus deliveries/s (1 publisher, {SUBSCRIBERS} subscribers, {name})",
                median,
                best=best,
                goal=GOAL,
            )
        )
    return results
