"""A long room in a window of memory: resume, runs, sessions list and show read what they need."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from agentroom import Engine, ScriptedAgent
from agentroom.conversation import ConversationManager
from agentroom.coordination import MaxMessages, MultiAgentCoordinator, RoundRobin
from agentroom.coordination.coordinator import RUN_TAIL
from agentroom.coordination.memory import HISTORY, MEMORY_EVENTS, Blackboard
from agentroom.core.protocol import Envelope, Message, MessageType
from agentroom.room.usage import UsageLedger
from agentroom.store import SqliteStore
from tests.environment import child_env


def alive() -> Counter[str]:
    """How many envelopes and messages are in memory now."""
    gc.collect()
    return Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, Envelope | Message))


async def test_resume_sums_usage_in_sqlite_as_the_ledger_would(db_path):
    usages = [
        {"agent": "a", "prompt_tokens": 10, "completion_tokens": 3, "cost_usd": 0.25},
        {"agent": "a", "prompt_tokens": 7.9, "completion_tokens": "2", "cost_usd": None},
        {"prompt_tokens": 5, "completion_tokens": 1, "cost_usd": 0.5, "estimated": True},
        {"agent": "", "prompt_tokens": None, "estimated": False, "cost_usd": 0.125},
        {"agent": "c", "completion_tokens": 4, "estimated": "yes"},
    ]
    async with Engine.open(db_path) as engine:
        for name in ("a", "b"):
            engine.register_agent(ScriptedAgent(name, lambda turn: "hi"))
        handle = engine.get_agent("b").handle
        for i in range(200):
            await engine.run_agent_turn("ab"[i % 2])
            meta = usages[i % len(usages)]
            await handle.publish("usage", type="status", metadata={"event": "usage", **meta})
            await handle.publish("chunk", type="status", metadata={"event": "stream"})
        live = engine.usage.to_dict()
        sid = engine.session_id
    async with Engine.open(db_path, session_id=sid) as engine:
        decoded = UsageLedger.of([e async for e in engine.store.read_envelopes(sid)])
        assert engine.usage.to_dict() == decoded.to_dict() == live
        assert set(engine.usage.by_agent) == {"a", "b", "c"}
        assert engine.usage.total.calls == 200 and engine.usage.total.unpriced_calls == 80


async def _big_room(db_path, messages: int) -> str:
    """Three agents taking turns, each reply followed by a usage status, as a model's is."""
    async with Engine.open(db_path, title="long") as engine:
        for name in ("a", "b", "c"):
            engine.register_agent(ScriptedAgent(name, lambda turn: "y" * 100))
        for i in range(messages):
            reply = await engine.run_agent_turn("abc"[i % 3])
            await engine.get_agent(reply.sender).handle.publish(
                "10 in, 1 out",
                type=MessageType.STATUS,
                metadata={"event": "usage", "prompt_tokens": 10, "completion_tokens": 1},
            )
        return engine.session_id


async def test_resume_memory_does_not_grow_with_the_session(db_path):
    import tracemalloc

    sid = await _big_room(db_path, 6000)
    gc.collect()
    tracemalloc.start()
    try:
        async with Engine.open(db_path, session_id=sid) as engine:
            engine.register_agent(ScriptedAgent("a", ["back"]))
            await engine.run_agent_turn("a")
            assert engine.usage.total.calls == 6000
            assert len(engine.conversations.get_agent_conversation("c")) == 6000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"resuming took {peak / 2**20:.1f} MB"  # reading it all: 13 MB


async def test_a_long_run_keeps_its_newest_envelopes_and_reads_the_rest(db_path):
    async with Engine.open(db_path) as engine:
        for name in ("a", "b", "c"):
            engine.register_agent(ScriptedAgent(name, lambda turn: "z" * 20))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["a", "b", "c"]), MaxMessages(3000))
        result = await coordinator.run("go")
        counts = alive()  # the run, three conversations and the result: a window of each
        assert counts["Envelope"] < 1500 and counts["Message"] < 2000, counts
        assert len(result.envelopes) == RUN_TAIL and not result.complete
        everything = [e async for e in result.read(engine.store)]
        assert [e.seq for e in everything] == list(range(result.first_seq, result.last_seq + 1))
        assert len(everything) == result.count > RUN_TAIL
        assert everything[-RUN_TAIL:] == result.envelopes
        assert sum(e.type is MessageType.MESSAGE for e in everything) == 3000
        assert everything[-1].content == f"stopped: {result.reason}"

        quiet = MultiAgentCoordinator(
            engine, RoundRobin(["a", "b"]), MaxMessages(4), keep_envelopes=False
        )
        second = await quiet.run("again")
        assert second.envelopes == [] and second.first_seq == result.last_seq + 1
        said = [e.content async for e in second.read(engine.store) if e.type == "message"]
        assert said == ["again", "z" * 20, "z" * 20, "z" * 20]


