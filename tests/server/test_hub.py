"""The hub never holds the room back: a client that falls 1,000 frames behind is dropped
(4408, too_slow) while the bus goes on and every other client gets everything."""

from __future__ import annotations

import asyncio
import json

from agentroom import MessageBus
from agentroom.server import frames
from agentroom.server.hub import QUEUE_LIMIT, Connection, Hub
from tests.waiting import until


async def durable(_env) -> bool:
    return True


async def test_a_client_too_far_behind_is_dropped_and_the_room_never_waits():
    bus = MessageBus("r")
    ada = bus.register("ada")
    hub = Hub(durable)
    bus.attach(hub)
    bus.attach_chunks(hub)
    hub.start()
    slow = Connection("alice", "t1", ["alice", "bob"])
    fast = Connection("bob", "t2", ["alice", "bob"])
    got: list[dict] = []

    async def read_fast() -> None:
        while (frame := await fast.next()) is not None:
            got.append(json.loads(frame))

    async with bus.hold():
        hub.add(slow)
        hub.add(fast)
    reader = asyncio.create_task(read_fast())
    try:
        for i in range(QUEUE_LIMIT + 200):  # publishing never waits on either client
            await ada.publish(f"line {i}")
            await ada.publish_chunk("…", turn=f"t{i}")
            await asyncio.sleep(0)  # the fast client reads as the room goes; the slow one never
        await until(lambda: len([f for f in got if f["type"] == "message"]) == QUEUE_LIMIT + 200)
    finally:
        reader.cancel()
        await hub.stop()
    assert slow.ended is not None
    code, last = slow.ended
    assert code == frames.CLOSE_TOO_SLOW == 4408
    assert json.loads(last)["code"] == "too_slow" and "since=" in json.loads(last)["message"]
    assert fast.ended is None
    assert [f["seq"] for f in got if f["type"] == "message"] == list(range(1, QUEUE_LIMIT + 201))
    assert len([f for f in got if f["type"] == "delta"]) == QUEUE_LIMIT + 200
