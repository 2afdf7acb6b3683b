"""The room state a screen or a client draws: read from a live room, the same across the wire."""

from __future__ import annotations

import asyncio

from agentroom.room.state import Member, RoomState
from tests.room.test_line import open_room
from tests.waiting import until


async def test_a_live_room_says_who_is_here_and_whose_turn_it_is(db_path):
    room, _ = await open_room(db_path)
    human = room.human
    assert human is not None
    running = asyncio.create_task(room.run())
    try:
        await until(lambda: human.waiting)
        state = RoomState.of(room)
        assert state.session_id == room.engine.session_id  # type: ignore[union-attr]
        assert state.members == (
            Member("alice", "agent", "replay"),
            Member("bob", "agent", "replay"),
            Member("human", "human", "human"),
        )
        assert state.humans == ["human"] and state.models == "replay"
        assert state.speaker == "human" and state.waiting == ("human",)
        assert state.strategy == "round-robin" and state.turn == 2 and state.running == "running"
        assert state.last_seq == room.engine.bus.last_seq  # type: ignore[union-attr]
        await room.coordinator.pause()  # type: ignore[union-attr]
        assert RoomState.of(room).running == "paused"
        room.coordinator.stop("enough")  # type: ignore[union-attr]
        await running
        over = RoomState.of(room)
        assert over.stopped == "enough" and over.running == "stopped" and over.waiting == ()
    finally:
        running.cancel()
        await room.close()


def test_a_state_crosses_the_wire_unchanged_and_tolerates_missing_fields():
    state = RoomState(
        session_id="s1",
        title="debate",
        strategy="handoff",
        turn=7,
        paused=True,
        speaker="bob",
        waiting=("alice",),
        tokens=120,
        cost="$0.0012",
        members=(Member("bob", "agent", "openai:gpt-4o"), Member("alice", "human", "human")),
        last_seq=42,
    )
    assert RoomState.from_dict(state.to_dict()) == state
    assert RoomState.from_dict({"session_id": "s2"}) == RoomState(session_id="s2")
