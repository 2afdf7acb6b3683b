"""A human's line to one agent gives that agent the next turn, whatever the strategy.

Each room here has scripted agents that answer with the last thing they saw,
so a test shows both who spoke next and that they saw the question; the
selector is a replay model, whose recorded requests count every time it was
asked.  The human says their lines in the grammar they type
(:func:`agentroom.room.line.parse_line`), each when their input is wanted.
"""

from __future__ import annotations

from agentroom import Engine, HumanAgent, MessageType, ScriptedAgent
from agentroom.agents.base import Turn
from agentroom.coordination import (
    Handoff,
    MaxTurns,
    MultiAgentCoordinator,
    PlanDriven,
    RoleBased,
    RoundRobin,
)
from agentroom.core.protocol import Envelope
from agentroom.models.replay import ReplayClient
from agentroom.room.line import Say, parse_line
from tests.coordination.test_coordination import events, speakers


def hearing(name: str) -> ScriptedAgent:
    """An agent that answers with the last message of its own context."""

    def reply(turn: Turn) -> str:
        return f"{name} heard: {turn.messages[-1].content}"

    return ScriptedAgent(name, reply)


def says(engine: Engine, human: HumanAgent, lines: list[str]) -> None:
    """Each time the human's input is wanted, they type the next line."""
    queue = iter(lines)

    async def answer(env: Envelope) -> None:
        if env.metadata.get("event") == "input_requested" and env.receiver == human.id:
            await type_line(engine, human, next(queue))

    engine.bus.subscribe(answer, types=MessageType.STATUS)


async def type_line(engine: Engine, human: HumanAgent, line: str) -> None:
    parsed = parse_line(line, engine.agents)
    assert isinstance(parsed, Say), parsed
    await human.say(parsed.text, to=parsed.to, metadata=parsed.metadata)


def room(engine: Engine, *agents: str) -> HumanAgent:
    for name in agents:
        engine.register_agent(hearing(name))
    human: HumanAgent = engine.register_agent(HumanAgent("human"))
    return human


def picks(result) -> list[tuple[str, str]]:
    return [(e.metadata["agent"], e.metadata["by"]) for e in events(result, "speaker_selected")]


def said_by(result, name: str) -> list[str]:
    return [e.content for e in result.messages if e.sender == name]


# -- role-based --------------------------------------------------------------------------------


async def test_role_based_the_addressed_agent_speaks_next_and_the_selector_is_not_asked(db_path):
    selector = ReplayClient(["human", "alice"], label="picker")
    async with Engine.open(db_path) as engine:
        human = room(engine, "alice", "bob", "carol")
        says(engine, human, ["@carol is the name too long?"])
        coordinator = MultiAgentCoordinator(engine, RoleBased(selector=selector), MaxTurns(3))
        result = await coordinator.run("name the cat")
    assert speakers(result) == ["human", "carol", "alice"]
    assert said_by(result, "carol") == ["carol heard: is the name too long?"]
    assert picks(result) == [
        ("human", "the selector (picker)"),
        ("carol", "human's @carol"),
        ("alice", "the selector (picker)"),
    ]
    assert len(selector.requests) == 2  # the human's pick asked no model
    (addressed,) = [e for e in events(result, "speaker_selected") if "addressed_by" in e.metadata]
    assert addressed.type is MessageType.STATUS and addressed.metadata["addressed_by"] == "human"
    assert addressed.content == "next: carol, chosen by human's @carol"
    # alice did not see the line to carol; the selector saw carol just spoke
    assert selector.requests[1].hints.choose_from == ("alice", "bob", "human")


async def test_role_based_a_line_said_between_turns_gives_the_floor_before_any_pick(db_path):
    selector = ReplayClient([])  # never asked: every pick here is decided
    async with Engine.open(db_path) as engine:
        human = room(engine, "alice", "bob")
        strategy = RoleBased(selector=selector, candidates=["alice", "bob"])
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(3))
        await type_line(engine, human, "@bob you first")
        await type_line(engine, human, "@alice then you")
        await type_line(engine, human, "@bob and again")  # bob is asked already: one turn
        result = await coordinator.run("go")
    assert picks(result) == [
        ("bob", "human's @bob"),
        ("alice", "human's @alice"),
        ("bob", "the only one who may speak now"),
    ]
    assert said_by(result, "bob")[0] == "bob heard: go"  # the task came after the lines
    assert selector.requests == []


