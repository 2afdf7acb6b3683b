"""The coordinator and its strategies: who speaks, in what order, and how a run is steered."""

from __future__ import annotations

import asyncio
import copy

import pytest

from agentroom import Engine, HumanAgent, MessageType, ScriptedAgent
from agentroom.agents import AgentSettings, LLMAgent
from agentroom.coordination import (
    FailedTurns,
    Handoff,
    HandoffToHuman,
    MaxMessages,
    MaxTurns,
    MultiAgentCoordinator,
    Participant,
    PlanDriven,
    RoleBased,
    RoundRobin,
    RunResult,
)
from agentroom.coordination.tools import handoff_tool
from agentroom.core.chunk import StreamChunk
from agentroom.core.errors import RunInProgressError
from agentroom.core.protocol import Envelope
from agentroom.models.replay import ReplayClient
from agentroom.room.builder import build_room
from agentroom.room.workflows import parse_workflow
from tests.event_payloads import problems


def speakers(result: RunResult) -> list[str]:
    """Who said something, in order (the room's task announcement left out)."""
    return [e.sender for e in result.messages if e.sender != "room"]


def events(result: RunResult, event: str) -> list[Envelope]:
    """The envelopes naming ``event``, each held to its declared payload on the way."""
    found = [e for e in result.envelopes if e.metadata.get("event") == event]
    assert not [p for e in found for p in problems(e)]
    return found


def echo(name: str):
    """A scripted agent that says who it is and how many turns it has had."""
    count = 0

    def reply(turn):
        nonlocal count
        count += 1
        return f"{name} #{count}"

    return ScriptedAgent(name, reply)


# -- round-robin -----------------------------------------------------------------------------


async def test_round_robin_order_with_a_human_who_answers_and_one_who_times_out(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(echo("alice"))
        engine.register_agent(echo("bob"))
        human = engine.register_agent(HumanAgent("human"))
        engine.register_agent(HumanAgent("guest", settings=AgentSettings(turn_timeout=0.05)))
        answers = iter(["human says one", "human says two"])

        async def answer(env: Envelope) -> None:
            if env.metadata.get("event") == "input_requested" and env.receiver == "human":
                await human.say(next(answers))

        engine.bus.subscribe(answer, types=MessageType.STATUS)
        coordinator = MultiAgentCoordinator(
            engine, RoundRobin(["alice", "human", "bob", "guest"]), MaxTurns(8)
        )
        result = await coordinator.run("talk in turns")

    assert speakers(result) == [
        "alice",
        "human",
        "bob",
        "alice",
        "human",
        "bob",
    ]
    assert [m.content for m in result.messages if m.sender == "human"] == [
        "human says one",
        "human says two",
    ]
    requested = events(result, "input_requested")
    assert [e.receiver for e in requested] == ["human", "guest", "human", "guest"]
    skipped = events(result, "skipped")
    assert [e.metadata["agent"] for e in skipped] == ["guest", "guest"]
    assert skipped[0].type is MessageType.STATUS
    assert skipped[0].content == "guest did not answer within 0.05s; skipping their turn"
    # the turns, skips included, follow the order twice over
    turns = [
        f"skip:{e.metadata['agent']}" if e.metadata.get("event") == "skipped" else e.sender
        for e in result.envelopes
        if (e.type is MessageType.MESSAGE and e.sender != "room")
        or e.metadata.get("event") == "skipped"
    ]
    assert turns == ["alice", "human", "bob", "skip:guest"] * 2
    assert result.turns == 8 and result.reason == "reached 8 turns"


# -- role-based -------------------------------------------------------------------------------


def _team(engine: Engine, *names: str) -> None:
    for name in names:
        engine.register_agent(echo(name))


async def test_role_based_an_explicit_mention_wins_over_the_rule(db_path):
    selector = ReplayClient([])  # never asked: a mention or the rule always decides
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("carol", ["over to @alice"]))
        engine.register_agent(ScriptedAgent("alice", ["thanks, nothing to add"]))
        engine.register_agent(echo("bob"))
        strategy = RoleBased(selector=selector, rule=lambda eligible, recent: "bob")
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(3))
        result = await coordinator.run("@carol please start")
    assert speakers(result) == ["carol", "alice", "bob"]
    assert [e.metadata["by"] for e in events(result, "speaker_selected")] == [
        "@carol in room's message",
        "@alice in carol's message",
        "the workflow's rule",
    ]
    assert selector.requests == []


async def test_role_based_a_rule_function_picks_from_the_eligible(db_path):
    seen: list[tuple[list[str], list[str]]] = []

    def rule(eligible, recent):
        seen.append(([p.id for p in eligible], [e.sender for e in recent]))
        return "carol" if recent[-1].sender == "alice" else "alice"

    async with Engine.open(db_path) as engine:
        _team(engine, "alice", "bob", "carol")
        coordinator = MultiAgentCoordinator(engine, RoleBased(rule=rule), MaxTurns(4))
        result = await coordinator.run("go")
    assert speakers(result) == ["alice", "carol", "alice", "carol"]
    # the rule is shown everyone but the last speaker, and the recent messages
    assert seen[0] == (["alice", "bob", "carol"], ["room"])
    assert seen[1] == (["bob", "carol"], ["room", "alice"])
    assert seen[2] == (["alice", "bob"], ["room", "alice", "carol"])


