"""The fake OpenAI server of :mod:`tests.fake_openai` on a real port, for a real subprocess.

A room started as ``python -m agentroom`` cannot be handed an in-process
transport, so this puts :class:`~tests.fake_openai.FakeServer`'s handler
behind a threaded HTTP server on 127.0.0.1 and a free port: each request
becomes an ``httpx.Request`` for the handler, and its response goes back on
the wire as it is.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.fake_openai import FakeServer, httpx


@contextlib.contextmanager
def served(fake: FakeServer) -> Iterator[str]:
    """Serve ``fake`` while the block runs; yields its base URL (``http://127.0.0.1:N/v1``)."""
    lock = threading.Lock()  # the fake pops its answers in order: one request at a time

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            size = int(self.headers.get("content-length") or 0)
            request = httpx.Request(
                self.command,
                f"http://{self.headers.get('host', 'fake')}{self.path}",
                headers=dict(self.headers.items()),
                content=self.rfile.read(size) if size else b"",
            )
            with lock:
                response = fake.handler(request)
            body = response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
