"""The bus: one total order, stamped senders, filters, backpressure, bounces."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentroom import Envelope, MessageBus, MessageType
from agentroom.bus.inbox import Inbox
from agentroom.core.errors import (
    BusClosedError,
    DuplicateAgentError,
    ForeignHandleError,
    InvalidParticipantError,
    ProtocolError,
)
from tests.event_payloads import problems
from tests.waiting import until


async def test_publish_stamps_seq_sender_session_and_time():
    bus = MessageBus("room-1")
    alice = bus.register("alice")
    bus.register("bob")
    first = await alice.publish("hi", to="bob")
    second = await alice.publish("again")
    assert (first.seq, second.seq) == (1, 2)
    assert first.sender == "alice" and first.receiver == "bob" and first.session_id == "room-1"
    assert first.id < second.id and first.created_at <= second.created_at
    assert bus.last_seq == 2


async def test_no_agent_can_publish_as_another():
    bus = MessageBus("r")
    mallory = bus.register("mallory")
    bus.register("alice")
    forged = Envelope(sender="alice", content="I am alice", seq=99, id="forged")
    env = await mallory.publish_envelope(forged)
    assert env.sender == "mallory" and env.seq == 1 and env.id != "forged"

    other_bus = MessageBus("r2")
    stranger = other_bus.register("alice")
    with pytest.raises(ForeignHandleError):
        await bus.publish(stranger, "sneaky")
    bus.unregister("mallory")
    with pytest.raises(ForeignHandleError, match="left the room"):
        await mallory.publish("still here?")


async def test_registration_rules():
    bus = MessageBus("r")
    bus.register("alice")
    with pytest.raises(DuplicateAgentError):
        bus.register("alice")
    for bad in ("", "*", "room", "has space", "x" * 65):
        with pytest.raises(InvalidParticipantError):
            bus.register(bad)


async def test_unknown_receiver_bounces_a_status_naming_the_participants():
    bus = MessageBus("r")
    human = bus.register("human")
    bus.register("alice")
    bus.register("bob")
    seen = bus.subscribe()
    bounce = await human.publish("are you there?", to="carol", metadata={"x": 1})
    assert bounce.type is MessageType.STATUS
    assert bounce.sender == "room" and bounce.receiver == "human"
    assert "carol" in bounce.content and "alice, bob, human" in bounce.content
    assert bounce.metadata["known"] == ["alice", "bob", "human"]
    assert bounce.metadata["undelivered"]["content"] == "are you there?"
    assert problems(bounce) == []
    got = await seen.get_batch()
    assert [e.type for e in got] == [MessageType.STATUS]  # the original was never delivered


async def test_bad_fields_are_refused_before_a_seq_is_used():
    bus = MessageBus("r")
    a = bus.register("a")
    with pytest.raises(ValueError):
        await a.publish("x", type="chat")
    with pytest.raises(ProtocolError, match="metadata"):
        await a.publish("x", metadata={"bad": object()})
    with pytest.raises(TypeError):
        await a.publish(42)  # type: ignore[arg-type]
    assert (await a.publish("ok")).seq == 1


async def test_filters_by_receiver_sender_and_type():
    bus = MessageBus("r")
    alice, bob, carol = (bus.register(n) for n in ("alice", "bob", "carol"))
    to_bob = bus.subscribe(receivers="bob")
    to_bob_only = bus.subscribe(receivers="bob", include_broadcast=False)
    from_alice = bus.subscribe(senders="alice")
    actions = bus.subscribe(types=[MessageType.ACTION])
    not_carol = bus.subscribe(exclude_senders="carol")
    await alice.publish("everyone")
    await alice.publish("psst bob", to="bob")
    await carol.publish("psst alice", to="alice")
    await bob.publish("did a thing", type="action")

    async def contents(sub):
        return [e.content for e in await sub.get_batch()]

    assert await contents(to_bob) == ["everyone", "psst bob", "did a thing"]
    assert await contents(to_bob_only) == ["psst bob"]
    assert await contents(from_alice) == ["everyone", "psst bob"]
    assert await contents(actions) == ["did a thing"]
    assert await contents(not_carol) == ["everyone", "psst bob", "did a thing"]


async def test_callback_subscribers_sync_and_async_and_a_failing_one():
    bus = MessageBus("r")
    a = bus.register("a")
    sync_seen, async_seen = [], []

    async def slow(env):
        await asyncio.sleep(0)
        async_seen.append(env.seq)

    def broken(env):
        raise RuntimeError("subscriber bug")

    bus.subscribe(lambda env: sync_seen.append(env.seq))
    bus.subscribe(slow)
    bus.subscribe(broken)
    for i in range(50):
        await a.publish(f"m{i}")
    await bus.aclose()
    assert sync_seen == list(range(1, 51))
    assert async_seen == list(range(1, 51))
    with pytest.raises(BusClosedError):
        await a.publish("late")


async def test_slow_lossless_subscriber_applies_backpressure_without_loss():
    bus = MessageBus("r")
    a = bus.register("a")
    slow = bus.subscribe(maxsize=2)
    published = []

    async def producer():
        for i in range(20):
            published.append((await a.publish(f"m{i}")).seq)

    task = asyncio.create_task(producer())
    await asyncio.sleep(0.01)
    assert len(published) <= 3  # blocked on the full inbox, not racing ahead
    got = []
    async for env in slow:
        got.append(env.seq)
        await asyncio.sleep(0)
        if len(got) == 20:
            break
    await task
    assert got == list(range(1, 21)) == published


async def test_lossy_subscriber_drops_oldest_and_never_blocks_the_room():
    bus = MessageBus("r")
    a = bus.register("a")
    lossy = bus.subscribe(maxsize=5, lossless=False)
    for i in range(100):
        await a.publish(f"m{i}")
    got = await lossy.get_batch()
    assert [e.seq for e in got] == [96, 97, 98, 99, 100]
    assert lossy.dropped == 95


async def test_cancelled_publisher_still_delivers_what_got_a_seq():
    bus = MessageBus("r")
    a = bus.register("a")
    full = bus.subscribe(maxsize=1)
    later = bus.subscribe()
    await a.publish("fills the inbox")
    task = asyncio.create_task(a.publish("blocked"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e.content for e in await full.get_batch()] == ["fills the inbox"]
    assert [e.content for e in await full.get_batch()] == ["blocked"]
    assert [e.seq for e in await later.get_batch()] == [1, 2]
    assert (await a.publish("next")).seq == 3


async def test_iterator_ends_when_closed_after_draining():
    bus = MessageBus("r")
    a = bus.register("a")
    sub = bus.subscribe()
    await a.publish("one")
    await a.publish("two")
    sub.close()
    await a.publish("not for a closed subscription")
    assert [e.content async for e in sub] == ["one", "two"]


async def test_inbox_basics():
    inbox: Inbox[int] = Inbox(2)
    assert inbox.offer(1) and inbox.offer(2) and not inbox.offer(3)
    inbox.force(3)
    assert len(inbox) == 3
    assert await inbox.get_batch(2) == [1, 2]
    assert await inbox.get() == 3
    with pytest.raises(ValueError):
        Inbox(0)


# -- the property: any interleaving of publishes from many handles --------------------------

publish_plans = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 3)),  # (which handle, yields before publishing)
    min_size=1,
    max_size=120,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=publish_plans,
    maxsize=st.integers(1, 4),
    consumer_yields=st.lists(st.integers(0, 3), min_size=1, max_size=10),
)
def test_any_interleaving_is_ordered_fifo_per_sender_and_lossless(plan, maxsize, consumer_yields):
    async def scenario():
        bus = MessageBus("prop")
        handles = [bus.register(f"p{i}") for i in range(5)]
        slow_iter = bus.subscribe(maxsize=maxsize)
        via_callback: list[Envelope] = []

        async def slow_callback(env):
            for _ in range(consumer_yields[env.seq % len(consumer_yields)]):
                await asyncio.sleep(0)
            via_callback.append(env)

        cb = bus.subscribe(slow_callback, maxsize=maxsize)
        per_handle: dict[int, list[int]] = {}
        for index, (who, _) in enumerate(plan):
            per_handle.setdefault(who, []).append(index)

        async def publisher(who: int, indexes: list[int]):
            for index in indexes:
                for _ in range(plan[index][1]):
                    await asyncio.sleep(0)
                await handles[who].publish(f"{who}:{index}")

        async def drain():
            got = []
            while len(got) < len(plan):
                got.extend(await slow_iter.get_batch())
                for _ in range(consumer_yields[len(got) % len(consumer_yields)]):
                    await asyncio.sleep(0)
            return got

        drainer = asyncio.create_task(drain())
        await asyncio.gather(*(publisher(w, ix) for w, ix in per_handle.items()))
        got = await drainer
        await cb.aclose()
        return got, via_callback

    got, via_callback = asyncio.run(scenario())
    for seen in (got, via_callback):
        seqs = [e.seq for e in seen]
        assert seqs == list(range(1, len(plan) + 1))  # strictly increasing, nothing lost
        for who in {w for w, _ in plan}:
            mine = [int(e.content.split(":")[1]) for e in seen if e.sender == f"p{who}"]
            assert mine == sorted(mine)  # per-sender FIFO
            assert len(mine) == sum(1 for w, _ in plan if w == who)


async def test_a_stream_chunk_is_stamped_takes_no_seq_and_reaches_live_viewers_only():
    """Chunks are ephemeral: a store, a coordinator or a filtered subscriber never sees one."""
    bus = MessageBus("r")
    alice = bus.register("alice")
    durable: list[Envelope] = []
    chunk_sink: Inbox = Inbox()

    class Sink:
        def offer(self, env: Envelope) -> bool:
            durable.append(env)
            return True

        async def put(self, env: Envelope) -> None:
            durable.append(env)

    bus.attach(Sink())
    bus.attach_chunks(chunk_sink)
    everything = bus.subscribe()
    live = bus.subscribe_live()
    first = await alice.publish("hello")
    piece = await alice.publish_chunk("one, ", turn="t1", model="m")
    await alice.publish_chunk("two", turn="t1", model="m")
    last = await alice.publish("one, two", metadata={"turn": "t1"})
    assert (piece.sender, piece.session_id, piece.turn, piece.text) == ("alice", "r", "t1", "one, ")
    assert (first.seq, last.seq, bus.last_seq) == (1, 2, 2)
    assert durable == [first, last] and await everything.get_batch() == [first, last]
    shown = await live.get_batch()
    assert [getattr(i, "text", None) or i.content for i in shown] == [
        "hello",
        "one, ",
        "two",
        "one, two",
    ]
    assert [c.text for c in await chunk_sink.get_batch()] == ["one, ", "two"]


async def test_a_stream_chunk_is_made_valid_and_cannot_be_forged_or_sent_after_leaving():
    bus = MessageBus("r")
    mallory = bus.register("mallory")
    bus.register("alice")
    live = bus.subscribe_live()
    chunk = await mallory.publish_chunk("\ud800bad \x1b[2J", turn="t\udfff")
    assert (chunk.sender, chunk.text, chunk.turn) == ("mallory", "\ufffdbad \x1b[2J", "t\ufffd")
    assert (await live.get_batch()) == [chunk]
    stranger = MessageBus("r2").register("alice")
    with pytest.raises(ForeignHandleError):
        await bus.publish_chunk(stranger, "sneaky", turn="t")
    bus.unregister("mallory")
    with pytest.raises(ForeignHandleError, match="left the room"):
        await mallory.publish_chunk("still here?", turn="t")
    await bus.aclose()
    with pytest.raises(BusClosedError):
        await mallory.publish_chunk("closed", turn="t")


async def test_a_viewer_attached_while_the_bus_is_held_gets_exactly_what_follows():
    """``hold`` is one point in the order: what a sink attached inside it gets starts right
    after the seq it yields, chunks included, while publishers never stop trying; what came
    before (seq up to the held one) is what the store holds.  No gap, no duplicate."""
    bus = MessageBus("r")
    seen_before: list[int] = []
    bus.attach(Inbox(lossless=False, maxsize=100_000))  # a store stands first in line

    class Everything:
        def __init__(self) -> None:
            self.items: list[Envelope | object] = []

        def offer(self, item) -> bool:
            self.items.append(item)
            return True

        async def put(self, item) -> None:
            self.items.append(item)

    class Before:
        def offer(self, env: Envelope) -> bool:
            seen_before.append(env.seq)
            return True

        async def put(self, env: Envelope) -> None:
            seen_before.append(env.seq)

    before = Before()
    bus.attach(before)
    late = Everything()
    writers = [bus.register(f"w{i}") for i in range(4)]

    stop = asyncio.Event()

    async def write(handle) -> None:
        i = 0
        while not stop.is_set():
            await handle.publish(f"{handle.participant_id} {i}")
            await handle.publish_chunk(f"piece {i}", turn=f"{handle.participant_id}-{i}")
            await asyncio.sleep(0)  # the others publish in between
            i += 1

    tasks = [asyncio.create_task(write(w)) for w in writers]
    await until(lambda: bus.last_seq >= 300)
    async with bus.hold() as last_seq:
        assert last_seq == bus.last_seq  # nothing moves while held
        bus.attach(late)
        bus.attach_chunks(late)
        bus.detach(before)
        await asyncio.sleep(0)  # the publishers run, and wait
        assert bus.last_seq == last_seq
    await until(lambda: bus.last_seq >= last_seq + 300)
    stop.set()
    await asyncio.gather(*tasks)
    durable = [i.seq for i in late.items if isinstance(i, Envelope)]
    assert seen_before == list(range(1, last_seq + 1))
    assert durable == list(range(last_seq + 1, bus.last_seq + 1))
    # Each chunk after the held point arrives after the envelope published just before it.
    chunks = [i for i in late.items if not isinstance(i, Envelope)]
    assert chunks and all(c.text.startswith("piece ") for c in chunks)