async def test_role_based_the_selector_model_picks_by_name(db_path):
    selector = ReplayClient(["bob", "I pick alice."], label="picker")
    async with Engine.open(db_path) as engine:
        engine.register_agent(echo("alice"))
        engine.register_agent(
            ScriptedAgent("bob", ["bob speaks"], role="critic", description="finds flaws")
        )
        engine.register_agent(echo("carol"))
        coordinator = MultiAgentCoordinator(engine, RoleBased(selector=selector), MaxTurns(2))
        result = await coordinator.run("review the design")
    assert speakers(result) == ["bob", "alice"]
    first, second = selector.requests
    assert "- bob: critic (finds flaws)" in first.messages[0].content
    assert first.hints.choose_from == ("alice", "bob", "carol")
    assert second.hints.choose_from == ("alice", "carol")  # bob just spoke
    assert second.messages[-1].content == "room: review the design\nbob: bob speaks"
    assert [e.metadata["by"] for e in events(result, "speaker_selected")] == [
        "the selector (picker)",
        "the selector (picker)",
    ]
    usage = events(result, "usage")
    assert len(usage) == 2 and {e.metadata["agent"] for e in usage} == {"selector"}
    assert events(result, "selector_retry") == []


async def test_role_based_unusable_selector_answers_are_retried_then_the_default_speaks(db_path):
    selector = ReplayClient(["nobody in particular", "alice or bob", "dave"])
    async with Engine.open(db_path) as engine:
        _team(engine, "alice", "bob", "carol")
        strategy = RoleBased(selector=selector, default="carol", retries=2)
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(1))
        result = await coordinator.run("go")
    assert speakers(result) == ["carol"]
    retries = events(result, "selector_retry")
    assert [(e.metadata["attempt"], e.metadata["problem"]) for e in retries] == [
        (1, "no participant named"),
        (2, "several names: alice, bob"),
        (3, "no participant named"),
    ]
    assert "asking again (1/2)" in retries[0].content
    assert "asking again (2/2)" in retries[1].content
    assert "asking again" not in retries[2].content  # no retries left
    assert len(selector.requests) == 3
    assert selector.requests[1].messages[-1].content == (
        "That was not usable (no participant named). Answer with exactly one of: alice, bob, carol."
    )
    (selected,) = events(result, "speaker_selected")
    assert selected.metadata == {"event": "speaker_selected", "agent": "carol", "by": "the default"}


async def test_role_based_a_retry_can_succeed_and_the_last_speaker_cannot_be_picked(db_path):
    selector = ReplayClient(["alice", "alice", "bob"])
    async with Engine.open(db_path) as engine:
        _team(engine, "alice", "bob", "carol")
        strategy = RoleBased(selector=selector, default="carol", retries=3)
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(2))
        result = await coordinator.run("go")
    assert speakers(result) == ["alice", "bob"]
    (retry,) = events(result, "selector_retry")
    assert retry.metadata["problem"] == "alice cannot speak now"


@pytest.mark.parametrize(
    ("allow_repeat", "expected"),
    [(False, ["alice", "bob", "alice", "bob"]), (True, ["alice"] * 4)],
)
async def test_role_based_nobody_speaks_twice_in_a_row_unless_allowed(
    db_path, allow_repeat, expected
):
    async with Engine.open(db_path) as engine:
        _team(engine, "alice", "bob", "carol")
        strategy = RoleBased(
            rule=lambda eligible, recent: "alice", default="bob", allow_repeat=allow_repeat
        )
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(4))
        result = await coordinator.run("go")
    assert speakers(result) == expected


# -- plan-driven ------------------------------------------------------------------------------


async def test_plan_driven_assigns_steps_stalls_replans_and_completes(db_path):
    planner_model = ReplayClient(
        [
            "Plan:\n1. @writer drafts the README\n2. Write the parser code\n3. Run the test suites",
            "1. coder adds the missing fixtures\n2. Run the test suites",
        ]
    )

    def worker(name: str, role: str, description: str) -> ScriptedAgent:
        return ScriptedAgent(
            name, lambda t: f"done: {t.hints.step}", role=role, description=description
        )

    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("planner", planner_model, role="planner"))
        engine.register_agent(worker("writer", "writer", "drafts documentation"))
        engine.register_agent(worker("coder", "coder", "writes python code"))
        engine.register_agent(
            ScriptedAgent(
                "tester",
                ["blocked: no fixtures", "still blocked", "all 12 tests pass"],
                role="tester",
                description="runs test suites",
            )
        )
        strategy = PlanDriven("planner", replan_after=2)
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(20))
        result = await coordinator.run("ship the parser")

    assert result.reason == "the plan is complete (4 steps done)"
    assert speakers(result) == ["writer", "coder", "tester", "tester", "coder", "tester"]
    assert [m.content for m in result.messages if m.sender in ("writer", "coder")] == [
        "done: @writer drafts the README",
        "done: Write the parser code",
        "done: coder adds the missing fixtures",
    ]
    plans = events(result, "plan")
    assert [p.sender for p in plans] == ["planner", "planner"]
    assert all(p.type is MessageType.ACTION for p in plans)
    assigned = events(result, "plan_assigned")
    assert [[s["assignee"] for s in a.metadata["steps"]] for a in assigned] == [
        ["writer", "coder", "tester"],  # by name, by role fit, by role fit
        ["writer", "coder", "coder", "tester"],  # the done steps kept, then the new plan
    ]
    assert [e.metadata["step"] for e in events(result, "step_assigned")] == [1, 2, 3, 3, 3, 4]
    assert [e.metadata["stalled"] for e in events(result, "step_stalled")] == [1]
    (replan,) = events(result, "replan")
    assert replan.metadata["step"] == 3 and "asking planner to re-plan" in replan.content
    assert [e.metadata["version"] for e in events(result, "plan_requested")] == [1, 2]
    assert "Re-plan the remaining work" in planner_model.requests[1].messages[-1].content
    assert [e.metadata["step"] for e in events(result, "step_done")] == [1, 2, 3, 4]
    assert result.envelopes[-1].content == "stopped: the plan is complete (4 steps done)"


