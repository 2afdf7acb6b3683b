"""The engine contract, the registry, 10,000 envelopes through SQLite and back."""

from __future__ import annotations

import sqlite3

import pytest

from agentroom import AgentTurnError, Engine, MessageType, ScriptedAgent
from agentroom.agents import Reply
from agentroom.core.errors import DuplicateAgentError, UnknownAgentError
from agentroom.models.types import SEEDS


async def test_the_contract_from_the_issue(db_path):
    async with Engine.open(db_path) as engine:
        for name in ("alice", "bob"):
            engine.register_agent(
                ScriptedAgent(name, replies=[f"{name} says {i}" for i in range(3)])
            )
        reply = await engine.run_agent_turn("alice")
        assert reply.sender == "alice" and reply.type == "message"
        await engine.save_all()
        session_id = engine.session_id
    async with Engine.open(db_path, session_id=session_id) as engine:
        history = engine.conversations.get_agent_conversation("alice").messages
        assert [m.content for m in history] == ["alice says 0"]
        assert history[0].envelope_id == reply.id


async def test_registry_errors_are_clear(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("alice", ["hi"]))
        engine.register_agent(ScriptedAgent("bob", ["hi"]))
        with pytest.raises(DuplicateAgentError, match="already registered"):
            engine.register_agent(ScriptedAgent("alice", ["again"]))
        with pytest.raises(UnknownAgentError) as info:
            engine.get_agent("carol")
        assert str(info.value) == "unknown agent 'carol'; known agents: alice, bob"
        with pytest.raises(UnknownAgentError):
            await engine.run_agent_turn("carol")


async def test_a_failing_agent_is_reported_in_the_room_and_the_room_goes_on(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("quiet", []))
        engine.register_agent(ScriptedAgent("chatty", ["still here"]))
        watch = engine.bus.subscribe()
        with pytest.raises(AgentTurnError, match="no replies left"):
            await engine.run_agent_turn("quiet")
        ok = await engine.run_agent_turn("chatty")
        got = await watch.get_batch()
    assert got[0].type is MessageType.STATUS and got[0].metadata["event"] == "turn_failed"
    assert "quiet" in got[0].content
    assert got[1] == ok


async def test_a_failure_that_carries_a_secret_is_reported_without_it(db_path, monkeypatch):
    key = "sk-engine-5e1d9c3b7a2f4e6d8c0b"
    monkeypatch.setenv("SOME_SERVICE_TOKEN", key)

    def leaky(turn):
        raise RuntimeError(f"upstream said: bad token {key}")

    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("leaky", leaky))
        watch = engine.bus.subscribe()
        with pytest.raises(AgentTurnError) as info:
            await engine.run_agent_turn("leaky")
        (failed,) = await watch.get_batch()
    assert failed.content == "leaky could not take its turn: upstream said: bad token [redacted]"
    assert str(info.value) == failed.content


