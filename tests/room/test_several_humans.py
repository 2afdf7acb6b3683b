"""A room with two humans, alice and bob, as a shared room (``agentroom serve``) has them.

Every strategy asks each human in turn (or hands each the floor); ``room.any_human``
lets either answer the other's turn; ``room.while_speaking`` says what a line typed
while an agent is mid-turn does.  Each test drives a real :class:`LiveRoom` on the
replay model, saying each human's lines through :func:`apply`, as every interface does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentroom.coordination import RunResult
from agentroom.core.protocol import BROADCAST, Envelope, MessageType
from agentroom.models.replay import ReplayClient
from agentroom.models.types import ModelEvent, ModelRequest
from agentroom.room.line import Reply, apply, parse_line
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.sessions import Sessions
from agentroom.room.workflows import parse_workflow
from tests.waiting import until

ROOM = """
name: Pair room
task: Name the cat.
agents:
  - id: planner
    role: planner
  - id: critic
    role: critic
humans:
  - id: alice
    timeout: 60
  - id: bob
    timeout: 60
strategy:
{strategy}
termination:
{termination}
room:
{room}
"""


def workflow(
    strategy: str = "  name: round-robin\n  order: [planner, alice, critic, bob]",
    termination: str = "  max_messages: 40",
    room: str = "  any_human: false",
) -> Any:
    return parse_workflow(ROOM.format(strategy=strategy, termination=termination, room=room))


class HeldReplies(ReplayClient):
    """The replay model, but the replies numbered in ``hold`` stop after their first word
    until :attr:`release` is set: an agent stays mid-turn for as long as a test needs."""

    def __init__(self, script: list[str], hold: set[int]) -> None:
        super().__init__(script)
        self.hold = hold
        self.held = asyncio.Event()
        """Set once a held reply has said its first word (the agent is mid-turn)."""
        self.release = asyncio.Event()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        index = len(self.requests)
        first = True
        async for event in super().stream(request):
            yield event
            if first and index in self.hold:
                self.held.set()
                await self.release.wait()
            first = False


async def opened(db_path, wf: Any, model: ReplayClient) -> LiveRoom:
    room = LiveRoom(RoomOptions(db=db_path, workflow=wf, default_model=model, feed=False))
    await room.open()
    return room


async def line(room: LiveRoom, who: str, text: str) -> Reply:
    """``who`` types ``text``, as any interface hands a line to the room."""
    human = room.human_named(who)
    assert human is not None
    parsed = parse_line(text, room.participants)
    assert parsed is not None
    return await apply(room, parsed, human)


async def answer(room: LiveRoom, who: str, text: str) -> Reply:
    """``who`` answers once the room asks them."""
    human = room.human_named(who)
    assert human is not None
    await until(lambda: human.waiting)
    return await line(room, who, text)


def said(envelopes: list[Envelope]) -> list[tuple[str, str]]:
    """Who said what (the messages, the task left out)."""
    return [
        (e.sender, e.content)
        for e in envelopes
        if e.type is MessageType.MESSAGE and e.metadata.get("event") != "task"
    ]


def events(envelopes: list[Envelope], name: str) -> list[Envelope]:
    return [e for e in envelopes if e.metadata.get("event") == name]


@contextlib.asynccontextmanager
async def running(room: LiveRoom) -> AsyncIterator[asyncio.Task[RunResult]]:
    """The room runs while the block types into it; the block's end waits for the run's."""
    run = asyncio.create_task(room.run())
    try:
        yield run
        await run
    finally:
        run.cancel()


async def saved(room: LiveRoom) -> list[Envelope]:
    """The session as its database has it, once the room has closed."""
    assert room.engine is not None
    sid = room.engine.session_id
    await room.close()
    async with await Sessions.open(room.options.db, create=False) as sessions:
        return [e async for e in sessions.read(sid)]


# -- each strategy asks each human ------------------------------------------------------------


async def test_round_robin_asks_alice_then_bob_each_in_turn(db_path):
    wf = workflow(termination="  max_turns: 4")
    model = ReplayClient(["Miso?", "Too plain."])
    room = await opened(db_path, wf, model)
    async with running(room):
        assert (await answer(room, "alice", "Biscuit!")).ok
        assert (await answer(room, "bob", "Biscuit it is.")).ok
    envelopes = await saved(room)
    assert said(envelopes) == [
        ("planner", "Miso?"),
        ("alice", "Biscuit!"),
        ("critic", "Too plain."),
        ("bob", "Biscuit it is."),
    ]
    assert [e.receiver for e in events(envelopes, "input_requested")] == ["alice", "bob"]
    # An agent's made prompt says who the people are, not "a human".
    prompt = model.requests[0].messages[0].content
    assert "in a group chat with other agents and 2 people (alice, bob)." in prompt


async def test_role_based_picks_either_human_by_name(db_path):
    wf = workflow(
        strategy="  name: role-based\n  candidates: [planner, alice, bob]",
        termination="  max_turns: 3",
    )
    model = ReplayClient(["alice", "bob", "planner", "Biscuit, then."])
    room = await opened(db_path, wf, model)
    async with running(room):
        await answer(room, "alice", "Miso?")
        await answer(room, "bob", "Too plain.")
    envelopes = await saved(room)
    picked = [e.metadata["agent"] for e in events(envelopes, "speaker_selected")]
    assert picked == ["alice", "bob", "planner"]
    assert said(envelopes) == [
        ("alice", "Miso?"),
        ("bob", "Too plain."),
        ("planner", "Biscuit, then."),
    ]
    # The selector was offered both humans by name.
    assert {"alice", "bob"} <= set(model.requests[0].hints.choose_from)


async def test_plan_driven_gives_steps_to_agents_and_hears_both_humans(db_path):
    wf = workflow(strategy="  name: plan-driven\n  planner: planner\n  workers: [critic]")
    model = HeldReplies(["1. critic: list three names", "Miso, Biscuit, Pip."], hold={1})
    room = await opened(db_path, wf, model)
    async with running(room) as run:
        await model.held.wait()  # the critic works on its step
        assert (await line(room, "alice", "Pip, please.")).ok
        assert (await line(room, "bob", "Not Pip.")).ok
        model.release.set()
    result = run.result()
    envelopes = await saved(room)
    assert result.reason.startswith("the plan is complete")
    assert not events(envelopes, "input_requested")  # no step goes to a person
    assert [e.sender for e in events(envelopes, "plan")] == ["planner"]
    assert said(envelopes) == [
        ("alice", "Pip, please."),
        ("bob", "Not Pip."),
        ("critic", "Miso, Biscuit, Pip."),
    ]


HANDOFF = "  name: handoff\n  start: planner"


async def test_handoff_from_an_agent_to_alice_to_bob_and_back(db_path):
    model = ReplayClient(["Over to you. HANDOFF: alice", "Biscuit it is."])
    room = await opened(db_path, workflow(strategy=HANDOFF, termination="  max_turns: 4"), model)
    async with running(room):
        await answer(room, "alice", "@bob what do you think?")  # a line to bob hands it on
        await answer(room, "bob", "Biscuit.")  # answered: back to whoever asked the humans
    envelopes = await saved(room)
    handoffs = [(e.metadata["from"], e.metadata["to"]) for e in events(envelopes, "handoff")]
    assert handoffs == [("planner", "alice"), ("alice", "bob"), ("bob", "planner")]
    assert [s for s, _ in said(envelopes)] == ["planner", "alice", "bob", "planner"]


@pytest.mark.parametrize("to", ["alice", "bob"])
async def test_handoff_to_either_human_ends_the_run_when_asked_to(db_path, to):
    wf = workflow(strategy=HANDOFF, termination="  handoff_to_human: true")
    room = await opened(db_path, wf, ReplayClient([f"Yours. HANDOFF: {to}"]))
    try:
        result = await room.run()
    finally:
        await room.close()
    assert result.reason == f"planner handed off to {to}"


# -- any_human --------------------------------------------------------------------------------


async def test_with_any_human_bob_answers_alices_turn(db_path):
    wf = workflow(room="  any_human: true", termination="  max_turns: 7")
    room = await opened(db_path, wf, ReplayClient(["Miso?", "Wait.", "Too plain.", "Pip?"]))
    alice = room.human_named("alice")
    assert alice is not None
    async with running(room):
        await until(lambda: alice.waiting)
        await line(room, "bob", "/aside alice psst")  # an aside answers nobody's turn
        await line(room, "bob", "@planner hold on")  # nor does a line to someone else
        assert alice.waiting
        await line(room, "bob", "Biscuit!")  # to everyone: the answer
        assert not alice.waiting
        await answer(room, "bob", "@alice yours")  # bob's own turn, answered by bob
        await until(lambda: alice.waiting)
        await line(room, "bob", "@alice Pip?")  # to the one asked: the answer too
    envelopes = await saved(room)
    turns = [e.metadata["agent"] for e in events(envelopes, "speaker_selected")]
    assert turns == ["planner", "alice", "planner", "critic", "bob", "planner", "alice"]
    assert [(s, t) for s, t in said(envelopes) if s in ("alice", "bob")] == [
        ("bob", "psst"),
        ("bob", "hold on"),
        ("bob", "Biscuit!"),
        ("bob", "yours"),
        ("bob", "Pip?"),
    ]
    assert not events(envelopes, "skipped")


async def test_without_any_human_only_the_one_asked_answers(db_path):
    wf = workflow(termination="  max_turns: 3")
    room = await opened(db_path, wf, ReplayClient(["Miso?", "Too plain."]))
    alice = room.human_named("alice")
    assert alice is not None
    async with running(room):
        await until(lambda: alice.waiting)
        assert (await line(room, "bob", "Biscuit!")).ok  # said at once, blocks nothing...
        assert alice.waiting  # ...and answers nothing: the room still waits for alice
        await line(room, "alice", "Pip.")
    envelopes = await saved(room)
    assert said(envelopes) == [
        ("planner", "Miso?"),
        ("bob", "Biscuit!"),
        ("alice", "Pip."),
        ("critic", "Too plain."),
    ]


def test_a_workflow_reads_the_room_options_and_says_the_choices():
    wf = workflow(room="  any_human: true\n  while_speaking: Interrupt")
    assert (wf.room.any_human, wf.room.while_speaking) == (True, "interrupt")
    plain = workflow(room="  {}")
    assert (plain.room.any_human, plain.room.while_speaking) == (False, "enqueue")
    from agentroom.core.errors import WorkflowError

    with pytest.raises(WorkflowError) as wrong:
        workflow(room="  while_speaking: queue")
    assert "room.while_speaking" in str(wrong.value) and "enqueue" in str(wrong.value)


# -- while_speaking ---------------------------------------------------------------------------


async def speaking_room(db_path, policy: str, turns: int = 2) -> tuple[LiveRoom, HeldReplies]:
    """A room whose planner speaks first and is held mid-turn after its first word, while
    alice and bob type; it ends after ``turns`` turns."""
    wf = workflow(
        strategy="  name: round-robin\n  order: [planner, critic]",
        termination=f"  max_turns: {turns}",
        room=f"  while_speaking: {policy}",
    )
    model = HeldReplies(["Miso is a fine name for a cat.", "Too plain.", "Pip."], hold={0})
    return await opened(db_path, wf, model), model


@contextlib.asynccontextmanager
async def speaking(room: LiveRoom, model: HeldReplies) -> AsyncIterator[None]:
    """The block runs while the planner is mid-turn; then its reply goes on, the room ends."""
    async with running(room):
        await model.held.wait()
        assert room.speaking_agent == "planner"
        yield
        model.release.set()


async def test_enqueue_says_the_line_at_once_and_the_agent_finishes(db_path):
    room, model = await speaking_room(db_path, "enqueue")
    async with speaking(room, model):
        reply = await line(room, "bob", "Or Biscuit?")
        assert (reply.ok, reply.text) == (True, "") and reply.envelope is not None
        assert (reply.envelope.sender, reply.envelope.content) == ("bob", "Or Biscuit?")
    envelopes = await saved(room)
    assert said(envelopes) == [
        ("bob", "Or Biscuit?"),
        ("planner", "Miso is a fine name for a cat."),  # whole, not interrupted
        ("critic", "Too plain."),
    ]
    # The next speaker read it.
    assert "bob: Or Biscuit?" in [m.content for m in model.requests[1].messages]


async def test_interrupt_cuts_the_agent_short_then_says_the_line(db_path):
    room, model = await speaking_room(db_path, "interrupt")
    async with speaking(room, model):
        reply = await line(room, "bob", "Or Biscuit?")
        assert (reply.ok, reply.text) == (True, "") and reply.envelope is not None
        assert room.speaking_agent != "planner"  # the line waited for the turn to end
    envelopes = await saved(room)
    messages = [e for e in envelopes if e.type is MessageType.MESSAGE][1:]
    partial, bobs, critics = messages
    assert (partial.sender, partial.metadata.get("interrupted")) == ("planner", True)
    assert partial.content.strip() == "Miso"  # what it had said when it was cut short
    assert (bobs.sender, bobs.content, bobs.receiver) == ("bob", "Or Biscuit?", BROADCAST)
    assert critics.sender == "critic" and partial.seq < bobs.seq < critics.seq
    read = [m.content for m in model.requests[1].messages]  # the critic read both, in order
    assert read[-2:] == ["planner: Miso ", "bob: Or Biscuit?"]


async def test_interrupt_with_a_line_to_an_agent_gives_it_the_floor(db_path):
    room, model = await speaking_room(db_path, "interrupt", turns=3)
    async with speaking(room, model):
        await line(room, "bob", "@planner finish that thought")
    envelopes = await saved(room)
    picked = [e.metadata["agent"] for e in events(envelopes, "speaker_selected")]
    assert picked == ["planner", "planner", "critic"]  # bob's @planner: the floor back to it


async def test_reject_says_nothing_and_tells_who_typed_it_why(db_path):
    room, model = await speaking_room(db_path, "reject")
    async with speaking(room, model):
        refused = await line(room, "bob", "Or Biscuit?")
        assert not refused.ok
        assert refused.text == (
            "planner is speaking, so nothing was said; wait for its turn to end, "
            "or type /interrupt and say it again"
        )
        assert (await line(room, "bob", "/pause")).ok  # commands are never refused
        assert room.coordinator is not None and room.coordinator.paused
        await line(room, "bob", "/resume")
    envelopes = await saved(room)
    assert not [e for e in envelopes if e.sender == "bob" and e.type is MessageType.MESSAGE]
    assert said(envelopes) == [
        ("planner", "Miso is a fine name for a cat."),
        ("critic", "Too plain."),
    ]


async def test_reject_takes_lines_between_turns_and_in_a_humans_turn(db_path):
    wf = workflow(room="  while_speaking: reject", termination="  max_turns: 4")
    room = await opened(db_path, wf, ReplayClient(["Miso?", "Too plain."]))
    async with running(room):
        assert (await answer(room, "alice", "Pip.")).ok  # a person's turn: nobody speaks
        assert (await line(room, "bob", "Biscuit.")).ok
        await answer(room, "bob", "Done.")
    envelopes = await saved(room)
    assert ("bob", "Biscuit.") in said(envelopes)


@pytest.mark.parametrize("policy", ["enqueue", "interrupt", "reject"])
async def test_slash_interrupt_works_under_every_policy(db_path, policy):
    room, model = await speaking_room(db_path, policy)
    async with speaking(room, model):
        assert (await line(room, "alice", "/interrupt")) == Reply("interrupted planner")
    envelopes = await saved(room)
    first = next(e for e in envelopes if e.sender == "planner")
    assert first.metadata.get("interrupted")


# -- one transcript, several people -----------------------------------------------------------


async def test_both_humans_and_the_agents_interleave_in_one_saved_transcript(db_path):
    """Lines from both humans, in their turns and out of them, land in one order with the
    right senders, and the saved session is that order."""
    model = HeldReplies(["Miso?", "Too plain.", "Pip, then."], hold={1})
    room = await opened(db_path, workflow(termination="  max_turns: 5"), model)
    async with running(room):
        await answer(room, "alice", "Biscuit!")
        await model.held.wait()  # the critic speaks; both type meanwhile
        await line(room, "bob", "@alice be nice")
        await line(room, "alice", "/aside bob it is a good name")
        model.release.set()
        await answer(room, "bob", "Fine.")
    envelopes = await saved(room)
    lines = [
        (e.sender, e.receiver, e.content)
        for e in envelopes
        if e.type is MessageType.MESSAGE and e.metadata.get("event") != "task"
    ]
    assert lines == [
        ("planner", BROADCAST, "Miso?"),
        ("alice", BROADCAST, "Biscuit!"),
        ("bob", "alice", "be nice"),
        ("alice", "bob", "it is a good name"),
        ("critic", BROADCAST, "Too plain."),
        ("bob", BROADCAST, "Fine."),
        ("planner", BROADCAST, "Pip, then."),
    ]
    assert [e.seq for e in envelopes] == list(range(1, len(envelopes) + 1))


async def test_human_named_finds_each_human_and_nobody_else(db_path):
    room = await opened(db_path, workflow(), ReplayClient([]))
    try:
        assert room.human is room.human_named("alice")  # the first, for one-person screens
        bob = room.human_named("bob")
        assert bob is not None and bob.id == "bob"
        assert room.human_named("planner") is None and room.human_named("carol") is None
        assert room.speaking_agent is None
    finally:
        await room.close()