# -- handoff ----------------------------------------------------------------------------------


async def test_handoff_the_active_agent_is_sticky_and_hands_off_by_text(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(
            ScriptedAgent("triage", ["Hello, what is wrong?", "HANDOFF: billing"])
        )
        engine.register_agent(ScriptedAgent("billing", ["Refund issued.", "Anything else?"]))
        engine.register_agent(
            ScriptedAgent("customer", ["I was charged twice.", "Thanks!", "No, bye."])
        )
        coordinator = MultiAgentCoordinator(
            engine, Handoff("triage", partner="customer"), MaxTurns(7)
        )
        result = await coordinator.run("a support call")
        state = await engine.store.load_room_state(engine.session_id)

    assert speakers(result) == [
        "triage",
        "customer",
        "triage",
        "billing",  # the new agent picks up at once
        "customer",
        "billing",
        "customer",
    ]
    (handoff,) = events(result, "handoff")
    assert handoff.type is MessageType.ACTION and handoff.sender == "room"
    assert handoff.metadata == {"event": "handoff", "from": "triage", "to": "billing"}
    assert handoff.reply_to == next(
        m.id for m in result.messages if m.content == "HANDOFF: billing"
    )
    assert state is not None
    _, saved = state
    assert saved["strategy"] == "handoff"
    assert saved["strategy_state"]["active"] == "billing"


async def test_handoff_the_active_agent_survives_a_checkpoint(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("triage", ["HANDOFF: tech"]))
        engine.register_agent(ScriptedAgent("tech", ["Try restarting.", "Did that help?"]))
        engine.register_agent(ScriptedAgent("customer", ["It still fails."]))
        first = MultiAgentCoordinator(engine, Handoff("triage", partner="customer"), MaxTurns(3))
        await first.run("my app crashes")
        first.detach()
        _, state = await engine.store.load_room_state(engine.session_id)
        # a fresh strategy that would start at triage continues with tech instead
        second = MultiAgentCoordinator(engine, Handoff("triage", partner="customer"), MaxTurns(1))
        second.load(state, fresh_budget=True)
        result = await second.run()
    assert state["strategy_state"] == {"active": "tech", "partner_next": False, "handed_by": None}
    assert speakers(result) == ["tech"]


async def test_handoff_by_tool_call(db_path):
    triage_model = ReplayClient(
        [
            {"tool_calls": [{"name": "handoff", "arguments": {"to": "tech", "reason": "login"}}]},
            "Passing you to tech support.",
        ]
    )
    async with Engine.open(db_path) as engine:
        triage = engine.register_agent(LLMAgent("triage", triage_model, stream_interval=0))
        triage.toolbox.add(handoff_tool(["tech", "customer"]))
        engine.register_agent(ScriptedAgent("tech", ["What error do you see?"]))
        engine.register_agent(ScriptedAgent("customer", ["I cannot log in."]))
        coordinator = MultiAgentCoordinator(
            engine, Handoff("triage", partner="customer"), MaxTurns(3)
        )
        result = await coordinator.run("login trouble")
    assert speakers(result) == ["triage", "tech", "customer"]
    (handoff,) = events(result, "handoff")
    assert handoff.metadata == {"event": "handoff", "from": "triage", "to": "tech"}
    (tool_result,) = events(result, "tool_result")
    assert tool_result.content == "handing off to tech"
    assert [t.name for t in triage_model.requests[0].tools] == ["handoff"]


async def test_handoff_to_an_unknown_name_is_refused_listing_the_known_ones(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("triage", ["HANDOFF: dave", "Let me help, then."]))
        engine.register_agent(ScriptedAgent("billing", ["never asked"]))
        engine.register_agent(ScriptedAgent("customer", ["Hello?"]))
        strategy = Handoff("triage", partner="customer")
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(3))
        result = await coordinator.run("help")
    assert speakers(result) == ["triage", "customer", "triage"]
    assert events(result, "handoff") == []
    (refused,) = events(result, "handoff_refused")
    assert refused.type is MessageType.STATUS and refused.metadata["to"] == "dave"
    assert refused.content == (
        "triage tried to hand off to 'dave', who is not here; known: billing, customer"
    )
    assert strategy.active == "triage"


# -- steering a run ---------------------------------------------------------------------------


