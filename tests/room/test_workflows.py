"""Workflow files: parsing, file:line:field errors, finding them; every sample runs to its end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from agentroom import Engine
from agentroom.agents import LLMAgent
from agentroom.coordination import RunResult
from agentroom.core.errors import WorkflowError
from agentroom.core.protocol import Envelope, MessageType
from agentroom.models.offline import OfflineModel
from agentroom.room.builder import build_room
from agentroom.room.workflows import (
    Workflow,
    available_workflows,
    find_workflow,
    load_workflow,
    parse_workflow,
    samples_dir,
    user_workflows_dir,
)
from tests.event_payloads import problems

SAMPLES = sorted(samples_dir().glob("*.yaml"))

VALID = """\
name: Tiny room
description: two agents and a human
task: Say hello.
model: offline
agents:
  - id: alice
    role: planner
    temperature: 0.5
    max_tokens: 40
    stop: ["END"]
  - id: bob
    model: ollama:llama3.2
humans:
  - id: carol
    timeout: 5
strategy:
  name: round-robin
  order: [bob, alice, carol]
termination:
  text: DONE
  text_from: [alice]
  max_messages: 9
memory:
  enabled: true
  policy: arbiter
  arbiter: alice
"""


@pytest.fixture(autouse=True)
def _no_user_workflows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's own workflows folder is an empty temp one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


AGENT_KEYS = (
    "unknown key; the keys here are: "
    "id, role, description, model, system_prompt, tools, temperature, max_tokens, stop"
)


def error_of(text: str, source: str = "room.yaml") -> str:
    with pytest.raises(WorkflowError) as caught:
        parse_workflow(text, source)
    return str(caught.value)


# -- parsing ---------------------------------------------------------------------------------


def test_valid_workflow_round_trips():
    wf = parse_workflow(VALID, "tiny.yaml")
    assert wf.name == "Tiny room" and wf.participant_ids == ["alice", "bob", "carol"]
    assert wf.agents[1].model == "ollama:llama3.2" and wf.humans[0].timeout == 5
    assert wf.strategy.order == ["bob", "alice", "carol"]
    assert wf.termination.text_from == ["alice"] and wf.termination.max_messages == 9
    dumped = wf.model_dump(mode="json")
    again = parse_workflow(yaml.safe_dump(dumped, sort_keys=False), "again.yaml")
    assert again == wf
    assert Workflow.model_validate(dumped) == wf  # what a session keeps for resume


def test_defaults_for_a_minimal_workflow():
    wf = parse_workflow("name: x\nagents:\n  - id: a\n")
    assert wf.strategy.name == "round-robin" and wf.termination.max_messages == 20
    assert wf.humans == [] and not wf.memory.enabled


def test_unknown_key_names_its_line_and_field():
    text = "name: x\nagents:\n  - id: a\n  - id: b\n    role: critic\n    colour: red\n"
    assert error_of(text) == f"room.yaml:6: agents[1].colour: {AGENT_KEYS}"
    top = error_of("name: x\nagents:\n  - id: a\n\nterminaton:\n  max_messages: 3\n")
    assert top == "room.yaml:5: terminaton: unknown key; did you mean `termination`?"


def test_every_problem_gets_its_own_line():
    text = "name: x\nagents:\n  - id: a\n    colour: red\n  - id: b\n    size: 3\n"
    assert error_of(text).splitlines() == [
        f"room.yaml:4: agents[0].colour: {AGENT_KEYS}",
        f"room.yaml:6: agents[1].size: {AGENT_KEYS}",
    ]


def test_bad_model_spec_under_agents_1_model():
    text = "name: x\nagents:\n  - id: a\n  - id: b\n    role: critic\n    model: gpt4\n"
    message = error_of(text)
    assert message.startswith("room.yaml:6: agents[1].model: unknown model spec 'gpt4'")
    assert "ollama:MODEL" in message  # says what a spec looks like


def test_unknown_participant_in_strategy_order_points_at_that_item():
    block = (
        "name: x\nagents:\n  - id: a\n  - id: b\n"
        "strategy:\n  name: round-robin\n  order:\n    - a\n    - c\n    - b\n"
    )
    assert error_of(block) == "room.yaml:9: strategy.order[1]: unknown participant 'c'; known: a, b"
    flow = "name: x\nagents:\n  - id: a\n  - id: b\nstrategy:\n  order: [a, b, zed]\n"
    assert error_of(flow).startswith("room.yaml:6: strategy.order[2]: unknown participant 'zed'")


def test_duplicate_agent_id():
    text = "name: x\nagents:\n  - id: a\n  - id: b\n  - id: a\n"
    assert error_of(text) == "room.yaml:5: agents[2].id: 'a' is used twice"
    human = "name: x\nagents:\n  - id: a\nhumans:\n  - id: a\n"
    assert error_of(human) == "room.yaml:5: humans[0].id: 'a' is used twice"


def test_plan_driven_needs_a_planner():
    text = "name: x\nagents:\n  - id: a\n  - id: b\nstrategy:\n  name: plan-driven\n"
    assert error_of(text) == (
        "room.yaml:5: strategy.planner: plan-driven needs a planner (one of: a, b)"
    )


def test_termination_with_no_condition():
    text = "name: x\nagents:\n  - id: a\ntermination:\n  combine: all\n"
    message = error_of(text)
    assert message.startswith("room.yaml:4: termination: give at least one condition")
    assert "or a run never ends" in message


def test_invalid_yaml_names_the_line_of_the_problem():
    text = "name: x\nagents:\n  - id: a\n   role: bad indent\n"
    assert error_of(text).startswith("room.yaml:4: not valid YAML: ")
    unclosed = "name: x\nagents:\n  - id: a\n    stop: [unclosed\n"
    assert error_of(unclosed).startswith("room.yaml:5: not valid YAML: expected ',' or ']'")


def test_a_list_or_empty_file_is_not_a_workflow():
    expected = "room.yaml:1: a workflow is a mapping (name:, agents:, ...)"
    assert error_of("- name: x\n- agents: []\n") == expected
    assert error_of("") == expected


def test_load_workflow_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nagents:\n  - id: a\n    tempreature: 1\n")
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    assert str(caught.value) == (
        f"{path}:4: agents[0].tempreature: unknown key; did you mean `temperature`?"
    )
    with pytest.raises(WorkflowError, match="cannot read it"):
        load_workflow(tmp_path / "missing.yaml")


def test_a_file_that_is_not_utf8_is_a_workflow_error(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\nagents:\n  - id: a\n".encode("latin-1"))
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    assert str(caught.value) == f"{path}:1: not UTF-8 text (invalid continuation byte)"


def test_a_repeated_key_does_not_misplace_the_error_line():
    text = "name: x\nagents:\n  - id: a\nagents:\n  - id: b\n    colour: red\n"
    # The loader keeps the last of repeated keys, so the error is about that one.
    assert error_of(text) == f"room.yaml:6: agents[0].colour: {AGENT_KEYS}"


# -- finding workflows --------------------------------------------------------------------------


def test_find_workflow_by_name_and_by_path(tmp_path):
    assert find_workflow("debate") == samples_dir() / "debate.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text("name: mine\nagents:\n  - id: a\n")
    assert find_workflow(str(own)) == own


def test_find_workflow_unknown_name_lists_the_known_ones():
    with pytest.raises(WorkflowError) as caught:
        find_workflow("nope")
    assert str(caught.value) == (
        "no workflow named 'nope': give a file, or one of: "
        "code_review, debate, pair_review, research_team, support_desk, trip_planner"
    )


def test_user_workflows_come_after_the_samples_and_are_found_by_name():
    folder = user_workflows_dir()
    folder.mkdir(parents=True)
    (folder / "alpha.yaml").write_text("name: alpha\nagents:\n  - id: a\n")
    names = [p.stem for p in available_workflows()]
    assert names == [p.stem for p in SAMPLES] + ["alpha"]
    assert find_workflow("alpha") == folder / "alpha.yaml"


SAMPLE_NAMES = [
    "code_review",
    "debate",
    "pair_review",
    "research_team",
    "support_desk",
    "trip_planner",
]
"""The samples, in the order every list shows them (the CLI's tests use it too)."""


def test_the_six_samples_are_there_and_validate():
    assert [p.stem for p in SAMPLES] == SAMPLE_NAMES
    for path in SAMPLES:
        wf = load_workflow(path)
        assert wf.name and wf.task and wf.agents


# -- every sample runs headless to its end ------------------------------------------------------


def messages(result: RunResult) -> list[Envelope]:
    return [e for e in result.messages if e.metadata.get("event") != "task"]


def events(result: RunResult, name: str) -> list[Envelope]:
    return [e for e in result.envelopes if e.metadata.get("event") == name]


def check_debate(result: RunResult) -> None:
    assert result.reason == "moderator said TERMINATE"
    said = messages(result)
    assert [m.sender for m in said] == ["pro", "con", "moderator"] * (len(said) // 3)
    assert "TERMINATE" in said[-1].content and said[-1].sender == "moderator"
    # The human's turns came round and were skipped (nobody answers in a test).
    assert len(events(result, "skipped")) == len(said) // 3 - 1


def check_code_review(result: RunResult) -> None:
    said = messages(result)
    assert {m.sender for m in said} <= {"author", "reviewer", "security", "lead"}
    assert len(events(result, "speaker_selected")) == len(said)  # the selector picked each
    if result.reason == "lead said APPROVED":
        assert said[-1].sender == "lead" and "APPROVED" in said[-1].content
    else:
        assert result.reason == "reached 14 messages"


def check_trip_planner(result: RunResult) -> None:
    assert result.reason.startswith("the plan is complete")
    (plan,) = [e for e in events(result, "plan") if e.sender == "planner"]
    assert plan.type is MessageType.ACTION
    assigned = events(result, "step_assigned")
    done = events(result, "step_done")
    assert len(assigned) == len(done) >= 3
    assert f"({len(done)} steps done)" in result.reason
    workers = [m.sender for m in messages(result)]
    assert workers == [e.receiver for e in assigned]
    assert set(workers) <= {"researcher", "booker", "budgeter"}


def check_support_desk(result: RunResult) -> None:
    (handoff,) = events(result, "handoff")
    assert handoff.type is MessageType.ACTION
    assert (handoff.metadata["from"], handoff.metadata["to"]) == ("triage", "billing")
    assert result.reason == "billing said RESOLVED"
    said = messages(result)
    before = [m.sender for m in said if m.seq < handoff.seq]
    after = [m.sender for m in said if m.seq > handoff.seq]
    assert before == ["triage"]
    # Billing keeps the floor, the customer (the partner) answers between its turns.
    assert after == ["billing", "customer"] * (len(after) // 2) + ["billing"]
    assert "RESOLVED" in said[-1].content


def check_research_team(result: RunResult) -> None:
    spawns = events(result, "spawn")
    assert spawns and all(e.sender == "lead" for e in spawns)
    subs = {e.metadata["sub"] for e in spawns}
    answered = {e.sender for e in events(result, "subagent_result")}
    assert subs <= answered  # every sub-agent answered its lead
    (resolved,) = events(result, "memory_resolved")
    assert resolved.metadata["policy"] == "vote"
    assert set(resolved.metadata["votes"]) == {"lead", "analyst", "writer"}
    assert resolved.metadata["value"] in resolved.metadata["candidates"]
    assert result.reason == "writer said TERMINATE"
    said = messages(result)
    assert said[-1].sender == "writer" and "TERMINATE" in said[-1].content


def check_pair_review(result: RunResult) -> None:
    said = messages(result)
    assert {m.sender for m in said} == {"author", "reviewer"}  # nobody answers in a test
    # Each person was asked in turn, alice then bob, and skipped.
    skipped = [e.metadata["agent"] for e in events(result, "skipped")]
    assert skipped and skipped == ["alice", "bob"] * (len(skipped) // 2) + ["alice"] * (
        len(skipped) % 2
    )
    if result.reason == "reviewer said APPROVED":
        assert said[-1].sender == "reviewer" and "APPROVED" in said[-1].content
    else:
        assert result.reason == "reached 16 messages"


CHECKS: dict[str, Callable[[RunResult], None]] = {
    "debate": check_debate,
    "pair_review": check_pair_review,
    "code_review": check_code_review,
    "trip_planner": check_trip_planner,
    "support_desk": check_support_desk,
    "research_team": check_research_team,
}


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
async def test_sample_workflow_runs_headless_to_its_end(path, db_path):
    assert path.stem in CHECKS, f"add an expectation for the new sample {path.name}"
    wf = load_workflow(path)
    for human in wf.humans:
        human.timeout = 0.01
    async with Engine.open(db_path) as engine:
        result = await engine.run_workflow(wf, default_model=OfflineModel(words_per_second=0))
        stored = [e async for e in engine.store.read_envelopes(engine.session_id)]
    CHECKS[path.stem](result)
    assert result.turns > 0
    assert not events(result, "turn_failed")
    last = result.envelopes[-1]
    assert last.metadata == {"event": "stopped", "reason": result.reason}
    # Every event said, live and read back, is what its declared payload says.
    assert not [p for e in [*result.envelopes, *stored] for p in problems(e)]
    # Everything the run saw is in SQLite, in order and without gaps.
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert stored[-1].id == last.id


# -- the candidate function and the tool_called condition ------------------------------------


def test_candidate_func_and_rule_must_be_import_paths():
    text = (
        "name: x\nagents:\n  - id: a\n  - id: b\nstrategy:\n  name: role-based\n"
        "  candidate_func: not a path\n  rule: tools_for_tests\n"
    )
    assert sorted(error_of(text).splitlines()) == [
        "room.yaml:7: strategy.candidate_func: 'not a path' is not an import path; "
        "write package.module:function",
        "room.yaml:8: strategy.rule: 'tools_for_tests' is not an import path; "
        "write package.module:function",
    ]
    ok = parse_workflow(
        "name: x\nagents:\n  - id: a\nstrategy:\n  name: role-based\n"
        "  candidate_func: tests.tools_for_tests:not_the_author_twice\n"
    )
    assert ok.strategy.candidate_func == "tests.tools_for_tests:not_the_author_twice"


def test_tool_called_names_a_tool_someone_has():
    text = (
        "name: x\nagents:\n  - id: a\n    tools: [tests.tools_for_tests:finish]\n"
        "memory:\n  enabled: true\ntermination:\n  tool_called:\n    - finish\n    - finnish\n"
    )
    assert error_of(text) == (
        "room.yaml:10: termination.tool_called[1]: no agent has a tool named 'finnish'; "
        "tools: finish, handoff, recall, remember"
    )
    alone = parse_workflow(
        "name: x\nagents:\n  - id: a\n    tools: [tests.tools_for_tests.finish]\n"
        "termination:\n  tool_called: [finish]\n"
    )
    assert alone.termination.tool_called == ["finish"]  # a condition of its own


CANDIDATES = """
name: review
agents:
  - id: author
  - id: reviewer
  - id: lead
    tools: [tests.tools_for_tests:finish]
strategy:
  name: role-based
  candidate_func: tests.tools_for_tests:not_the_author_twice
  rule: tests.tools_for_tests:not_the_author_twice
  selector: model
termination:
  tool_called: [finish]
  max_turns: 20
"""


async def test_a_workflows_candidate_function_and_tool_called_run_in_the_room(db_path):
    from agentroom.models.replay import ReplayClient

    workflow = parse_workflow(CANDIDATES)
    workflow.strategy.rule = None  # the selector model picks among the candidates
    finish = {"tool_calls": [{"name": "finish", "arguments": {"summary": "approved"}}]}
    model = ReplayClient(
        ["Here is the change.", "lead", finish, "Filed.", "never said"], label="replay"
    )
    async with Engine.open(db_path) as engine:
        result = await engine.run_workflow(workflow, "review it", default_model=model)
    picked = [
        (e.metadata["agent"], e.metadata["by"])
        for e in result.envelopes
        if e.metadata.get("event") == "speaker_selected"
    ]
    assert picked == [
        ("author", "the only one who may speak now"),  # the candidate function's one
        ("lead", "the selector (replay)"),  # between reviewer and lead, the selector
    ]
    assert result.reason == "lead called finish" and not result.failed
    assert model.requests[1].hints.choose_from == ("reviewer", "lead")
    assert [m.content for m in result.messages] == ["review it", "Here is the change.", "Filed."]


async def test_a_handoff_can_go_to_anyone_who_can_take_the_floor_but_not_to_the_partner(db_path):
    """The support desk's customer answers between turns; it is never handed the floor."""
    async with Engine.open(db_path) as engine:
        build_room(engine, load_workflow(samples_dir() / "support_desk.yaml"), OfflineModel())
        triage = engine.get_agent("triage")
        assert isinstance(triage, LLMAgent)
        (spec,) = [s for s in triage.toolbox.specs if s.name == "handoff"]
    assert spec.parameters["properties"]["to"]["enum"] == ["billing", "tech", "human"]
