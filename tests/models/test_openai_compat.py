"""The OpenAI-compatible client against a server faked at the HTTP transport level."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from agentroom.core.errors import (
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelRequestError,
    ModelServerError,
)
from agentroom.models.collect import collect
from agentroom.models.http import http as httpx
from agentroom.models.openai_compat import LINE_LIMIT, OpenAICompatClient, RetryPolicy
from agentroom.models.structured import strict_object, text_field
from agentroom.models.types import (
    ChatMessage,
    ModelReply,
    ModelRequest,
    ResponseFormat,
    TextDelta,
    ToolSpec,
    Usage,
    Waiting,
)
from tests.fake_openai import (
    BASE,
    CutStream,
    FakeServer,
    chunk,
    error,
    refusing,
    sse,
    text_stream,
)
from tests.openai_server import Canned, OpenAIServer

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


STEP = strict_object({"task": text_field(), "assignee": {"type": "string", "enum": ["ana", "bo"]}})
PLAN = ResponseFormat("plan", strict_object({"steps": {"type": "array", "items": STEP}}))
STRUCTURED = replace(REQUEST, seed=42, response_format=PLAN, stop=(), temperature=None)


async def test_a_structured_answer_is_asked_for_as_a_strict_json_schema_with_the_seed():
    server = FakeServer(text_stream(['{"steps": []}']))
    await collect(server.client().stream(STRUCTURED))
    (body,) = server.bodies()
    assert body["seed"] == 42
    sent = body["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "plan" and sent["json_schema"]["strict"] is True
    schema = sent["json_schema"]["schema"]
    step = schema["properties"]["steps"]["items"]
    assert step["properties"]["assignee"]["enum"] == ["ana", "bo"]
    assert step["required"] == ["task", "assignee"] and step["additionalProperties"] is False
    # Lengths keep a small local model from rambling; OpenAI's strict mode rejects them.
    assert "maxLength" in json.dumps(STRUCTURED.response_format.schema)
    assert "maxLength" not in json.dumps(schema) and "minLength" not in json.dumps(schema)


async def test_a_server_that_refuses_the_format_is_asked_again_without_it_and_never_again():
    answer = text_stream(["ana"])
    server = FakeServer(refusing("response_format", answer), answer, answer)
    client = server.client()
    events = [e async for e in client.stream(STRUCTURED)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "ana"
    assert not any(isinstance(e, Waiting) for e in events)  # a refusal is not waited out
    first, second = server.bodies()
    assert "response_format" in first and "response_format" not in second
    assert {k: v for k, v in first.items() if k != "response_format"} == second
    assert not client.structured
    await collect(client.stream(STRUCTURED))
    assert "response_format" not in server.bodies()[2]  # remembered for this client


async def test_a_400_that_is_not_about_the_format_is_the_error_and_the_format_is_kept():
    server = FakeServer(error(400, "bad"), error(400, "still bad"), text_stream(["ok"]))
    client = server.client()
    with pytest.raises(ModelRequestError, match=r"rejected the request \(400\): still bad"):
        await collect(client.stream(STRUCTURED))
    assert [("response_format" in b) for b in server.bodies()] == [True, False]
    assert client.structured
    await collect(client.stream(STRUCTURED))
    assert "response_format" in server.bodies()[2]


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
    task.cancel()  # the body sleeps 30 s: only a closed stream ends the task before that
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), timeout=25)
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


# -- what a broken or hostile server sends ---------------------------------------------------


def _stream_of(*chunks: object, done: bool = True) -> httpx.Response:
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=(body + ("data: [DONE]\n\n" if done else "")).encode(),
    )


def _choice(**fields: object) -> dict:
    return {"id": "c1", "object": "chat.completion.chunk", "choices": [fields]}


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"choices": "abc"}, "choices is not a list"),
        ({"choices": [5]}, r"choices\[0\] is not an object"),
        (_choice(delta="x"), r"choices\[0\]\.delta is not an object"),
        (_choice(delta={"content": 5}), r"choices\[0\]\.delta\.content is not text"),
        (_choice(delta={"content": ["a"]}), r"choices\[0\]\.delta\.content is not text"),
        ({"choices": [], "usage": 5}, "usage is not an object"),
        ({"usage": {"prompt_tokens": "many"}}, r"usage\.prompt_tokens is not a whole number"),
        (_choice(delta={"tool_calls": 3}), r"choices\[0\]\.delta\.tool_calls is not a list"),
        (_choice(delta={"tool_calls": [7]}), r"tool_calls\[0\] is not an object"),
        (_choice(delta={"tool_calls": [{"index": "one"}]}), r"tool_calls\[0\]\.index is not a"),
        (_choice(delta={"tool_calls": [{"id": 9}]}), r"tool_calls\[0\]\.id is not text"),
        (_choice(delta={"tool_calls": [{"function": "f"}]}), r"\.function is not an object"),
        (
            _choice(delta={"tool_calls": [{"function": {"arguments": {"a": 1}}}]}),
            r"tool_calls\[0\]\.function\.arguments is not text",
        ),
        (_choice(delta={}, finish_reason=1), r"choices\[0\]\.finish_reason is not text"),
        ([1, 2], "it is not an object"),
        ("text", "it is not an object"),
        (None, "it is not an object"),
    ],
)
async def test_a_chunk_of_the_wrong_shape_is_a_server_error_saying_where(bad, where):
    server = FakeServer(_stream_of(chunk("fine so far "), bad, chunk(finish="stop")))
    reply = ModelReply()
    with pytest.raises(ModelServerError, match=f"a chunk of an unexpected shape \\(.*{where}"):
        await collect(server.client().stream(REQUEST), into=reply)
    assert reply.text == "fine so far "


@pytest.mark.parametrize("value", ["soon", "-5", "nan", "inf", "Wed, 99 Foo 2015", "1e999"])
async def test_a_retry_after_that_is_no_number_or_date_is_ignored(value):
    server = FakeServer(error(429, "slow down", {"retry-after": value}), text_stream(["ok"]))
    client = server.client(retry=RetryPolicy(attempts=3, base_delay=1.0))
    assert (await collect(client.stream(REQUEST))).text == "ok"
    (slept,) = server.sleeps
    assert 0 <= slept <= 1.0  # the usual jittered back-off


async def test_a_retry_after_date_is_waited_for_and_one_in_the_past_is_no_wait():
    server = FakeServer(
        error(429, "slow down", {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        text_stream(["ok"]),
    )
    assert (await collect(server.client().stream(REQUEST))).text == "ok"
    assert server.sleeps == [0.0]


async def test_a_long_retry_after_is_capped_and_the_wait_is_announced():
    server = FakeServer(
        error(429, "slow down", {"retry-after": "3600"}),
        error(503, "busy"),
        text_stream(["ok"]),
    )
    client = server.client(retry=RetryPolicy(attempts=4, base_delay=0.01))
    waits: list[Waiting] = []
    reply = await collect(client.stream(REQUEST), on_wait=waits.append)
    assert reply.text == "ok"
    assert server.sleeps[0] == RetryPolicy().max_retry_after == 30.0
    assert [w.seconds for w in waits] == server.sleeps
    assert waits[0].reason == (
        f"the server at {BASE} is rate-limiting (429; it asked for 3600 s, the most agentroom "
        "waits is 30 s); retry 1 of 3"
    )
    assert waits[1].reason == f"the server at {BASE} failed (503); retry 2 of 3"


@pytest.mark.parametrize("kind", ["text/html; charset=utf-8", "application/json"])
async def test_a_200_that_is_not_an_event_stream_says_the_url_may_be_wrong(kind):
    page = httpx.Response(200, headers={"content-type": kind}, content=b"<html>login</html>")
    server = FakeServer(page)
    shown = kind.partition(";")[0]
    with pytest.raises(
        ModelServerError,
        match=rf"the server at {BASE} answered with {shown}, not an event stream; is the URL an "
        r"OpenAI-compatible API \(ending in /v1\)\?",
    ):
        await collect(server.client().stream(REQUEST))
    assert len(server.requests) == 1  # not retried: the URL will not change by itself


async def test_a_body_without_events_says_the_url_may_be_wrong():
    server = FakeServer(httpx.Response(200, content=b"<html>hello</html>\n"))
    with pytest.raises(ModelServerError, match="without any server-sent events; is the URL"):
        await collect(server.client().stream(REQUEST))


KEY = "sk-test-4f9b2c7d1e8a6b3c5d0e"


@pytest.mark.parametrize(
    "answer",
    [
        lambda r: error(400, f"bad request; you sent {r.headers['authorization']}"),
        lambda r: error(500, f"upstream refused key {KEY}"),
        lambda r: _stream_of(
            chunk("hi"), {"error": {"message": f"Authorization: {r.headers['authorization']}"}}
        ),
        lambda r: _stream_of({"note": "x"}, f"{r.headers['authorization']}"),
        lambda r: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=f"data: {KEY}\n\n".encode()
        ),
    ],
    ids=["400", "500", "error-chunk", "bad-shape", "not-json"],
)
async def test_an_error_echoing_the_key_never_carries_it(answer):
    server = FakeServer(*[answer] * 4)
    client = server.client(api_key=KEY, retry=RetryPolicy(attempts=2, base_delay=0.01))
    with pytest.raises(ModelError) as info:
        await collect(client.stream(REQUEST))
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was echoed
    assert KEY not in str(info.value) and KEY[3:15] not in str(info.value)
    assert "[redacted]" in str(info.value)


def _endless(sent: list[int], piece: bytes) -> Iterator[bytes]:
    """64 MiB of ``piece`` (about 64 KiB) again and again, counting what was produced."""
    for _ in range(1024):
        sent.append(len(piece))
        yield piece


async def test_lines_and_characters_cut_anywhere_by_the_network_are_joined():
    parts = [chunk("caf\u00e9 "), chunk("\U0001f600 done"), chunk(finish="stop")]
    body = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\r\n\r\n" for c in parts).encode()
    assert "\U0001f600".encode() in body  # raw UTF-8, so a piece can end inside it
    pieces = [body[i : i + 5] for i in range(0, len(body), 5)]  # mid-line, mid-character
    with OpenAIServer(Canned(200, iter(pieces), {"content-type": "text/event-stream"})) as server:
        client = OpenAICompatClient("m", base_url=server.url)
        reply = await collect(client.stream(REQUEST))
        await client.aclose()
    assert reply.text == "caf\u00e9 \U0001f600 done" and reply.finish_reason == "stop"


async def test_an_endless_line_is_an_error_and_is_not_buffered_whole():
    sent: list[int] = []
    line = _endless(sent, b"data: " + b"x" * (64 * 1024 - 6))
    with OpenAIServer(Canned(200, line, {"content-type": "text/event-stream"})) as server:
        client = OpenAICompatClient("m", base_url=server.url, retry=RetryPolicy(attempts=1))
        with pytest.raises(ModelServerError, match=f"a line longer than {LINE_LIMIT:,} bytes"):
            await collect(client.stream(REQUEST))
        await client.aclose()
    # The client stopped reading soon after the limit (the rest of 64 MiB was never sent;
    # sockets buffer a few MiB at most).
    assert sum(sent) < 16 * LINE_LIMIT


async def test_an_endless_error_body_is_read_only_to_its_limit():
    sent: list[int] = []
    page = _endless(sent, b'{"error": {"message": "overloaded"}} ' + b" " * (64 * 1024))
    with OpenAIServer(Canned(503, page, {"content-type": "application/json"})) as server:
        client = OpenAICompatClient("m", base_url=server.url, retry=RetryPolicy(attempts=1))
        with pytest.raises(ModelServerError, match=r"kept failing \(503\)"):
            await collect(client.stream(REQUEST))
        await client.aclose()
    assert sum(sent) < 16 * 2**20  # of 64 MiB offered


async def test_a_reply_past_the_size_limit_keeps_its_start_marked_cut_and_stops_reading():
    sent: list[int] = []
    words = _endless(sent, f"data: {json.dumps(chunk('word '))}\n\n".encode() * 400)
    seen: list[str] = []
    with OpenAIServer(Canned(200, words, {"content-type": "text/event-stream"})) as server:
        client = OpenAICompatClient("m", base_url=server.url)
        reply = await collect(client.stream(REQUEST), on_text=seen.append, limit=1_000)
        await client.aclose()
    assert reply.cut and reply.finish_reason == "cut"
    assert reply.text == "word " * 200 + "… [cut: the reply passed 1,000 characters]"
    assert "".join(seen) == reply.text
    assert sum(sent) < 16 * 2**20  # the stream was closed: the rest was never sent


async def test_tool_calls_past_the_size_limit_are_an_error():
    big = "x" * 100_000
    parts = [
        chunk(tool_calls=[{"index": i, "id": f"c{i}", "function": {"name": "f", "arguments": big}}])
        for i in range(11)
    ]
    server = FakeServer(_stream_of(*parts, chunk(finish="tool_calls")))
    with pytest.raises(ModelServerError, match="more than 1,000 tool calls or 1,000,000 char"):
        await collect(server.client().stream(REQUEST))


async def test_lone_surrogates_in_tool_calls_are_made_valid():
    function = {"name": "f", "arguments": '"\udce9"'}
    part = chunk(tool_calls=[{"index": 0, "id": "c\ud800", "function": function}])
    server = FakeServer(_stream_of(part, chunk(finish="tool_calls")))
    (call,) = (await collect(server.client().stream(REQUEST))).tool_calls
    assert (call.id, call.arguments) == ("c\ufffd", '"\ufffd"')


async def test_a_chunk_saying_error_null_is_no_error():
    server = FakeServer(_stream_of({**chunk("fine"), "error": None}, chunk(finish="stop")))
    assert (await collect(server.client().stream(REQUEST))).text == "fine"