async def test_switching_strategy_from_a_concurrent_task(db_path):
    async with Engine.open(db_path) as engine:
        _team(engine, "bob", "carol")

        async def alice(turn):
            await coordinator.pause()  # hold the room, so the switch lands between turns
            return "alice pauses the room"

        engine.register_agent(ScriptedAgent("alice", alice))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["alice", "bob"]), MaxTurns(4))

        async def on_pause(env: Envelope) -> None:
            if env.metadata.get("event") == "paused":
                await coordinator.switch_strategy("round-robin", RoundRobin(["carol", "bob"]))
                await coordinator.resume()

        engine.bus.subscribe(on_pause, types=MessageType.STATUS)
        result = await coordinator.run("go")
    assert speakers(result) == ["alice", "carol", "bob", "carol"]
    (switched,) = events(result, "strategy_switched")
    assert switched.type is MessageType.STATUS
    assert switched.metadata == {
        "event": "strategy_switched",
        "from": "round-robin",
        "to": "round-robin",
    }


async def test_switching_strategy_from_a_concurrent_task_to_another_kind(db_path):
    async with Engine.open(db_path) as engine:
        _team(engine, "bob", "carol")

        async def alice(turn):
            await coordinator.pause()
            return "alice pauses the room"

        engine.register_agent(ScriptedAgent("alice", alice))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["alice", "bob"]), MaxTurns(3))

        async def on_pause(env: Envelope) -> None:
            if env.metadata.get("event") == "paused":
                await coordinator.switch_strategy("handoff", Handoff("carol"))
                await coordinator.resume()

        engine.bus.subscribe(on_pause, types=MessageType.STATUS)
        result = await coordinator.run("go")
        _, state = await engine.store.load_room_state(engine.session_id)
    assert speakers(result) == ["alice", "carol", "carol"]  # handoff: carol keeps the floor
    (switched,) = events(result, "strategy_switched")
    assert switched.content == "strategy switched from round-robin to handoff"
    assert state["strategy"] == "handoff"


async def test_switching_strategy_from_inside_a_turn_starts_the_new_order_at_its_beginning(
    db_path,
):
    async with Engine.open(db_path) as engine:
        _team(engine, "alice", "carol")

        async def bob(turn):
            await coordinator.switch_strategy("round-robin", RoundRobin(["carol", "alice"]))
            return "bob switches"

        engine.register_agent(ScriptedAgent("bob", bob))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["alice", "bob"]), MaxTurns(5))
        result = await coordinator.run("go")
    assert len(events(result, "strategy_switched")) == 1
    assert speakers(result) == ["alice", "bob", "carol", "alice", "carol"]


async def test_stop_while_an_agent_streams_keeps_the_partial_reply(db_path):
    words = [f"word{i}" for i in range(60)]
    model = ReplayClient([" ".join(words)], delay=0.02)
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("talker", model, stream_interval=0))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["talker"]), MaxMessages(10))
        chunks = 0

        def on_stream(item: Envelope | StreamChunk) -> None:
            nonlocal chunks
            if isinstance(item, StreamChunk):
                chunks += 1
                if chunks == 3:
                    coordinator.stop("the human has heard enough")

        engine.bus.subscribe_live(on_stream)
        result = await coordinator.run("talk at length")
    (partial,) = [m for m in result.messages if m.sender == "talker"]
    assert partial.metadata["interrupted"] is True
    assert partial.metadata["finish_reason"] == "interrupted"
    said = partial.content.split()
    assert 3 <= len(said) < len(words) and said == words[: len(said)]
    assert result.reason == "the human has heard enough"
    assert result.turns == 1
    last = result.envelopes[-1]
    assert last.type is MessageType.STATUS
    assert last.metadata == {"event": "stopped", "reason": "the human has heard enough"}
    assert last.content == "stopped: the human has heard enough"


async def test_pause_holds_every_turn_until_resume(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(echo("bob"))
        alice_turns = 0

        async def alice(turn):
            nonlocal alice_turns
            alice_turns += 1
            if alice_turns == 1:
                await coordinator.pause()  # takes effect once this turn is over
            return f"alice #{alice_turns}"

        engine.register_agent(ScriptedAgent("alice", alice))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["alice", "bob"]), MaxTurns(3))
        held: list[list[str]] = []

        async def on_pause(env: Envelope) -> None:
            if env.metadata.get("event") == "paused":
                await asyncio.sleep(0.1)  # ample time for a turn that must not start
                said = engine.store.read_envelopes(engine.session_id, type=MessageType.MESSAGE)
                held.append([e.content async for e in said])
                await coordinator.resume()

        engine.bus.subscribe(on_pause, types=MessageType.STATUS)
        result = await coordinator.run("go")
    assert held == [["go", "alice #1"]]
    assert [m.content for m in result.messages] == ["go", "alice #1", "bob #1", "alice #2"]
    marks = [
        e.metadata.get("event") if e.type is MessageType.STATUS else e.content
        for e in result.envelopes
        if e.metadata.get("event") in ("paused", "resumed") or e.type is MessageType.MESSAGE
    ]
    # alice's turn was running when the pause came; the next one waited for the resume
    assert marks == ["go", "paused", "alice #1", "resumed", "bob #1", "alice #2"]


