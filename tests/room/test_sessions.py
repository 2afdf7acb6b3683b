"""The sessions service, as the CLI and the TUI use it, against a real SQLite file.

List, find, show (with usage), read forward and page back, export, fork and
delete: each through :class:`~agentroom.room.sessions.Sessions`.  What a
fork copies (each agent's own view, the coordinator's state at the fork
point) is checked in the database the fork was made in.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import stat

import pytest

from agentroom import Engine, HumanAgent, MessageType, Reply, ScriptedAgent, SqliteStore
from agentroom.agents import LLMAgent
from agentroom.agents.base import AgentSettings
from agentroom.coordination import MaxTurns, MultiAgentCoordinator, RoundRobin
from agentroom.core.errors import SessionBusyError, SessionNotFoundError
from agentroom.core.protocol import Envelope, Message
from agentroom.models import ReplayClient
from agentroom.models.offline import OfflineModel
from agentroom.models.types import SEEDS
from agentroom.room.builder import workflow_metadata
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.sessions import Sessions
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


async def transcript(sessions: Sessions, sid: str) -> list[Envelope]:
    return [e async for e in sessions.read(sid)]


async def carol_session(db_path, title: str, turns: int) -> str:
    async with Engine.open(db_path, title=title, metadata={"note": title}) as engine:
        engine.register_agent(ScriptedAgent("carol", lambda turn: f"line {len(turn.messages)}"))
        for _ in range(turns):
            await engine.run_agent_turn("carol")
        return engine.session_id


def shared_prefix(a: str, b: str) -> int:
    return next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)


# -- listing, finding, showing ------------------------------------------------------------------


async def test_recent_lists_the_latest_first_and_find_takes_a_unique_prefix(db_path):
    first = await carol_session(db_path, "first", 2)
    second = await carol_session(db_path, "second", 5)
    async with await Sessions.open(db_path) as sessions:
        listed = await sessions.recent()
        assert [(r.id, r.title, r.messages, r.agents) for r in listed] == [
            (second, "second", 5, ("carol",)),
            (first, "first", 2, ("carol",)),
        ]
        assert all(r.live_state == "stopped" and r.metadata == {} for r in listed)
        [latest] = await sessions.recent(1, metadata=True)
        seed = latest.metadata.pop("seed")  # every session samples with a seed of its own
        assert latest.id == second and latest.metadata == {"note": "second"}
        assert isinstance(seed, int) and 0 <= seed < SEEDS

        found = await sessions.find(first[:13])
        assert (found.id, found.title, found.last_seq) == (first, "first", 2)
        with pytest.raises(SessionNotFoundError, match="no saved session matches"):
            await sessions.find("no-such-session")
        with pytest.raises(SessionNotFoundError, match="matches several sessions"):
            await sessions.find(first[: shared_prefix(first, second)])


async def test_an_empty_database_has_no_sessions(db_path):
    async with await Sessions.open(db_path) as sessions:
        assert await sessions.recent() == []
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


async def test_show_gives_the_room_and_its_usage_over_the_first_envelopes(db_path):
    async with Engine.open(db_path, title="priced") as engine:
        engine.register_agent(LLMAgent("a", ReplayClient(["one two three", "four five"])))
        await engine.run_agent_turn("a")
        await engine.run_agent_turn("a")
        sid = engine.session_id
    async with await Sessions.open(db_path) as sessions:
        everything = [e async for e in sessions.read(sid)]
        usage_seqs = [e.seq for e in everything if e.metadata.get("event") == "usage"]
        assert len(usage_seqs) == 2

        shown = await sessions.show(sid[:12])
        assert shown.room.id == sid and shown.room.title == "priced"
        assert shown.usage.total.calls == 2 and shown.usage.total.completion_tokens == 5
        assert sorted(shown.usage.by_agent) == ["a"]
        doc = shown.to_dict()
        assert doc["id"] == sid and doc["title"] == "priced" and doc["state"] == "stopped"
        assert doc["usage"]["agents"]["a"]["calls"] == 2
        json.dumps(doc)  # what the CLI prints, and a server would send

        first = await sessions.show(sid, first=usage_seqs[0])  # up to the first call's usage
        assert first.usage.total.calls == 1 and first.usage.total.completion_tokens == 3
        assert (await sessions.show(sid, first=0)).usage.total.calls == 0


# -- reading forward and paging back --------------------------------------------------------


async def test_read_goes_forward_and_read_before_pages_back(db_path):
    sid = await carol_session(db_path, "long", 30)
    async with await Sessions.open(db_path) as sessions:
        assert await sessions.last_seq(sid) == 30
        assert [e.seq async for e in sessions.read(sid)] == list(range(1, 31))
        assert [e.seq async for e in sessions.read(sid, after_seq=25)] == [26, 27, 28, 29, 30]
        picked = [e async for e in sessions.read(sid, after_seq=5, limit=3)]
        assert [(e.seq, e.sender, e.content) for e in picked] == [
            (6, "carol", "line 5"),
            (7, "carol", "line 6"),
            (8, "carol", "line 7"),
        ]
        assert all(e.session_id == sid for e in picked)
        older = await sessions.read_before(sid, 10, 4)
        assert [e.seq for e in older] == [6, 7, 8, 9]  # oldest first
        assert [e.seq for e in await sessions.read_before(sid, 3, 10)] == [1, 2]
        assert await sessions.read_before(sid, 1, 10) == []
        assert [e async for e in sessions.read(sid, after_seq=30)] == []


# -- exporting -----------------------------------------------------------------------------------


async def test_export_writes_every_envelope_as_said_to_a_writer_or_a_private_file(
    db_path, tmp_path
):
    hostile = "\x1b[2J[bold]not markup[/] \u202e and a very long line " + "x" * 20_000
    async with Engine.open(db_path, title="said") as engine:
        engine.register_agent(ScriptedAgent("a", ["hello", hostile]))
        await engine.run_agent_turn("a")
        await engine.run_agent_turn("a")
        sid = engine.session_id
    async with await Sessions.open(db_path) as sessions:
        saved = [e async for e in sessions.read(sid)]

        lines: list[str] = []
        assert await sessions.export(sid[:12], "jsonl", lines.append) == 2
        exported = [json.loads(line) for line in "".join(lines).splitlines()]
        assert exported == [e.to_dict() for e in saved]
        assert exported[1]["content"] == hostile

        path = tmp_path / "out.md"
        assert await sessions.export_to_file(sid, "md", path) == 2
        text = path.read_text()
        assert text.startswith(f"# said\n\n- session: `{sid}`\n")
        assert "### a\n" in text and hostile in text  # a file gets the text exactly
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

        with pytest.raises(ValueError, match="unknown export format"):
            await sessions.export(sid, "pdf", lines.append)
        with pytest.raises(SessionNotFoundError):
            await sessions.export_to_file("nope", "md", tmp_path / "nope.md")
        assert not (tmp_path / "nope.md").exists()


# -- forking -------------------------------------------------------------------------------------


async def test_a_fork_is_the_source_prefix_with_new_ids_and_the_agents_views(db_path):
    source = await run_trio(db_path)
    # task (1), alice (3), bob (5), carol (7), alice -> bob privately (9), bob (11); before
    # each turn, the room says who speaks (2, 4, 6, 8, 10)
    upto = 11
    async with await SqliteStore.open(db_path) as store:
        sessions = Sessions(store)
        fork = await sessions.fork(source, upto)
        src = await transcript(sessions, source)
        got = await transcript(sessions, fork)
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

        room = await sessions.find(fork)
        origin = await sessions.find(source)
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
    async with await Sessions.open(db_path) as sessions:
        fork = await sessions.fork(source[:12], 11, title="what if")
        before = await transcript(sessions, source)
        source_room = await sessions.find(source)
    async with await Sessions.open(db_path) as sessions:
        assert (await sessions.find(fork)).title == "what if"

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

    async with await Sessions.open(db_path) as sessions:
        assert await transcript(sessions, source) == before
        again = await sessions.find(source)
        assert (again.last_seq, again.messages) == (source_room.last_seq, source_room.messages)
        assert (await sessions.find(fork)).last_seq > 11


async def run_quartet(db_path) -> tuple[str, list[tuple[int, dict]]]:
    """A round-robin room where a turn is no message and a message is no turn.

    The human never answers (each of their turns is skipped: a turn, nothing said),
    and says an aside while carol has the floor (said, but nobody's turn).  Returns
    the session and every coordinator checkpoint as (seq it was taken at, state).
    """
    order = ["alice", "bob", "human", "carol"]
    async with Engine.open(db_path, title="quartet") as engine:
        human = engine.register_agent(
            HumanAgent("human", settings=AgentSettings(turn_timeout=1e-9))
        )

        async def carol(turn):
            if len(turn.messages) < 4:
                await human.say("wait, carol")  # while carol holds the floor
            return f"carol saw {len(turn.messages)}"

        engine.register_agent(ScriptedAgent("alice", lambda turn: f"alice #{len(turn.messages)}"))
        engine.register_agent(ScriptedAgent("bob", lambda turn: f"bob #{len(turn.messages)}"))
        engine.register_agent(ScriptedAgent("carol", carol))
        coordinator = MultiAgentCoordinator(engine, RoundRobin(order), MaxTurns(8))
        taken: list[tuple[int, dict]] = []
        checkpoint = coordinator.checkpoint

        def recorded() -> None:
            taken.append((engine.bus.last_seq, copy.deepcopy(coordinator.state())))
            checkpoint()

        coordinator.checkpoint = recorded  # type: ignore[method-assign]
        await coordinator.run("talk among yourselves")
        return engine.session_id, taken


def kept(state: dict) -> dict:
    """A checkpoint as a fork carries it on (a fork is a new run: a new budget, not stopped)."""
    return {k: v for k, v in state.items() if k not in ("termination", "stopped")}


async def test_a_fork_at_any_seq_goes_on_with_the_coordinator_as_it_was_there(db_path):
    source, taken = await run_quartet(db_path)
    async with await SqliteStore.open(db_path) as store:
        sessions = Sessions(store)
        said = await transcript(sessions, source)
        skipped = [e.seq for e in said if e.metadata.get("event") == "skipped"]
        aside = [e.seq for e in said if e.content == "wait, carol"]
        assert skipped and aside  # the room has both a turn with no message and the reverse
        from agentroom.conversation import ConversationManager

        before = await ConversationManager.load(store, source)
        for upto in range(1, said[-1].seq + 1):
            fork = await sessions.fork(source, upto)
            was = [(seq, state) for seq, state in taken if seq <= upto]
            saved = await store.load_room_state(fork)
            if not was:  # nothing had run yet there: the fork's run starts afresh too
                assert saved is None, upto
                continue
            state = was[-1][1] | {"termination": {}, "stopped": None}
            # taken at the seq where it last changed (what was said after is read again)
            at = next(
                seq
                for (seq, now), (_, then) in zip(was[::-1], [*was[-2::-1], (0, {})], strict=True)
                if kept(now) != kept(then)
            )
            assert saved == (at, state), upto
            after = await ConversationManager.load(store, fork)
            for name in ("alice", "bob", "carol", "human"):
                want = [
                    message_shape(m)
                    for m in before.get_agent_conversation(name).messages
                    if m.seq <= upto
                ]
                have = after.get_agent_conversation(name).messages
                assert [message_shape(m) for m in have] == want, (upto, name)


async def test_a_fork_mid_turn_gives_the_floor_to_whom_the_source_gave_it(db_path):
    source, _ = await run_quartet(db_path)
    async with await Sessions.open(db_path) as sessions:
        said = await transcript(sessions, source)
        aside = next(e.seq for e in said if e.content == "wait, carol")
        fork = await sessions.fork(source, aside)  # carol has the floor; her reply is to come
    contexts: list[list[str]] = []
    async with Engine.open(db_path, session_id=fork) as engine:
        engine.register_agent(HumanAgent("human", settings=AgentSettings(turn_timeout=1e-9)))
        for name in ("alice", "bob"):
            engine.register_agent(ScriptedAgent(name, lambda turn: "unused"))

        def carol(turn):
            contexts.append([m.content for m in turn.messages])
            return "carol, again"

        engine.register_agent(ScriptedAgent("carol", carol))
        _, state = await engine.store.load_room_state(fork)
        order = ["alice", "bob", "human", "carol"]
        coordinator = MultiAgentCoordinator(engine, RoundRobin(order), MaxTurns(1))
        await coordinator.resume_from(state, fresh_budget=False)
        result = await coordinator.run(None)
    chosen = [
        e.metadata["agent"]
        for e in result.envelopes
        if e.metadata.get("event") == "speaker_selected"
    ]
    assert chosen == ["carol"]
    shown = [e.content for e in said if e.seq <= aside and e.type is MessageType.MESSAGE]
    assert contexts == [shown]  # every message shown before the fork point, the aside too


async def test_a_room_saved_before_checkpoints_kept_their_changes_is_forked_by_counting(db_path):
    source = await run_trio(db_path)
    with sqlite3.connect(db_path) as db:  # as an agentroom before schema V5 left it
        db.execute("DELETE FROM room_state_changes")
    async with await SqliteStore.open(db_path) as store:
        fork = await Sessions(store).fork(source, 11)
        seq, state = await store.load_room_state(fork)
    assert seq == 11 and state["stopped"] is None and state["termination"] == {}
    assert (state["turns"], state["last_speaker"]) == (5, "bob")  # messages said up to #11
    assert state["strategy_state"] == {"cursor": 2}  # carol is next


async def test_fork_at_zero_and_out_of_range(db_path):
    source = await run_trio(db_path)
    async with await SqliteStore.open(db_path) as store:
        sessions = Sessions(store)
        empty = await sessions.fork(source, 0)
        assert await transcript(sessions, empty) == []
        # before anything happened there was no checkpoint: the fork's run starts afresh
        assert await store.load_room_state(empty) is None
        last = await sessions.last_seq(source)
        with pytest.raises(ValueError, match=f"#1 to #{last}"):
            await sessions.fork(source, last + 1)
        with pytest.raises(ValueError, match="cannot fork it at #-1"):
            await sessions.fork(source, -1)
        with pytest.raises(SessionNotFoundError):
            await sessions.fork("nope", 1)
        assert len(await sessions.recent()) == 2  # the refused forks left nothing


# -- deleting ------------------------------------------------------------------------------------


async def test_delete_removes_every_row_of_the_room_only(db_path):
    keep = await run_trio(db_path)
    gone = await run_trio(db_path)
    async with await SqliteStore.open(db_path) as store:
        sessions = Sessions(store)
        fork = await sessions.fork(gone, 4)
        await sessions.delete(gone[:14])
        with pytest.raises(SessionNotFoundError):
            await sessions.find(gone)
        assert {r.id for r in await sessions.recent()} == {keep, fork}
        assert len(await transcript(sessions, fork)) == 4  # a fork is a copy: it stays
        # the store still writes to the rooms it has open
        await store.open_room(fork)
        again = await sessions.fork(fork, 2)
        assert len(await transcript(sessions, again)) == 2
    with sqlite3.connect(db_path) as db:
        rooms = {uid: key for key, uid in db.execute("SELECT id, uid FROM rooms")}
        assert gone not in rooms
        live = set(rooms.values())
        for table in ("envelopes", "participants", "agent_sessions", "room_state"):
            owners = {r for (r,) in db.execute(f"SELECT DISTINCT room FROM {table}")}
            assert owners <= live, table
        agent_sessions = {k for (k,) in db.execute("SELECT id FROM agent_sessions")}
        for table in ("history", "checkpoints"):
            owners = {r for (r,) in db.execute(f"SELECT DISTINCT agent_session FROM {table}")}
            assert owners <= agent_sessions, table


async def test_a_running_session_is_not_deleted(db_path):
    async with Engine.open(db_path) as engine:
        engine.register_agent(ScriptedAgent("alice", ["hi"]))
        await engine.run_agent_turn("alice")
        await engine.flush()
        sessions = Sessions(engine.store)
        with pytest.raises(SessionBusyError, match="running"):
            await sessions.delete(engine.session_id)
        assert (await sessions.find(engine.session_id)).messages == 1
        async with await Sessions.open(db_path) as elsewhere:  # another agentroom, say
            with pytest.raises(SessionBusyError, match="stop it before deleting it"):
                await elsewhere.delete(engine.session_id)
            assert [r.id for r in await elsewhere.recent()] == [engine.session_id]


# -- a live room lends its own connection -----------------------------------------------------


async def test_a_live_room_pages_exports_and_forks_itself_through_the_service(db_path, tmp_path):
    workflow = parse_workflow(TRIO.replace("max_turns: 9", "max_turns: 3"))
    room = LiveRoom(
        RoomOptions(
            db=db_path,
            workflow=workflow,
            default_model=OfflineModel(words_per_second=0),
            feed=False,
        )
    )
    await room.open()
    try:
        engine = room.engine
        assert engine is not None
        told: list[object] = []
        stop = room.watch_health(told.append)
        result = await room.run()
        await engine.flush()
        last = engine.bus.last_seq
        said = [e async for e in room.sessions.read(engine.session_id)]
        assert [e.seq for e in said] == list(range(1, last + 1))
        assert all([await room.saved(e) for e in said])
        assert await room.sessions.read_before(engine.session_id, last + 1, 2) == said[-2:]
        assert (
            await room.sessions.export_to_file(engine.session_id, "jsonl", tmp_path / "x") == last
        )
        fork = await room.sessions.fork(engine.session_id, last)
        async with room.sessions as borrowed:  # closing a borrowed service leaves the room's
            assert (await borrowed.find(fork)).last_seq == last
        assert (await room.sessions.find(engine.session_id)).live_state == "running"
        stop()
        assert told == []  # the disk never failed
        assert result.session_id == engine.session_id
    finally:
        await room.close()
    async with await Sessions.open(db_path) as sessions:
        assert {r.id: r.live_state for r in await sessions.recent()} == {
            result.session_id: "stopped",
            fork: "stopped",
        }
