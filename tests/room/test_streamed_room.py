"""A streamed room: its chunks are shown live and never stored; ``seq`` counts what is kept."""

from __future__ import annotations

import asyncio
import io

import pytest

from agentroom import AgentTurnError, Engine
from agentroom.agents import LLMAgent
from agentroom.core.chunk import StreamChunk
from agentroom.core.protocol import Envelope, MessageType
from agentroom.models.offline import OfflineModel
from agentroom.models.replay import ReplayClient
from agentroom.models.types import TextDelta
from agentroom.room.export import write_export
from agentroom.room.inflight import InFlight
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.workflows import parse_workflow
from agentroom.store import SqliteStore
from tests.waiting import until

DUO = """
name: Streamed
task: Name the cat.
agents:
  - id: alice
    role: planner
  - id: bob
    role: critic
strategy:
  name: round-robin
termination:
  max_messages: {limit}
"""


def is_stream_chunk(env: Envelope) -> bool:
    """A stream chunk stored as a status row, as an older agentroom did."""
    return env.type is MessageType.STATUS and env.metadata.get("event") == "stream"


async def stored(db_path, session_id: str) -> list[Envelope]:
    async with await SqliteStore.open(db_path) as store:
        return [env async for env in store.read_envelopes(session_id)]


async def drain(room: LiveRoom) -> list[Envelope | StreamChunk]:
    assert room.feed is not None
    shown: list[Envelope | StreamChunk] = []
    while batch := await room.feed.get_batch():
        shown.extend(batch)
    return shown


async def test_a_streamed_room_stores_no_chunk_and_numbers_what_it_keeps_without_gaps(db_path):
    workflow = parse_workflow(DUO.format(limit=6))
    model = OfflineModel(words_per_second=200)  # replies of a few dozen words: several chunks
    room = LiveRoom(RoomOptions(db=db_path, workflow=workflow, default_model=model))
    await room.open()
    try:
        result = await room.run()
    finally:
        await room.close()
    shown = await drain(room)
    chunks = [item for item in shown if isinstance(item, StreamChunk)]
    assert chunks, "the replies were streamed to the screen"
    assert room.partial() == []  # every reply finished
    kept = await stored(db_path, result.session_id)
    assert [env.seq for env in kept] == list(range(1, len(kept) + 1))
    assert not any(is_stream_chunk(env) for env in kept)
    assert [env for env in shown if isinstance(env, Envelope)] == kept  # the screen saw them all
    replies = [env for env in kept if env.type is MessageType.MESSAGE and env.sender != "room"]
    assert len(replies) == 5  # and the task, said by the room
    for reply in replies:  # what streamed is what was kept, piece for piece
        pieces = [c.text for c in chunks if c.turn == reply.metadata["turn"]]
        if pieces:
            assert "".join(pieces) == reply.content
            assert {c.sender for c in chunks if c.turn == reply.metadata["turn"]} == {reply.sender}


async def test_the_live_room_says_the_reply_so_far_and_an_interrupt_keeps_it(db_path):
    words = [f"w{i}" for i in range(400)]
    workflow = parse_workflow(DUO.format(limit=2))
    model = ReplayClient([" ".join(words), "never said"], delay=0.01)
    room = LiveRoom(RoomOptions(db=db_path, workflow=workflow, default_model=model, feed=False))
    await room.open()
    assert room.engine is not None and room.coordinator is not None
    try:
        running = asyncio.create_task(room.run())

        def so_far() -> str:
            return "".join(c.text for c in room.partial())

        await until(lambda: "w3 " in so_far())
        (partial,) = room.partial()
        assert partial.sender == "alice" and partial.text.startswith("w0 w1 w2 w3 ")
        kept_before = room.engine.bus.last_seq  # the chunks so far took no seq
        await room.engine.flush()
        so_far_kept = [e async for e in room.engine.store.read_envelopes(room.engine.session_id)]
        assert [e.seq for e in so_far_kept] == list(range(1, kept_before + 1))
        assert not any(e.sender == "alice" or is_stream_chunk(e) for e in so_far_kept)
        room.coordinator.stop("heard enough")
        result = await running
        assert room.partial() == []
    finally:
        await room.close()
    kept = await stored(db_path, result.session_id)
    assert [env.seq for env in kept] == list(range(1, len(kept) + 1))
    assert not any(is_stream_chunk(env) for env in kept)
    usage, reply = [env for env in kept if env.sender == "alice"]
    # the cut call's tokens count (as far as it got), then the reply as far as it got
    assert usage.metadata["event"] == "usage" and usage.metadata["interrupted"] is True
    assert usage.seq == kept_before + 1 and usage.metadata["completion_tokens"] > 0
    assert reply.seq == kept_before + 2 and reply.type is MessageType.MESSAGE
    assert reply.metadata["interrupted"] is True and reply.metadata["turn"] == partial.turn
    said = reply.content.split()
    assert len(partial.text.split()) <= len(said) < len(words) and said == words[: len(said)]