async def test_an_aside_gives_nobody_the_floor(db_path):
    selector = ReplayClient(["alice"])
    async with Engine.open(db_path) as engine:
        human = room(engine, "alice", "bob")
        coordinator = MultiAgentCoordinator(engine, RoleBased(selector=selector), MaxTurns(1))
        await type_line(engine, human, "/aside bob just so you know")
        result = await coordinator.run("go")
    assert picks(result) == [("alice", "the selector (replay)")]
    assert len(selector.requests) == 1


# -- round-robin -------------------------------------------------------------------------------


async def test_round_robin_the_addressed_agent_speaks_between_and_the_order_resumes(db_path):
    async with Engine.open(db_path) as engine:
        human = room(engine, "alice", "bob", "carol")
        says(engine, human, ["@carol what about the vet?", "@alice and you?"])
        strategy = RoundRobin(["alice", "bob", "carol", "human"])
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(10))
        result = await coordinator.run("name the cat")
    assert speakers(result) == [
        *("alice", "bob", "carol", "human"),
        "carol",  # asked: a turn between; alice was next, and still is
        *("alice", "bob", "carol", "human"),
        "alice",  # asked while next anyway: that is her turn, and bob follows
    ]
    assert said_by(result, "carol")[1] == "carol heard: what about the vet?"
    assert said_by(result, "alice")[2] == "alice heard: and you?"
    assert picks(result)[4] == ("carol", "human's @carol")
    assert picks(result)[5] == ("alice", "the round-robin order")
    assert picks(result)[9] == ("alice", "human's @alice")
    assert coordinator.strategy.state() == {"cursor": 1}  # bob is next


# -- handoff and plan-driven -------------------------------------------------------------------


async def test_handoff_the_addressed_agent_answers_and_the_active_one_keeps_the_floor(db_path):
    async with Engine.open(db_path) as engine:
        human = room(engine, "triage", "billing")
        says(engine, human, ["@billing was I charged twice?", "thanks"])
        coordinator = MultiAgentCoordinator(engine, Handoff("triage", partner="human"), MaxTurns(5))
        result = await coordinator.run("a customer writes in")
    assert speakers(result) == ["triage", "human", "billing", "triage", "human"]
    assert said_by(result, "billing") == ["billing heard: was I charged twice?"]
    assert events(result, "handoff") == []
    assert coordinator.strategy.state()["active"] == "triage"


async def test_plan_driven_the_addressed_agent_answers_and_the_plan_goes_on(db_path):
    async with Engine.open(db_path) as engine:
        human = room(engine, "alice", "bob")
        engine.register_agent(ScriptedAgent("planner", ["1. alice: find names\n2. bob: pick"]))
        coordinator = MultiAgentCoordinator(engine, PlanDriven("planner"), MaxTurns(10))
        await type_line(engine, human, "@bob anything you would rule out?")
        result = await coordinator.run("name the cat")
    assert picks(result) == [
        ("bob", "human's @bob"),
        ("planner", "the plan (the planner plans)"),
        ("alice", "the plan (step 1)"),
        ("bob", "the plan (step 2)"),
    ]
    assert said_by(result, "bob")[0] == "bob heard: name the cat"
    assert [e.metadata["step"] for e in events(result, "step_done")] == [1, 2]
    assert result.reason == "the plan is complete (2 steps done)"


# -- checkpoints -------------------------------------------------------------------------------


async def test_a_request_waiting_at_a_checkpoint_or_said_after_it_survives_a_resume(db_path):
    async with Engine.open(db_path) as engine:
        human = room(engine, "alice", "bob", "carol")
        first = MultiAgentCoordinator(engine, RoundRobin(["alice", "bob", "carol"]), MaxTurns(1))
        await first.run("go")
        await type_line(engine, human, "@carol before the checkpoint")
        first.checkpoint()
        first.detach()  # the process dies: the next line reaches no coordinator
        await type_line(engine, human, "@bob after it")
        seq, state = await engine.store.load_room_state(engine.session_id)
        assert state["addressed"] == [["carol", "human"]]
        assert state["strategy_state"] == {"cursor": 1}
        second = MultiAgentCoordinator(engine, RoundRobin(["alice", "bob", "carol"]), MaxTurns(4))
        await second.resume_from(state, fresh_budget=True, since=seq)
        result = await second.run()
    assert speakers(result) == ["carol", "bob", "carol", "alice"]
    assert picks(result) == [
        ("carol", "human's @carol"),  # a turn between: bob is still next
        ("bob", "human's @bob"),  # bob was next in order: his own turn
        ("carol", "the round-robin order"),
        ("alice", "the round-robin order"),
    ]
