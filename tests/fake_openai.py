"""An OpenAI-compatible server faked at the HTTP transport level (httpx.MockTransport).

Each queued answer is used by one request, in order; every request is kept,
so tests assert on what the client really sent over the wire.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from agentroom.models.http import http as httpx  # the SDK's own HTTP library
from agentroom.models.openai_compat import OpenAICompatClient, RetryPolicy

BASE = "http://fake.local/v1"


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict:
    if content is not None:
        delta["content"] = content
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(prompt: int, completion: int) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def sse(chunks: list[dict], done: bool = True) -> bytes:
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return (body + ("data: [DONE]\n\n" if done else "")).encode()


def text_stream(words: list[str], usage: tuple[int, int] | None = (7, 3)) -> httpx.Response:
    chunks = [chunk(w) for w in words] + [chunk(finish="stop")]
    if usage:
        chunks.append(usage_chunk(*usage))
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(chunks))


class CutStream(httpx.AsyncByteStream):
    """Sends some SSE bytes, then the connection drops."""

    def __init__(self, first: bytes) -> None:
        self.first = first

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message")


def error(status: int, message: str = "nope", headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": message}}, headers=headers or {})


Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def refusing(field: str, answer: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    """A server that rejects a request naming ``field`` (a 400, as one that does not know it
    would) and gives ``answer`` to one without it."""

    def respond(request: httpx.Request) -> httpx.Response:
        if field in json.loads(request.content):
            return error(400, f"unknown field: {field}")
        return answer

    return respond


class FakeServer:
    def __init__(self, *answers: Answer, models: list[str] | None = None) -> None:
        self.answers = list(answers)
        self.models = models or ["m"]
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(
                200,
                json={
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "x"}
                        for m in self.models
                    ],
                },
            )
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def client(self, model: str = "m", **kwargs: Any) -> OpenAICompatClient:
        kwargs.setdefault("retry", RetryPolicy(attempts=4, base_delay=0.01))
        return OpenAICompatClient(
            model,
            base_url=BASE,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(self.handler)),
            sleep=self._sleep,
            **kwargs,
        )
