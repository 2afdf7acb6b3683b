"""Per-agent conversations: private views, checkpoints, bounded context, reloads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentroom import Engine, LLMAgent, Role, ScriptedAgent
from agentroom.core.errors import DuplicateAgentError, UnknownAgentError
from agentroom.models.replay import ReplayClient


async def room_with(engine: Engine, *names: str) -> dict:
    return {
        n: engine.register_agent(ScriptedAgent(n, [f"{n}-{i}" for i in range(50)])) for n in names
    }


async def test_agents_see_broadcasts_and_their_own_direct_messages_only(db_path):
    async with Engine.open(db_path) as engine:
        await room_with(engine, "alice", "bob", "carol")
        alice = engine.get_agent("alice").handle
        bob = engine.get_agent("bob").handle
        await alice.publish("hello all")
        await alice.publish("secret for bob", to="bob")
        await bob.publish("secret reply", to="alice")
        await bob.publish("typing...", type="status")
        view = {
            n: [
                (m.role, m.content) for m in engine.conversations.get_agent_conversation(n).messages
            ]
            for n in ("alice", "bob", "carol")
        }
    assert view["alice"] == [
        (Role.ASSISTANT, "hello all"),
        (Role.ASSISTANT, "secret for bob"),
        (Role.USER, "secret reply"),
    ]
    assert view["bob"] == [
        (Role.USER, "hello all"),
        (Role.USER, "secret for bob"),
        (Role.ASSISTANT, "secret reply"),
    ]
    assert view["carol"] == [(Role.USER, "hello all")]  # never the private exchange


async def test_messages_carry_attribution_and_envelope_refs(db_path):
    async with Engine.open(db_path) as engine:
        await room_with(engine, "alice", "bob")
        env = await engine.run_agent_turn("alice")
        (msg,) = engine.conversations.get_agent_conversation("bob").messages
    assert (msg.agent_id, msg.recipient_id, msg.envelope_id, msg.seq) == (
        "alice",
        "*",
        env.id,
        env.seq,
    )
    assert msg.content == env.content and msg.created_at == env.created_at


async def test_checkpoint_and_restore_including_a_branch_left_behind(db_path):
    async with Engine.open(db_path) as engine:
        await room_with(engine, "alice", "bob")
        conv = engine.conversations.get_agent_conversation("alice")
        await engine.run_agent_turn("alice")
        conv.checkpoint("start", state={"note": "after one"})
        await engine.run_agent_turn("bob")
        await engine.run_agent_turn("alice")
        assert [m.content for m in conv.messages] == ["alice-0", "bob-0", "alice-1"]
        conv.restore("start")
        assert [m.content for m in conv.messages] == ["alice-0"]
        await engine.run_agent_turn("bob")
        conv.checkpoint("branch")
        assert [m.content for m in conv.messages] == ["alice-0", "bob-1"]
        conv.restore("start")
        conv.restore("branch")  # a checkpoint on a branch the previous restore left
        assert [m.content for m in conv.messages] == ["alice-0", "bob-1"]
        with pytest.raises(KeyError, match="known: branch, start"):
            conv.restore("nope")
        sid = engine.session_id
        before = list(conv.messages)
    async with Engine.open(db_path, session_id=sid) as engine:
        conv = engine.conversations.get_agent_conversation("alice")
        assert list(conv.messages) == before
        assert conv.checkpoints["start"].state == {"note": "after one"}
        conv.restore("start")
        assert [m.content for m in conv.messages] == ["alice-0"]


async def test_restore_to_a_checkpoint_taken_on_an_empty_history(db_path):
    async with Engine.open(db_path) as engine:
        await room_with(engine, "alice")
        conv = engine.conversations.get_agent_conversation("alice")
        conv.checkpoint("empty")
        await engine.run_agent_turn("alice")
        conv.restore("empty")
        assert list(conv.messages) == []
        sid = engine.session_id
    async with Engine.open(db_path, session_id=sid) as engine:
        assert list(engine.conversations.get_agent_conversation("alice").messages) == []


async def test_context_view_is_bounded_by_count_and_characters(db_path):
    async with Engine.open(db_path) as engine:
        agent = engine.register_agent(ScriptedAgent("a", ["x" * 100] * 30))
        for _ in range(30):
            await engine.run_agent_turn("a")
        conv = agent.conversation
        assert len(conv.context(max_messages=5)) == 5
        assert len(conv.context(max_chars=350)) == 3
        assert len(conv.context(max_messages=10, max_chars=10_000)) == 10
        assert len(conv.context(max_chars=1)) == 1  # the newest message always fits
        newest = conv.context(max_messages=2)
        assert [m.seq for m in newest] == [29, 30]


async def test_manager_api_and_errors(db_path):
    async with Engine.open(db_path) as engine:
        await room_with(engine, "alice")
        manager = engine.conversations
        assert set(manager.agent_sessions) == {"alice"}
        with pytest.raises(DuplicateAgentError):
            manager.create_agent_conversation("alice")
        with pytest.raises(UnknownAgentError, match="known agents: alice"):
            manager.get_agent_conversation("zed")
        notes = manager.create_agent_conversation("observer", title="watcher")
        assert (
            notes.session.agent_id == "observer" and notes.session.session_id == engine.session_id
        )
        await manager.save_all()


async def test_history_is_stored_as_references_in_runs_and_roles_survive(db_path):
    import sqlite3

    async with Engine.open(db_path) as engine:
        await room_with(engine, "alice", "bob")
        for _ in range(20):  # one batch: each agent's references merge into runs
            await engine.run_agent_turn("alice")
        await engine.flush()
        conv = engine.conversations.get_agent_conversation("bob")
        tool_env = await engine.get_agent("alice").handle.publish("result: 42", type="action")
        conv.record(tool_env, Role.TOOL)  # an explicit role, unlike the usual one
        sid = engine.session_id
        before = {
            n: list(engine.conversations.get_agent_conversation(n).messages)
            for n in ("alice", "bob")
        }
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT count(*), sum(coalesce(n, 1)) FROM history").fetchone()
        explicit = db.execute("SELECT count(*) FROM history WHERE role IS NOT NULL").fetchone()
    assert rows[1] == 20 + 20 + 2 + 1  # every reference is there...
    assert rows[0] < 10  # ...in a handful of rows, not one per reference
    assert explicit == (1,)
    async with Engine.open(db_path, session_id=sid) as engine:
        after = {
            n: list(engine.conversations.get_agent_conversation(n).messages)
            for n in ("alice", "bob")
        }
    assert after == before
    assert after["bob"][-1].role is Role.TOOL and after["bob"][-2].role is Role.USER


def _naive_context(contents, max_messages, max_chars):
    picked, chars = [], 0
    for text in reversed(contents):
        if max_messages is not None and len(picked) >= max_messages:
            break
        if max_chars is not None and picked and chars + len(text) > max_chars:
            break
        picked.append(text)
        chars += len(text)
    return picked[::-1]


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 50), max_size=40),
    max_messages=st.none() | st.integers(1, 45),
    max_chars=st.none() | st.integers(0, 400),
)
def test_context_window_matches_the_obvious_definition(sizes, max_messages, max_chars):
    from agentroom.conversation import ConversationSystem
    from agentroom.core.protocol import Envelope, Session

    conv = ConversationSystem(Session(session_id="r", agent_id="a"))
    contents = [f"{i:02d}" + "x" * n for i, n in enumerate(sizes)]
    for seq, text in enumerate(contents, 1):
        conv.record(Envelope(sender="b", content=text, seq=seq))
    got = [m.content for m in conv.context(max_messages, max_chars)]
    assert got == _naive_context(contents, max_messages, max_chars)


async def test_a_bounce_reaches_the_senders_own_context_and_survives_a_reopen(db_path):
    model = ReplayClient(["Sorry, I will ask bob instead."])
    async with Engine.open(db_path) as engine:
        alice = engine.register_agent(LLMAgent("alice", model, stream_interval=0))
        engine.register_agent(ScriptedAgent("bob", ["hi"]))
        await alice.handle.publish("carol, are you there?", to="carol")  # nobody named carol
        await engine.run_agent_turn("alice")
        bob_saw = [m.content for m in engine.conversations.get_agent_conversation("bob").messages]
        session_id = engine.session_id
    bounce = (
        "No participant named 'carol' is in the room; your message was not delivered. "
        "Known participants: alice, bob."
    )
    prompt = [(m.role, m.content) for m in model.requests[0].messages[1:]]
    assert prompt == [("user", f"room (to you): {bounce}")]
    assert bob_saw == ["Sorry, I will ask bob instead."]  # the bounce was alice's alone
    async with Engine.open(db_path, session_id=session_id) as engine:
        again = engine.conversations.get_agent_conversation("alice")
        assert [(m.role, m.agent_id, m.content) for m in again.messages] == [
            (Role.USER, "room", bounce),
            (Role.ASSISTANT, "alice", "Sorry, I will ask bob instead."),
        ]


# -- memory holds a window ----------------------------------------------------------------


def _said(turn) -> str:
    """A scripted reply naming what the agent was given as its context."""
    return "saw " + ",".join(m.content for m in turn.messages)


async def test_a_long_history_keeps_only_a_window_in_memory(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("bob", lambda turn: f"bob-{len(turn.messages)}"))
        alice = engine.register_agent(ScriptedAgent("alice", ["unused"]))
        conv = alice.conversation
        conv.keep = 20
        said = [(await engine.get_agent("bob").handle.publish(f"b{i}")).content for i in range(500)]
        assert len(conv) == 500
        assert conv.keep <= len(conv.messages) <= 2 * conv.keep  # the newest, not all 500
        assert [m.content for m in conv.messages] == said[-len(conv.messages) :]
        assert conv.messages.start == 500 - len(conv.messages)
        assert [m.content for m in conv.context(max_messages=10)] == said[-10:]
        assert [m.content async for m in conv.history()] == said  # the whole, from SQLite


async def test_restore_to_a_checkpoint_before_the_window(db_path):
    async with Engine.open(db_path) as engine:
        bob = engine.register_agent(ScriptedAgent("bob", ["unused"])).handle
        alice = engine.register_agent(ScriptedAgent("alice", _said))
        alice.settings.max_context_messages = 8
        conv = alice.conversation
        conv.keep = 10
        for i in range(5):
            await bob.publish(f"early{i}")
        conv.checkpoint("early", state={"n": 5})
        for i in range(100):
            await bob.publish(f"late{i}")
        conv.checkpoint("late")
        conv.restore("early")  # 100 messages ago: long out of memory
        assert len(conv) == 5
        reply = await engine.run_agent_turn("alice")  # its context is read back first
        assert reply.content == "saw early0,early1,early2,early3,early4"
        assert [m.content async for m in conv.history()] == [
            *(f"early{i}" for i in range(5)),
            reply.content,
        ]
        conv.restore("late")  # the branch the first restore left
        await conv.load_window()
        assert len(conv) == 105
        assert [m.content for m in conv.messages][-3:] == ["late97", "late98", "late99"]
        sid = engine.session_id
    async with Engine.open(db_path, session_id=sid) as engine:
        conv = engine.conversations.get_agent_conversation("alice")
        conv.keep = 10
        assert len(conv) == 105 and conv.checkpoints["early"].state == {"n": 5}
        conv.restore("early")
        await conv.load_window()
        assert [m.content for m in conv.messages] == [f"early{i}" for i in range(5)]
        engine.register_agent(ScriptedAgent("alice", _said))
        assert (await engine.run_agent_turn("alice")).content.startswith("saw early0,")


async def test_resume_holds_a_window_of_each_history(db_path):
    async with Engine.open(db_path) as engine:
        for name in ("a", "b", "c"):
            engine.register_agent(ScriptedAgent(name, lambda turn: "x" * 50))
        for i in range(3000):
            await engine.run_agent_turn("abc"[i % 3])
        sid = engine.session_id
    async with Engine.open(db_path, session_id=sid) as engine:
        conv = engine.conversations.get_agent_conversation("b")
        assert len(conv) == 3000
        assert len(conv.messages) <= 2 * conv.keep
        seqs = [m.seq async for m in conv.history()]
        assert seqs == list(range(1, 3001))
        assert [m.seq for m in conv.messages] == seqs[-len(conv.messages) :]
        engine.register_agent(ScriptedAgent("b", ["back"]))
        assert (await engine.run_agent_turn("b")).seq == 3001
        assert len(conv) == 3001
