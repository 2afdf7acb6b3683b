"""Forking a saved session at a seq, and deleting one: the store side of the session browser."""

from __future__ import annotations

import sqlite3

import pytest

from agentroom import Engine, MessageType, Reply, ScriptedAgent, SqliteStore
from agentroom.coordination import MaxTurns, MultiAgentCoordinator, RoundRobin
from agentroom.core.errors import SessionBusyError, SessionNotFoundError
from agentroom.core.protocol import Envelope, Message
from agentroom.room.builder import workflow_metadata
from agentroom.room.fork import delete_session, fork_session
from agentroom.room.workflows import parse_workflow

TRIO = """
name: trio
agents:
  - id: alice
  - id: bob
  - id: carol
strategy:
  name: round-robin
termination:
  max_turns: 9
"""
ORDER = ["alice", "bob", "carol"]


def trio_agents() -> list[ScriptedAgent]:
    def bob(turn):  # answers the last thing it saw, as a reply to it
        last = turn.messages[-1]
        return Reply(f"bob answers #{last.seq}", reply_to=last.envelope_id)

    return [
        ScriptedAgent("alice", ["alice one", Reply("psst, bob", to="bob"), "alice three"]),
        ScriptedAgent("bob", bob),
        ScriptedAgent("carol", lambda turn: f"carol saw {len(turn.messages)}"),
    ]


async def run_trio(db_path) -> str:
    """A finished round-robin room: 9 turns, one of them a private message to bob."""
    workflow = parse_workflow(TRIO)
    meta = workflow_metadata(workflow, "trio.yaml", "offline")
    async with Engine.open(db_path, title="trio", metadata=meta) as engine:
        for agent in trio_agents():
            engine.register_agent(agent)
        coordinator = MultiAgentCoordinator(engine, RoundRobin(ORDER), MaxTurns(9))
        await coordinator.run("talk among yourselves")
        return engine.session_id


def shape(env: Envelope) -> tuple:
    return (
        env.seq,
        env.sender,
        env.receiver,
        env.type,
        env.content,
        env.created_at,
        env.metadata,
    )


def message_shape(m: Message) -> tuple:
    return (m.role, m.content, m.agent_id, m.recipient_id, m.message_type, m.seq, m.created_at)


async def transcript(store: SqliteStore, sid: str) -> list[Envelope]:
    return [e async for e in store.read_envelopes(sid)]


async def test_a_fork_is_the_source_prefix_with_new_ids_and_the_agents_views(db_path):
    source = await run_trio(db_path)
    # task (1), alice (3), bob (5), carol (7), alice -> bob privately (9), bob (11); before
    # each turn, the room says who speaks (2, 4, 6, 8, 10)
    upto = 11
    async with await SqliteStore.open(db_path) as store:
        fork = await fork_session(store, source, upto)
        src = await transcript(store, source)
        got = await transcript(store, fork)
        assert [e.content for e in src[:upto] if e.type is MessageType.MESSAGE] == [
            "talk among yourselves",
            "alice one",
            "bob answers #3",
            "carol saw 3",
            "psst, bob",
            "bob answers #9",
        ]
        assert src[8].receiver == "bob"
        assert [shape(e) for e in got] == [shape(e) for e in src if e.seq <= upto]
        assert {e.id for e in got}.isdisjoint(e.id for e in src)
        assert all(e.session_id == fork for e in got)
        # reply_to follows the copies: bob's answers point at the fork's own envelopes
        by_id = {e.id: e for e in got}
        replies = [e for e in got if e.reply_to is not None]
        assert [(e.seq, by_id[e.reply_to].seq) for e in replies] == [(5, 3), (11, 9)]

        # each agent's own view: the source's, cut at the fork point
        from agentroom.conversation import ConversationManager

        before = await ConversationManager.load(store, source)
        after = await ConversationManager.load(store, fork)
        assert sorted(after.agent_sessions) == ORDER
        for name in ORDER:
            want = [
                message_shape(m)
                for m in before.get_agent_conversation(name).messages
                if m.seq <= upto
            ]
            have = after.get_agent_conversation(name).messages
            assert [message_shape(m) for m in have] == want
            assert {m.envelope_id for m in have} <= set(by_id)
        carol = [m.content for m in after.get_agent_conversation("carol").messages]
        assert "psst, bob" not in carol  # a private message stays private in the fork

        room = await store.get_room(fork)
        origin = await store.get_room(source)
        assert room.title == "trio (fork at #11)"
        assert room.metadata["forked_from"] == {"session": source, "seq": upto}
        for key in ("workflow", "workflow_path", "model"):
            assert room.metadata[key] == origin.metadata[key]
        assert room.metadata["workflow_path"] == "trio.yaml"
        assert room.last_seq == upto and room.messages == 6 and room.live_state == "stopped"
        assert room.agents == tuple(ORDER)

        seq, state = await store.load_room_state(fork)
        assert seq == upto
        assert state["turns"] == 5 and state["stopped"] is None
        assert state["last_speaker"] == "bob"
        assert state["strategy"] == "round-robin"
        assert state["strategy_state"] == {"cursor": 2}  # carol is next
        _, source_state = await store.load_room_state(source)
        assert source_state["turns"] == 9 and source_state["stopped"]


