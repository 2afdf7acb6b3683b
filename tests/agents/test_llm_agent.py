"""LLMAgent: prompts from its own view, streaming onto the bus, tools, usage, interrupts."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest

from agentroom import AgentTurnError, Engine, HumanAgent, MessageType, ScriptedAgent
from agentroom.agents import AgentSettings, LLMAgent, Tool
from agentroom.agents.base import Turn
from agentroom.agents.tools import TIMEOUT
from agentroom.conversation import ContextWindow
from agentroom.coordination.tools import delegate_tool, spawn_tool
from agentroom.core.chunk import StreamChunk
from agentroom.models.replay import ReplayClient
from agentroom.models.structured import one_of
from agentroom.models.types import Hints, Member, ToolCall
from tests.event_payloads import problems
from tests.fake_openai import CutStream, FakeServer, chunk, error, httpx, sse, text_stream
from tests.waiting import until


async def test_a_turn_streams_chunks_then_publishes_one_message_and_usage(db_path):
    model = ReplayClient(["The plan has three steps."])
    async with Engine.open(db_path) as engine:
        engine.task = "plan the launch"
        agent = engine.register_agent(LLMAgent("planner", model, role="planner", stream_interval=0))
        live = engine.bus.subscribe_live()
        durable = engine.bus.subscribe()
        reply = await engine.run_agent_turn("planner")
        shown = await live.get_batch()
        seen = await durable.get_batch()
    assert reply.type is MessageType.MESSAGE and reply.content == "The plan has three steps."
    assert reply.metadata["model"] == "replay" and reply.metadata["finish_reason"] == "stop"
    chunks = [c for c in shown if isinstance(c, StreamChunk)]
    assert "".join(c.text for c in chunks) == reply.content and len(chunks) == 5
    assert {(c.sender, c.turn, c.model) for c in chunks} == {
        ("planner", reply.metadata["turn"], "replay")
    }
    # The chunks are ephemeral: the durable envelopes are the usage and the reply, #1 and #2.
    (usage, message) = seen
    assert usage.metadata["event"] == "usage" and message == reply and reply.seq == 2
    assert problems(usage) == []
    assert usage.metadata["completion_tokens"] == 5 and usage.metadata["cost_usd"] == 0.0
    assert shown[-1] == reply and shown.index(usage) > shown.index(chunks[-1])
    assert agent.model_label == "replay"
    (request,) = model.requests
    assert (
        "planner" in request.messages[0].content
        and "plan the launch" in request.messages[0].content
    )


async def test_the_model_gets_the_rooms_hints_with_who_is_speaking_filled_in(db_path):
    model = ReplayClient(["1. alice: everything", "Done.", "Done too."])
    async with Engine.open(db_path) as engine:
        engine.task = "plan the launch"
        engine.register_agent(LLMAgent("alice", model, role="planner", description="leads"))
        team = (Member("alice", "planner"),)
        await engine.run_agent_turn("alice", hints=Hints(expect="plan", team=team))
        await engine.run_agent_turn("alice")
        await engine.run_agent_turn("alice", hints=Hints(task="only step 2", role="worker"))
    planned, plain, narrowed = (r.hints for r in model.requests)
    assert planned == Hints("alice", "planner", "leads", "plan the launch", "plan", team=team)
    assert plain == Hints("alice", "planner", "leads", "plan the launch")
    assert (narrowed.task, narrowed.role) == ("only step 2", "worker")  # what the room said wins


async def test_a_structured_answer_is_asked_for_whole_without_tools_or_stops(db_path):
    model = ReplayClient(['{"choice": "Porto"}', "Porto it is."])
    shape = one_of("vote", "choice", ["Lisbon", "Porto"])
    async with Engine.open(db_path, seed=99) as engine:
        agent = LLMAgent(
            "alice",
            model,
            settings=AgentSettings(max_tokens=5),
            stop=["\n\n"],
            tools=["tests.tools_for_tests:shout"],
        )
        engine.register_agent(agent)
        vote = await engine.run_agent_turn("alice", hints=Hints(response_format=shape))
        plain = await engine.run_agent_turn("alice")
    assert (vote.content, plain.content) == ('{"choice": "Porto"}', "Porto it is.")
    structured, prose = model.requests
    assert structured.response_format == shape and prose.response_format is None
    # All of the shape fits, a stop meant for prose cannot cut it, no tool is offered.
    assert (structured.max_tokens, structured.stop, structured.tools) == (shape.max_tokens, (), ())
    assert (prose.max_tokens, prose.stop, len(prose.tools)) == (5, ("\n\n",), 1)
    # Each turn samples with the session's seed, moved on by what was said in between.
    assert structured.seed is not None and prose.seed is not None
    assert 99 <= structured.seed < prose.seed


async def test_the_prompt_is_the_agents_own_view(db_path):
    model = ReplayClient(["first", "second"])
    async with Engine.open(db_path) as engine:
        human = engine.register_agent(HumanAgent("human"))
        engine.register_agent(ScriptedAgent("bob", ["bob here", "private to carol"]))
        engine.register_agent(ScriptedAgent("carol", ["x"]))
        engine.register_agent(
            LLMAgent("alice", model, settings=AgentSettings(system_prompt="You are terse."))
        )
        await engine.run_agent_turn("bob")
        await human.say("only for alice", to="alice")
        await engine.get_agent("bob").handle.publish("secret", to="carol")
        await engine.run_agent_turn("alice")
        await engine.run_agent_turn("alice")
    first, second = model.requests
    assert [(m.role, m.content) for m in first.messages] == [
        ("system", "You are terse."),
        ("user", "bob: bob here"),
        ("user", "human (to you): only for alice"),
    ]
    assert [(m.role, m.content) for m in second.messages][-1] == ("assistant", "first")


async def test_other_agents_see_the_reply_in_their_next_context(db_path):
    model = ReplayClient(["hello from the model"])
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("alice", model, stream_interval=0))
        engine.register_agent(ScriptedAgent("bob", lambda t: t.messages[-1].content.upper()))
        await engine.run_agent_turn("alice")
        assert (await engine.run_agent_turn("bob")).content == "HELLO FROM THE MODEL"
        # stream chunks and usage are status: no model is fed them
        assert len(engine.conversations.get_agent_conversation("bob").messages) == 2


async def test_tool_calls_and_results_are_actions_and_errors_become_results(db_path):
    model = ReplayClient(
        [
            {
                "tool_calls": [
                    {"name": "add", "arguments": {"a": 2, "b": 3}},
                    {"name": "broken", "arguments": {"x": 1}},
                ]
            },
            {"tool_calls": [{"name": "add", "arguments": {"a": "two"}}]},
            "2 + 3 is 5.",
        ]
    )
    async with Engine.open(db_path) as engine:
        engine.register_agent(
            LLMAgent(
                "calc",
                model,
                tools=["tests.tools_for_tests:add", "tests.tools_for_tests.broken"],
            )
        )
        watch = engine.bus.subscribe(types=["action", "message"])
        reply = await engine.run_agent_turn("calc")
        seen = await watch.get_batch()
    assert reply.content == "2 + 3 is 5."
    actions = [
        (e.metadata["event"], e.metadata["tool"], e.content)
        for e in seen
        if e.type is MessageType.ACTION
    ]
    assert actions[0] == ("tool_call", "add", 'add({"a": 2, "b": 3})')
    assert actions[1] == ("tool_result", "add", "5")
    assert actions[3][0] == "tool_result" and "RuntimeError: cannot handle 1" in actions[3][2]
    assert "bad arguments for add" in actions[5][2]
    second = model.requests[1]
    assert [m.role for m in second.messages[-3:]] == ["assistant", "tool", "tool"]
    assert second.messages[-2].content == "5" and second.messages[-3].tool_calls[0].name == "add"
    assert [t.name for t in model.requests[0].tools] == ["add", "broken"]


async def test_a_per_turn_tool_limit_stops_loops(db_path):
    looping = [{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}] * 2
    model = ReplayClient([*looping, "giving up on tools"])
    async with Engine.open(db_path) as engine:
        engine.register_agent(
            LLMAgent(
                "loop", model, tools=[Tool.load("tests.tools_for_tests:add")], max_tool_calls=2
            )
        )
        reply = await engine.run_agent_turn("loop")
    assert reply.content == "giving up on tools"
    last = model.requests[-1]
    assert last.tools == ()
    assert "used your 2 tool calls" in last.messages[-1].content


async def test_one_reply_with_500_tool_calls_runs_only_the_limit_and_answers_every_call(db_path):
    calls = [{"name": "add", "arguments": {"a": i, "b": 1}} for i in range(500)]
    model = ReplayClient([{"tool_calls": calls}, "done adding"])
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("adder", model, tools=["tests.tools_for_tests:add"]))
        watch = engine.bus.subscribe()
        reply = await engine.run_agent_turn("adder")
        seen = await watch.get_batch()
    assert reply.content == "done adding"
    results = [e for e in seen if e.metadata.get("event") == "tool_result"]
    assert [r.content for r in results] == [str(i + 1) for i in range(8)]
    (refused,) = [e for e in seen if e.metadata.get("event") == "tool_limit"]
    assert refused.type is MessageType.STATUS
    assert refused.content == "492 of adder's tool calls not run: this turn's limit of 8 tool " + (
        "calls is used"
    )
    first, second = model.requests
    assert first.tools and second.tools == ()
    asked = [m for m in second.messages if m.tool_calls][-1].tool_calls
    answers = {m.tool_call_id: m.content for m in second.messages if m.role == "tool"}
    assert len(asked) == 500 and set(answers) == {c.id for c in asked}
    assert answers[asked[7].id] == "8"
    assert answers[asked[8].id] == "not run: this turn's limit of 8 tool calls is used"
    assert "used your 8 tool calls" in second.messages[-1].content


async def test_a_model_that_keeps_asking_for_tools_ends_its_turn(db_path):
    looping = {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}
    model = ReplayClient([looping] * 3 + [{"text": "one more?", **looping}] + [looping] * 100)
    async with Engine.open(db_path) as engine:
        engine.register_agent(
            LLMAgent("loop", model, tools=["tests.tools_for_tests:add"], max_tool_calls=3)
        )
        reply = await engine.run_agent_turn("loop")
        assert len(model.requests) == 4  # the limit's three, then one without tools
        assert reply.type is MessageType.MESSAGE and reply.content == "one more?"
        silent = await engine.run_agent_turn("loop")
        assert len(model.requests) == 8
    assert silent.type is MessageType.STATUS and silent.metadata["event"] == "tool_limit"
    assert problems(silent) == []
    assert silent.content == (
        "loop asked for more tools after this turn's limit of 3 tool calls; its turn ends "
        "without a reply"
    )


async def test_a_server_that_always_answers_with_tool_calls_gets_a_bounded_number_of_requests(
    db_path,
):
    def tool_call(request: httpx.Request) -> httpx.Response:
        part = {"index": 0, "id": "c", "function": {"name": "add", "arguments": '{"a":1,"b":2}'}}
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=sse([chunk(tool_calls=[part]), chunk(finish="tool_calls")]),
        )

    server = FakeServer(*[tool_call] * 50)
    async with Engine.open(db_path) as engine:
        engine.register_agent(
            LLMAgent("loop", server.client(), tools=["tests.tools_for_tests:add"], max_tool_calls=4)
        )
        reply = await engine.run_agent_turn("loop")
    assert reply.metadata["event"] == "tool_limit" and problems(reply) == []
    assert len(server.requests) == 5
    assert ["tools" in body for body in server.bodies()] == [True] * 4 + [False]


async def test_a_tool_result_that_is_not_valid_unicode_reaches_the_server_repaired(
    db_path, tmp_path
):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "notes.md").write_text("x")
    os.close(os.open(os.fsencode(folder) + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY, 0o600))
    call = {"index": 0, "id": "c1", "function": {"name": "list_folder"}}
    call["function"]["arguments"] = json.dumps({"path": str(folder)})
    server = FakeServer(
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=sse([chunk(tool_calls=[call]), chunk(finish="tool_calls")]),
        ),
        text_stream(["seen"]),
    )
    async with Engine.open(db_path) as engine:
        engine.register_agent(
            LLMAgent("lister", server.client(), tools=["tests.tools_for_tests:list_folder"])
        )
        reply = await engine.run_agent_turn("lister")
    assert reply.content == "seen"
    (tool_message,) = [m for m in server.bodies()[1]["messages"] if m["role"] == "tool"]
    assert tool_message["content"] == '["caf\ufffd.txt", "notes.md"]'


def test_tool_schema_from_signature():
    tool = Tool.load("tests.tools_for_tests:shout")
    assert tool.spec.description == "Say it louder."
    assert tool.spec.parameters["required"] == ["text"]
    assert tool.spec.parameters["properties"]["times"]["default"] == 1


async def test_a_tool_is_bounded_in_time_unless_it_runs_a_turn_of_its_own():
    gate = asyncio.Event()

    async def wait() -> str:
        """Wait for the gate."""
        await gate.wait()
        return "through"

    call = ToolCall("c1", "wait", "{}")
    unbounded = asyncio.ensure_future(Tool(wait, timeout=None).run(call))
    timed_out = await Tool(wait, timeout=0.01).run(call)
    assert (timed_out.ok, timed_out.content) == (False, "error: wait took longer than 0.01s")
    assert not unbounded.done()  # a delegation takes as long as the delegate's turn
    gate.set()
    assert (await unbounded).content == "through"
    assert Tool(wait).timeout == TIMEOUT
    engine: Any = None  # never reached: the tools are only built here
    assert delegate_tool(engine, "lead", ["analyst"]).timeout is None
    assert spawn_tool(engine, "lead", max_depth=1, budget=1).timeout is None


async def test_interrupting_keeps_the_partial_reply_marked_interrupted(db_path):
    model = ReplayClient([" ".join(f"word{i}" for i in range(200))], delay=0.02)
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("talker", model, stream_interval=0))
        streamed: list[str] = []
        two_words = asyncio.Event()

        def seen(item):
            if isinstance(item, StreamChunk):
                streamed.append(item.text)
                if "word1 " in "".join(streamed):
                    two_words.set()

        engine.bus.subscribe_live(seen)
        turn = asyncio.create_task(engine.run_agent_turn("talker"))
        await two_words.wait()
        assert engine.interrupt("talker")
        reply = await turn
        conv = engine.conversations.get_agent_conversation("talker")
    assert reply.type is MessageType.MESSAGE and reply.metadata["interrupted"] is True
    assert reply.content.startswith("word0 word1") and "word199" not in reply.content
    assert conv.messages[-1].content == reply.content
    assert not engine.interrupt("talker")  # nothing running any more


async def test_interrupting_an_agent_with_nothing_to_keep_says_so(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("slow", ["late"], delay=5))
        turn = asyncio.create_task(engine.run_agent_turn("slow"))
        await until(lambda: engine.interrupt("slow"))  # once the turn has begun
        reply = await turn
    assert reply.type is MessageType.STATUS and reply.metadata["event"] == "interrupted"
    assert problems(reply) == []


async def test_a_broken_stream_keeps_what_arrived_and_the_room_is_told(db_path):
    first = sse([chunk("half an "), chunk("answer")], done=False)
    server = FakeServer(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=CutStream(first))
    )
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("alice", server.client(), stream_interval=0))
        engine.register_agent(ScriptedAgent("bob", ["still working"]))
        watch = engine.bus.subscribe()
        with pytest.raises(AgentTurnError, match="broke off the reply"):
            await engine.run_agent_turn("alice")
        assert (await engine.run_agent_turn("bob")).content == "still working"
        seen = await watch.get_batch()
    partial = [e for e in seen if e.type is MessageType.MESSAGE and e.sender == "alice"]
    assert partial[0].content == "half an answer" and partial[0].metadata["interrupted"]
    failed = [e for e in seen if e.metadata.get("event") == "turn_failed"]
    assert failed and "broke off" in failed[0].content


async def test_an_empty_reply_is_a_status_not_a_message(db_path):
    server = FakeServer(
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=sse([chunk(""), chunk(finish="stop")]),
        )
    )
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("mute", server.client()))
        reply = await engine.run_agent_turn("mute")
    assert reply.type is MessageType.STATUS and reply.metadata["event"] == "empty_reply"
    assert problems(reply) == []


async def test_usage_and_cost_per_agent_and_session_survive_a_reopen(db_path):
    server = FakeServer(text_stream(["a"], usage=(1000, 100)), text_stream(["b"], usage=(10, 1)))
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("paid", server.client("gpt-4o-mini", provider="openai")))
        engine.register_agent(LLMAgent("free", ReplayClient(["x y"])))
        engine.register_agent(
            LLMAgent("mystery", FakeServer(text_stream(["c"], usage=None)).client("who"))
        )
        for name in ("paid", "free", "mystery"):
            await engine.run_agent_turn(name)
        totals = engine.usage.to_dict()
        sid = engine.session_id
    assert totals["agents"]["paid"]["cost_usd"] == pytest.approx((1000 * 0.15 + 100 * 0.60) / 1e6)
    assert totals["agents"]["free"]["cost"] == "$0.0000"
    assert totals["agents"]["mystery"]["cost"] == "unknown"
    assert totals["agents"]["mystery"]["estimated_calls"] == 1
    assert totals["total"]["calls"] == 3 and totals["total"]["cost"].endswith("+ unknown")
    async with Engine.open(db_path, session_id=sid) as engine:
        assert engine.usage.to_dict() == totals


async def test_the_reused_prompt_always_equals_one_built_afresh(db_path):
    """Positions converted on earlier turns are reused; the prompt never differs from
    converting the whole window again, as the window slides, after a restore to an
    older checkpoint, and after the room is reopened from SQLite."""
    model = ReplayClient([f"reply {i}" for i in range(80)])
    settings = AgentSettings(max_context_messages=7, max_context_chars=200)

    def fresh(agent: LLMAgent) -> list[tuple[str, str]]:
        return [(c.role, c.content) for c in map(agent._chat_message, agent.context())]

    async def check(engine: Engine, agent: LLMAgent, turns: int) -> None:
        bob = engine.get_agent("bob")
        for i in range(turns):
            await bob.handle.publish(f"bob says {i} " + "y" * (i % 5) * 9)
            if i % 4 == 0:
                await bob.handle.publish(f"aside {i}", to="alice")
            expected = fresh(agent)
            await engine.run_agent_turn("alice")
            system, *got = [(m.role, m.content) for m in model.requests[-1].messages]
            assert system[0] == "system" and got == expected and len(got) >= 2
            if i == 5:
                agent.conversation.checkpoint("early")
            if i == 12:
                agent.conversation.restore("early")

    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("bob", ["-"]))
        alice = engine.register_agent(LLMAgent("alice", model, settings=settings))
        await check(engine, alice, 20)
        session = engine.session_id
    async with Engine.open(db_path, session_id=session) as engine:
        engine.register_agent(ScriptedAgent("bob", ["-"]))
        alice = engine.register_agent(LLMAgent("alice", model, settings=settings))
        await check(engine, alice, 10)


async def test_a_turn_carries_its_window_by_type_and_a_plain_list_gives_the_same_prompt(db_path):
    """The engine's turn holds a ContextWindow (the prompt builder reuses what it converted
    by position); a hand-made turn, or a copy of the window, is a plain list and is
    converted whole, to the same prompt."""
    model = ReplayClient(["ok"] * 4)
    async with Engine.open(db_path) as engine:
        bob = engine.register_agent(ScriptedAgent("bob", ["-"]))
        alice = engine.register_agent(LLMAgent("alice", model))
        for i in range(3):
            await bob.handle.publish(f"bob says {i}")
        window = alice.context()
        assert isinstance(window, ContextWindow) and (window.start, len(window)) == (0, 3)
        turn = Turn(agent_id="alice", session_id=engine.session_id, messages=window)
        reused = alice.prompt(turn)
        assert len(alice._prompt_cache) == 3  # converted once, kept for the next turns
        copied = Turn(agent_id="alice", session_id=engine.session_id, messages=list(window))
        assert not isinstance(copied.messages, ContextWindow)
        assert alice.prompt(copied) == reused
        assert [m.content for m in reused[1:]] == [f"bob: bob says {i}" for i in range(3)]


async def test_interrupted_before_saying_anything_is_a_status_not_an_empty_message(db_path):
    asked = asyncio.Event()
    never = asyncio.Event()

    class Silent(httpx.AsyncByteStream):
        async def __aiter__(self):
            await never.wait()
            yield b""

    def answer(request: httpx.Request) -> httpx.Response:
        asked.set()
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Silent())

    server = FakeServer(answer)
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("thinker", server.client()))
        turn = asyncio.create_task(engine.run_agent_turn("thinker"))
        await asyncio.wait_for(asked.wait(), 30)
        assert engine.interrupt("thinker")
        reply = await turn
        await engine.flush()
        said = [e async for e in engine.store.read_envelopes(engine.session_id)]
    assert reply.type is MessageType.STATUS and reply.metadata["event"] == "interrupted"
    assert problems(reply) == []
    assert reply.content == "thinker was interrupted before saying anything"
    assert not [e for e in said if e.type is MessageType.MESSAGE and e.sender == "thinker"]


async def test_a_long_wait_before_a_retry_is_told_to_the_room(db_path):
    server = FakeServer(error(429, "slow down", {"retry-after": "3600"}), text_stream(["ok"]))
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("patient", server.client()))
        watch = engine.bus.subscribe()
        reply = await engine.run_agent_turn("patient")
        seen = await watch.get_batch()
    assert reply.content == "ok" and server.sleeps == [30.0]
    (waiting,) = [e for e in seen if e.metadata.get("event") == "waiting"]
    assert waiting.type is MessageType.STATUS and waiting.metadata["seconds"] == 30.0
    assert problems(waiting) == []
    assert waiting.content.startswith(
        "waiting 30 s: the server at http://fake.local/v1 is rate-limiting (429; it asked for "
        "3600 s"
    )


async def test_a_reply_past_the_size_limit_is_published_marked_cut(db_path):
    model = ReplayClient(["word " * 1000])
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("talker", model, reply_limit=100))
        reply = await engine.run_agent_turn("talker")
    assert reply.type is MessageType.MESSAGE and reply.metadata["cut"] is True
    assert reply.content == "word " * 20 + "… [cut: the reply passed 100 characters]"