async def test_the_blackboard_is_rebuilt_from_memory_actions_only(db_path):
    async with Engine.open(db_path) as engine:
        handle = engine.register_agent(ScriptedAgent("a", ["hi"])).handle
        for i in range(2000):
            await handle.publish(f"tool {i}", type="action", metadata={"event": "tool_call"})
            if i % 10 == 0:
                meta = {"event": "memory_write", "key": "venue", "value": f"v{i}"}
                await handle.publish(f"remember {i}", type="action", metadata=meta)
        sid = engine.session_id
    async with Engine.open(db_path, session_id=sid) as engine:
        picked = engine.store.read_envelopes(sid, type=MessageType.ACTION, events=MEMORY_EVENTS)
        assert [e.metadata["event"] async for e in picked] == ["memory_write"] * 200
        assert "tool_call" not in MEMORY_EVENTS
        board = Blackboard()
        engine.register_agent(ScriptedAgent("a", ["hi"]))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(["a"]), MaxMessages(1), memory=board)
        await coordinator.resume_from({}, fresh_budget=True)
        entry = board.entries["venue"]
        assert entry.value == "v1990" and len(entry.history) == HISTORY  # the newest writes
        assert entry.history[-1].value == "v1990" and entry.history[0].value == "v1000"


REPO = Path(__file__).resolve().parents[2]
PEAK = REPO / "bench" / "peak.py"
SAMPLES = REPO / "sample_workflows"


def measured(*args: str, folder: Path) -> tuple[float, str]:
    """Run ``agentroom ARGS`` for real (the user's things in ``folder``); its peak memory in MB
    and what it printed.

    (Started by ``bench/peak.py``: a child spawned by this test process would
    count this process's own memory as its peak.)
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.NamedTemporaryFile("r") as result:
        command = [sys.executable, "-m", "agentroom", *args]
        subprocess.run(
            [sys.executable, "-S", str(PEAK), result.name, "2000", *command],
            stdout=out,
            check=True,
            env=child_env(folder),  # bench/peak.py hands it to agentroom
        )
        report = json.load(result)
        assert report["returncode"] == 0 and not report["over_cap"], report
        out.seek(0)
        return report["peak_mb"], out.read()


async def test_sessions_show_json_streams_the_same_document(db_path):
    sid = await _big_room(db_path, 3000)  # 6,000 envelopes
    async with await SqliteStore.open(db_path) as store:
        room = await store.get_room(sid)
        envelopes = [e async for e in store.read_envelopes(sid)]
    peak, text = measured(
        "--db", str(db_path), "sessions", "show", sid, "--json", folder=db_path.parent
    )
    doc = json.loads(text)
    assert list(doc) == [*room.to_dict(), "usage", "envelopes"]
    assert doc == room.to_dict() | {
        "usage": UsageLedger.of(envelopes).to_dict(),
        "envelopes": [e.to_dict() for e in envelopes],
    }
    assert peak < 100, f"{peak:.0f} MB"  # building the document whole took 400 MB

    _, text = measured(
        "--db",
        str(db_path),
        "sessions",
        "show",
        sid,
        "--json",
        "--limit",
        "9",
        folder=db_path.parent,
    )
    first = json.loads(text)
    assert [e["seq"] for e in first["envelopes"]] == list(range(1, 10))
    assert first["usage"] == UsageLedger.of(envelopes[:9]).to_dict()  # 4 calls, as shown


async def test_sessions_list_is_one_query_without_the_workflows(db_path):
    from agentroom.room.builder import workflow_metadata
    from agentroom.room.workflows import load_workflow

    workflow = load_workflow(SAMPLES / "debate.yaml")
    metadata = workflow_metadata(workflow, "debate.yaml", "offline")
    async with await SqliteStore.open(db_path) as store:
        made = []
        for i in range(30):
            made.append(store.create_room(f"room {i}", metadata))
            for agent in ("pro", "con"):
                ConversationManager(made[-1], store).create_agent_conversation(agent)
        await store.claim(made[-2])  # alive: this store owns it
        async with await SqliteStore.open(db_path) as gone:  # its owner gone, as after a crash
            await gone.claim(made[-1])
        statements: list[str] = []
        await store._db.set_trace_callback(statements.append)
        rooms = await store.list_rooms()
        await store._db.set_trace_callback(None)
        assert len(statements) == 1  # not one more per room
        assert [r.title for r in rooms][:2] == ["room 29", "room 28"] and len(rooms) == 30
        assert all(r.agents == ("pro", "con") for r in rooms)
        assert all("workflow" not in r.metadata for r in rooms)  # not decoded: not shown
        assert rooms[0].live_state == "interrupted" and rooms[1].live_state == "running"
        full = await store.list_rooms(2, metadata=True)
        assert full[0].metadata["workflow"] == metadata["workflow"]
    _, text = measured("--db", str(db_path), "sessions", "list", "--json", folder=db_path.parent)
    rows = json.loads(text)
    assert len(rows) == 30 and rows[0]["metadata"]["workflow"] == metadata["workflow"]
    assert rows[0]["agents"] == ["pro", "con"] and rows[0]["state"] == "interrupted"
