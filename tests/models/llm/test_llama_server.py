"""OpenAICompatClient against a real OpenAI-compatible server we did not write.

The server is llama-cpp-python's (``python -m llama_cpp.server``) serving a
tiny random-weight model (see ``tiny_gguf.py``), started once per session by
the ``llama_server`` fixture.  The model writes gibberish, so these tests check
the shape of what comes back: streamed deltas, finish reasons, usage, stop
strings and cancellation.  Temperature 0 makes decoding greedy, so the same
request always gets the same reply.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from agentroom.models.collect import collect
from agentroom.models.http import http as httpx  # the openai SDK's own HTTP library
from agentroom.models.openai_compat import OpenAICompatClient
from agentroom.models.types import ChatMessage, Finished, ModelReply, ModelRequest, TextDelta, Usage

from .conftest import LlamaServer
from .tiny_gguf import MAX_PIECE_CHARS

pytestmark = pytest.mark.llm

PROMPT = (
    ChatMessage("system", "You are a terse agent in a chat room."),
    ChatMessage("user", "Say something about the room."),
)


def request(max_tokens: int, stop: tuple[str, ...] = ()) -> ModelRequest:
    return ModelRequest(messages=PROMPT, temperature=0.0, max_tokens=max_tokens, stop=stop, seed=7)


@pytest.fixture
async def client(llama_server: LlamaServer) -> AsyncIterator[OpenAICompatClient]:
    client = OpenAICompatClient(
        llama_server.model, base_url=llama_server.base_url, provider="openai-compat"
    )
    yield client
    await client.aclose()


async def test_streamed_reply_is_bounded_by_max_tokens(client: OpenAICompatClient) -> None:
    """A reply arrives as several deltas and stops at ``max_tokens`` with "length".

    The server sends at most one content chunk per generated token, and the
    tiny model can only generate pieces of up to ``MAX_PIECE_CHARS`` characters
    (it never picks an end-of-text token, see ``tiny_gguf``), so 16 tokens make
    at most 16 deltas and ``16 * MAX_PIECE_CHARS`` characters.
    """
    deltas: list[str] = []
    reply = await collect(client.stream(request(16)), on_text=deltas.append)

    assert 1 < len(deltas) <= 16
    assert reply.text == "".join(deltas)
    assert reply.text.strip()
    assert len(reply.text) <= 16 * MAX_PIECE_CHARS
    assert reply.finish_reason == "length"
    assert not reply.interrupted
    assert reply.tool_calls == []


async def test_streaming_usage_is_not_reported(
    client: OpenAICompatClient, llama_server: LlamaServer
) -> None:
    """llama-cpp-python sends no usage in a stream, so the reply's usage is None.

    It ignores ``stream_options: {"include_usage": true}`` (which our client
    sends): no chunk carries a ``usage`` field, not even the last one, and
    there is no extra usage-only chunk before ``[DONE]``.  (Only non-streamed
    replies carry usage.)  Our client therefore yields no ``Usage`` event and
    the collected reply has ``usage is None``; the agent layer estimates the
    tokens instead.  The first half checks the server's raw stream, so that a
    llama-cpp-python that starts sending usage makes this test fail loudly.
    """
    body = {
        "model": llama_server.model,
        "messages": [m.to_openai() for m in PROMPT],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 8,
        "temperature": 0.0,
    }
    chunks = []
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream("POST", f"{llama_server.base_url}/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line.removeprefix("data: ")))
    assert chunks
    assert [c for c in chunks if c.get("usage")] == []
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"

    events = [event async for event in client.stream(request(8))]
    assert not any(isinstance(event, Usage) for event in events)
    assert sum(isinstance(event, TextDelta) for event in events) > 1
    assert events[-1] == Finished("length")

    reply = await collect(client.stream(request(8)))
    assert reply.usage is None


async def test_stop_string_ends_the_reply_before_it(client: OpenAICompatClient) -> None:
    """A stop string the reply is known to contain cuts it there, with "stop".

    Greedy decoding makes the reply deterministic, so a first reply without a
    stop string tells which strings the second one will meet.  The stop
    string is taken from the middle of the first reply; the second reply must
    be the first one up to where that string first occurs.
    """
    full = (await collect(client.stream(request(48)))).text
    assert len(full) > 20
    middle = len(full) // 2
    stop = next(
        (
            full[start : start + 4]
            for start in range(middle, len(full) - 4)
            if full.index(full[start : start + 4]) > 0
        ),
        None,
    )
    assert stop is not None, f"no usable stop string in {full!r}"

    reply = await collect(client.stream(request(48, stop=(stop,))))

    assert reply.finish_reason == "stop"
    assert stop not in reply.text
    assert reply.text == full[: full.index(stop)]
    assert reply.text


def _disconnects(server: LlamaServer) -> int:
    """How many streams the server has seen the client drop (it logs each one)."""
    return server.log_path.read_text(errors="replace").count("Disconnected from client")


async def test_cancelling_keeps_the_partial_reply_and_frees_the_server(
    client: OpenAICompatClient, llama_server: LlamaServer
) -> None:
    """Cancelling a reply mid-stream ends it at once and keeps what arrived.

    The task is cancelled as soon as the first delta is in; it must end with
    CancelledError without waiting for the reply to finish, the ``ModelReply``
    passed as ``into=`` must hold the partial text (a prefix of the whole reply) marked interrupted,
    the server must notice the closed stream and stop generating (it logs
    "Disconnected from client"), and it must answer the next requests.
    """
    disconnects = _disconnects(llama_server)
    first_delta = asyncio.Event()
    partial = ModelReply()
    task = asyncio.create_task(
        collect(client.stream(request(400)), into=partial, on_text=lambda _: first_delta.set())
    )
    await asyncio.wait_for(first_delta.wait(), timeout=30)
    assert not task.done()

    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=60)  # a guard against a hang, not a measure

    assert task in done
    assert task.cancelled()
    assert partial.interrupted
    assert partial.finish_reason == "interrupted"
    assert partial.text

    for _ in range(3000):  # up to a minute
        if _disconnects(llama_server) > disconnects:
            break
        await asyncio.sleep(0.02)
    assert _disconnects(llama_server) > disconnects, "the server did not notice the cancel"

    whole = await collect(client.stream(request(400)))
    assert whole.finish_reason == "length"
    assert whole.text.startswith(partial.text)
    assert len(partial.text) < len(whole.text)

    short = await collect(client.stream(request(8)))
    assert short.finish_reason == "length"
    assert short.text
