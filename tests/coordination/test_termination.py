"""Termination conditions: each fires with a clear reason and not before; & and | combine them."""

from __future__ import annotations

import pytest

from agentroom.coordination import (
    AgentAnswered,
    AllOf,
    AnyOf,
    ExternalStop,
    FailedTurns,
    HandoffToHuman,
    MaxMessages,
    MaxTurns,
    TextMention,
    Timeout,
    TokenBudget,
    ToolCalled,
)
from agentroom.core.protocol import Envelope, MessageType
from agentroom.room.builder import build_termination
from agentroom.room.workflows import TerminationSpec


def msg(sender: str, content: str = "hi") -> Envelope:
    return Envelope(sender=sender, content=content, type=MessageType.MESSAGE)


def status(content: str = "", **metadata) -> Envelope:
    return Envelope(sender="room", content=content, type=MessageType.STATUS, metadata=metadata)


def usage(prompt: int, completion: int) -> Envelope:
    return status("usage", event="usage", prompt_tokens=prompt, completion_tokens=completion)


# -- each condition -------------------------------------------------------------------------


def test_max_messages_counts_only_messages():
    cond = MaxMessages(3)
    cond.observe(msg("alice"))
    cond.observe(status("thinking"))
    cond.observe(Envelope(sender="bob", content="tool()", type=MessageType.ACTION))
    cond.observe(msg("bob"))
    assert not cond.fired and cond.count == 2
    cond.observe(msg("carol"))
    assert cond.fired and cond.reason == "reached 3 messages"


def test_max_turns_counts_turn_ends_not_envelopes():
    cond = MaxTurns(2)
    for _ in range(5):
        cond.observe(msg("alice"))
    cond.turn_ended()
    assert not cond.fired
    cond.turn_ended()
    assert cond.reason == "reached 2 turns"


def test_a_limit_of_one_reads_in_the_singular():
    one = MaxTurns(1)
    one.turn_ended()
    assert one.reason == "reached 1 turn"
    first = MaxMessages(1)
    first.observe(msg("alice"))
    assert first.reason == "reached 1 message"


def test_text_mention_from_anyone():
    cond = TextMention("TERMINATE")
    cond.observe(msg("alice", "not yet"))
    cond.observe(status("TERMINATE"))  # a status is not something said
    assert not cond.fired
    cond.observe(msg("bob", "we are done. TERMINATE"))
    assert cond.reason == "bob said TERMINATE"


def test_text_mention_only_from_the_named_senders():
    cond = TextMention("DONE", senders=["judge"])
    cond.observe(msg("alice", "DONE"))
    assert not cond.fired
    cond.observe(msg("judge", "DONE, alice wins"))
    assert cond.reason == "judge said DONE"


def test_timeout_uses_the_injected_clock_from_the_start_of_the_run():
    now = [100.0]
    cond = Timeout(30, clock=lambda: now[0])
    now[0] = 1_000.0
    cond.observe(msg("alice"))  # not started yet: no start time to measure from
    assert not cond.fired
    cond.started()
    now[0] = 1_029.9
    cond.observe(msg("alice"))
    cond.turn_ended()
    assert not cond.fired
    now[0] = 1_030.0
    cond.turn_ended()
    assert cond.reason == "ran for 30s"


def test_token_budget_adds_up_usage_statuses():
    cond = TokenBudget(100)
    cond.observe(usage(40, 20))
    cond.observe(msg("alice", "prompt_tokens=1000"))  # only usage statuses count
    cond.observe(status("other", event="stream", prompt_tokens=1000))
    assert not cond.fired and cond.used == 60
    cond.observe(usage(30, 9))
    assert not cond.fired and cond.used == 99
    cond.observe(usage(1, 0))
    assert cond.reason == "used 100 of a 100-token budget"


def test_agent_answered_needs_a_message_from_that_agent():
    cond = AgentAnswered("judge")
    cond.observe(msg("alice", "judge, what do you think?"))
    cond.observe(Envelope(sender="judge", content="vote", type=MessageType.ACTION))
    assert not cond.fired
    cond.observe(msg("judge", "alice wins"))
    assert cond.reason == "judge answered"


def test_handoff_to_human_only_for_the_humans():
    cond = HandoffToHuman(["human"])
    cond.observe(
        Envelope(
            sender="room",
            content="triage hands off to billing",
            type=MessageType.ACTION,
            metadata={"event": "handoff", "from": "triage", "to": "billing"},
        )
    )
    assert not cond.fired
    cond.observe(
        Envelope(
            sender="room",
            content="billing hands off to human",
            type=MessageType.ACTION,
            metadata={"event": "handoff", "from": "billing", "to": "human"},
        )
    )
    assert cond.reason == "billing handed off to human"


