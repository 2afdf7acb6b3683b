"""The served room over real sockets: uvicorn on port 0 in the test's loop, ``websockets``
clients (and an HTTP client for the event stream), as people on other terminals use it."""

from __future__ import annotations

import asyncio
import json
import re

import httpx2
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.server.conftest import (
    HUMANS,
    Client,
    GatedReplay,
    connect,
    is_event,
    mint,
    open_served,
    serving,
    visible,
    ws_url,
)
from tests.waiting import until


async def take_part(client: Client, me: str) -> None:
    """A person in the room: says hello at once, answers each turn they are given, and
    keeps reading until the room stops."""
    lines = 0

    async def line(text: str) -> None:
        nonlocal lines
        lines += 1
        await client.ws.send(json.dumps({"type": "line", "text": text, "id": f"{me}-{lines}"}))

    await line(f"hello from {me}")
    while True:
        frame = await client.read()
        if is_event(frame, "input_requested", me):
            await line(f"{me}'s turn, line {lines + 1}")
        if is_event(frame, "stopped"):
            return


async def test_three_humans_and_an_agent_interleave_in_one_order_every_client_sees(db_path):
    served = open_served(db_path, limit=16)
    async with serving(served) as base:
        clients = {h: await connect(base, await mint(served, h)) for h in HUMANS}
        await asyncio.gather(*(take_part(c, h) for h, c in clients.items()))
        replies = {h: c.frames.of("reply") for h, c in clients.items()}
        saved = {h: await visible(served, h) for h in HUMANS}
        for client in clients.values():
            await client.close()
    for human, client in clients.items():
        seqs = client.frames.seqs
        assert seqs == sorted(set(seqs))  # in order, never twice
        # Exactly what the room saved that this human may see, in the same order.
        assert client.frames.durable == saved[human]
        # Every line was acknowledged, each with the seq it became, said as its human.
        assert replies[human] and all(r["ok"] for r in replies[human])
        by_seq = {f["seq"]: f for f in client.frames.durable}
        assert all(by_seq[r["seq"]]["sender"] == human for r in replies[human])
    # What was said to everyone, every client has in one order; and humans and the agent
    # take turns in it (a hello may be what answers a turn: it is said at any moment).
    said = [c.frames.said() for c in clients.values()]
    assert said[0] == said[1] == said[2]
    speakers = [sender for sender, _ in said[0] if sender != "room"]  # not the task
    assert {"ada", "alice", "bob", "carol"} <= set(speakers)
    between = "".join("a" if s == "ada" else "h" for s in speakers)
    assert re.search("ah+ah+a", between), between  # agent, people, agent, people, agent


async def test_a_client_dropped_mid_reply_resumes_with_since_and_misses_nothing(db_path):
    # Four words a little apart (more than the agent's 50 ms between chunks: one is shown),
    # then the rest of the reply waits for the gate.
    model = GatedReplay(
        ["one two three four five six seven eight nine ten"] * 20, hold_after=4, delay=0.03
    )
    served = open_served(db_path, model=model)
    async with serving(served) as base:
        token = await mint(served, "alice")
        first = await connect(base, token)
        # ada is mid-reply: four words shown, the rest held back.
        await first.read_until(lambda f: f["type"] == "delta")
        await until(lambda: served.room.partial())
        seen = first.frames.seqs[-1] if first.frames.seqs else 0
        first.ws.transport.abort()  # dropped, not closed
        second = await connect(base, token, since=seen)
        assert second.hello["since"] == seen
        partial = await second.read_until(lambda f: f["type"] == "partial")
        assert partial["sender"] == "ada" and partial["text"].startswith("one two")
        model.gate.set()
        reply = await second.read_until(lambda f: f["type"] == "message" and f["sender"] == "ada")
        assert reply["content"].startswith(partial["text"])
        await second.read_until(lambda f: is_event(f, "input_requested", "alice"))
        answer = await second.say("Call it Ten.")
        assert answer["ok"]
        saved = await visible(served, "alice")
        await second.close()
    both = first.frames.durable + second.frames.durable
    upto = second.frames.seqs[-1]
    assert [f["seq"] for f in both] == sorted({f["seq"] for f in both})  # nothing twice
    assert both == [f for f in saved if f["seq"] <= upto]  # nothing lost
    assert not first.frames.of("partial") or first.frames.of("partial")[0]["sender"] == "ada"
    deltas = "".join(f["text"] for f in second.frames.of("delta"))
    assert reply["content"] == partial["text"] + deltas


async def test_the_event_stream_resumes_from_last_event_id(db_path):
    served = open_served(db_path)
    async with serving(served) as base:
        token = await mint(served, "alice")
        alice = await connect(base, token)
        await alice.read_until(lambda f: is_event(f, "input_requested", "alice"))
        await alice.say("@bob just between us")
        ids: list[int] = []
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(base_url=base, timeout=60) as http,
            http.stream("GET", "/events", headers=headers) as events,
        ):
            assert events.headers["content-type"].startswith("text/event-stream")
            async for line in events.aiter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                if len(ids) == 3:
                    break
        async with (
            httpx2.AsyncClient(base_url=base, timeout=60) as http,
            http.stream(
                "GET", "/events", headers={**headers, "Last-Event-ID": str(ids[1])}
            ) as again,
        ):
            data = []
            async for line in again.aiter_lines():
                if line.startswith("data: "):
                    data.append(json.loads(line[6:]))
                if len(data) == 2:
                    break
        async with httpx2.AsyncClient(base_url=base, timeout=60) as http:
            refused = await http.get("/events")
            assert refused.status_code == 401 and token not in refused.text
            bob = await http.get("/events", headers={"Authorization": "Bearer ar_nope"})
            assert bob.status_code == 401
        await alice.close()
    assert ids == [1, 2, 3]
    assert [d["seq"] for d in data] == [3, 4]


async def test_a_frame_over_the_hard_limit_closes_the_connection_with_1009(db_path):
    served = open_served(db_path)
    async with serving(served) as base:
        alice = await connect(base, await mint(served, "alice"))
        await alice.ws.send(json.dumps({"type": "line", "text": "x" * (5 * 1024 * 1024)}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await alice.read()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        # The room goes on: another connection speaks.
        bob = await connect(base, await mint(served, "bob"))
        assert (await bob.say("all fine here"))["ok"]
        await bob.close()


async def test_a_browser_page_from_another_origin_gets_403(db_path):
    served = open_served(db_path, allow_origins=["https://room.example"])
    async with serving(served) as base:
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(ws_url(base), origin="http://evil.example")
        assert refused.value.response.status_code == 403
        token = await mint(served, "alice")
        for origin in ("https://room.example", base):
            client = await connect(base, token, origin=origin)
            assert client.hello["you"] == "alice"
            await client.close()


async def test_a_token_revoked_while_connected_closes_its_connection_with_4401(db_path):
    served = open_served(db_path, recheck=0.05)
    async with serving(served) as base:
        token = await mint(served, "alice")
        alice = await connect(base, token)
        grant = await served.room.tokens.verify(token)
        await served.room.tokens.revoke(grant.token_id)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await alice.read()  # sends nothing: the server notices by itself
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        error = alice.frames.of("error")[-1]
        assert error["code"] == "unauthorized" and token not in error["message"]
