"""Delegation, sub-agents, and the shared blackboard with its conflict policies."""

from __future__ import annotations

import asyncio

import pytest

from agentroom import Engine, MessageType, ScriptedAgent
from agentroom.agents import LLMAgent, Reply
from agentroom.coordination import MaxTurns, MultiAgentCoordinator, RoundRobin, RunResult
from agentroom.coordination.memory import Blackboard
from agentroom.coordination.strategy import RoomView
from agentroom.coordination.tools import delegate_tool, memory_tools, spawn_tool
from agentroom.core.protocol import Envelope
from agentroom.models.replay import ReplayClient
from agentroom.models.types import Finished, TextDelta
from agentroom.room.builder import build_room
from agentroom.room.workflows import parse_workflow
from tests.event_payloads import problems


def events(envelopes: list[Envelope], event: str) -> list[Envelope]:
    """The envelopes naming ``event``, each held to its declared payload on the way."""
    found = [e for e in envelopes if e.metadata.get("event") == event]
    assert not [p for e in found for p in problems(e)]
    return found


async def logged(engine: Engine) -> list[Envelope]:
    return [e async for e in engine.store.read_envelopes(engine.session_id)]


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


# -- delegation -------------------------------------------------------------------------------


async def test_delegate_task_is_a_pair_of_actions_between_the_two(db_path):
    helper_model = ReplayClient(["Sales grew 4% in Q3.", "As I said: 4%."])
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("lead", ["thanks"]))
        engine.register_agent(LLMAgent("helper", helper_model, stream_interval=0))
        engine.register_agent(ScriptedAgent("bystander", ["..."]))
        answer = await engine.delegate_task("lead", "helper", "Summarise the Q3 report")
        await engine.run_agent_turn("helper")  # the helper's next ordinary turn
        log = await logged(engine)
        bystander = engine.conversations.get_agent_conversation("bystander").messages
        lead = engine.conversations.get_agent_conversation("lead").messages

    (request,) = events(log, "delegate")
    assert (request.sender, request.receiver, request.type) == (
        "lead",
        "helper",
        MessageType.ACTION,
    )
    assert request.content == "Summarise the Q3 report"
    assert (answer.sender, answer.receiver, answer.type) == ("helper", "lead", MessageType.ACTION)
    assert answer.content == "Sales grew 4% in Q3."
    assert answer.metadata["event"] == "delegation_result"
    assert answer.metadata["delegation"] == request.id and answer.reply_to == request.id
    delegated, later = helper_model.requests
    assert delegated.hints.delegated_by == "lead"
    assert delegated.messages[-1].content == "lead (to you) [action]: Summarise the Q3 report"
    assert [m.content for m in later.messages[1:]] == [
        "lead (to you) [action]: Summarise the Q3 report",
        "[action] Sales grew 4% in Q3.",
    ]
    assert [m.content for m in lead] == [
        "Summarise the Q3 report",
        "Sales grew 4% in Q3.",
        "As I said: 4%.",
    ]
    assert [m.content for m in bystander] == ["As I said: 4%."]  # only the broadcast


async def test_the_delegate_tool_returns_the_helpers_answer(db_path):
    lead_model = ReplayClient(
        [call("delegate", to="helper", task="Find the venue"), "The venue is Porto."]
    )
    async with Engine.open(db_path) as engine:
        lead = engine.register_agent(LLMAgent("lead", lead_model, stream_interval=0))
        lead.toolbox.add(delegate_tool(engine, "lead", ["helper"]))
        engine.register_agent(ScriptedAgent("helper", ["Porto, by the river."]))
        reply = await engine.run_agent_turn("lead")
        log = await logged(engine)
    assert reply.content == "The venue is Porto."
    (result,) = events(log, "delegation_result")
    (tool_result,) = events(log, "tool_result")
    assert tool_result.content == result.content == "Porto, by the river."
    assert lead_model.requests[1].messages[-1].content == "Porto, by the river."


# -- sub-agents -------------------------------------------------------------------------------


