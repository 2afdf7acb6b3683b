"""The client side of ``agentroom join``: a RemoteLink on a room served by a real uvicorn on
port 0, as a room screen (or the headless client) uses it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from agentroom.core.chunk import LiveItem, StreamChunk
from agentroom.core.errors import AgentroomError
from agentroom.core.protocol import Envelope
from agentroom.room.link import Health
from agentroom.server import frames
from agentroom.server.join_url import (
    TOKEN_ENV,
    JoinError,
    Refused,
    Unreachable,
    VersionMismatch,
    join_target,
)
from agentroom.server.remote import RemoteLink
from tests.server.conftest import GUARD, GatedReplay, mint, open_served, serving, visible
from tests.waiting import until

SECRET = "ar_" + "s3cret" * 7


class Seen:
    """Everything a link's feed gave, drained by a task as a screen's pump does."""

    def __init__(self, link: RemoteLink) -> None:
        self.items: list[LiveItem] = []
        self.task = asyncio.create_task(self._drain(link))

    async def _drain(self, link: RemoteLink) -> None:
        while batch := await link.get_batch():
            self.items.extend(batch)

    @property
    def envelopes(self) -> list[Envelope]:
        return [i for i in self.items if isinstance(i, Envelope)]

    def said(self) -> list[tuple[str, str]]:
        return [(e.sender, e.content) for e in self.envelopes if e.type.value == "message"]

    def asked(self, human: str) -> int:
        return sum(
            1
            for e in self.envelopes
            if e.metadata.get("event") == "input_requested" and e.receiver == human
        )


async def visible_seqs(served: Any, human: str) -> list[int]:
    return [frame["seq"] for frame in await visible(served, human)]


@contextlib.asynccontextmanager
async def joined(base: str, token: str) -> AsyncIterator[tuple[RemoteLink, Seen]]:
    link = RemoteLink(join_target(f"{base}/#token={token}"), backoff=(0.05,))
    await link.open()
    seen = Seen(link)
    try:
        yield link, seen
    finally:
        await link.close()
        await asyncio.wait_for(seen.task, GUARD)


# -- the join URL ------------------------------------------------------------------------------


def test_the_token_comes_from_the_fragment_then_the_option_then_the_environment():
    url = "http://127.0.0.1:8340/#token=" + SECRET
    target = join_target(url, token="ar_other", env={TOKEN_ENV: "ar_env"})
    assert target.token == SECRET
    assert target.ws_url == "ws://127.0.0.1:8340/ws"
    assert target.shown == "http://127.0.0.1:8340/"
    assert SECRET not in repr(target)
    assert join_target("http://h:1/", token="ar_opt", env={TOKEN_ENV: "ar_env"}).token == "ar_opt"
    assert join_target("https://h:1/room/", env={TOKEN_ENV: "ar_env"}).ws_url == "wss://h:1/room/ws"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8340/", "no token to join http://127.0.0.1:8340/"),
        ("ftp://127.0.0.1/#token=" + SECRET, "is not a join URL"),
        ("127.0.0.1:8340#token=" + SECRET, "is not a join URL"),
        ("http://127.0.0.1:99999/#token=" + SECRET, "is not a join URL"),
        ("http://127.0.0.1:1/#token=ar_\x1b[2Jno", "is not one agentroom serve prints"),
    ],
)
def test_a_bad_join_url_is_one_line_that_says_what_to_do_and_never_shows_the_token(url, says):
    with pytest.raises(JoinError) as caught:
        join_target(url, env={})
    message = str(caught.value)
    assert says in message and "\n" not in message
    assert SECRET not in message and "\x1b" not in message


# -- a room served on a real socket ------------------------------------------------------------


async def test_a_link_speaks_as_its_human_and_sees_the_room_as_the_server_saved_it(db_path):
    served = open_served(db_path, limit=8)
    async with serving(served) as base:
        token = await mint(served, "alice")
        async with joined(base, token) as (link, seen):
            assert link.me == "alice"
            state = link.state()
            assert state.session_id == served.session_id
            assert state.strategy == "round-robin"
            assert state.humans == ["alice", "bob", "carol"] and "ada" in state.participants
            await until(lambda: seen.asked("alice"))
            reply = await link.send("Call it Miso.")
            assert reply.ok and reply.text == ""
            await until(lambda: ("alice", "Call it Miso.") in seen.said())
            wrong = await link.send("@nobody hi")  # the server's grammar answers
            assert not wrong.ok and "nobody named 'nobody'" in wrong.text
            # What this link has, in order and once, is what the room saved that alice sees.
            mine = await visible_seqs(served, "alice")
            got = seen.envelopes
            assert [e.seq for e in got] == mine[: len(got)]
            assert all(e.sender == "alice" for e in got if e.content == "Call it Miso.")
            # Paging and /open N read what the link has seen.
            last = got[-1].seq
            assert [e.seq for e in await link.older(last, 2)] == [e.seq for e in got[-3:-1]]
            one = await link.envelope(got[0].seq)
            assert one is not None and one.content == got[0].content
            assert await link.envelope(10_000) is None
            with pytest.raises(AgentroomError, match="where the room runs"):
                await link.export(db_path.parent)


async def test_a_dropped_link_reconnects_with_since_and_misses_nothing_nor_sees_anything_twice(
    db_path,
):
    served = open_served(db_path, limit=40)
    async with serving(served) as base:
        alice, bob = await mint(served, "alice"), await mint(served, "bob")
        async with joined(base, alice) as (link, seen), joined(base, bob) as (other, theirs):
            health: list[Health] = []
            link.watch_health(health.append)
            await until(lambda: seen.asked("alice"))
            assert (await link.send("first")).ok
            # The server drops alice's connection (as it drops a client too far behind).
            hub = served.hub
            assert hub is not None
            for conn in [c for c in hub.connections if c.human == "alice"]:
                conn.end(frames.CLOSE_TOO_SLOW)
            await until(lambda: [h.ok for h in health] == [False, True])
            assert "reconnecting" in health[0].text and "again" in health[1].text
            await until(lambda: theirs.asked("bob"))
            assert (await other.send("from bob")).ok
            await until(lambda: ("bob", "from bob") in seen.said())
            assert (await link.send("second")).ok
            await until(lambda: ("alice", "second") in theirs.said())
            await until(lambda: ("alice", "second") in seen.said())
        seqs = [e.seq for e in seen.envelopes]
        assert seqs == sorted(set(seqs))
        mine = await visible_seqs(served, "alice")
        assert seqs == mine[: len(seqs)]


async def test_a_link_dropped_mid_reply_shows_that_reply_once_and_whole(db_path):
    # ada streams four words, then holds the rest of her reply until the gate opens.
    model = GatedReplay(
        ["one two three four five six seven eight nine ten"] * 20, hold_after=4, delay=0.03
    )
    served = open_served(db_path, model=model)
    async with serving(served) as base:
        async with joined(base, await mint(served, "alice")) as (link, seen):
            health: list[Health] = []
            link.watch_health(health.append)
            streamed = lambda: "".join(  # noqa: E731
                i.text for i in seen.items if isinstance(i, StreamChunk) and i.sender == "ada"
            )
            await until(lambda: streamed().startswith("one two"))
            hub = served.hub
            assert hub is not None
            for conn in [c for c in hub.connections if c.human == "alice"]:
                conn.end(frames.CLOSE_TOO_SLOW)  # dropped mid-reply
            await until(lambda: [h.ok for h in health] == [False, True])  # back, still held
            model.gate.set()
            await until(lambda: any(e.sender == "ada" for e in seen.envelopes))
        reply = next(e for e in seen.envelopes if e.sender == "ada" and e.type.value == "message")
    # The chunks shown add up to the reply once: the reconnect's partial only added what
    # this screen had not shown yet, and nothing was repeated.
    assert reply.content == "one two three four five six seven eight nine ten"
    assert streamed() == reply.content[: len(streamed())]
    assert [e.seq for e in seen.envelopes] == sorted({e.seq for e in seen.envelopes})


async def test_a_bad_token_is_refused_and_a_closed_port_is_unreachable(db_path):
    served = open_served(db_path)
    async with serving(served) as base:
        link = RemoteLink(join_target(f"{base}/#token={SECRET}"))
        with pytest.raises(Refused) as refused:
            await link.open()
        assert SECRET not in str(refused.value) and base in str(refused.value)
        assert refused.value.exit_code == 4
    gone = RemoteLink(join_target(f"{base}/#token={SECRET}"))  # the server has stopped
    with pytest.raises(Unreachable) as unreachable:
        await gone.open()
    assert "cannot reach" in str(unreachable.value) and SECRET not in str(unreachable.value)


@contextlib.asynccontextmanager
async def fake_server(frames_out: list[dict[str, Any] | str]) -> AsyncIterator[str]:
    """A WebSocket server that takes the auth frame, then sends ``frames_out`` (a dict as
    JSON, a string as it is) and waits."""

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        for frame in frames_out:
            await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"


async def test_a_server_of_another_protocol_version_is_said_and_not_joined():
    async with fake_server([{"type": "hello", "protocol": 99, "you": "alice"}]) as base:
        link = RemoteLink(join_target(f"{base}/#token={SECRET}"))
        with pytest.raises(VersionMismatch) as caught:
            await link.open()
    assert "speaks protocol 99, this agentroom speaks 1" in str(caught.value)


async def test_partial_and_delta_frames_become_chunks_that_add_up_to_the_reply_once():
    hello = {"type": "hello", "protocol": 1, "you": "alice", "state": {"session_id": "s"}}
    piece = {"sender": "ada", "turn": "t1", "model": "replay"}
    reply = Envelope(
        sender="ada", content="one two three four", seq=1, session_id="s", metadata={"turn": "t1"}
    )
    sent: list[dict[str, Any] | str] = [
        hello,
        {"type": "partial", **piece, "text": "one two"},
        {"type": "partial", **piece, "text": "one two"},  # said again (a reconnect): nothing new
        {"type": "delta", **piece, "text": " three"},
        {"type": "partial", **piece, "text": "one two three four"},
        "not json at all",
        '["a list"]',
        {"type": "mystery"},
        {"type": "message", "seq": "x"},
        reply.to_dict(),
        reply.to_dict(),  # twice: shown once
    ]
    async with fake_server(sent) as base, joined(base, SECRET) as (_, seen):
        await until(lambda: seen.envelopes)
    chunks = [i for i in seen.items if isinstance(i, StreamChunk)]
    assert "".join(c.text for c in chunks) == "one two three four"
    assert {(c.sender, c.turn) for c in chunks} == {("ada", "t1")}
    assert seen.items[len(chunks) :] == [reply]