async def test_stop_while_paused_ends_the_run_without_another_turn(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(echo("bob"))

        async def alice(turn):
            await coordinator.pause()
            return "alice pauses"

        engine.register_agent(ScriptedAgent("alice", alice))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["alice", "bob"]), MaxTurns(5))

        def on_pause(env: Envelope) -> None:
            if env.metadata.get("event") == "paused":
                coordinator.stop("stopped while paused")

        engine.bus.subscribe(on_pause, types=MessageType.STATUS)
        result = await coordinator.run("go")
    assert result.reason == "stopped while paused"
    assert speakers(result) == ["alice"]


async def test_a_human_message_mid_run_reaches_the_next_speakers_context(db_path):
    model = ReplayClient(["I will keep it short."])
    async with Engine.open(db_path) as engine:
        human = engine.register_agent(HumanAgent("human"))

        async def bob(turn):
            await human.say("please keep it under 50 words")  # the human speaks up mid-turn
            return "bob's long idea"

        engine.register_agent(ScriptedAgent("bob", bob))
        engine.register_agent(LLMAgent("alice", model, stream_interval=0))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["bob", "alice"]), MaxTurns(2))
        result = await coordinator.run("pitch an idea")
    assert speakers(result) == ["human", "bob", "alice"]
    assert [(m.role, m.content) for m in model.requests[-1].messages[1:]] == [
        ("user", "room: pitch an idea"),
        ("user", "human: please keep it under 50 words"),
        ("user", "bob: bob's long idea"),
    ]


# -- resume -----------------------------------------------------------------------------------


async def test_a_fresh_coordinator_continues_the_order_from_the_checkpoint(db_path):
    async with Engine.open(db_path) as engine:
        _team(engine, "a", "b", "c")
        first = MultiAgentCoordinator(engine, RoundRobin(["a", "b", "c"]), MaxMessages(3))
        before = await first.run("count off")  # the task is a message too: task, a, b
        first.detach()
        _, state = await engine.store.load_room_state(engine.session_id)
        second = MultiAgentCoordinator(engine, RoundRobin(["a", "b", "c"]), MaxMessages(4))
        second.load(state, fresh_budget=True)
        after = await second.run()
    assert before.reason == "reached 3 messages" and speakers(before) == ["a", "b"]
    assert state["stopped"] == "reached 3 messages" and state["last_speaker"] == "b"
    assert speakers(after) == ["c", "a", "b", "c"]
    assert [m.content for m in after.messages] == ["c #1", "a #2", "b #2", "c #2"]
    assert after.turns == 6  # the turn count carries on


async def test_a_stop_request_does_not_carry_over_into_a_resumed_run(db_path):
    async with Engine.open(db_path) as engine:
        _team(engine, "a", "b")
        first = MultiAgentCoordinator(engine, RoundRobin(["a", "b"]), MaxTurns(10))
        first.stop("the human stopped it")
        before = await first.run("go")
        first.detach()
        _, state = await engine.store.load_room_state(engine.session_id)
        second = MultiAgentCoordinator(engine, RoundRobin(["a", "b"]), MaxTurns(10))
        second.load(state, fresh_budget=False)  # keep counting turns where they were
        after = await second.run()
    assert before.reason == "the human stopped it"
    assert after.reason != "the human stopped it"
    assert speakers(after) != []


WORKFLOW = """
name: count off
agents:
  - id: a
  - id: b
  - id: c
strategy:
  name: round-robin
termination:
  max_messages: 3
"""


async def test_a_reopened_session_continues_the_workflow_where_it_stopped(db_path):
    workflow = parse_workflow(WORKFLOW)
    async with Engine.open(db_path) as engine:
        before = await engine.run_workflow(
            workflow, "count off", default_model=ReplayClient(["a one", "b one"])
        )
        session_id = engine.session_id
    model = ReplayClient(["c one", "a two", "b two"])
    async with Engine.open(db_path, session_id=session_id) as engine:
        _, state = await engine.store.load_room_state(session_id)
        coordinator = build_room(engine, workflow, model)
        coordinator.load(state, fresh_budget=True)
        after = await coordinator.run()
    assert before.reason == "reached 3 messages" and speakers(before) == ["a", "b"]
    assert speakers(after) == ["c", "a", "b"]
    assert [m.content for m in after.messages] == ["c one", "a two", "b two"]
    # c's first prompt holds what was said before the stop
    assert [m.content for m in model.requests[0].messages[1:]] == [
        "room: count off",
        "a: a one",
        "b: b one",
    ]


async def test_run_result_holds_the_runs_envelopes_in_seq_order_and_the_reason(db_path):
    async with Engine.open(db_path) as engine:
        _team(engine, "alice", "bob")
        await engine.bus.announce("before the run")
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["alice", "bob"]), MaxTurns(3))
        result = await coordinator.run("say hello")
        stored = [e async for e in engine.store.read_envelopes(engine.session_id)]
    assert isinstance(result, RunResult)
    assert result.session_id == engine.session_id
    assert result.reason == "reached 3 turns" and result.turns == 3
    seqs = [e.seq for e in result.envelopes]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # all of them, in order
    assert result.envelopes == stored[1:]  # everything from the task on, nothing before
    assert result.envelopes[0].content == "say hello"
    assert result.envelopes[0].metadata == {"event": "task"}
    assert result.envelopes[-1].metadata == {"event": "stopped", "reason": "reached 3 turns"}
    assert [m.content for m in result.messages] == ["say hello", "alice #1", "bob #1", "alice #2"]


# -- turns that keep failing ------------------------------------------------------------------