async def test_two_levels_of_sub_agents_answer_up_the_chain(db_path):
    model = ReplayClient(  # shared: a spawned sub-agent uses its parent's model
        [
            call("spawn_subagent", role="Researcher", instructions="You research.", task="Date?"),
            call("spawn_subagent", role="Fact checker", instructions="You check.", task="12 May?"),
            "12 May is confirmed by the press release.",
            "The launch is on 12 May (verified).",
            "We launch on 12 May.",
        ]
    )
    async with Engine.open(db_path) as engine:
        lead = engine.register_agent(LLMAgent("lead", model, stream_interval=0))
        lead.toolbox.add(spawn_tool(engine, "lead", max_depth=2, budget=5))
        reply = await engine.run_agent_turn("lead")
        log = await logged(engine)
        sessions = engine.conversations.agent_sessions
        checker_view = [m.content for m in sessions["lead.researcher1.factchecker2"].messages]
        still_registered = sorted(engine.agents)

    one, two = "lead.researcher1", "lead.researcher1.factchecker2"
    spawns = events(log, "spawn")
    assert [(s.sender, s.metadata["sub"], s.metadata["depth"]) for s in spawns] == [
        ("lead", one, 1),
        (one, two, 2),
    ]
    assert spawns[1].metadata["role"] == "Fact checker"
    subtasks = events(log, "subtask")
    assert [(s.receiver, s.content, s.reply_to) for s in subtasks] == [
        (one, "Date?", spawns[0].id),
        (two, "12 May?", spawns[1].id),
    ]
    results = events(log, "subagent_result")
    assert [(r.sender, r.receiver, r.type, r.reply_to, r.metadata["depth"]) for r in results] == [
        (two, one, MessageType.ACTION, spawns[1].id, 2),
        (one, "lead", MessageType.ACTION, spawns[0].id, 1),
    ]
    assert [r.content for r in results] == [
        "12 May is confirmed by the press release.",
        "The launch is on 12 May (verified).",
    ]
    assert [t.content for t in events(log, "tool_result")] == [
        "12 May is confirmed by the press release.",  # the checker's answer, to the researcher
        "The launch is on 12 May (verified).",  # the researcher's answer, to the lead
    ]
    assert reply.sender == "lead" and reply.type is MessageType.MESSAGE
    assert reply.content == "We launch on 12 May."
    assert {one, two} <= set(sessions)
    assert checker_view[:2] == ["12 May?", "12 May is confirmed by the press release."]
    assert still_registered == ["lead"]  # sub-agents leave once they have answered
    # the sub-agents' own prompts: their instructions, and the spawn tool only above max depth
    assert model.requests[1].messages[0].content == "You research."
    assert [t.name for t in model.requests[1].tools] == ["spawn_subagent"]
    assert model.requests[2].messages[0].content == "You check."
    assert model.requests[2].tools == ()


async def test_a_finished_sub_agents_conversation_ends_with_its_answer(db_path):
    model = ReplayClient(
        [
            call("spawn_subagent", role="helper", instructions="", task="2+2?"),
            "4",
            "The helper says 4.",
        ]
    )
    async with Engine.open(db_path) as engine:
        lead = engine.register_agent(LLMAgent("lead", model, stream_interval=0))
        lead.toolbox.add(spawn_tool(engine, "lead", max_depth=1, budget=5))
        engine.register_agent(ScriptedAgent("other", ["later news for the room"]))
        await engine.run_agent_turn("lead")
        await engine.run_agent_turn("other")
        helper = engine.conversations.agent_sessions["lead.helper1"]
        assert [m.content for m in helper.messages] == ["2+2?", "4"]


async def test_spawning_past_max_depth_or_budget_is_refused_as_the_tools_result(db_path):
    model = ReplayClient(
        [
            call("spawn_subagent", role="a", instructions="", task="level one"),
            call("spawn_subagent", role="b", instructions="", task="level two"),
            call("spawn_subagent", role="c", instructions="", task="level three"),
            "two, without a third",
            "one, done",
            call("spawn_subagent", role="d", instructions="", task="one more"),
            "lead, done",
        ]
    )
    async with Engine.open(db_path) as engine:
        lead = engine.register_agent(LLMAgent("lead", model, stream_interval=0))
        lead.toolbox.add(spawn_tool(engine, "lead", max_depth=2, budget=2))
        reply = await engine.run_agent_turn("lead")
        log = await logged(engine)
    assert reply.content == "lead, done"
    assert [s.metadata["sub"] for s in events(log, "spawn")] == ["lead.a1", "lead.a1.b2"]
    results = [(t.sender, t.content) for t in events(log, "tool_result")]
    assert results == [
        # the depth-2 sub-agent is offered no spawn tool, so a third level cannot start
        ("lead.a1.b2", "error: no tool named 'spawn_subagent'; tools: none"),
        ("lead.a1", "two, without a third"),
        ("lead", "one, done"),
        ("lead", "error: lead cannot spawn: this session's 2 spawns are used"),
    ]


