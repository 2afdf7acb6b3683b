"""Event kinds: one enumeration, every name in the package a member of it, values that never move.

The values are written to every database, so the recorded list below is the
contract with rooms saved long ago: renaming a value orphans their envelopes
(filters, screens and the coordinator stop recognising them), and this fails
before that can ship.  The source scan fails on an event name written as a
bare string, naming the file and line, so the enumeration stays the one list.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import agentroom
from agentroom.core.events import PAYLOADS, Event
from agentroom.core.protocol import Envelope
from tests.event_payloads import problems

PACKAGE = Path(agentroom.__file__).parent
EVENTS_MODULE = PACKAGE / "core" / "events.py"

# Every event value ever written to a database.  Add new ones here; never change or drop one.
RECORDED = [
    "stream",
    "usage",
    "waiting",
    "interrupted",
    "empty_reply",
    "tool_limit",
    "tool_call",
    "tool_result",
    "turn_failed",
    "skipped",
    "input_requested",
    "undelivered",
    "speaker_selected",
    "delegate",
    "delegation_result",
    "spawn",
    "subtask",
    "subagent_result",
    "task",
    "room_opened",
    "resumed_session",
    "paused",
    "resumed",
    "strategy_switched",
    "reset",
    "stopped",
    "store_failing",
    "store_recovered",
    "candidates_ignored",
    "selector_retry",
    "selector_failed",
    "plan_requested",
    "plan",
    "plan_missing",
    "plan_assigned",
    "step_assigned",
    "step_done",
    "step_stalled",
    "replan",
    "handoff",
    "handoff_refused",
    "memory_write",
    "memory_resolved",
    "vote_requested",
    "vote",
    "aside",
]


def test_the_values_are_unique_and_the_recorded_ones_never_change():
    values = [member.value for member in Event]
    assert len(values) == len(set(values)) == len(Event.__members__)
    gone = sorted(set(RECORDED) - set(values))
    assert not gone, f"event values renamed or removed; saved rooms still hold them: {gone}"
    new = sorted(set(values) - set(RECORDED))
    assert not new, f"new event values: add them to RECORDED in {__file__}: {new}"
    assert len(RECORDED) == len(set(RECORDED))
    assert all(Event(value) == value for value in RECORDED)  # a member equals its string


def test_every_member_says_what_it_means_and_has_a_declared_payload():
    tree = ast.parse(EVENTS_MODULE.read_text())
    (enum,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Event"]
    body = enum.body
    undocumented = [
        stmt.targets[0].id
        for i, stmt in enumerate(body)
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
        if not (
            i + 1 < len(body)
            and isinstance(body[i + 1], ast.Expr)
            and isinstance(body[i + 1].value, ast.Constant)
            and str(body[i + 1].value.value).split(":")[0] in ("message", "action", "status")
        )
    ]
    assert not undocumented, f"members without a 'type: meaning' docstring: {undocumented}"
    assert set(PAYLOADS) == set(Event), "every event needs its payload in PAYLOADS"
    for event, payload in PAYLOADS.items():
        assert "event" in payload.__required_keys__, event


def test_the_payload_check_finds_what_does_not_match():
    """tests/event_payloads.py, which the sample rooms' test holds every envelope to."""

    def envelope(**metadata: Any) -> Envelope:
        return Envelope(sender="a", receiver="*", content="x", seq=1, metadata=metadata)

    usage = {"agent": "a", "model": "m", "prompt_tokens": 1, "completion_tokens": 2}
    assert problems(envelope(event="usage", **usage, cost_usd=None, estimated=False)) == []
    assert problems(envelope(note="no event")) == []
    assert problems(envelope(event="paused", extra=1)) == [
        "#1 message 'paused' from a: undeclared key 'extra'"
    ]
    assert "missing key 'agent'" in problems(envelope(event="skipped"))[0]
    (wrong,) = problems(envelope(event="step_done", step="three"))
    assert "step\n  Input should be a valid integer" in wrong
    assert "not a member of Event" in problems(envelope(event="no_such_event"))[0]


# -- no event name as a bare string anywhere in the package ----------------------------------


def _strings(node: ast.AST) -> list[ast.Constant]:
    """The string literals in ``node`` itself, or in a set, tuple or list it is."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    if isinstance(node, (ast.Set, ast.Tuple, ast.List)):
        return [c for e in node.elts for c in _strings(e)]
    if isinstance(node, ast.Call) and node.args:  # frozenset({...}), tuple([...])
        return _strings(node.args[0])
    return []


def _reads_event(node: ast.AST) -> bool:
    """``x.get("event")``, ``x["event"]``, ``x.event``, or a variable called ``event``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return (
            node.func.attr == "get"
            and bool(node.args)
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "event"
        )
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "event"
    if isinstance(node, ast.Attribute):
        return node.attr == "event"
    return isinstance(node, ast.Name) and node.id == "event"


def bare_event_names(source: str) -> list[tuple[int, str]]:
    """(line, what) for every event name written as a string literal in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):  # {"event": "usage", ...}
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "event":
                    found += [(c.lineno, f'"event": {c.value!r}') for c in _strings(value)]
        elif isinstance(node, ast.Compare):  # meta.get("event") == "usage", event in {...}
            operands = [node.left, *node.comparators]
            if any(_reads_event(o) for o in operands):
                found += [
                    (c.lineno, f"compared with {c.value!r}")
                    for o in operands
                    if not _reads_event(o)
                    for c in _strings(o)
                ]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            # QUIET = frozenset({"usage"}), MEMORY_EVENTS: tuple[str, ...] = (...)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id.strip("_") for t in targets if isinstance(t, ast.Name)]
            if any(n.endswith("EVENTS") or n.startswith("QUIET") for n in names):
                found += [(c.lineno, f"{names[0]} holds {c.value!r}") for c in _strings(node.value)]
        elif isinstance(node, ast.keyword) and node.arg in ("event", "events"):
            found += [(c.lineno, f"{node.arg}={c.value!r}") for c in _strings(node.value)]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "'$.event')" in node.value
            and any(f"'{member.value}'" in node.value for member in Event)
        ):  # SQL naming an event in its text instead of binding it
            found.append((node.lineno, "SQL with an event name in its text"))
    return sorted(found)


def test_the_scan_finds_bare_event_names():
    """The scan itself works: each way of writing a bare name is caught, the member is not."""
    source = """
meta = {"event": "usage", "turn": t}
if env.metadata.get("event") == "stream": pass
if event in ("skipped", "turn_failed"): pass
if env.metadata["event"] != "usage": pass
QUIET = frozenset({"usage"})
_MEMORY_EVENTS: tuple[str, ...] = ("vote",)
store.read(events=("memory_write",))
SQL = "WHERE json_extract(metadata, '$.event') = 'usage'"
fine = {"event": Event.USAGE, "phase": "plan"}
if env.metadata.get("event") == Event.STREAM and state == "paused": pass
if entry.event == "input_requested": pass
"""
    assert [line for line, _ in bare_event_names(source)] == [2, 3, 4, 4, 5, 6, 7, 8, 9, 12]


def test_no_event_name_is_a_bare_string_in_the_package():
    bare = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != EVENTS_MODULE
        for line, what in bare_event_names(path.read_text())
    ]
    assert not bare, "use agentroom.core.events.Event instead of:\n" + "\n".join(bare)
