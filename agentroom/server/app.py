"""The ASGI application: ``/ws`` (WebSocket), ``/events`` (Server-Sent Events), ``/health``,
and the web page (``/``, :mod:`agentroom.server.page`).

Each endpoint only speaks the wire (docs/protocol.md); what a connection may
see and what its lines do is :class:`~agentroom.server.served.ServedRoom`'s.
A token is read from the first ``auth`` frame or an ``Authorization: Bearer``
header and never written anywhere: not in a log (uvicorn's access log is off,
see :mod:`agentroom.server.running`), not in an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from agentroom.server import frames
from agentroom.server.frames import ClientFrame, FrameError
from agentroom.server.hub import Connection
from agentroom.server.limits import Bucket
from agentroom.server.page import page_routes
from agentroom.server.served import ServedRoom

log = logging.getLogger(__name__)

AUTH_WAIT = 10.0
"""Seconds a new WebSocket has to send its ``auth`` frame."""

NOT_AUTHORIZED = (
    'this room needs a valid token: send {"type": "auth", "token": ...} first '
    "(or Authorization: Bearer), as printed by agentroom serve"
)


def create_app(served: ServedRoom, *, manage: bool = True) -> Starlette:
    """The app serving ``served``; with ``manage`` its lifespan starts and stops the room
    (else the caller does, as ``agentroom serve`` does around uvicorn)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if manage:
            await served.start()
        try:
            yield
        finally:
            if manage:
                await served.stop()

    async def websocket(ws: WebSocket) -> None:
        await serve_websocket(ws, served)

    async def events(request: Request) -> Response:
        return await serve_events(request, served)

    async def health(_: Request) -> Response:
        return JSONResponse(
            {"ok": True, "protocol": frames.PROTOCOL, "session_id": served.session_id}
        )

    return Starlette(
        routes=[
            WebSocketRoute("/ws", websocket),
            Route("/events", events),
            Route("/health", health),
            *page_routes(),
        ],
        lifespan=lifespan,
    )


# -- shared -----------------------------------------------------------------------------------