async def test_the_max_depth_error_is_the_tools_result(db_path):
    model = ReplayClient(
        [
            call("spawn_subagent", role="deeper", instructions="", task="go deeper"),
            "I could not go deeper.",
        ]
    )
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("lead", model, stream_interval=0))
        answer = await engine.spawn_subagent(
            "lead",
            "worker",
            "",
            "try to nest",
            max_depth=2,
            # the worker's own tool allows only one level below the lead
            tools_for=lambda sub: [spawn_tool(engine, sub, max_depth=1, budget=5)],
        )
        log = await logged(engine)
    assert answer.sender == "lead.worker1" and answer.content == "I could not go deeper."
    (refused,) = events(log, "tool_result")
    assert refused.content == "error: lead.worker1 cannot spawn: sub-agents may nest 1 deep at most"
    assert len(events(log, "spawn")) == 1


# -- shared memory ----------------------------------------------------------------------------


def writes(agent_id: str, value: str, key: str = "venue") -> ScriptedAgent:
    """An agent that writes to the blackboard by publishing a memory_write action itself."""
    return ScriptedAgent(
        agent_id,
        [
            Reply(
                f"{key} = {value}",
                type=MessageType.ACTION,
                metadata={"event": "memory_write", "key": key, "value": value},
            )
        ],
    )


async def run_round(engine: Engine, board: Blackboard, order: list[str]) -> RunResult:
    coordinator = MultiAgentCoordinator(
        engine, RoundRobin(order), MaxTurns(len(order)), memory=board
    )
    return await coordinator.run("where do we meet?")


async def test_last_writer_wins_with_the_remember_tool_and_recall_reads_it(db_path):
    board = Blackboard("last-writer")
    async with Engine.open(db_path) as engine:
        for name, city in (("alice", "Lisbon"), ("bob", "Porto")):
            model = ReplayClient([call("remember", key="venue", value=city), f"I wrote {city}."])
            agent = engine.register_agent(LLMAgent(name, model, stream_interval=0))
            for tool in memory_tools(engine, name, board):
                agent.toolbox.add(tool)
        result = await run_round(engine, board, ["alice", "bob"])
        reader_model = ReplayClient(
            [
                {
                    "tool_calls": [
                        {"name": "recall", "arguments": {"key": "venue"}},
                        {"name": "recall", "arguments": {"key": "budget"}},
                    ]
                },
                "We meet in Porto.",
            ]
        )
        reader = engine.register_agent(LLMAgent("carol", reader_model, stream_interval=0))
        for tool in memory_tools(engine, "carol", board):
            reader.toolbox.add(tool)
        await engine.run_agent_turn("carol")
        log = await logged(engine)

    written = events(result.envelopes, "memory_write")
    assert [(w.sender, w.metadata["value"]) for w in written] == [
        ("alice", "Lisbon"),
        ("bob", "Porto"),
    ]
    (resolved,) = events(result.envelopes, "memory_resolved")
    assert resolved.type is MessageType.ACTION
    assert resolved.metadata["value"] == "Porto"
    assert resolved.metadata["candidates"] == ["Lisbon", "Porto"]
    assert resolved.content == "memory 'venue': 'Porto' (last writer (bob) wins)"
    entry = board.entries["venue"]
    assert entry.value == "Porto"
    assert [(w.writer, w.value) for w in entry.history] == [
        ("alice", "Lisbon"),
        ("bob", "Porto"),
        ("room", "Porto"),
    ]
    recalls = [e.content for e in events(log, "tool_result") if e.sender == "carol"]
    assert recalls == ["Porto", "nothing under 'budget'; keys: venue"]


async def test_one_writer_changing_its_mind_is_no_conflict(db_path):
    board = Blackboard("vote", voters=["nobody"])
    async with Engine.open(db_path) as engine:
        engine.register_agent(
            ScriptedAgent(
                "alice",
                lambda t: Reply(
                    "venue",
                    type=MessageType.ACTION,
                    metadata={
                        "event": "memory_write",
                        "key": "venue",
                        "value": f"v{len(t.messages)}",
                    },
                ),
            )
        )
        result = await run_round(engine, board, ["alice", "alice"])
    assert events(result.envelopes, "memory_resolved") == []
    assert board.get("venue") == "v2"


def voter(engine: Engine, name: str, answer: str) -> ReplayClient:
    model = ReplayClient([answer])
    engine.register_agent(LLMAgent(name, model, stream_interval=0))
    return model