async def test_a_database_with_stored_chunks_still_resumes_exports_and_keeps_its_seqs(db_path):
    """Sessions saved before chunks became ephemeral hold them as status rows, with seqs."""
    async with Engine.open(db_path, title="old") as engine:
        old = engine.bus.register("alice")
        for piece in ("Call ", "it ", "Miso."):
            await old.publish(
                piece, type=MessageType.STATUS, metadata={"event": "stream", "turn": "t0"}
            )
        await old.publish("Call it Miso.", metadata={"turn": "t0", "model": "old"})
        session_id = engine.session_id
    async with Engine.open(db_path, session_id=session_id) as engine:
        engine.register_agent(
            LLMAgent("bob", ReplayClient(["Too plain, try Biscuit."]), stream_interval=0)
        )
        reply = await engine.run_agent_turn("bob")
        heard = engine.conversations.get_agent_conversation("bob").messages
    kept = await stored(db_path, session_id)
    assert [env.seq for env in kept] == [1, 2, 3, 4, 5, 6]  # the old rows keep their numbers
    assert [env.metadata.get("event") for env in kept[:3]] == ["stream"] * 3
    assert (kept[-1].seq, kept[-1].content) == (reply.seq, "Too plain, try Biscuit.")
    assert [m.content for m in heard] == ["Too plain, try Biscuit."]
    async with await SqliteStore.open(db_path) as store:
        room = await store.get_room(session_id)
        markdown, jsonl = io.StringIO(), io.StringIO()
        await write_export(room, store.read_envelopes(session_id), "md", markdown.write)
        await write_export(room, store.read_envelopes(session_id), "jsonl", jsonl.write)
    assert "Call it Miso." in markdown.getvalue() and "Call \n" not in markdown.getvalue()
    assert "*status* · alice" not in markdown.getvalue()  # the old chunks stay left out
    assert len(jsonl.getvalue().splitlines()) == 6  # every row, as it was stored


class _BreaksMidReply:
    """Streams a few words, then fails as no model client should (not a ModelError)."""

    label = "breaks"

    async def stream(self, request):
        for word in ("half ", "a ", "reply "):
            await asyncio.sleep(0)
            yield TextDelta(word)
        raise RuntimeError("the client fell over")


async def test_a_reply_whose_turn_fails_without_a_word_is_no_longer_in_flight(db_path):
    inflight = InFlight()
    seen: list[str] = []

    class Watcher:  # attached after it: sees what it says once each item has reached it
        def offer(self, item: object) -> bool:
            seen.append("".join(c.text for c in inflight.partial()))
            return True

        async def put(self, item: object) -> None:
            self.offer(item)

    async with Engine.open(db_path) as engine:
        for sink in (inflight, Watcher()):
            engine.bus.attach(sink)
            engine.bus.attach_chunks(sink)
        engine.register_agent(LLMAgent("alice", _BreaksMidReply(), stream_interval=0))
        with pytest.raises(AgentTurnError, match="fell over"):
            await engine.run_agent_turn("alice")
    assert seen == ["half ", "half a ", "half a reply ", ""]  # until the room said it failed
    assert inflight.partial() == []