async def test_a_room_whose_model_has_run_out_of_script_ends_with_the_reason(db_path):
    async with Engine.open(db_path) as engine:
        for name in ("alice", "bob"):
            engine.register_agent(LLMAgent(name, ReplayClient([], label="replay:x.yaml")))
        coordinator = MultiAgentCoordinator(
            engine, RoundRobin(["alice", "bob"]), MaxMessages(10) & MaxTurns(50)
        )
        result = await coordinator.run("go")
        stored = [e async for e in engine.store.read_envelopes(engine.session_id)]
    assert result.failed and result.turns == 5
    assert result.reason == (
        "alice failed 3 turns in a row: replay:x.yaml has no reply left for request #3 "
        "(its script has 0)"
    )
    failed = events(result, "turn_failed")
    assert [e.metadata["agent"] for e in failed] == ["alice", "bob", "alice", "bob", "alice"]
    assert result.envelopes[-1].content == f"stopped: {result.reason}"
    # The task, then for each turn who speaks and its failure, then the stop.
    assert len(stored) == len(result.envelopes) == 12


async def test_a_success_resets_the_count_and_an_empty_reply_is_a_failure(db_path):
    outcomes = iter(["fail", "fail", "ok", "fail", "fail", "ok", "fail", "fail", "ok"])

    def flaky(turn):
        if next(outcomes) == "fail":
            raise RuntimeError("the tool server is down")
        return "it worked this time"

    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("flaky", flaky))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["flaky"]), MaxTurns(9))
        result = await coordinator.run("go")
        assert not result.failed and result.reason == "reached 9 turns"
        engine.register_agent(LLMAgent("mute", ReplayClient(["", "", ""]), stream_interval=0))
        second = MultiAgentCoordinator(engine, RoundRobin(["mute"]), MaxTurns(9))
        muted = await second.run()
    assert (
        muted.failed
        and muted.reason == "mute failed 3 turns in a row: replay returned an empty reply"
    )


async def test_the_rooms_limit_ends_a_room_where_everyone_fails_once(db_path):
    async with Engine.open(db_path) as engine:
        names = ["a", "b", "c", "d"]
        for name in names:
            engine.register_agent(ScriptedAgent(name, []))
        coordinator = MultiAgentCoordinator(
            engine, RoundRobin(names), MaxTurns(100), failures=FailedTurns(per_room=3)
        )
        result = await coordinator.run("go")
    assert result.failed and result.turns == 3
    assert result.reason == (
        "3 turns failed in a row, the last by c: scripted agent 'c' has no replies left "
        "(it was given 0)"
    )


# -- runs of one team, as AutoGen's teams run ---------------------------------------------------


async def test_a_second_run_has_a_fresh_budget_and_continues_the_order(db_path):
    async with Engine.open(db_path) as engine:
        _team(engine, "a", "b", "c")
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["a", "b", "c"]), MaxTurns(2))
        first = await coordinator.run("count off")
        second = await coordinator.run()
        third = await coordinator.run("count again")
    assert speakers(first) == ["a", "b"] and first.reason == "reached 2 turns"
    assert speakers(second) == ["c", "a"] and second.reason == "reached 2 turns"
    assert speakers(third) == ["b", "c"]
    assert third.turns == 6


async def test_a_second_run_keeps_the_active_handoff_agent_and_the_plan(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("triage", ["HANDOFF: tech"]))
        engine.register_agent(ScriptedAgent("tech", ["Restart it.", "Better?", "Good."]))
        handoff = MultiAgentCoordinator(engine, Handoff("triage"), MaxTurns(2))
        first = await handoff.run("my app crashes")
        second = await handoff.run()
        handoff.detach()
        planner = ReplayClient(["1. writer drafts it\n2. writer reads it over", "1. writer again"])
        engine.register_agent(LLMAgent("planner", planner, stream_interval=0))
        engine.register_agent(
            ScriptedAgent("writer", lambda t: f"done: {t.hints.step}", role="writer")
        )
        plan = MultiAgentCoordinator(engine, PlanDriven("planner"), MaxTurns(2))
        planned = await plan.run("write the note")
        rest = await plan.run()
        new_task = await plan.run("write another note")
    assert speakers(first) == ["triage", "tech"] and speakers(second) == ["tech"] * 2
    assert [m.content for m in planned.messages if m.sender == "writer"] == [
        "done: writer drafts it"
    ]
    assert [m.content for m in rest.messages if m.sender == "writer"] == [
        "done: writer reads it over"
    ]
    assert rest.reason == "the plan is complete (2 steps done)"
    # A finished plan and a new task: the planner is asked for a new plan.
    assert [m.content for m in new_task.messages if m.sender == "writer"] == ["done: writer again"]


async def test_a_run_while_one_is_running_is_refused(db_path):
    async with Engine.open(db_path) as engine:
        inside = asyncio.Event()
        release = asyncio.Event()

        async def slow(turn):
            inside.set()
            await release.wait()
            return "done at last"

        engine.register_agent(ScriptedAgent("slow", slow))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["slow"]), MaxTurns(1))
        running = asyncio.create_task(coordinator.run("go"))
        await inside.wait()
        with pytest.raises(RunInProgressError, match="already running"):
            await coordinator.run("again")
        with pytest.raises(RunInProgressError, match="cannot reset the room while it runs"):
            await coordinator.reset()
        release.set()
        result = await running
    assert speakers(result) == ["slow"] and result.reason == "reached 1 turn"


