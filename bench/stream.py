"""CPU cost per streamed token, from the model client to the envelope on the bus.

Goal: under 20 µs per token.  A whole LLMAgent turn runs through the engine
(bus, store and conversations attached) on a reply of N tokens:

- over HTTP: the real OpenAI-compatible client (the openai SDK making the
  request, our parser reading its server-sent events) against a server faked at
  the transport level, so all the per-chunk work is counted but no socket is;
- from the replay client: our own path alone (no SDK).

The process's CPU time for the turn is divided by N.  The stream reaches the
bus as ephemeral chunks at 20 Hz (coalesced; live viewers only, never stored),
then one ``message``.
"""

from __future__ import annotations

import json
import os
import time

from agentroom import Engine
from agentroom.agents import LLMAgent
from agentroom.core.chunk import StreamChunk
from agentroom.models.http import http
from agentroom.models.openai_compat import OpenAICompatClient
from agentroom.models.replay import ReplayClient
from bench.util import Result, median_best, note, report, section, tempdir

TOKENS = 20_000
REPEATS = 5
GOAL_US = 20.0


def _sse_body(tokens: int) -> bytes:
    def chunk(delta: dict, finish: str | None = None) -> str:
        body = {
            "id": "b",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    parts = [chunk({"content": f" tok{i % 100}"}) for i in range(tokens)]
    parts.append(chunk({}, "stop"))
    usage = {
        "id": "b",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": tokens + 10},
    }
    parts.append(f"data: {json.dumps(usage)}\n\n")
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


def _http_client(body: bytes) -> OpenAICompatClient:
    def handler(request: http.Request) -> http.Response:
        return http.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return OpenAICompatClient(
        "bench",
        base_url="http://bench.local/v1",
        http_client=http.AsyncClient(transport=http.MockTransport(handler)),
    )


async def _turn(make_model) -> tuple[float, int]:
    """(CPU µs per token, stream chunks published) for one turn of TOKENS tokens."""
    with tempdir() as folder:
        async with Engine.open(os.path.join(folder, "bench.db")) as engine:
            engine.register_agent(LLMAgent("talker", make_model()))
            chunks = engine.bus.subscribe_live(maxsize=1_000_000)
            start = time.process_time()
            reply = await engine.run_agent_turn("talker")
            await engine.flush()
            cpu = time.process_time() - start
            assert reply.content.count("tok") == TOKENS, "the whole reply must arrive"
            streamed = sum(
                isinstance(item, StreamChunk) for item in await chunks.get_batch(1_000_000)
            )
    return cpu / TOKENS * 1e6, streamed


async def run() -> list[Result]:
    section(f"stream: one turn of {TOKENS:,} tokens through the engine, median of {REPEATS}")
    results = []
    body = _sse_body(TOKENS)
    words = [f"tok{i % 100}" for i in range(TOKENS)]
    for label, make in (
        ("over HTTP (openai SDK request, SSE parsed here)", lambda: _http_client(body)),
        ("from the replay client (no SDK)", lambda: ReplayClient([" ".join(words)])),
    ):
        samples = [await _turn(make) for _ in range(REPEATS)]
        median, best = median_best([us for us, _ in samples])
        results.append(
            report(
                f"stream CPU per token, {label}",
                median,
                "µs",
                best=best,
                goal=GOAL_US,
                higher_is_better=False,
            )
        )
        note(f"{samples[0][1]} stream chunks on the bus for {TOKENS:,} tokens (20 Hz)")
    return results
