"""The packaged local model: tokens per second, time to first token, memory.

Measured through the room's own path (``make_client("local")`` streamed the
way an ``LLMAgent`` reads it), so the numbers include the worker thread and
the hop of every token onto the event loop:

- alone: one agent asks short questions, one after another;
- a room: three agents with different roles take turns in order through an
  ``Engine`` (each turn's prompt is that agent's own view, so a turn mostly
  reads a new prompt: the cost a real room pays);
- memory: the process's resident set before the model is loaded, after, and
  at its peak.

Time to first token is from the request until the first text arrives;
tokens per second counts generated tokens over the time from the first
token to the last.  Skipped, with the reason, when the local model is not
installed.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from typing import Any

from bench.util import Result, median_best, note, report, section, tempdir

QUESTIONS = (
    "Name one fruit that is yellow.",
    "What do bees make?",
    "Say something kind about rain.",
    "What is the capital of France?",
    "Which season comes after winter?",
    "Name a tool for cutting paper.",
)
ROOM_TURNS = 9
MAX_TOKENS = 48


async def _cancel_latency(client: Any) -> dict[str, float]:
    """Milliseconds from cancelling a turn until the model's thread has let go of it."""
    from agentroom.models.types import ChatMessage, ModelRequest, TextDelta

    runtime = client._runtime
    long = ModelRequest(
        messages=(ChatMessage("user", "Write a long story about the sea. " * 40),),
        max_tokens=400,
    )

    async def until_free(start: float) -> float:
        while runtime._current is not None:  # noqa: ASYNC110 (set by the model thread)
            await asyncio.sleep(0.0002)
        return (time.perf_counter() - start) * 1000

    out = {}
    stream = client.stream(long)
    tokens = 0
    async for event in stream:
        tokens += isinstance(event, TextDelta)
        if tokens == 5:
            break
    start = time.perf_counter()
    await stream.aclose()
    out["mid-reply"] = await until_free(start)

    async def drain() -> None:
        async for _ in client.stream(long):
            pass

    task = asyncio.ensure_future(drain())
    while runtime._current is None:  # noqa: ASYNC110 (the model thread starts the job)
        await asyncio.sleep(0.0005)
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    task.cancel()
    out["while reading the prompt"] = await until_free(start)
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for text in fh:
            if text.startswith("VmRSS:"):
                return int(text.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Timed:
    """Wraps a client: records first-token time and token count of every stream."""

    def __init__(self, client: object) -> None:
        self._client = client
        self.label = client.label  # type: ignore[attr-defined]
        self.ttft: list[float] = []
        self.rates: list[float] = []

    async def stream(self, request):  # type: ignore[no-untyped-def]
        from agentroom.models.types import TextDelta

        start = time.perf_counter()
        first = last = None
        tokens = 0
        async for event in self._client.stream(request):  # type: ignore[attr-defined]
            if isinstance(event, TextDelta):
                last = time.perf_counter()
                if first is None:
                    first = last
                    self.ttft.append(first - start)
                tokens += 1
            yield event
        if first is not None and last is not None and tokens > 1:
            self.rates.append((tokens - 1) / (last - first))


async def run() -> list[Result]:
    from agentroom.models.local import missing

    section("local model: SmolLM2-135M-Instruct on llama-cpp-python, through the room's client")
    why = missing()
    if why is not None:
        note(f"skipped: {why}")
        return []
    from agentroom import Engine
    from agentroom.agents import AgentSettings, LLMAgent
    from agentroom.models.local import default_threads
    from agentroom.models.spec import make_client
    from agentroom.models.types import ChatMessage, ModelRequest

    results: list[Result] = []
    before = _rss_mb()
    started = time.perf_counter()
    client = _Timed(make_client("local"))
    warm = ModelRequest(messages=(ChatMessage("user", "Hello."),), max_tokens=4)
    async for _ in client.stream(warm):
        pass
    loaded = time.perf_counter() - started
    client.ttft.clear()
    client.rates.clear()
    after = _rss_mb()
    note(f"{default_threads()} thread(s); first call (load + 4 tokens) {loaded:.2f} s")

    for question in QUESTIONS:
        request = ModelRequest(
            messages=(
                ChatMessage("system", "You answer in one short sentence."),
                ChatMessage("user", question),
            ),
            max_tokens=MAX_TOKENS,
            temperature=0.3,
        )
        async for _ in client.stream(request):
            pass
    ttft, ttft_best = median_best([t * 1000 for t in client.ttft])
    rate, rate_best = median_best(client.rates, lower_is_better=False)
    results.append(report("local model alone: tokens/s", rate, "tok/s", best=rate_best))
    results.append(report("local model alone: time to first token", ttft, "ms", best=ttft_best))

    room = _Timed(client._client)
    settings = AgentSettings(max_tokens=MAX_TOKENS, temperature=0.4)
    with tempdir() as folder:
        async with Engine.open(f"{folder}/local.db") as engine:
            engine.task = "Plan a picnic in the park for Saturday."
            names = ("planner", "critic", "cook")
            for name in names:
                engine.register_agent(LLMAgent(name, room, role=name, settings=settings))
            start = time.perf_counter()
            for i in range(ROOM_TURNS):
                await engine.run_agent_turn(names[i % len(names)])
            wall = time.perf_counter() - start
    ttft, ttft_best = median_best([t * 1000 for t in room.ttft])
    rate, rate_best = median_best(room.rates, lower_is_better=False)
    results.append(report("local model, 3 agents taking turns: tokens/s", rate, "tok/s"))
    results.append(
        report(
            "local model, 3 agents taking turns: time to first token", ttft, "ms", best=ttft_best
        )
    )
    note(
        f"{ROOM_TURNS} turns in {wall:.1f} s ({wall / ROOM_TURNS:.2f} s a turn); "
        f"slowest first token {max(room.ttft) * 1000:.0f} ms, "
        f"median {statistics.median(room.ttft) * 1000:.0f} ms"
    )
    stops = await _cancel_latency(client._client)
    for what, ms in stops.items():
        results.append(report(f"local model: stopped after a cancel {what}", ms, "ms"))
    results.append(report("local model: resident memory added by loading it", after - before, "MB"))
    results.append(report("local model: peak resident memory of the process", _peak_mb(), "MB"))
    return results