def test_external_stop_fires_only_when_requested_and_keeps_the_first_reason():
    cond = ExternalStop()
    cond.observe(msg("alice", "stop"))
    cond.turn_ended()
    assert not cond.fired
    cond.request("the human typed /stop")
    cond.request("a second stop")
    assert cond.reason == "the human typed /stop"


# -- combining ----------------------------------------------------------------------------


def test_or_fires_on_either():
    for trigger in ("text", "turns"):
        cond = TextMention("DONE") | MaxTurns(2)
        assert isinstance(cond, AnyOf)
        cond.observe(msg("alice"))
        cond.turn_ended()
        assert not cond.fired
        if trigger == "text":
            cond.observe(msg("alice", "DONE"))
            assert cond.reason == "alice said DONE"
        else:
            cond.turn_ended()
            assert cond.reason == "reached 2 turns"


def test_and_fires_only_when_both_have_fired_each_remembering_it():
    cond = TextMention("DONE") & MaxMessages(3)
    assert isinstance(cond, AllOf)
    cond.observe(msg("alice", "DONE"))  # the text fired, latched
    assert not cond.fired
    cond.observe(msg("bob", "more"))
    assert not cond.fired
    cond.observe(msg("carol", "still more"))  # the third message: now both have fired
    assert cond.reason == "alice said DONE and reached 3 messages"


def test_and_inside_or_nests():
    cond = (TextMention("DONE") & MaxTurns(2)) | AgentAnswered("judge")
    cond.observe(msg("alice", "DONE"))
    cond.turn_ended()
    assert not cond.fired  # only one half of the & has fired
    cond.turn_ended()
    assert cond.reason == "alice said DONE and reached 2 turns"

    other = (TextMention("DONE") & MaxTurns(2)) | AgentAnswered("judge")
    other.observe(msg("alice", "DONE"))
    other.observe(msg("judge", "verdict"))
    assert other.reason == "judge answered"


def test_state_and_load_round_trip_the_counters():
    def build():
        return MaxMessages(4) | (TokenBudget(100) & MaxTurns(3))

    cond = build()
    cond.observe(msg("alice"))
    cond.observe(msg("bob"))
    cond.observe(usage(50, 60))  # the budget fires, latched inside the &
    cond.turn_ended()
    saved = cond.state()
    assert not cond.fired

    resumed = build()
    resumed.load(saved)
    assert resumed.state() == saved
    resumed.observe(msg("carol"))
    assert not resumed.fired  # three messages so far
    resumed.turn_ended()
    resumed.turn_ended()  # the third turn: the & is complete
    assert resumed.reason == "used 110 of a 100-token budget and reached 3 turns"

    again = build()
    again.load(saved)
    again.observe(msg("carol"))
    again.observe(msg("dave"))
    assert again.reason == "reached 4 messages"


def test_load_restores_a_latched_reason():
    cond = MaxMessages(1)
    cond.observe(msg("alice"))
    other = MaxMessages(1)
    other.load(cond.state())
    assert other.reason == "reached 1 message" and other.count == 1


def test_reset_clears_counters_and_reasons():
    cond = MaxMessages(2) | (TokenBudget(10) & MaxTurns(1))
    cond.observe(msg("alice"))
    cond.observe(msg("bob"))
    cond.observe(usage(10, 0))
    cond.turn_ended()
    assert cond.fired
    cond.reset()
    assert not cond.fired
    assert cond.state() == {
        "reason": None,
        "parts": [
            {"reason": None, "count": 0},
            {"reason": None, "parts": [{"reason": None, "count": 0}, {"reason": None, "count": 0}]},
        ],
    }
    cond.observe(msg("carol"))
    assert not cond.fired  # counting starts over
    cond.observe(msg("dave"))
    assert cond.reason == "reached 2 messages"


# -- from a workflow's termination spec -------------------------------------------------------


def test_build_termination_combine_any():
    spec = TerminationSpec(max_messages=3, text="DONE", text_from=["judge"], agent_answered="bob")
    cond = build_termination(spec, [])
    assert isinstance(cond, AnyOf)
    assert cond.describe() == "max_messages=3 | text='DONE' | agent_answered=bob"
    cond.observe(msg("alice", "DONE"))  # not from the judge
    assert not cond.fired
    cond.observe(msg("bob", "here"))
    assert cond.reason == "bob answered"