async def test_replies_can_be_directed_and_typed(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(
            ScriptedAgent(
                "alice", [Reply("for bob only", to="bob"), Reply("did it", type=MessageType.ACTION)]
            )
        )
        engine.register_agent(ScriptedAgent("bob", lambda turn: f"I saw {len(turn.messages)}"))
        engine.register_agent(ScriptedAgent("carol", lambda turn: f"I saw {len(turn.messages)}"))
        assert (await engine.run_agent_turn("alice")).receiver == "bob"
        assert (await engine.run_agent_turn("alice")).type is MessageType.ACTION
        assert (await engine.run_agent_turn("bob")).content == "I saw 2"
        assert (await engine.run_agent_turn("carol")).content == "I saw 2"  # the action + bob's


async def test_three_agents_10k_envelopes_survive_a_reopen_identically(db_path):
    names = ("ada", "bo", "cy")
    async with Engine.open(db_path, title="ten thousand") as engine:
        for name in names:
            engine.register_agent(
                ScriptedAgent(name, lambda turn, n=name: f"{n} at turn {len(turn.messages)}")
            )
        # Every fifth turn is a private aside, so the agents' views really differ.
        for i in range(10_000):
            name = names[i % 3]
            if i % 5 == 4:
                await engine.get_agent(name).handle.publish(f"aside {i}", to=names[(i + 1) % 3])
            else:
                await engine.run_agent_turn(name)
        await engine.save_all()
        sid = engine.session_id
        transcript = [e async for e in engine.store.read_envelopes(sid)]
        convs = {n: engine.conversations.get_agent_conversation(n) for n in names}
        # Memory holds each agent's newest messages; the whole history is read from SQLite.
        views = {n: [m async for m in conv.history()] for n, conv in convs.items()}
        tails = {n: list(conv.messages) for n, conv in convs.items()}
        assert all(len(conv) == len(views[n]) for n, conv in convs.items())
        assert all(len(tails[n]) <= 2 * conv.keep < len(conv) for n, conv in convs.items())
    assert len(transcript) == 10_000
    assert [e.seq for e in transcript] == list(range(1, 10_001))
    assert len({len(v) for v in views.values()}) > 1
    assert all(views[n][-len(tails[n]) :] == tails[n] for n in names)

    async with Engine.open(db_path, session_id=sid) as engine:
        assert [e async for e in engine.store.read_envelopes(sid)] == transcript
        for n in names:
            conv = engine.conversations.get_agent_conversation(n)
            assert [m async for m in conv.history()] == views[n]
            assert len(conv) == len(views[n])
            assert list(conv.messages) == views[n][-len(conv.messages) :]
            assert len(conv.messages) >= conv.keep
        room = await engine.store.get_room(sid[:13])
        assert room.title == "ten thousand" and room.last_seq == 10_000
        assert set(room.agents) == set(names)
        # resuming continues the same order
        engine.register_agent(ScriptedAgent("ada", ["back again"]))
        assert (await engine.run_agent_turn("ada")).seq == 10_001
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM envelopes").fetchone()[0] == 10_001


async def test_room_state_is_recorded(db_path):
    async with Engine.open(db_path) as engine:
        sid = engine.session_id
        assert (await engine.store.get_room(sid)).live_state == "running"
    async with Engine.open(db_path, session_id=sid) as engine:
        pass
    with pytest.raises(RuntimeError):
        async with Engine.open(db_path, session_id=sid) as engine:
            raise RuntimeError("boom")
    async with Engine.open(db_path) as engine:
        rooms = {r.id: r for r in await engine.store.list_rooms()}
    assert rooms[sid].state == "failed"


async def test_a_session_keeps_its_sampling_seed_and_one_saved_without_gets_one(db_path):
    async with Engine.open(db_path) as engine:
        chosen, sid = engine.seed, engine.session_id
        first = engine.sampling_seed()
        await engine.bus.announce("something said")
        assert engine.sampling_seed() != first  # every turn samples differently
    assert isinstance(chosen, int) and 0 <= chosen < SEEDS
    async with Engine.open(db_path, session_id=sid, seed=12) as engine:
        assert engine.seed == chosen  # a resume carries on with its own, whatever is asked
    async with Engine.open(db_path, seed=12) as engine:
        assert engine.seed == 12
        pinned = engine.session_id
    async with Engine.open(db_path) as other:
        assert (await other.store.get_room(pinned)).metadata["seed"] == 12
        # A session saved before sessions had seeds (its metadata has none):
        old = other.store.create_room("old", {"note": "before seeds"})
    async with Engine.open(db_path, session_id=old) as engine:
        given = engine.seed
    async with Engine.open(db_path) as other:
        saved = (await other.store.get_room(old)).metadata
    assert saved == {"note": "before seeds", "seed": given}


async def test_a_session_running_in_another_process_is_not_opened_twice(db_path):
    from agentroom import SessionBusyError

    async with Engine.open(db_path) as engine:
        sid = engine.session_id
    async with Engine.open(db_path, session_id=sid):  # a live owner holds it (its OS lock)
        with pytest.raises(SessionBusyError, match="another agentroom"):
            async with Engine.open(db_path, session_id=sid):
                pass
