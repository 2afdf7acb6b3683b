"""A client draws a window, not the whole room: ``tail=`` on its first connection, and ``older``
frames to page back, each answering only what that human may see, as saved."""

from __future__ import annotations

import asyncio
import json

import websockets

from agentroom.server import frames
from agentroom.server.join_url import join_target
from agentroom.server.remote import RemoteLink
from tests.server.conftest import (
    GUARD,
    caught_up,
    connect,
    mint,
    open_served,
    serving,
    visible,
    ws_url,
)
from tests.server.test_remote_link import Seen
from tests.waiting import until


async def _lines(served, base: str) -> list[int]:
    """Alice says 16 lines (within her burst) and bob one to carol only (alice may never see
    it); returns the seqs of every saved envelope alice may see."""
    alice = await connect(base, await mint(served, "alice"))
    bob = await connect(base, await mint(served, "bob"))
    for i in range(8):
        assert (await alice.say(f"line {i}"))["ok"]
    assert (await bob.say("@carol psst, only for you"))["ok"]
    for i in range(8, 16):
        assert (await alice.say(f"line {i}"))["ok"]
    await alice.close()
    await bob.close()
    return [frame["seq"] for frame in await visible(served, "alice")]


async def test_older_frames_page_back_through_what_the_human_may_see(db_path):
    served = open_served(db_path)
    async with serving(served) as base:
        mine = await _lines(served, base)
        alice = await connect(base, await mint(served, "alice"), since=mine[-1])
        await alice.catch_up()

        async def older(frame_id: str, **ask: object) -> dict:
            await alice.ws.send(json.dumps({"type": "older", "id": frame_id, **ask}))
            return await alice.read_until(lambda f: f.get("id") == frame_id)

        # Oldest first, just before the seq asked for, at most the limit.
        page = await older("p1", before=mine[-1], limit=10)
        assert page["type"] == "older"
        assert [e["seq"] for e in page["envelopes"]] == mine[-11:-1]
        # Paging on to the very start: bob's line to carol is never among them.
        got = [e["seq"] for e in page["envelopes"]]
        while got[0] != mine[0]:
            page = await older(f"p{got[0]}", before=got[0], limit=frames.OLDER_MOST)
            got[:0] = [e["seq"] for e in page["envelopes"]]
        assert got == mine[:-1]
        assert (await older("end", before=mine[0], limit=5))["envelopes"] == []
        # A malformed request is an error; the connection goes on.
        error = await older("bad", before="yesterday")
        assert error["type"] == "error" and error["code"] == frames.BAD_FRAME
        assert (await alice.say("still here"))["ok"]
        await alice.close()


async def test_tail_sends_only_the_newest_of_the_backlog(db_path):
    served = open_served(db_path)
    async with serving(served) as base:
        mine = await _lines(served, base)
        token = await mint(served, "alice")
        async with websockets.connect(ws_url(base) + "?tail=5") as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            seen = []
            while not caught_up(frame := json.loads(await ws.recv())):
                seen.append(frame)
        last = seen[0]["last_seq"]  # the hello's: the room's five newest are after last - 5
        backlog = [f["seq"] for f in seen if f["type"] in ("message", "action", "status")]
        assert backlog == [s for s in mine if last - 5 < s <= last] and len(backlog) <= 5


async def test_a_joined_link_keeps_a_window_and_asks_the_server_for_what_is_older(db_path):
    served = open_served(db_path)
    async with serving(served) as base:
        await _lines(served, base)
        saved = await visible(served, "alice")
        link = RemoteLink(join_target(f"{base}/#token={await mint(served, 'alice')}"), window=8)
        await link.open()
        shown = Seen(link)
        try:
            await until(lambda: shown.envelopes and shown.envelopes[-1].seq >= saved[-1]["seq"])
            # Only about the window's worth came, and only that much is kept.
            assert len(shown.envelopes) <= 8 + 2
            first = shown.envelopes[0].seq
            assert first is not None and first > saved[0]["seq"]
            # Paging back reads the server: exactly what alice may see, as saved.
            older = await link.older(first, 12)
            expected = [f for f in saved if f["seq"] < first][-12:]
            assert [e.to_dict() for e in older] == expected
            whole = await link.older(first, 10_000)
            assert [e.seq for e in whole] == [f["seq"] for f in saved if f["seq"] < first]
            one = await link.envelope(saved[0]["seq"])
            assert one is not None and one.content == saved[0]["content"]
            assert await link.envelope(10**9) is None
        finally:
            await link.close()
            await asyncio.wait_for(shown.task, GUARD)