async def test_reset_starts_the_team_over(db_path):
    async with Engine.open(db_path) as engine:
        _team(engine, "a", "b", "c")
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["a", "b", "c"]), MaxTurns(2))
        await coordinator.run("count off")
        await coordinator.reset()
        again = await coordinator.run()
        _, state = await engine.store.load_room_state(engine.session_id)
        log = [e async for e in engine.store.read_envelopes(engine.session_id)]
    assert speakers(again) == ["a", "b"] and again.turns == 2
    assert state["turns"] == 2 and state["strategy_state"] == {"cursor": 2}
    (reset,) = [e for e in log if e.metadata.get("event") == "reset"]
    assert reset.content == "the room starts over: order, counters and strategy reset"


async def test_loading_a_checkpoint_never_changes_the_callers_state(db_path):
    planner = ReplayClient(["1. writer drafts it\n2. writer reads it over"])
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("planner", planner, stream_interval=0))
        engine.register_agent(ScriptedAgent("writer", ["drafted", "read over"], role="writer"))
        first = MultiAgentCoordinator(engine, PlanDriven("planner"), MaxTurns(2))
        await first.run("write the note")
        first.detach()
        _, state = await engine.store.load_room_state(engine.session_id)
        kept = copy.deepcopy(state)
        second = MultiAgentCoordinator(engine, PlanDriven("planner"), MaxTurns(5))
        second.load(state, fresh_budget=True)
        result = await second.run()
        snapshot = second.state()
        snapshot["strategy_state"]["steps"][0]["status"] = "scribbled on"
    assert result.reason == "the plan is complete (2 steps done)"
    assert state == kept  # the steps' statuses changed in the coordinator, not in the caller's
    assert second.strategy.steps[0]["status"] == "done"  # and a state() handed out is a copy


# -- who speaks next is said, whatever the strategy --------------------------------------------


def announced(result: RunResult) -> list[tuple[str, str]]:
    """(agent, why) of each speaker_selected status, checked to come right before that turn."""
    out = []
    envs = result.envelopes
    for i, env in enumerate(envs):
        if env.metadata.get("event") == "speaker_selected":
            assert env.type is MessageType.STATUS and env.sender == "room"
            assert env.content == f"next: {env.metadata['agent']}, chosen by {env.metadata['by']}"
            following = next(e for e in envs[i + 1 :] if e.sender != "room")
            assert following.sender == env.metadata["agent"]
            out.append((env.metadata["agent"], env.metadata["by"]))
    return out


async def test_every_strategy_announces_the_chosen_speaker_before_each_turn(db_path):
    async with Engine.open(db_path) as engine:
        _team(engine, "a", "b")
        engine.register_agent(ScriptedAgent("triage", ["HANDOFF: b"]))
        engine.register_agent(ScriptedAgent("customer", ["hello?"], cycle=True))
        planner = ReplayClient(["1. a does it"])
        engine.register_agent(LLMAgent("planner", planner, stream_interval=0))
        runs = [
            MultiAgentCoordinator(engine, RoundRobin(["a", "b"]), MaxTurns(3)),
            MultiAgentCoordinator(engine, Handoff("triage", partner="customer"), MaxTurns(3)),
            MultiAgentCoordinator(engine, PlanDriven("planner", workers=["a"]), MaxTurns(5)),
        ]
        results = []
        for coordinator in runs:
            results.append(await coordinator.run("go"))
            coordinator.detach()
    assert announced(results[0]) == [
        ("a", "the round-robin order"),
        ("b", "the round-robin order"),
        ("a", "the round-robin order"),
    ]
    assert announced(results[1]) == [
        ("triage", "the handoff (triage has the floor)"),
        ("b", "the handoff (b has the floor)"),
        ("customer", "the handoff (customer answers b)"),
    ]
    assert announced(results[2]) == [
        ("planner", "the plan (the planner plans)"),
        ("a", "the plan (step 1)"),
    ]


# -- role-based: who is asked, and what a failing selector does ---------------------------------


async def test_role_based_asks_nobody_when_only_one_may_speak(db_path):
    selector = ReplayClient(["alice"])  # one answer: the other turns have one candidate
    async with Engine.open(db_path) as engine:
        _team(engine, "alice", "bob", "carol")
        strategy = RoleBased(candidates=["alice", "bob"], selector=selector)
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(3))
        result = await coordinator.run("go")
    assert speakers(result) == ["alice", "bob", "alice"]
    assert len(selector.requests) == 1
    assert [e.metadata["by"] for e in events(result, "speaker_selected")] == [
        "the selector (replay)",
        "the only one who may speak now",
        "the only one who may speak now",
    ]


