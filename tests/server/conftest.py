"""Shared helpers for tests of the served room (and of clients that join one).

- :data:`ROOM`: a workflow with one agent (``ada``) and three humans
  (``alice``, ``bob``, ``carol``), round-robin in that order, humans patient.
- :func:`open_served`: a :class:`ServedRoom` on a :class:`LiveRoom` with a
  replay model, not yet started.
- :func:`serving`: the app on a real uvicorn server on port 0 in this test's
  loop; yields the base URL (``http://127.0.0.1:PORT``).
- :func:`connect`: a ``websockets`` client connected and authenticated, its
  ``hello`` read; :func:`read_until` reads frames until a condition holds.
- :class:`Frames`: everything one client was sent, kept in order, with the
  durable envelopes and the transcript they make.

Waits are for conditions; :data:`GUARD` only stops a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from agentroom.models.replay import ReplayClient
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.workflows import parse_workflow
from agentroom.server.app import create_app
from agentroom.server.running import bind, bound_port, server
from agentroom.server.served import ServedRoom
from tests.waiting import until

GUARD = 60.0

ROOM = """
name: Served room
task: Pick a name for the cat.
agents:
  - id: ada
    role: namer
humans:
  - id: alice
    timeout: 600
  - id: bob
    timeout: 600
  - id: carol
    timeout: 600
strategy:
  name: round-robin
  order: [ada, alice, bob, carol]
termination:
  max_messages: {limit}
"""
HUMANS = ("alice", "bob", "carol")
DURABLE = ("message", "action", "status")


def open_served(
    db_path: Path,
    replies: list[str] | None = None,
    *,
    limit: int = 200,
    delay: float = 0.0,
    workflow: str = ROOM,
    run: bool = True,
    **kwargs: Any,
) -> ServedRoom:
    model = kwargs.pop("model", None) or ReplayClient(replies or ["Whiskers?"] * 60, delay=delay)
    room = LiveRoom(
        RoomOptions(
            db=db_path,
            workflow=parse_workflow(workflow.format(limit=limit)),
            default_model=model,
            feed=False,
        )
    )
    return ServedRoom(room, run=run, **kwargs)


@contextlib.asynccontextmanager
async def serving(served: ServedRoom, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """``served`` on a real uvicorn server (port 0) in this loop; yields its base URL."""
    sock = bind(host, 0)
    app = create_app(served)
    http = server(app)
    task = asyncio.create_task(http.serve(sockets=[sock]))
    try:
        await until(lambda: http.started or task.done(), guard=GUARD)
        if task.done():
            task.result()
        yield f"http://{host}:{bound_port(sock)}"
    finally:
        http.should_exit = True
        await asyncio.wait_for(task, GUARD)


def ws_url(base: str, since: int | None = None) -> str:
    url = base.replace("http", "ws", 1) + "/ws"
    return url if since is None else f"{url}?since={since}"


@dataclass
class Frames:
    """What one client was sent, in order."""

    all: list[dict[str, Any]] = field(default_factory=list)

    def add(self, frame: dict[str, Any]) -> dict[str, Any]:
        self.all.append(frame)
        return frame

    @property
    def durable(self) -> list[dict[str, Any]]:
        return [f for f in self.all if f["type"] in DURABLE]

    @property
    def seqs(self) -> list[int]:
        return [f["seq"] for f in self.durable]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.all if f["type"] == kind]

    def said(self) -> list[tuple[str, str]]:
        """(sender, content) of every message, in order: the transcript as a client has it."""
        return [(f["sender"], f["content"]) for f in self.durable if f["type"] == "message"]


class Client:
    """A ``websockets`` connection to a served room and everything it has read."""

    def __init__(self, ws: Any, hello: dict[str, Any]) -> None:
        self.ws = ws
        self.hello = hello
        self.frames = Frames()
        self.frames.add(hello)
        self._ids = 0

    async def read(self) -> dict[str, Any]:
        text = await asyncio.wait_for(self.ws.recv(), GUARD)
        return self.frames.add(json.loads(text))

    async def read_until(self, condition: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
        """Read frames until one satisfies ``condition``; returns it."""
        while True:
            frame = await self.read()
            if condition(frame):
                return frame

    async def catch_up(self) -> dict[str, Any]:
        """Read the backlog and the partial replies: up to the ``presence`` that says this
        connection joined, which comes right after them (docs/protocol.md)."""
        you = self.hello["you"]
        return await self.read_until(lambda f: caught_up(f) and f["human"] == you)

    async def say(self, text: str, **extra: Any) -> dict[str, Any]:
        """Send a line and read until its ``reply``; returns the reply."""
        self._ids += 1
        frame_id = f"l{self._ids}"
        await self.ws.send(json.dumps({"type": "line", "text": text, "id": frame_id, **extra}))
        return await self.read_until(lambda f: f["type"] == "reply" and f["id"] == frame_id)

    async def close(self) -> None:
        await self.ws.close()


async def connect(
    base: str, token: str, *, since: int | None = None, header: bool = False, **kwargs: Any
) -> Client:
    """Connect, authenticate (an ``auth`` frame, or the Bearer header) and read ``hello``."""
    extra = {"Authorization": f"Bearer {token}"} if header else None
    ws = await websockets.connect(
        ws_url(base, since), additional_headers=extra, max_size=None, **kwargs
    )
    if not header:
        await ws.send(json.dumps({"type": "auth", "token": token}))
    hello = json.loads(await asyncio.wait_for(ws.recv(), GUARD))
    assert hello["type"] == "hello", hello
    return Client(ws, hello)


async def mint(served: ServedRoom, human: str) -> str:
    return await served.room.tokens.mint(served.session_id, human)


class GatedReplay(ReplayClient):
    """A replay model that streams ``hold_after`` words of each reply, then waits for
    :attr:`gate` (so a test can act while a reply is half written, without timing it)."""

    def __init__(self, script: list[str], *, hold_after: int, **kwargs: Any) -> None:
        super().__init__(script, **kwargs)
        self.hold_after = hold_after
        self.gate = asyncio.Event()

    async def stream(self, request: Any) -> AsyncIterator[Any]:
        count = 0
        async for event in super().stream(request):
            yield event
            count += 1
            if count == self.hold_after:
                await self.gate.wait()


def is_event(frame: dict[str, Any], event: str, receiver: str | None = None) -> bool:
    """Whether ``frame`` is a durable envelope marked ``event`` (to ``receiver``, if given)."""
    return (
        frame.get("type") in DURABLE
        and frame.get("metadata", {}).get("event") == event
        and (receiver is None or frame.get("receiver") == receiver)
    )


def caught_up(frame: dict[str, Any]) -> bool:
    """Whether ``frame`` is the first live one, the ``presence`` that says you joined: the
    backlog and the partial replies come before it (docs/protocol.md)."""
    return frame.get("type") == "presence" and frame.get("event") == "joined"


async def visible(served: ServedRoom, human: str) -> list[dict[str, Any]]:
    """Every saved envelope of the room that ``human`` may see, as frames (``to_dict``)."""
    humans = set(HUMANS)
    return [
        env.to_dict()
        async for env in served.room.sessions.read(served.session_id)
        if env.receiver not in humans or human in (env.receiver, env.sender)
    ]