def bearer(conn: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header (None without one)."""
    value = conn.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def since_of(conn: HTTPConnection, *, last_event_id: bool = False) -> int | None:
    """The ``seq`` a client resumes after (0: the whole room; None: not a whole number)."""
    raw = conn.query_params.get("since", "")
    if last_event_id:
        raw = conn.headers.get("last-event-id", "") or raw
    return _whole(raw)


def tail_of(conn: HTTPConnection) -> int | None:
    """How many of the newest envelopes a client wants of the backlog (0: all it asked for
    with ``since``; None: not a whole number)."""
    return _whole(conn.query_params.get("tail", ""))


def _whole(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return 0
    if not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


SINCE_HELP = (
    "since must be a whole number (the last seq you saw, or 0 for the whole room), "
    "and tail too (how many of the newest envelopes you want)"
)


def origin_allowed(ws: WebSocket, served: ServedRoom) -> bool:
    """A browser (which sends ``Origin``) may connect only from the server's own origin or an
    allowed one; a client without ``Origin`` is not a browser and needs only its token."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    scheme = "https" if ws.url.scheme in ("wss", "https") else "http"
    own = f"{scheme}://{ws.headers.get('host', '')}".lower()
    return origin == own or origin in served.allow_origins


# -- WebSocket --------------------------------------------------------------------------------


async def serve_websocket(ws: WebSocket, served: ServedRoom) -> None:
    if not origin_allowed(ws, served):
        await ws.close(code=frames.CLOSE_BAD_REQUEST)  # before accept: a 403, nothing else
        return
    await ws.accept()
    since, tail = since_of(ws), tail_of(ws)
    if since is None or tail is None:
        await _refuse(ws, frames.BAD_SINCE, SINCE_HELP, frames.CLOSE_BAD_REQUEST)
        return
    token = bearer(ws) or await _auth_frame(ws)
    grant = await served.grant(token) if token else None
    if grant is None or token is None:
        await _refuse(ws, frames.UNAUTHORIZED, NOT_AUTHORIZED, frames.CLOSE_UNAUTHORIZED)
        return
    conn = served.connection(grant, token)
    last_seq, state, partial = await served.join(conn)
    try:
        if tail:
            since = max(since, await served.tail_since(conn, last_seq, tail))
        await ws.send_text(frames.hello(conn.human, served.session_id, last_seq, since, state))
        async for frame in served.backlog(conn, since, last_seq):
            await ws.send_text(frame)
        for chunk in partial:
            await ws.send_text(frames.partial(chunk))
        await _both(_read(ws, conn, served), _write(ws, conn))
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away: nothing to tell it
    finally:
        served.leave(conn)


async def _refuse(ws: WebSocket, code: str, message: str, close: int) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await ws.send_text(frames.error(code, message))
        await ws.close(code=close)


async def _auth_frame(ws: WebSocket) -> str | None:
    """The token of the client's first frame, if it is an ``auth`` frame in time."""
    try:
        message = await asyncio.wait_for(ws.receive(), AUTH_WAIT)
    except (TimeoutError, WebSocketDisconnect, RuntimeError):
        return None
    frame = frames.read_client(message.get("text", message.get("bytes")))
    if isinstance(frame, ClientFrame) and frame.type == "auth":
        return frame.text
    return None


async def _both(*work: Any) -> None:
    """Run the reader and the writer until either ends; then the other is stopped."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, WebSocketDisconnect | RuntimeError | OSError):
                log.error("a connection failed: %s", type(exc).__name__)


async def _write(ws: WebSocket, conn: Connection) -> None:
    """Send what is queued for ``conn``, in order; close it as :attr:`Connection.ended` says."""
    while (frame := await conn.next()) is not None:
        await ws.send_text(frame)
    code, last = conn.ended or (frames.CLOSE_SHUTDOWN, None)
    if last is not None:
        await ws.send_text(last)
    await ws.close(code=code)


async def _read(ws: WebSocket, conn: Connection, served: ServedRoom) -> None:
    """Act on each frame the client sends, in order, until it goes."""
    bucket, reads = Bucket(), Bucket()
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        frame = frames.read_client(message.get("text", message.get("bytes")))
        if isinstance(frame, FrameError):
            conn.push(frame.frame())
            continue
        answer: str | None
        if frame.type == "auth":
            answer = frames.error(
                frames.BAD_FRAME, "you are already authenticated; send lines", frame.id
            )
        elif frame.type == "typing":
            served.typing(conn)
            continue
        elif frame.type == "older":
            answer = (
                await served.older(conn, frame)
                if reads.take()
                else frames.error(
                    frames.RATE_LIMITED,
                    f"too many older frames: at most {reads.burst} at once, then "
                    f"{reads.rate:g} a second; ask again in a moment",
                    frame.id,
                )
            )
        elif not bucket.take():
            answer = frames.error(
                frames.RATE_LIMITED,
                f"too many lines: at most {bucket.burst} at once, then {bucket.rate:g} a second; "
                "this one was not said, send it again in a moment",
                frame.id,
            )
        elif frame.type == "interrupt":
            answer = await served.interrupt(conn, frame)
        else:
            answer = await served.line(conn, frame)
        if answer is not None:
            conn.push(answer)


# -- Server-Sent Events -----------------------------------------------------------------------


async def serve_events(request: Request, served: ServedRoom) -> Response:
    """The read-only feed of durable envelopes: ``id:`` is the seq, ``Last-Event-ID`` resumes."""
    token = bearer(request)
    grant = await served.grant(token) if token else None
    if grant is None or token is None:
        return PlainTextResponse(
            "this feed needs a valid token: send Authorization: Bearer TOKEN "
            "(as printed by agentroom serve)\n",
            status_code=401,
        )
    since = since_of(request, last_event_id=True)
    if since is None:
        return PlainTextResponse(
            SINCE_HELP.replace("since", "since (or Last-Event-ID)", 1) + "\n", status_code=400
        )
    conn = served.connection(grant, token, events=True)
    return StreamingResponse(
        _events(served, conn, since),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(served: ServedRoom, conn: Connection, since: int) -> AsyncIterator[str]:
    last_seq, _, _ = await served.join(conn)
    try:
        yield ": agentroom\n\n"  # the headers and a first byte, so a client knows it is in
        async for event in served.backlog(conn, since, last_seq):
            yield event
        while (frame := await conn.next()) is not None:
            yield frame
    finally:
        served.leave(conn)