def test_build_termination_combine_all():
    spec = TerminationSpec(max_turns=2, text="DONE", combine="all")
    cond = build_termination(spec, [])
    assert isinstance(cond, AllOf)
    cond.observe(msg("alice", "DONE"))
    cond.turn_ended()
    assert not cond.fired
    cond.turn_ended()
    assert cond.reason == "reached 2 turns and alice said DONE"  # in the spec's field order


def test_build_termination_single_condition_and_overrides():
    cond = build_termination(TerminationSpec(max_messages=5), [], max_messages=2)
    assert isinstance(cond, MaxMessages) and cond.limit == 2

    spec = TerminationSpec(max_messages=9, handoff_to_human=True, timeout=60, token_budget=500)
    with_humans = build_termination(spec, ["human"])
    assert [type(p) for p in with_humans.parts] == [
        MaxMessages,
        Timeout,
        TokenBudget,
        HandoffToHuman,
    ]
    without = build_termination(spec, [])  # no humans: nobody to hand off to
    assert [type(p) for p in without.parts] == [MaxMessages, Timeout, TokenBudget]


def test_build_termination_refuses_a_condition_set_that_can_never_fire():
    spec = TerminationSpec(handoff_to_human=True)
    with pytest.raises(ValueError):
        build_termination(spec, [])


# -- failed turns -----------------------------------------------------------------------------


def test_failed_turns_fire_on_one_agents_limit_and_a_success_resets_its_count():
    cond = FailedTurns(per_agent=3, per_room=10)
    cond.failed("alice", "boom")
    cond.failed("alice", "boom")
    cond.succeeded("alice")
    cond.failed("alice", "boom")
    cond.failed("bob", "bang")  # bob's failures are his own
    cond.failed("alice", "boom")
    assert not cond.fired and cond.agents == {"alice": 2, "bob": 1}
    cond.failed("alice", "no server answered\n at http://x  (sk-abcdefghijklmnop1234)")
    assert cond.reason == (
        "alice failed 3 turns in a row: no server answered at http://x ([redacted])"
    )


def test_failed_turns_fire_on_the_rooms_limit_across_agents():
    cond = FailedTurns(per_agent=3, per_room=4)
    for name in ("a", "b", "c"):
        cond.failed(name, "down")
    cond.succeeded("d")  # anyone's success resets the room's count
    for name in ("a", "b", "c"):
        cond.failed(name, "down")
    assert not cond.fired and cond.room == 3
    cond.failed("d", "still down")
    assert cond.reason == "4 turns failed in a row, the last by d: still down"


def test_failed_turns_state_round_trips_and_reset_clears_it():
    cond = FailedTurns(per_agent=2, per_room=5)
    cond.failed("a", "x")
    saved = cond.state()
    again = FailedTurns(per_agent=2, per_room=5)
    again.load(saved)
    again.failed("a", "y")
    assert again.reason == "a failed 2 turns in a row: y"
    again.reset()
    assert not again.fired and again.agents == {} and again.room == 0
    with pytest.raises(ValueError):
        FailedTurns(per_agent=0)


def test_timeout_reset_restarts_its_clock():
    now = [0.0]
    cond = Timeout(30, clock=lambda: now[0])
    cond.started()
    now[0] = 31.0
    cond.tick()
    assert cond.reason == "ran for 30s"
    cond.reset()  # a fresh budget of 30 s from now, not from the first start
    now[0] = 60.0
    cond.tick()
    assert not cond.fired
    now[0] = 61.0
    cond.tick()
    assert cond.reason == "ran for 30s"


def test_tool_called_fires_when_a_named_tools_result_comes_back():
    cond = ToolCalled(["finish", "escalate"])

    def tool(event: str, name: str) -> Envelope:
        meta = {"event": event, "tool": name}
        return Envelope(sender="lead", content="", type=MessageType.ACTION, metadata=meta)

    cond.observe(tool("tool_result", "search"))
    cond.observe(tool("tool_call", "finish"))  # asked for, not run yet
    assert not cond.fired
    cond.observe(tool("tool_result", "finish"))
    assert cond.reason == "lead called finish"
    assert cond.describe() == "tool_called=escalate,finish"
    built = build_termination(TerminationSpec(tool_called=["finish"]), [])
    assert isinstance(built, ToolCalled)
