"""A long room in a window of memory: resume, runs, sessions list and show read what they need."""

from __future__ import annotations

import gc

from agentroom import Engine, ScriptedAgent
from agentroom.protocol import MessageType
from agentroom.usage import UsageLedger


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
