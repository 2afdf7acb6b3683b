"""The OpenAI-compatible client against a server faked at the HTTP transport level."""

from __future__ import annotations

import asyncio

import pytest

from agentroom.errors import (
    ModelAuthError,
    ModelConnectionError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelServerError,
)
from agentroom.models.collect import collect
from agentroom.models.http import http as httpx
from agentroom.models.openai_compat import OpenAICompatClient, RetryPolicy
from agentroom.models.types import (
    ChatMessage,
    ModelReply,
    ModelRequest,
    TextDelta,
    ToolSpec,
    Usage,
)
from tests.fake_openai import (
    BASE,
    CutStream,
    FakeServer,
    chunk,
    error,
    sse,
    text_stream,
)

REQUEST = ModelRequest(
    messages=(ChatMessage("system", "be brief"), ChatMessage("user", "alice: hi")),
    temperature=0.2,
    max_tokens=50,
    stop=("END",),
)


async def test_streams_text_usage_and_sends_the_request_it_should():
    server = FakeServer(text_stream(["Hel", "lo", " there"], usage=(12, 3)))
    client = server.client("llama3.2", provider="ollama")
    events = [e async for e in client.stream(REQUEST)]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo", " there"]
    assert Usage(12, 3) in events
    (body,) = server.bodies()
    assert body["model"] == "llama3.2" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "alice: hi"},
    ]
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.2, 50, ["END"])
    assert client.label == "ollama:llama3.2"


async def test_openai_proper_uses_max_completion_tokens():
    server = FakeServer(text_stream(["ok"]))
    await collect(server.client("gpt-4o-mini", provider="openai").stream(REQUEST))
    assert "max_completion_tokens" in server.bodies()[0]


async def test_tool_calls_are_assembled_across_chunks():
    parts = [
        chunk(
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1'},
                }
            ]
        ),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": ', "b": 2}'}}]),
        chunk(finish="tool_calls"),
    ]
    server = FakeServer(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(parts))
    )
    tools = (ToolSpec("add", "adds", {"type": "object", "properties": {}}),)
    reply = await collect(server.client().stream(ModelRequest(REQUEST.messages, tools=tools)))
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("call_1", "add", '{"a": 1, "b": 2}')
    ]
    assert reply.finish_reason == "tool_calls"
    assert server.bodies()[0]["tools"][0]["function"]["name"] == "add"


async def test_429_is_retried_honouring_retry_after():
    server = FakeServer(
        error(429, "slow down", {"retry-after": "3"}),
        error(429, "slow down", {"retry-after-ms": "250"}),
        text_stream(["fine"]),
    )
    reply = await collect(server.client().stream(REQUEST))
    assert reply.text == "fine"
    assert server.sleeps == [3.0, 0.25]
    assert len(server.requests) == 3


async def test_5xx_and_dropped_connections_back_off_exponentially_with_jitter():
    server = FakeServer(
        error(503),
        httpx.ConnectError("connection reset"),
        error(500),
        text_stream(["ok"]),
    )
    client = server.client(retry=RetryPolicy(attempts=4, base_delay=1.0, max_delay=30))
    assert (await collect(client.stream(REQUEST))).text == "ok"
    assert len(server.sleeps) == 3
    for attempt, slept in enumerate(server.sleeps):
        assert 0 <= slept <= 1.0 * 2**attempt  # full jitter under an exponential cap


async def test_still_rate_limited_after_retries_says_what_to_do():
    server = FakeServer(*[error(429) for _ in range(4)])
    with pytest.raises(ModelRateLimitError, match=r"still rate-limiting \(429\) after 4 tries"):
        await collect(server.client().stream(REQUEST))


async def test_server_errors_after_retries():
    server = FakeServer(*[error(502, "bad gateway") for _ in range(4)])
    with pytest.raises(ModelServerError, match=r"kept failing \(502\) after 4 tries: bad gateway"):
        await collect(server.client().stream(REQUEST))


async def test_401_names_the_variable_to_set():
    server = FakeServer(error(401, "invalid key"))
    client = server.client(api_key="sk-secret-value", api_key_env="OPENAI_API_KEY")
    with pytest.raises(ModelAuthError, match="set OPENAI_API_KEY to a valid key") as info:
        await collect(client.stream(REQUEST))
    assert "sk-secret" not in str(info.value) and "sk-secret" not in repr(client)
    assert len(server.requests) == 1  # not retried


async def test_404_model_lists_what_the_server_has():
    server = FakeServer(error(404, "model not found"), models=["qwen2.5", "llama3.2"])
    with pytest.raises(ModelNotFoundError, match=r"model 'lama3'; it lists: llama3.2, qwen2.5"):
        await collect(server.client("lama3").stream(REQUEST))


async def test_connection_refused_names_the_url():
    # A real socket: nothing listens on port 9 of loopback.
    client = OpenAICompatClient(
        "m", base_url="http://127.0.0.1:9/v1", retry=RetryPolicy(attempts=2, base_delay=0.01)
    )
    with pytest.raises(ModelConnectionError, match=r"no server answered at http://127.0.0.1:9/v1"):
        await collect(client.stream(REQUEST))


async def test_a_stream_cut_in_the_middle_keeps_what_arrived_and_is_not_retried():
    first = sse([chunk("partial "), chunk("answer")], done=False)
    server = FakeServer(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=CutStream(first)),
        text_stream(["must not be used"]),
    )
    reply = ModelReply()
    with pytest.raises(ModelServerError, match="broke off the reply after 14 characters"):
        await collect(server.client().stream(REQUEST), into=reply)
    assert reply.text == "partial answer"
    assert len(server.requests) == 1


async def test_a_cut_before_any_token_is_retried():
    server = FakeServer(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=CutStream(b"")),
        text_stream(["second", " try"]),
    )
    assert (await collect(server.client().stream(REQUEST))).text == "second try"


async def test_a_reply_with_no_content():
    server = FakeServer(
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=sse([chunk(""), chunk(finish="stop")]),
        )
    )
    reply = await collect(server.client().stream(REQUEST))
    assert reply.text == "" and reply.finish_reason == "stop" and reply.usage is None


async def test_cancelling_closes_the_stream_promptly_and_keeps_partial_text():
    async def slow_body():
        yield sse([chunk("first ")], done=False)
        await asyncio.sleep(30)
        yield sse([chunk("never")], done=False)

    class Slow(httpx.AsyncByteStream):
        async def __aiter__(self):
            async for part in slow_body():
                yield part

    server = FakeServer(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Slow())
    )
    reply = ModelReply()
    got_first = asyncio.Event()
    task = asyncio.create_task(
        collect(server.client().stream(REQUEST), into=reply, on_text=lambda t: got_first.set())
    )
    await got_first.wait()
    loop = asyncio.get_running_loop()
    started = loop.time()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert loop.time() - started < 0.1
    assert reply.text == "first " and reply.interrupted and reply.finish_reason == "interrupted"


def test_base_url_is_normalised():
    server = FakeServer()
    assert server.client().base_url == BASE


async def test_a_stream_that_ends_unfinished_is_an_error_not_a_stop():
    # llama.cpp's server answers 200 and then closes the stream when the prompt
    # overflows its context: no finish reason, no [DONE].
    server = FakeServer(
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=sse([chunk("par"), chunk("tial")], done=False),
        )
    )
    reply = ModelReply()
    with pytest.raises(ModelServerError, match="without finishing it"):
        await collect(server.client().stream(REQUEST), into=reply)
    assert reply.text == "partial"
