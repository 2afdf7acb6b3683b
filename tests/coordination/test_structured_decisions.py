"""Decisions the room takes from a model are asked for as structured answers.

A selector may only answer a participant's id, a plan's steps only go to a
worker, a vote only picks a value in conflict: each is a ``response_format``
on the request, which a backend that can enforces.  Where it cannot, words
are read as before; and a selector is never asked the same thing the same
way twice.
"""

from __future__ import annotations

from agentroom import Engine, ScriptedAgent
from agentroom.agents import LLMAgent
from agentroom.coordination import MaxTurns, MultiAgentCoordinator, PlanDriven, RoleBased
from agentroom.coordination.memory import Blackboard
from agentroom.coordination.plan_driven import STEPS_LIMIT
from agentroom.models.replay import ReplayClient
from agentroom.models.types import ModelRequest
from tests.coordination.test_coordination import _team, events, speakers
from tests.coordination.test_memory_delegation import run_round, writes


def choices(request: ModelRequest, key: str) -> list[str]:
    """The values a request's structured answer allows under ``key``."""
    assert request.response_format is not None
    return request.response_format.schema["properties"][key]["enum"]


async def test_the_selector_can_only_answer_an_eligible_id_and_samples_with_the_room_seed(
    db_path,
):
    selector = ReplayClient(['{"speaker": "carol"}', '{"speaker": "alice"}'], label="picker")
    async with Engine.open(db_path, seed=1234) as engine:
        _team(engine, "alice", "bob", "carol")
        coordinator = MultiAgentCoordinator(engine, RoleBased(selector=selector), MaxTurns(2))
        result = await coordinator.run("review the design")
    assert speakers(result) == ["carol", "alice"]
    first, second = selector.requests
    assert choices(first, "speaker") == ["alice", "bob", "carol"]
    assert choices(second, "speaker") == ["alice", "bob"]  # carol just spoke
    assert first.temperature == 0.0 and first.max_tokens is not None
    # The room's seed, moved on by what was said since: no two picks sample alike.
    assert first.seed is not None and second.seed is not None
    assert 1234 <= first.seed < second.seed
    assert [e.metadata["by"] for e in events(result, "speaker_selected")] == [
        "the selector (picker)",
        "the selector (picker)",
    ]
    assert events(result, "selector_retry") == []


async def test_an_unusable_answer_that_comes_back_the_same_is_not_asked_for_a_third_time(
    db_path,
):
    # A deterministic model: whatever it is asked, the same words.
    selector = ReplayClient(["I cannot say", "I cannot say", "alice"])
    async with Engine.open(db_path, seed=7) as engine:
        _team(engine, "alice", "bob", "carol")
        strategy = RoleBased(selector=selector, default="carol", retries=3)
        coordinator = MultiAgentCoordinator(engine, strategy, MaxTurns(1))
        result = await coordinator.run("go")
    assert speakers(result) == ["carol"]
    assert len(selector.requests) == 2  # the third answer was never asked for
    first, retry = selector.requests
    # The retry was not the same question: it says what was wrong, and samples afresh.
    assert retry.messages[-1].content.startswith("That was not usable (no participant named)")
    assert retry.seed != first.seed and retry.temperature is not None and retry.temperature > 0
    said = events(result, "selector_retry")
    assert [e.metadata["problem"] for e in said] == [
        "no participant named",
        "no participant named, the same answer again",
    ]
    assert said[0].content.endswith("asking again (1/3)")
    assert said[1].content.endswith("the default speaks")
    (selected,) = events(result, "speaker_selected")
    assert selected.metadata["by"] == "the default"


def _workers(engine: Engine) -> None:
    for name, role in (("writer", "writes docs"), ("coder", "writes code"), ("tester", "tests")):
        engine.register_agent(ScriptedAgent(name, lambda t: f"done: {t.hints.step}", role=role))


async def test_a_plan_is_asked_for_with_the_workers_as_the_only_assignees_and_read_as_json(
    db_path,
):
    plan = (
        '{"steps": [{"task": "write the parser code", "assignee": "tester"},'
        ' {"task": "write the docs", "assignee": "nobody"}]}'
    )
    planner_model = ReplayClient([plan])
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("planner", planner_model, stream_interval=0))
        _workers(engine)
        coordinator = MultiAgentCoordinator(engine, PlanDriven("planner"), MaxTurns(10))
        result = await coordinator.run("ship the parser")
    (request,) = planner_model.requests
    assert request.response_format is not None and request.response_format.name == "plan"
    steps = request.response_format.schema["properties"]["steps"]
    assert steps["items"]["properties"]["assignee"]["enum"] == ["writer", "coder", "tester"]
    assert steps["maxItems"] == STEPS_LIMIT and request.max_tokens is not None
    (assigned,) = events(result, "plan_assigned")
    # The plan's own assignee wins over the words; one nobody here has goes by role fit.
    assert [(s["text"], s["assignee"]) for s in assigned.metadata["steps"]] == [
        ("write the parser code", "tester"),
        ("write the docs", "writer"),
    ]
    assert result.reason == "the plan is complete (2 steps done)"


async def test_a_vote_can_only_pick_a_value_in_conflict_and_is_read_as_json(db_path):
    board = Blackboard("vote", voters=["v1", "v2", "v3"])
    async with Engine.open(db_path) as engine:
        engine.register_agent(writes("alice", "Lisbon 2"))
        engine.register_agent(writes("bob", "Porto"))
        models = {}
        for name, answer in (("v1", '{"choice": "Porto"}'), ("v2", "1"), ("v3", "Porto")):
            models[name] = ReplayClient([answer])
            engine.register_agent(LLMAgent(name, models[name], stream_interval=0))
        result = await run_round(engine, board, ["alice", "bob"])
    asked = models["v1"].requests[0]
    assert choices(asked, "choice") == ["Lisbon 2", "Porto"]
    assert asked.tools == () and asked.stop == ()
    (resolved,) = events(result, "memory_resolved")
    # v1's "Porto" is not read as a number (the 2 of "Lisbon 2" would have been).
    assert resolved.metadata["votes"] == {"v1": "Porto", "v2": "Lisbon 2", "v3": "Porto"}
    assert resolved.metadata["value"] == "Porto"
