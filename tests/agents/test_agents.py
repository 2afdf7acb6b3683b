"""Scripted agents and the human bridge."""

from __future__ import annotations

import asyncio

import pytest

from agentroom import AgentTurnError, Engine, HumanAgent, MessageType, ScriptedAgent
from agentroom.agents import AgentSettings
from agentroom.core.errors import (
    HumanLeftError,
    HumanTimeoutError,
    InvalidParticipantError,
    ScriptExhaustedError,
)
from tests.waiting import until


async def test_scripted_agent_replies_in_order_then_cycles_or_stops(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("loop", ["a", "b"], cycle=True))
        engine.register_agent(ScriptedAgent("once", ["only"]))
        got = [(await engine.run_agent_turn("loop")).content for _ in range(5)]
        assert got == ["a", "b", "a", "b", "a"]
        await engine.run_agent_turn("once")
        with pytest.raises(AgentTurnError) as info:
            await engine.run_agent_turn("once")
        assert isinstance(info.value.__cause__, ScriptExhaustedError)


async def test_scripted_function_may_be_async_and_sees_its_context(db_path):
    async def answer(turn):
        await asyncio.sleep(0)
        return f"{turn.agent_id} sees {[m.content for m in turn.messages]}"

    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("a", ["first"]))
        engine.register_agent(ScriptedAgent("b", answer))
        await engine.run_agent_turn("a")
        assert (await engine.run_agent_turn("b")).content == "b sees ['first']"


def test_agent_ids_are_checked_up_front():
    with pytest.raises(InvalidParticipantError):
        ScriptedAgent("has space", ["x"])


async def test_human_says_to_everyone_or_to_one_and_reads_an_inbox(db_path):
    async with Engine.open(db_path) as engine:
        human = engine.register_agent(HumanAgent("human"))
        engine.register_agent(ScriptedAgent("alice", ["hello human"]))
        engine.register_agent(ScriptedAgent("bob", ["psst", "ok"]))
        to_all = await human.say("hi all")
        to_bob = await human.say("only bob", to="bob")
        assert (to_all.sender, to_all.receiver) == ("human", "*")
        assert (to_bob.sender, to_bob.receiver) == ("human", "bob")
        await engine.run_agent_turn("alice")
        await engine.get_agent("bob").handle.publish("for alice", to="alice")
        await engine.get_agent("bob").handle.publish("for you", to="human")
        inbox = [e.content for e in await human.inbox.get_batch()]
        assert inbox == ["hi all", "hello human", "for you"]
        alice_view = [
            m.content for m in engine.conversations.get_agent_conversation("alice").messages
        ]
        bob_view = [m.content for m in engine.conversations.get_agent_conversation("bob").messages]
        assert "only bob" in bob_view and "only bob" not in alice_view


async def test_human_to_unknown_agent_gets_the_known_list_back(db_path):
    async with Engine.open(db_path) as engine:
        human = engine.register_agent(HumanAgent())
        engine.register_agent(ScriptedAgent("alice", ["x"]))
        bounce = await human.say("hello?", to="alcie")
        assert bounce.type is MessageType.STATUS and "alice, human" in bounce.content
        assert bounce.metadata["undelivered"]["content"] == "hello?"
        (seen,) = await human.inbox.get_batch()
        assert seen == bounce


async def test_ask_waits_for_the_human_and_is_their_turn(db_path):
    async with Engine.open(db_path) as engine:
        human = engine.register_agent(HumanAgent("human"))
        turn = asyncio.create_task(engine.run_agent_turn("human"))
        await until(lambda: human.waiting)
        request = (await human.inbox.get_batch())[-1]
        assert request.type is MessageType.STATUS and request.metadata["event"] == "input_requested"
        said = await human.say("my answer")
        assert await turn == said
        assert not human.waiting


async def test_a_human_who_does_not_answer_is_skipped_and_the_room_is_told(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(HumanAgent("human", settings=AgentSettings(turn_timeout=0.05)))
        watch = engine.bus.subscribe()
        skipped = await engine.run_agent_turn("human")
        assert skipped.type is MessageType.STATUS and "within 0.05s; skipping" in skipped.content
        events = [e.metadata.get("event") for e in await watch.get_batch()]
        assert events == ["input_requested", "skipped"]


async def test_ask_can_be_cancelled_and_asked_again(db_path):
    async with Engine.open(db_path) as engine:
        human = engine.register_agent(HumanAgent("human"))
        task = asyncio.create_task(human.ask())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not human.waiting
        again = asyncio.create_task(human.ask(timeout=1))
        await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError, match="already waiting"):
            await human.ask()
        await human.say("here")
        assert (await again).content == "here"


async def test_human_timeout_error_says_how_long(db_path):
    async with Engine.open(db_path) as engine:
        human = engine.register_agent(HumanAgent("human"))
        with pytest.raises(HumanTimeoutError, match=r"within 0\.01s"):
            await human.ask(timeout=0.01)


@pytest.mark.parametrize("timeout", [None, 60.0])
async def test_a_human_who_leaves_mid_turn_is_skipped_with_that_reason(db_path, timeout):
    async with Engine.open(db_path) as engine:
        human = engine.register_agent(
            HumanAgent("human", settings=AgentSettings(turn_timeout=timeout))
        )
        watch = engine.bus.subscribe()
        turn = asyncio.create_task(engine.run_agent_turn("human"))
        (asked,) = await watch.get_batch()  # the turn is waiting for the human
        assert asked.metadata["event"] == "input_requested"
        human.leave("has no input any more (stdin ended)")
        skipped = await turn
        later = await engine.run_agent_turn("human")  # and every turn after, at once
        seen = [(e.metadata.get("event"), e.content) for e in await watch.get_batch()]
    reason = "human has no input any more (stdin ended); skipping their turn"
    assert skipped.content == later.content == reason
    assert seen == [("skipped", reason), ("skipped", reason)]  # not asked again
    assert human.gone == "human has no input any more (stdin ended)"
    with pytest.raises(HumanLeftError, match="stdin ended"):
        await human.ask()
