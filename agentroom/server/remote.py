"""A room served elsewhere, as a room screen sees it: the client side of ``agentroom join``.

:class:`RemoteLink` is the network's :class:`~agentroom.room.link.RoomLink`:
it connects to ``agentroom serve`` over a WebSocket (docs/protocol.md),
proves who it is with the human's token, and turns what the server sends into
what a screen draws: durable frames into envelopes, ``delta`` and ``partial``
frames into stream chunks, ``hello`` and ``state`` frames into a
:class:`~agentroom.room.state.RoomState`.  It keeps the highest ``seq`` it has
seen; after a drop it connects again by itself (with a growing pause) asking
for what came ``since`` that seq, and lets nothing through twice.  A line is a
``line`` frame with an id, and :meth:`RemoteLink.send` returns the server's
``reply`` to it.

The token comes from the join URL (:mod:`agentroom.server.join_url`); it is
never printed, logged or put in an error: errors name the URL without its
fragment.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from agentroom.bus.inbox import Inbox, InboxClosed
from agentroom.conversation import MessageView
from agentroom.core.chunk import LiveItem, StreamChunk
from agentroom.core.errors import AgentroomError, ProtocolError
from agentroom.core.protocol import Envelope
from agentroom.core.text import one_line
from agentroom.room.line import Reply
from agentroom.room.link import Ended, Health
from agentroom.room.state import RoomState
from agentroom.server.frames import CLOSE_UNAUTHORIZED, PROTOCOL
from agentroom.server.join_url import JoinError, JoinTarget, Refused, Unreachable, VersionMismatch

BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)
"""The pauses before each attempt to connect again after a drop (the last one repeats)."""
WINDOW = 500
"""Envelopes kept here, the newest: what a screen shows at once comes in the first backlog
(``tail``), and anything older is asked of the server (``older`` frames), so a joined
screen's memory is bounded by its window, not by the room's length."""
PAGE = 200
"""Envelopes asked for at most per ``older`` frame (the server's own limit)."""
DURABLE = frozenset({"message", "action", "status"})
"""The frame types that are envelopes (docs/protocol.md: durable frames)."""
MAX_FRAME = 64 * 1024 * 1024
"""The largest frame taken from a server (a long message is one envelope, one frame)."""
OPEN_TIMEOUT = 10.0
"""How long a connection (and the server's ``hello``) may take before it counts as unreachable."""


class RemoteLink:
    """A room served by ``agentroom serve``, as a :class:`~agentroom.room.link.RoomLink`."""

    def __init__(
        self, target: JoinTarget, *, backoff: Sequence[float] = BACKOFF, window: int = WINDOW
    ) -> None:
        self.target = target
        self.backoff = tuple(backoff)
        self._state = RoomState(session_id="")
        self._me: str | None = None
        self._seq = 0
        """The highest seq seen: a reconnect asks for what came after it."""
        self._window = window
        self._seen: deque[Envelope] = deque(maxlen=window)
        """The newest envelopes seen, in seq order: envelope() looks here first (what a
        screen shows is recent); anything older is asked of the server."""
        self._streams: dict[tuple[str, str], str] = {}
        """What each reply being streamed has said so far, by (sender, turn)."""
        self._feed: Inbox[LiveItem] = Inbox(4096)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        """Frames sent that await their answer, by id: a ``reply`` (or an ``error``) for a
        line, an ``older`` answer (its envelopes) for an ``older`` frame."""
        self._ids = itertools.count(1)
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ended: asyncio.Future[Ended] | None = None
        self._watchers: list[Callable[[Health], Any]] = []
        self._leaving = False
        self.gave_up: JoinError | None = None
        """Why the link stopped connecting again (refused, another protocol), if it did: so
        ``agentroom join`` exits as it would have had the first connection been refused."""

    # -- open, run, close -----------------------------------------------------------------

    @property
    def me(self) -> str | None:
        return self._me

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def open(self) -> None:
        """Connect, or raise :class:`JoinError` (a second call does nothing)."""
        if self._ended is not None:
            return
        self._ended = asyncio.get_running_loop().create_future()
        try:
            ws = await self._connect()
        except BaseException:
            self._ended = None
            raise
        self._reader = asyncio.create_task(self._keep_reading(ws))

    async def run(self) -> Ended:
        """Return once the room is over (its state says stopped, and all it said up to
        then is in the feed), the server refuses us, or the link is closed."""
        assert self._ended is not None, "open() first"
        return await asyncio.shield(self._ended)

    def leave(self, reason: str) -> None:
        """The room goes on without us: stop connecting again."""
        self._leaving = True

    async def close(self) -> None:
        self._leaving = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        self._fail_pending("left the room before it answered")
        self._end(Ended("left the room"))
        self._feed.close()

    # -- what a screen reads --------------------------------------------------------------

    async def get_batch(self) -> list[LiveItem]:
        try:
            return await self._feed.get_batch()
        except InboxClosed:
            return []

    def state(self) -> RoomState:
        return self._state

    async def recent(self) -> list[Envelope]:
        return []  # the backlog arrives through the feed

    async def older(self, before_seq: int, count: int) -> list[Envelope]:
        """The ``count`` envelopes just before ``before_seq`` (oldest first), from the
        server: what this human may see, as saved there."""
        found: list[Envelope] = []
        while len(found) < count and before_seq > 1:
            want = min(PAGE, count - len(found))
            answer = await self._request({"type": "older", "before": before_seq, "limit": want})
            if not isinstance(answer, list) or not answer:
                break  # nothing older, or not connected now (the screen can ask again)
            found[:0] = answer
            before_seq = answer[0].seq or 0
        return found

    async def envelope(self, seq: int) -> Envelope | None:
        for env in reversed(self._seen):
            if env.seq == seq:
                return env
        if seq < 1:
            return None
        page = await self.older(seq + 1, 1)
        return page[0] if page and page[0].seq == seq else None

    def agent_view(self, agent_id: str) -> MessageView | None:
        return None  # an agent's own view is kept where the room runs

    async def export(self, folder: Path) -> Path:
        raise AgentroomError(
            "export is done where the room runs: there, agentroom sessions export "
            f"{self._state.session_id[:18] or 'SESSION'}"
        )

    async def fork(self) -> str:
        raise AgentroomError(
            "fork is done where the room runs: there, agentroom sessions fork "
            f"{self._state.session_id[:18] or 'SESSION'}"
        )

    def watch_health(self, callback: Callable[[Health], Any]) -> Callable[[], None]:
        self._watchers.append(callback)
        return lambda: self._watchers.remove(callback) if callback in self._watchers else None

    # -- what the human does --------------------------------------------------------------

    async def send(self, text: str) -> Reply:
        """Send ``text`` as a ``line`` frame and return the server's ``reply`` to it."""
        ws = self._ws
        if ws is None:
            return Reply(
                "not connected to the room right now, so the line was not sent; "
                "send it again once it says connected",
                ok=False,
            )
        answer = await self._request({"type": "line", "text": text})
        if answer is None:
            return Reply(
                "the connection dropped, so the line was not sent; send it again once it "
                "says connected",
                ok=False,
            )
        return answer if isinstance(answer, Reply) else Reply()

    async def _request(self, frame: dict[str, Any]) -> Any:
        """Send ``frame`` with a fresh id and return the server's answer to it (None: it
        could not be sent; a :class:`Reply` for a ``reply`` or an ``error``)."""
        ws = self._ws
        if ws is None:
            return None
        frame_id = str(next(self._ids))
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = answer
        try:
            await ws.send(json.dumps({**frame, "id": frame_id}))
        except ConnectionClosed:
            self._pending.pop(frame_id, None)
            return None
        return await answer

    # -- the connection -------------------------------------------------------------------

    async def _connect(self) -> ClientConnection:
        """Connect, authenticate and take the ``hello`` (raises :class:`JoinError`)."""
        shown = self.target.shown
        try:
            ws = await connect(
                # The first time, only the window's worth of the newest; after a drop,
                # everything since the last seen (nothing may be missed).
                f"{self.target.ws_url}?since={self._seq}"
                + ("" if self._seq else f"&tail={self._window}"),
                open_timeout=OPEN_TIMEOUT,
                max_size=MAX_FRAME,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise Unreachable(
                f"{shown} answered HTTP {status}, not a room; check the URL "
                "(use the one agentroom serve printed)"
            ) from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise Unreachable(
                f"cannot reach {shown} ({_why(exc)}); is agentroom serve running there?"
            ) from None
        try:
            await ws.send(json.dumps({"type": "auth", "token": self.target.token}))
            async with asyncio.timeout(OPEN_TIMEOUT):
                hello = _frame(await ws.recv())
        except (ConnectionClosed, TimeoutError) as exc:
            await ws.close()
            code = exc.rcvd.code if isinstance(exc, ConnectionClosed) and exc.rcvd else None
            if code == CLOSE_UNAUTHORIZED:
                raise self._refused() from None
            raise Unreachable(
                f"{shown} closed the connection before saying hello; is it an agentroom server?"
            ) from None
        kind = hello.get("type") if hello is not None else None
        if kind == "error" and hello is not None and hello.get("code") == "unauthorized":
            await ws.close()
            raise self._refused()
        if kind != "hello" or hello is None:
            await ws.close()
            raise VersionMismatch(
                f"{shown} does not speak agentroom's protocol {PROTOCOL}; "
                "join with the same agentroom version as the server"
            )
        if hello.get("protocol") != PROTOCOL:
            await ws.close()
            theirs = one_line(str(hello.get("protocol")), 20)
            raise VersionMismatch(
                f"{shown} speaks protocol {theirs}, this agentroom speaks {PROTOCOL}; "
                "join with the same agentroom version as the server"
            )
        self._me = str(hello.get("you") or "") or None
        self._take_state(hello.get("state"))
        self._ws = ws
        return ws

    def _refused(self) -> Refused:
        return Refused(
            f"{self.target.shown} refused the token (unknown or revoked); "
            "ask whoever serves the room for a new join URL"
        )

    async def _keep_reading(self, ws: ClientConnection) -> None:
        """Read frames until the link closes, connecting again after every drop."""
        while True:
            code = await self._read(ws)
            self._ws = None
            self._fail_pending(
                "the connection dropped before the room answered; the transcript shows "
                "whether the line was said"
            )
            if self._leaving:
                return
            if code == CLOSE_UNAUTHORIZED:
                self._give_up(self._refused())
                return
            shown = self.target.shown
            self._tell(Health(False, f"lost the connection to {shown}; reconnecting…", "offline"))
            again = await self._reconnect()
            if again is None:
                return
            ws = again
            self._tell(Health(True, f"connected to {shown} again; nothing was missed", "online"))

    async def _read(self, ws: ClientConnection) -> int | None:
        """Take frames until the connection closes; returns its close code."""
        try:
            async for raw in ws:
                frame = _frame(raw)
                if frame is not None:
                    await self._take(frame)
        except ConnectionClosed:
            pass
        rcvd = ws.close_code
        return rcvd

    async def _reconnect(self) -> ClientConnection | None:
        """Connect again, pausing longer each time; None once it must stop (refused, left)."""
        for attempt in itertools.count():
            await asyncio.sleep(self.backoff[min(attempt, len(self.backoff) - 1)])
            if self._leaving:
                return None
            try:
                return await self._connect()
            except (Refused, VersionMismatch) as exc:
                self._give_up(exc)
                return None
            except Unreachable:
                continue
        return None  # pragma: no cover (the loop above only returns)

    def _give_up(self, exc: JoinError) -> None:
        self.gave_up = exc
        self._tell(Health(False, str(exc), "disconnected"))
        self._end(Ended(str(exc), failed=True))

    # -- frames ---------------------------------------------------------------------------

    async def _take(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind in DURABLE:
            await self._envelope(frame)
        elif kind in ("delta", "partial"):
            await self._streamed(frame, whole=kind == "partial")
        elif kind in ("state", "hello"):  # a hello again: a reconnect
            self._take_state(frame.get("state"))
        elif kind == "older":
            self._answer(frame.get("id"), _envelopes(frame.get("envelopes")))
        elif kind == "reply":
            self._answer(
                frame.get("id"), Reply(str(frame.get("text") or ""), bool(frame.get("ok")))
            )
        elif kind == "error":
            message = one_line(str(frame.get("message") or frame.get("code") or "error"), 300)
            if not self._answer(frame.get("id"), Reply(message, ok=False)):
                self._tell(Health(False, message, "the server says"))
        elif kind == "presence":
            online = frame.get("online")
            if isinstance(online, list):  # who is here now, before the next state frame
                self._state = replace(self._state, online=tuple(str(h) for h in online))
        # frames a newer server sends change nothing drawn here

    async def _envelope(self, frame: dict[str, Any]) -> None:
        try:
            env = Envelope.from_dict(frame)
        except ProtocolError:
            return  # not an envelope after all: nothing to draw
        if env.seq is None or env.seq <= self._seq:
            return  # seen already (a reconnect's backlog overlapping what came live)
        self._seq = env.seq
        self._seen.append(env)
        turn = env.metadata.get("turn")
        if isinstance(turn, str):
            self._streams.pop((env.sender, turn), None)
        await self._feed.put(env)
        self._over()

    async def _streamed(self, frame: dict[str, Any], *, whole: bool) -> None:
        sender, turn, text = frame.get("sender"), frame.get("turn"), frame.get("text")
        if not (isinstance(sender, str) and isinstance(turn, str) and isinstance(text, str)):
            return
        key = (sender, turn)
        had = self._streams.get(key, "")
        if whole:  # all of it so far: only what this screen has not shown yet is new
            new = text[len(had) :] if text.startswith(had) else text
            self._streams[key] = text
        else:
            new = text
            self._streams[key] = had + text
        if new:
            model = frame.get("model")
            await self._feed.put(
                StreamChunk(
                    sender,
                    self._state.session_id,
                    turn,
                    new,
                    model if isinstance(model, str) else "",
                )
            )

    def _take_state(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        try:
            self._state = RoomState.from_dict(data)
        except (TypeError, ValueError, KeyError):
            return
        self._over()

    def _over(self) -> None:
        """End :meth:`run` once the room has stopped and everything up to its stop is in the
        feed (a ``state`` frame may come before the last envelopes do)."""
        state = self._state
        if state.stopped is not None and self._seq >= state.last_seq:
            self._end(Ended(state.stopped))

    def _answer(self, frame_id: Any, reply: Reply | list[Envelope]) -> bool:
        answer = self._pending.pop(str(frame_id), None) if frame_id is not None else None
        if answer is None or answer.done():
            return False
        answer.set_result(reply)
        return True

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for answer in pending.values():
            if not answer.done():
                answer.set_result(Reply(why, ok=False))

    def _end(self, ended: Ended) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(ended)

    def _tell(self, health: Health) -> None:
        for callback in list(self._watchers):
            callback(health)


def _envelopes(data: object) -> list[Envelope]:
    """The envelopes of an ``older`` answer (any that cannot be read are left out)."""
    found = []
    for item in data if isinstance(data, list) else ():
        with contextlib.suppress(ProtocolError):
            env = Envelope.from_dict(item)
            if env.seq is not None:
                found.append(env)
    return found


def _frame(raw: str | bytes) -> dict[str, Any] | None:
    """A server's frame as a dict (None: not a JSON object; nothing to act on)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def _why(exc: BaseException) -> str:
    """A connection failure in a few words (never the URL: it is named already)."""
    if isinstance(exc, TimeoutError):
        return "no answer"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return one_line(str(text), 120)