async def test_vote_the_majority_wins(db_path):
    board = Blackboard("vote", voters=["v1", "v2", "v3"])
    async with Engine.open(db_path) as engine:
        engine.register_agent(writes("alice", "Lisbon"))
        engine.register_agent(writes("bob", "Porto"))
        v1 = voter(engine, "v1", "1")
        voter(engine, "v2", "Option 1, clearly.")
        voter(engine, "v3", "2")
        result = await run_round(engine, board, ["alice", "bob"])
    requested = events(result.envelopes, "vote_requested")
    assert [(r.receiver, r.metadata["options"]) for r in requested] == [
        ("v1", ["Lisbon", "Porto"]),
        ("v2", ["Lisbon", "Porto"]),
        ("v3", ["Lisbon", "Porto"]),
    ]
    assert v1.requests[0].messages[-1].content == (
        "room (to you) [action]: @v1: agents disagree on 'venue'. Pick one by its number:\n"
        "1. Lisbon\n2. Porto"
    )
    votes = events(result.envelopes, "vote")
    assert [(v.sender, v.receiver, v.type, v.content) for v in votes] == [
        ("v1", "room", MessageType.ACTION, "1"),
        ("v2", "room", MessageType.ACTION, "Option 1, clearly."),
        ("v3", "room", MessageType.ACTION, "2"),
    ]
    assert [v.reply_to for v in votes] == [r.id for r in requested]
    (resolved,) = events(result.envelopes, "memory_resolved")
    assert resolved.metadata["value"] == "Lisbon"
    assert resolved.metadata["votes"] == {"v1": "Lisbon", "v2": "Lisbon", "v3": "Porto"}
    assert "majority vote ('Lisbon': 2, 'Porto': 1)" in resolved.content
    assert board.get("venue") == "Lisbon"


@pytest.mark.parametrize(
    ("tie_break", "winner", "how"),
    [
        ("earliest", "Lisbon", "tie ('Lisbon': 1, 'Porto': 1); the earliest write wins"),
        ("latest", "Porto", "tie ('Lisbon': 1, 'Porto': 1); the latest write wins"),
        ("judge", "Porto", "tie; judge decided"),
    ],
)
async def test_vote_a_tie_goes_by_the_tie_break(db_path, tie_break, winner, how):
    board = Blackboard("vote", voters=["v1", "v2"], tie_break=tie_break)
    async with Engine.open(db_path) as engine:
        engine.register_agent(writes("alice", "Lisbon"))
        engine.register_agent(writes("bob", "Porto"))
        voter(engine, "v1", "1")
        voter(engine, "v2", "2")
        judge = voter(engine, "judge", "2")
        result = await run_round(engine, board, ["alice", "bob"])
    (resolved,) = events(result.envelopes, "memory_resolved")
    assert resolved.metadata["value"] == winner
    assert resolved.metadata["votes"] == {"v1": "Lisbon", "v2": "Porto"}
    assert resolved.content == f"memory 'venue': {winner!r} ({how})"
    assert board.get("venue") == winner
    asked = ["v1", "v2", "judge"] if tie_break == "judge" else ["v1", "v2"]
    assert [v.sender for v in events(result.envelopes, "vote")] == asked
    assert len(judge.requests) == asked.count("judge")


async def test_an_arbiter_settles_a_conflict(db_path):
    board = Blackboard("arbiter", arbiter="judge")
    async with Engine.open(db_path) as engine:
        engine.register_agent(writes("alice", "Lisbon"))
        engine.register_agent(writes("bob", "Porto"))
        voter(engine, "judge", "I choose 1: closer to the airport.")
        result = await run_round(engine, board, ["alice", "bob"])
    (vote,) = events(result.envelopes, "vote")
    assert vote.sender == "judge"
    (resolved,) = events(result.envelopes, "memory_resolved")
    assert resolved.metadata["value"] == "Lisbon"
    assert resolved.metadata["policy"] == "arbiter"
    assert resolved.metadata["votes"] == {"judge": "Lisbon"}
    assert resolved.content == "memory 'venue': 'Lisbon' (judge decided)"
    assert [(w.writer, w.value) for w in board.entries["venue"].history] == [
        ("alice", "Lisbon"),
        ("bob", "Porto"),
        ("room", "Lisbon"),
    ]


MEMORY_WORKFLOW = """
name: notes
agents:
  - id: alice
memory:
  enabled: true
termination:
  max_turns: 1
"""