async def test_role_based_a_failing_selector_or_rule_falls_back_to_the_default(db_path):
    def broken(eligible, recent):
        raise RuntimeError("the rule table is gone")

    async with Engine.open(db_path) as engine:
        _team(engine, "alice", "bob", "carol")
        down = RoleBased(selector=ReplayClient([], label="replay:x"), default="carol")
        first = MultiAgentCoordinator(engine, down, MaxTurns(1))
        by_model = await first.run("go")
        first.detach()
        second = MultiAgentCoordinator(engine, RoleBased(rule=broken), MaxTurns(1))
        by_rule = await second.run()
    assert speakers(by_model) == ["carol"] and by_model.reason == "reached 1 turn"
    (failed,) = events(by_model, "selector_failed")
    assert failed.type is MessageType.STATUS
    assert failed.content == (
        "the selector (replay:x) failed: replay:x has no reply left for request #1 "
        "(its script has 0); the default speaks"
    )
    assert [e.metadata["by"] for e in events(by_model, "speaker_selected")] == ["the default"]
    # No default named: the first who may speak (carol spoke last, so alice).
    assert speakers(by_rule) == ["alice"]
    (failed,) = events(by_rule, "selector_failed")
    assert failed.content == (
        "the workflow's rule failed: the rule table is gone; the default speaks"
    )


async def test_role_based_a_candidate_function_narrows_who_may_speak(db_path):
    seen: list[tuple[list[str], list[str]]] = []

    def reviewers_after_the_author(eligible, recent):
        seen.append(([p.id for p in eligible], [e.sender for e in recent]))
        if recent[-1].sender == "author":
            return ["reviewer", "security"]
        return "author"  # one id is fine too

    selector = ReplayClient(["security"])
    async with Engine.open(db_path) as engine:
        _team(engine, "author", "reviewer", "security", "lead")
        strategy = RoleBased(selector=selector, candidate_func=reviewers_after_the_author)
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(3))
        result = await coordinator.run("review this")
    assert speakers(result) == ["author", "security", "author"]
    (asked,) = selector.requests  # only when two were left
    assert asked.hints.choose_from == ("reviewer", "security")
    assert seen[0] == (["author", "reviewer", "security", "lead"], ["room"])
    assert [e.metadata["by"] for e in events(result, "speaker_selected")] == [
        "the only one who may speak now",
        "the selector (replay)",
        "the only one who may speak now",
    ]


@pytest.mark.parametrize(
    ("candidates", "status"),
    [
        (
            lambda eligible, recent: ["nobody"],
            "the candidate function named nobody who may speak now (nobody); "
            "anyone eligible may speak",
        ),
        (
            lambda eligible, recent: 1 / 0,
            "the candidate function failed: division by zero; anyone eligible may speak",
        ),
    ],
)
async def test_role_based_a_candidate_function_that_names_nobody_or_fails_is_said(
    db_path, candidates, status
):
    async with Engine.open(db_path) as engine:
        _team(engine, "alice", "bob")
        strategy = RoleBased(rule=lambda eligible, recent: "bob", candidate_func=candidates)
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(1))
        result = await coordinator.run("go")
    assert speakers(result) == ["bob"]
    (said,) = [e for e in result.envelopes if e.content == status]
    assert said.type is MessageType.STATUS


# -- handoff to the human, and back -------------------------------------------------------------


def answering(engine: Engine, human: HumanAgent, lines: list[str]) -> None:
    """The human says the next line each time their input is wanted."""
    queue = iter(lines)

    async def answer(env: Envelope) -> None:
        if env.metadata.get("event") == "input_requested":
            line = next(queue)
            to, _, text = line[1:].partition(" ") if line.startswith("@") else ("*", "", line)
            await human.say(text, to=to)

    engine.bus.subscribe(answer, types=MessageType.STATUS)


async def test_the_humans_answer_gives_the_floor_back_unless_they_hand_it_on(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(
            ScriptedAgent(
                "triage",
                ["Not mine. HANDOFF: human", "Thanks, I'll take it from here.", "HANDOFF: human"],
            )
        )
        engine.register_agent(ScriptedAgent("billing", ["Refund issued."]))
        human = engine.register_agent(HumanAgent("human"))
        answering(engine, human, ["Refund it, please.", "@billing this one is yours"])
        participants = {
            "triage": Participant("triage"),
            "billing": Participant("billing"),
            "human": Participant("human", human=True),
        }
        coordinator = MultiAgentCoordinator(
            engine, Handoff("triage"), MaxTurns(6), participants=participants
        )
        result = await coordinator.run("a customer writes in")
    assert speakers(result) == ["triage", "human", "triage", "triage", "human", "billing"]
    assert [(e.metadata["from"], e.metadata["to"]) for e in events(result, "handoff")] == [
        ("triage", "human"),
        ("human", "triage"),  # the answer returns the floor
        ("triage", "human"),
        ("human", "billing"),  # said to billing: billing has it now
    ]


async def test_the_floor_goes_back_after_the_human_answers_a_resumed_session(db_path):
    participants = {
        "triage": Participant("triage"),
        "human": Participant("human", human=True),
    }
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("triage", ["HANDOFF: human", "Back to me, thanks."]))
        human = engine.register_agent(HumanAgent("human"))
        first = MultiAgentCoordinator(
            engine, Handoff("triage"), HandoffToHuman(["human"]), participants=participants
        )
        before = await first.run("help")
        first.detach()
        _, state = await engine.store.load_room_state(engine.session_id)
        answering(engine, human, ["Done: refunded."])
        second = MultiAgentCoordinator(
            engine, Handoff("triage"), MaxTurns(2), participants=participants
        )
        second.load(state, fresh_budget=True)
        after = await second.run()
    assert before.reason == "triage handed off to human"
    assert state["strategy_state"]["handed_by"] == "triage"
    assert speakers(after) == ["human", "triage"]