async def test_a_fork_resumes_at_the_next_seq_and_leaves_the_source_alone(db_path):
    source = await run_trio(db_path)
    async with await SqliteStore.open(db_path) as store:
        fork = await fork_session(store, source[:12], 11, title="what if")
        before = await transcript(store, source)
        source_room = await store.get_room(source)
    assert (await _title(db_path, fork)) == "what if"

    async with Engine.open(db_path, session_id=fork) as engine:
        for agent in trio_agents():
            engine.register_agent(agent)
        _, state = await engine.store.load_room_state(fork)
        coordinator = MultiAgentCoordinator(engine, RoundRobin(ORDER), MaxTurns(2))
        await coordinator.resume_from(state, fresh_budget=False)
        result = await coordinator.run(None)
    said = [e for e in result.envelopes if e.type is MessageType.MESSAGE]
    # the round goes on where the fork point left it: carol, then alice; seq from 12
    assert [(e.seq, e.sender) for e in said] == [(13, "carol"), (15, "alice")]
    assert said[0].content == "carol saw 5"  # the 6 messages but bob's secret
    assert said[0].session_id == fork

    async with await SqliteStore.open(db_path) as store:
        assert await transcript(store, source) == before
        again = await store.get_room(source)
        assert (again.last_seq, again.messages) == (source_room.last_seq, source_room.messages)
        assert (await store.get_room(fork)).last_seq > 11


async def _title(db_path, sid: str) -> str:
    async with await SqliteStore.open(db_path) as store:
        return (await store.get_room(sid)).title


async def test_fork_at_zero_and_out_of_range(db_path):
    source = await run_trio(db_path)
    async with await SqliteStore.open(db_path) as store:
        empty = await fork_session(store, source, 0)
        assert await transcript(store, empty) == []
        _, state = await store.load_room_state(empty)
        assert state["turns"] == 0 and state["strategy_state"] == {"cursor": 0}
        last = await store.last_seq(source)
        with pytest.raises(ValueError, match=f"#1 to #{last}"):
            await fork_session(store, source, last + 1)
        with pytest.raises(SessionNotFoundError):
            await fork_session(store, "nope", 1)


async def test_delete_session_removes_every_row_of_the_room_only(db_path):
    keep = await run_trio(db_path)
    gone = await run_trio(db_path)
    async with await SqliteStore.open(db_path) as store:
        fork = await fork_session(store, gone, 4)
        await delete_session(store, gone)
        with pytest.raises(SessionNotFoundError):
            await store.get_room(gone)
        assert {r.id for r in await store.list_rooms()} == {keep, fork}
        assert len(await transcript(store, fork)) == 4  # a fork is a copy: it stays
        # the store still writes to the rooms it has open
        await store.open_room(fork)
        again = await fork_session(store, fork, 2)
        assert len(await transcript(store, again)) == 2
    with sqlite3.connect(db_path) as db:
        rooms = {uid: key for key, uid in db.execute("SELECT id, uid FROM rooms")}
        assert gone not in rooms
        live = set(rooms.values())
        for table in ("envelopes", "participants", "agent_sessions", "room_state"):
            owners = {r for (r,) in db.execute(f"SELECT DISTINCT room FROM {table}")}
            assert owners <= live, table
        sessions = {k for (k,) in db.execute("SELECT id FROM agent_sessions")}
        for table in ("history", "checkpoints"):
            owners = {r for (r,) in db.execute(f"SELECT DISTINCT agent_session FROM {table}")}
            assert owners <= sessions, table


async def test_a_running_session_is_not_deleted(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("alice", ["hi"]))
        await engine.run_agent_turn("alice")
        await engine.flush()
        with pytest.raises(SessionBusyError, match="running"):
            await delete_session(engine.store, engine.session_id)
        assert (await engine.store.get_room(engine.session_id)).messages == 1