async def test_the_blackboard_is_rebuilt_when_a_session_resumes(db_path):
    workflow = parse_workflow(MEMORY_WORKFLOW)
    first_model = ReplayClient([call("remember", key="venue", value="Porto"), "Noted."])
    async with Engine.open(db_path) as engine:
        first = await engine.run_workflow(workflow, "pick a venue", default_model=first_model)
        session_id = engine.session_id
    assert [w.metadata["value"] for w in events(first.envelopes, "memory_write")] == ["Porto"]
    async with Engine.open(db_path, session_id=session_id) as engine:
        _, state = await engine.store.load_room_state(session_id)
        coordinator = build_room(engine, workflow, ReplayClient([]))
        await coordinator.resume_from(state, fresh_budget=True)
        assert coordinator.memory is not None
        assert coordinator.memory.get("venue") == "Porto"


async def test_a_voter_whose_turn_fails_casts_no_vote_and_the_room_goes_on(db_path):
    board = Blackboard("vote", voters=["v1", "v2", "v3"])
    async with Engine.open(db_path) as engine:
        engine.register_agent(writes("alice", "Lisbon"))
        engine.register_agent(writes("bob", "Porto"))
        voter(engine, "v1", "2")
        engine.register_agent(LLMAgent("v2", ReplayClient([]), stream_interval=0))  # no answer
        voter(engine, "v3", "2")
        result = await run_round(engine, board, ["alice", "bob"])
    assert result.reason == "reached 2 turns"
    assert [e.metadata["agent"] for e in events(result.envelopes, "turn_failed")] == ["v2"]
    (resolved,) = events(result.envelopes, "memory_resolved")
    assert resolved.metadata["votes"] == {"v1": "Porto", "v3": "Porto"}
    assert board.get("venue") == "Porto"


class HeldVotes:
    """Answers in turn; ``None`` holds that request until the test cancels it (a crash)."""

    label = "votes"

    def __init__(self, answers: list[str | None]) -> None:
        self.answers = answers
        self.asked = 0
        self.held = asyncio.Event()

    async def stream(self, request):
        answer = self.answers[self.asked]
        self.asked += 1
        if answer is None:
            self.held.set()
            await asyncio.Event().wait()
        yield TextDelta(answer)
        yield Finished("stop")


async def test_a_round_cut_short_is_finished_from_the_log_without_asking_twice(db_path):
    votes = HeldVotes(["1", "2", "1", None, "1"])
    async with Engine.open(db_path) as engine:
        for name in ("alice", "bob"):
            engine.register_agent(ScriptedAgent(name, []))
        for name in ("v1", "v2"):
            engine.register_agent(LLMAgent(name, votes, stream_interval=0))
        room = RoomView(engine, {})
        first = Blackboard("vote", voters=["v1", "v2"])
        engine.bus.attach(first)
        for key, (a, b) in {"venue": ("Lisbon", "Porto"), "day": ("Monday", "Friday")}.items():
            for writer, value in (("alice", a), ("bob", b)):
                await engine.get_agent(writer).handle.publish(
                    f"{key} = {value}",
                    type=MessageType.ACTION,
                    metadata={"event": "memory_write", "key": key, "value": value},
                )
        checkpoint = first.state()  # as the coordinator saves it before settling the round
        settling = asyncio.create_task(first.end_round(room))
        await votes.held.wait()  # venue settled; v1 voted on day; v2 is being asked
        settling.cancel()  # the process dies here
        with pytest.raises(asyncio.CancelledError):
            await settling
        engine.bus.detach(first)

        again = Blackboard("vote", voters=["v1", "v2"])  # resumed: rebuilt from the log
        async for env in engine.store.read_envelopes(engine.session_id, type=MessageType.ACTION):
            again.offer(env)
        again.load(checkpoint)
        engine.bus.attach(again)
        decisions = await again.end_round(room)
        log = await logged(engine)
    assert [d.metadata["key"] for d in decisions] == ["day"]  # venue was settled before
    assert decisions[0].metadata["votes"] == {"v1": "Monday", "v2": "Monday"}
    assert votes.asked == 5  # v2 once more on day; v1's vote on day was taken from the log
    assert [(e.metadata["key"], e.receiver) for e in events(log, "vote_requested")] == [
        ("venue", "v1"),
        ("venue", "v2"),
        ("day", "v1"),
        ("day", "v2"),
        ("day", "v2"),
    ]
    assert [e.metadata["key"] for e in events(log, "memory_resolved")] == ["venue", "day"]
    assert again.snapshot() == {"day": "Monday", "venue": "Lisbon"}
