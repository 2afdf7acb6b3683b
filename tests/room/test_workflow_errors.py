"""What a person reads about a workflow: shorthands read as meant, near misses answered.

Every error is one line ``file:line: field: what is wrong; what to do``, in
agentroom's words: pydantic's ("Extra inputs are not permitted", "Input
should be ...") never reaches anyone, whatever the file holds.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentroom.core.errors import WorkflowError
from agentroom.room.workflow_schema import sections
from agentroom.room.workflows import parse_workflow

PYDANTIC_WORDS = (
    "Input should",
    "Extra inputs",
    "Field required",
    "valid dictionary",
    "instance of",
    "List should",
    "String should",
    "Value error",
    "validation error",
    "unable to",
    "pydantic",
    "after validation",
    "For further information",
)
ONE_LINE = re.compile(r"room\.yaml:\d+: \S.*: \S")


def error_of(text: str) -> str:
    with pytest.raises(WorkflowError) as caught:
        parse_workflow(text, "room.yaml")
    return str(caught.value)


def assert_ours(message: str) -> None:
    for line in message.splitlines():
        assert ONE_LINE.match(line), line
        found = [w for w in PYDANTIC_WORDS if w.lower() in line.lower()]
        assert not found, line


# -- shorthands ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("role-based", "role-based"),
        ("role based", "role-based"),
        ("Role_Based", "role-based"),
        ("ROLEBASED", "role-based"),
        ("round robin", "round-robin"),
        ("Round_Robin", "round-robin"),
        ("RoundRobin", "round-robin"),
        ("plan driven", "plan-driven"),
        ("Handoff", "handoff"),
    ],
)
def test_a_strategy_name_in_any_spelling_is_the_canonical_one(written, meant):
    if meant != "plan-driven":  # which needs a planner
        alone = parse_workflow(f"name: x\nagents: [a, b]\nstrategy: {written}\n")
        assert alone.strategy.name == meant
    inside = parse_workflow(
        f"name: x\nagents: [a, b]\nstrategy:\n  name: {written}\n  planner: a\n"
    )
    assert inside.strategy.name == meant
    assert inside.model_dump(mode="json")["strategy"]["name"] == meant  # what a session keeps


def test_the_other_shorthands():
    wf = parse_workflow(
        "name: x\n"
        "agents: [alice, bob]\n"  # an agent as just its id
        "humans: [carol]\n"
        "memory: true\n"  # a part that is on or off
        "delegation: yes\n"
        "subagents: false\n"
        "strategy:\n  name: role based\n  selector: Model\n"
        "termination:\n  text: DONE\n  text_from: bob\n  max_turns: 4\n  combine: ALL\n"
    )
    assert [a.id for a in wf.agents] == ["alice", "bob"] and wf.humans[0].id == "carol"
    assert wf.memory.enabled and wf.delegation.enabled and not wf.subagents.enabled
    assert wf.strategy.selector == "model"
    assert wf.termination.text_from == ["bob"] and wf.termination.combine == "all"
    one = parse_workflow(
        "name: x\nagents:\n  - id: a\n    stop: END\nmemory:\n  policy: Last_Writer\n"
    )
    assert one.agents[0].stop == ["END"] and one.memory.policy == "last-writer"
    again = parse_workflow(yaml.safe_dump(wf.model_dump(mode="json")))
    assert again == wf


# -- near misses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "stop:\n  max_messages: 4\n",
            "room.yaml:3: stop: unknown key; did you mean `termination`?",
        ),
        ("until: {text: DONE}\n", "room.yaml:3: until: unknown key; did you mean `termination`?"),
        (
            "terminaton: {max_turns: 2}\n",
            "room.yaml:3: terminaton: unknown key; did you mean `termination`?",
        ),
        ("stratgy: handoff\n", "room.yaml:3: stratgy: unknown key; did you mean `strategy`?"),
        ("participants: []\n", "room.yaml:3: participants: unknown key; did you mean `agents`?"),
        (
            "max_messages: 4\n",
            "room.yaml:3: max_messages: `max_messages` goes under `termination:`",
        ),
        ("order: [a]\n", "room.yaml:3: order: `order` goes under `strategy:`"),
        (
            "termination:\n  max_rounds: 3\n",
            "room.yaml:4: termination.max_rounds: unknown key; did you mean `max_turns`?",
        ),
        (
            "strategy:\n  type: handoff\n",
            "room.yaml:4: strategy.type: unknown key; did you mean `name`?",
        ),
        (
            "humans:\n  - id: me\n    wait: 30\n",
            "room.yaml:5: humans[0].wait: unknown key; did you mean `timeout`?",
        ),
    ],
)
def test_an_unknown_key_is_answered_with_the_one_meant(text, expected):
    assert error_of(f"name: x\nagents: [a]\n{text}") == expected


def test_an_agents_near_misses():
    text = (
        "name: x\nagents:\n  - id: a\n    prompt: Be brief.\n    Max-Tokens: 40\n"
        "    temprature: 1\n    llm: offline\n    colour: red\n"
    )
    assert error_of(text).splitlines() == [
        "room.yaml:4: agents[0].prompt: unknown key; did you mean `system_prompt`?",
        "room.yaml:5: agents[0].Max-Tokens: unknown key; did you mean `max_tokens`?",
        "room.yaml:6: agents[0].temprature: unknown key; did you mean `temperature`?",
        "room.yaml:7: agents[0].llm: unknown key; did you mean `model`?",
        "room.yaml:8: agents[0].colour: unknown key; the keys here are: id, role, description, "
        "model, system_prompt, tools, temperature, max_tokens, stop",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "strategy: swarm\n",
            "room.yaml:3: strategy.name: 'swarm' is not one of: round-robin, role-based, "
            "plan-driven, handoff; did you mean `handoff`?",
        ),
        (
            "strategy: rolebsed\n",
            "room.yaml:3: strategy.name: 'rolebsed' is not one of: round-robin, role-based, "
            "plan-driven, handoff; did you mean `role-based`?",
        ),
        (
            "strategy: chaos\n",
            "room.yaml:3: strategy.name: 'chaos' is not one of: round-robin, role-based, "
            "plan-driven, handoff",
        ),
        (
            "termination: {max_turns: 3, combine: or}\n",
            "room.yaml:3: termination.combine: 'or' is not one of: any, all; did you mean `any`?",
        ),
        (
            "memory: {enabled: true, policy: majority}\n",
            "room.yaml:3: memory.policy: 'majority' is not one of: last-writer, vote, arbiter; "
            "did you mean `vote`?",
        ),
    ],
)
def test_an_unknown_choice_lists_the_allowed_ones(text, expected):
    assert error_of(f"name: x\nagents: [a]\n{text}") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "humans:\n  - id: me\n    timeout: 30s\n",
            "room.yaml:5: humans[0].timeout: takes a number of seconds above 0, or null; "
            "write the number alone (no quotes, no unit)",
        ),
        (
            "termination:\n  timeout: 0\n",
            "room.yaml:4: termination.timeout: 0 is too small; use a number above 0",
        ),
        (
            "termination:\n  max_messages: 2.5\n",
            "room.yaml:4: termination.max_messages: takes a whole number of messages, at least 1, "
            "not the number 2.5",
        ),
        (
            "termination:\n  token_budget: lots\n",
            "room.yaml:4: termination.token_budget: takes a whole number of tokens, at least 1, "
            "not text",
        ),
        ("memory: vote\n", "room.yaml:3: memory: takes a mapping (`enabled:`, `policy:`, "),
        ("strategy: [a, b]\n", "room.yaml:3: strategy: takes a mapping (`name:`, `order:`, "),
        ("allow_unsafe_tools: sure\n", "room.yaml:3: allow_unsafe_tools: takes true or false"),
    ],
)
def test_a_wrong_value_says_what_the_field_takes_and_its_unit(text, expected):
    assert error_of(f"name: x\nagents: [a]\n{text}").startswith(expected)


def test_missing_and_empty():
    assert error_of("agents: [a]\n") == "room.yaml:1: name: missing; add `name:` here"
    assert error_of("name: x\nagents: []\n") == (
        "room.yaml:2: agents: needs at least 1 agent; add one under `agents:`"
    )
    assert error_of("name: x\nagents:\n  - role: critic\n") == (
        "room.yaml:3: agents[0].id: missing; add `id:` here"
    )


def test_a_value_that_is_not_plain_is_not_quoted_back():
    line = error_of('name: x\nagents: [a]\nstrategy: "hunter2 \\u001b[2J secret"\n')
    assert line.startswith("room.yaml:3: strategy.name: this text is not one of: ")
    assert "hunter2" not in line


# -- never pydantic's words ----------------------------------------------------------------------

BASE: dict[str, Any] = {"name": "x", "agents": [{"id": "a"}], "humans": [{"id": "h"}]}
PLACES = [(where, name) for where, model in sections() for name in model.model_fields]

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def placed(where: str, name: str, value: Any) -> dict[str, Any]:
    """The base workflow with ``value`` at ``where.name`` (``agents[]`` is the first agent)."""
    data = yaml.safe_load(yaml.safe_dump(BASE))
    if not where:
        data[name] = value
    elif where.endswith("[]"):
        data[where[:-2]][0][name] = value
    else:
        data[where] = {name: value}
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(PLACES), value=values)
def test_no_value_anywhere_gets_pydantic_wording(place, value):
    text = yaml.safe_dump(placed(*place, value))
    try:
        parse_workflow(text, "room.yaml")
    except WorkflowError as exc:
        assert_ours(str(exc))


@settings(max_examples=100, deadline=None)
@given(where=st.sampled_from([w for w, _ in sections()]), key=st.text(min_size=1, max_size=20))
def test_no_unknown_key_anywhere_gets_pydantic_wording(where, key):
    data = placed(where, "description" if where in ("", "agents[]", "humans[]") else "x", None)
    target = data if not where else data[where[:-2]][0] if where.endswith("[]") else data[where]
    target.pop("x", None)
    target[key] = 1
    try:
        parse_workflow(yaml.safe_dump(data), "room.yaml")
    except WorkflowError as exc:
        assert_ours(str(exc))
