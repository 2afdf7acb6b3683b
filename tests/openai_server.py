"""A real OpenAI-compatible server for tests: HTTP on 127.0.0.1, a port of its own, a thread.

It answers ``POST .../chat/completions`` with canned answers, in order (the
last one again once they run out, if ``repeat`` is set), ``GET .../models``
with its model list, and keeps every request body, so a test can drive the
real ``agentroom`` command (a subprocess) against it and check what was sent.

A canned body may also be an iterable of byte strings: it is sent as it is
produced, and the connection closed after it, so a test can offer an endless
body and count how much of it a client ever read.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Canned:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)


def chunk(content: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def sse_reply(deltas: Iterable[str], usage: tuple[int, int] | None = (10, 5)) -> Canned:
    """A streamed reply, one chunk per delta (``json.dumps`` escapes a lone surrogate)."""
    chunks = [chunk(d) for d in deltas] + [chunk(finish="stop")]
    if usage is not None:
        chunks.append(
            {"choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}}
        )
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return Canned(200, body.encode(), {"content-type": "text/event-stream"})


def error_reply(
    status: int, message: str = "nope", headers: dict[str, str] | None = None
) -> Canned:
    body = json.dumps({"error": {"message": message}}).encode()
    return Canned(status, body, {"content-type": "application/json", **(headers or {})})


class OpenAIServer:
    """See the module docstring.  Use as a context manager."""

    def __init__(
        self, *answers: Canned, models: Iterable[str] = ("m",), repeat: bool = False
    ) -> None:
        self.answers = list(answers)
        self.models = list(models)
        self.repeat = repeat
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def spec(self, model: str = "m") -> str:
        return f"openai-compat:{model}@{self.url}"

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, body: dict[str, Any]) -> Canned:
        with self._lock:
            self.requests.append(body)
            if not self.answers:
                return error_reply(500, "the test server has no answer left")
            if len(self.answers) == 1 and self.repeat:
                return self.answers[0]
            return self.answers.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, canned: Canned) -> None:
                self.send_response(canned.status)
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                if isinstance(canned.body, bytes):
                    self.send_header("content-length", str(len(canned.body)))
                    self.end_headers()
                    self.wfile.write(canned.body)
                    return
                self.send_header("connection", "close")  # the body ends when the socket does
                self.end_headers()
                self.close_connection = True
                with contextlib.suppress(OSError):  # the client hung up: stop producing
                    for part in canned.body:
                        self.wfile.write(part)
                        self.wfile.flush()

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "owned_by": "test"} for m in server.models]
                    body = json.dumps({"object": "list", "data": data}).encode()
                    self._send(Canned(200, body, {"content-type": "application/json"}))
                else:
                    self._send(error_reply(404, "not found"))

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                body["_headers"] = dict(self.headers)
                self._send(server._next(body))

        return Handler
