"""An OpenAI-compatible server faked at the HTTP transport level (httpx.MockTransport),
or served for real on a loopback port (:meth:`FakeServer.serve`).

Each queued answer is used by one request, in order; every request is kept,
so tests assert on what the client really sent over the wire.  The real
server answers with the same queue, so a test of the command line (another
process) can point ``openai-compat:m@URL`` at it.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
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

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the answers on a real port of 127.0.0.1; yields the base URL (``.../v1``).

        A body is sent as it is produced (a generator's bytes as they come, the
        connection closed at the end), so a test can see how much of an endless
        body a client read.  An exception as an answer closes the connection
        without a response.
        """
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = httpx.Request(
                    self.command,
                    f"http://{self.headers.get('host')}{self.path}",
                    headers=dict(self.headers.items()),
                    content=self.rfile.read(length),
                )
                try:
                    response = fake.handler(request)
                except Exception:
                    self.close_connection = True
                    return
                self.send_response(response.status_code)
                skip = {"content-length", "transfer-encoding", "connection"}
                for name, value in response.headers.items():
                    if name.lower() not in skip:
                        self.send_header(name, value)
                self.send_header("connection", "close")
                self.end_headers()
                with contextlib.suppress(OSError):  # the client hung up: stop sending
                    for part in response.stream:  # type: ignore[union-attr]
                        self.wfile.write(part)
                        self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests read stderr

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/v1"
        finally:
            server.shutdown()
            server.server_close()

    def client(self, model: str = "m", **kwargs: Any) -> OpenAICompatClient:
        kwargs.setdefault("retry", RetryPolicy(attempts=4, base_delay=0.01))
        return OpenAICompatClient(
            model,
            base_url=BASE,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(self.handler)),
            sleep=self._sleep,
            **kwargs,
        )
