"""One measured run of one workload on one framework, in its own process.

``python -m bench.peers.worker '{"fw": ..., "wl": ..., "n": ..., ...}'`` imports
only the framework it is asked about, runs a small untimed warm-up, then the
timed run, and prints one JSON line: ``{"seconds", "count", "bytes", ...}``.
``count`` is how many messages the timed part actually handled (a run with a
``deadline`` may stop early and says so with ``"capped": true``).

Every model is a zero-latency scripted one, so only orchestration and
persistence are timed.  Setup (opening databases, creating rooms, building
the saved sessions for the reload workload) is outside the timing unless a
workload says otherwise.
"""

from __future__ import annotations

import asyncio
import gc
import json
import operator
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

now = time.perf_counter
REPLY = "x" * 100
AGENTS = ("a0", "a1", "a2")


def _tmp() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(
        prefix="agentroom-peers-", dir=os.environ.get("BENCH_TMPDIR")
    )


def db_bytes(path: str) -> int:
    """The database's size with its WAL checkpointed into it (and truncated)."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    total = 0
    for suffix in ("", "-wal", "-journal"):
        if os.path.exists(path + suffix):
            total += os.path.getsize(path + suffix)
    return total


# ---------------------------------------------------------------------------------------
# agentroom


def _agentroom_model() -> Any:
    from agentroom.models.types import Finished, ModelEvent, ModelRequest, TextDelta, Usage

    class InstantModel:
        """One delta, its usage, done: a model that costs nothing (as bench/room.py)."""

        label = "bench-instant"

        async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
            yield TextDelta(REPLY)
            yield Usage(10, 1)
            yield Finished("stop")

    return InstantModel()


async def agentroom_room(n: int, deadline: float | None) -> dict[str, Any]:
    from agentroom import Engine, LLMAgent
    from agentroom.coordination import MaxMessages, MultiAgentCoordinator, RoundRobin
    from agentroom.core.protocol import MessageType

    with _tmp() as folder:
        path = os.path.join(folder, "bench.db")
        async with Engine.open(path, title="bench") as engine:
            model = _agentroom_model()
            for name in AGENTS:
                engine.register_agent(LLMAgent(name, model))
            coordinator = MultiAgentCoordinator(engine, RoundRobin(list(AGENTS)), MaxMessages(n))
            await engine.flush()  # room and agent rows are setup, not timed
            gc.collect()
            start = now()
            result = await coordinator.run()
            await engine.flush()
            elapsed = now() - start
            # The result holds the run's newest envelopes; the whole run is in SQLite.
            said = 0
            async for env in result.read(engine.store):
                said += env.type is MessageType.MESSAGE
        return {"seconds": elapsed, "count": said, "envelopes": result.count}


async def _agentroom_store(path: str) -> tuple[Any, Any, Any, str]:
    from agentroom.bus import MessageBus
    from agentroom.store import SqliteStore

    store = await SqliteStore.open(path, durability="full")
    room = store.create_room("bench")
    await store.flush()
    bus = MessageBus(room)
    bus.attach(store.sink)
    handle = bus.register("pub")
    return store, bus, handle, room


async def agentroom_append(n: int, deadline: float | None, each: bool) -> dict[str, Any]:
    """N appends one at a time, as a live room makes them.

    Live (``each=False``): every message is its own ``publish``, and the loop
    turns over between two of them (a live room always awaits something
    between messages), so the store's writer commits what has arrived in
    groups while the appends go on; the clock stops when the last group is
    committed.  ``each=True``: a ``flush`` after every append, so each message
    is committed (and synced) before the next is made, as the SDK's
    ``add_items`` does.
    """
    with _tmp() as folder:
        path = os.path.join(folder, "bench.db")
        store, bus, handle, _ = await _agentroom_store(path)
        gc.collect()
        count = 0
        commits = store.sink.commits
        start = now()
        stop = None if deadline is None else start + deadline
        for _ in range(n):
            await handle.publish(REPLY)
            if each:
                await store.flush()  # durable before the next one
            else:
                await asyncio.sleep(0)
            count += 1
            if stop is not None and now() > stop:
                break
        await store.flush()
        elapsed = now() - start
        groups = store.sink.commits - commits
        await bus.aclose()
        await store.close()
        return {"seconds": elapsed, "count": count, "bytes": db_bytes(path), "commits": groups}


async def agentroom_build(path: str, n: int) -> None:
    store, bus, handle, room = await _agentroom_store(path)
    for _ in range(n):
        await handle.publish(REPLY)
    await store.flush()
    await bus.aclose()
    await store.close()
    with open(path + ".room", "w") as fh:  # noqa: ASYNC230 (setup, untimed)
        fh.write(room)


async def agentroom_reload(path: str) -> dict[str, Any]:
    from agentroom.store import SqliteStore

    with open(path + ".room") as fh:  # noqa: ASYNC230 (before the timing)
        room = fh.read()
    gc.collect()
    start = now()
    store = await SqliteStore.open(path, durability="full")
    count = 0
    async for envelope in store.read_envelopes(room):
        count += 1
        last = envelope
    elapsed = now() - start
    assert last.content == REPLY
    await store.close()
    return {"seconds": elapsed, "count": count}


# ---------------------------------------------------------------------------------------
# AutoGen (autogen-agentchat + autogen-ext's ReplayChatCompletionClient)


def _replay_client(replies: int) -> Any:
    from autogen_ext.models.replay import ReplayChatCompletionClient

    class InstantReplay(ReplayChatCompletionClient):
        """The stock replay client, minus its word count of the whole prompt.

        ``ReplayChatCompletionClient.create`` splits every prompt message into
        words to fake a token count; that is the fake model's cost (and grows
        with the history), not AutoGen's, so it is skipped here just as
        agentroom's bench uses an instant model instead of its ReplayClient.
        """

        def _tokenize(self, messages: Any) -> tuple[list[str], int]:
            return [], 10

    return InstantReplay([REPLY] * replies)


async def autogen_room(n: int, deadline: float | None) -> dict[str, Any]:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.base import TaskResult
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.messages import TextMessage
    from autogen_agentchat.teams import RoundRobinGroupChat

    agents = [
        AssistantAgent(name, model_client=_replay_client(n // len(AGENTS) + 2)) for name in AGENTS
    ]
    # The task message counts towards MaxMessageTermination, hence n + 1.
    team = RoundRobinGroupChat(agents, termination_condition=MaxMessageTermination(n + 1))
    gc.collect()
    count = 0
    capped = False
    start = now()
    stop = None if deadline is None else start + deadline
    stream = team.run_stream(task="go")
    async for item in stream:
        if isinstance(item, TaskResult):
            break
        if isinstance(item, TextMessage) and item.source in AGENTS:
            count += 1
            if stop is not None and now() > stop and count < n:
                capped = True
                break
    elapsed = now() - start
    if capped:
        await stream.aclose()
    return {"seconds": elapsed, "count": count, "capped": capped}


# ---------------------------------------------------------------------------------------
# LangGraph (StateGraph + AsyncSqliteSaver from langgraph-checkpoint-sqlite)


class MessagesState(TypedDict):
    """operator.add on plain dicts: the cheapest reducer LangGraph offers for a message
    list (``add_messages`` also converts to LangChain messages and merges by id)."""

    messages: Annotated[list, operator.add]


def _messages_state() -> Any:
    return MessagesState


async def langgraph_room(n: int, deadline: float | None) -> dict[str, Any]:
    """Three async nodes in a cycle, default (``"async"``) durability.

    The deadline is checked on the updates stream; checkpoint writes that are
    still queued when it passes are drained (and timed) afterwards, so a capped
    run can overrun its deadline.
    """
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.graph import END, START, StateGraph

    state = _messages_state()
    graph = StateGraph(state)

    def make(name: str) -> Any:
        message = {"role": "assistant", "name": name, "content": REPLY}

        async def node(s: Any) -> dict[str, Any]:
            return {"messages": [message]}

        return node

    for name in AGENTS:
        graph.add_node(name, make(name))
    graph.add_edge(START, AGENTS[0])
    for i, name in enumerate(AGENTS):
        following = AGENTS[(i + 1) % len(AGENTS)]
        graph.add_conditional_edges(
            name,
            lambda s, f=following: END if len(s["messages"]) >= n else f,
            [following, END],
        )
    with _tmp() as folder:
        path = os.path.join(folder, "bench.db")
        async with AsyncSqliteSaver.from_conn_string(path) as saver:
            await saver.setup()
            app = graph.compile(checkpointer=saver)
            config = {"configurable": {"thread_id": "bench"}, "recursion_limit": n + 10}
            gc.collect()
            count = 0
            capped = False
            start = now()
            stop = None if deadline is None else start + deadline
            stream = app.astream({"messages": []}, config, stream_mode="updates")
            async for _update in stream:
                count += 1
                if stop is not None and now() > stop and count < n:
                    capped = True
                    break
            if capped:
                await stream.aclose()
            elapsed = now() - start
        return {"seconds": elapsed, "count": count, "capped": capped}


def _append_graph() -> Any:
    from langgraph.graph import START, StateGraph

    graph = StateGraph(_messages_state())

    async def receive(s: Any) -> dict[str, Any]:
        return {}

    graph.add_node("receive", receive)
    graph.add_edge(START, "receive")
    return graph


async def langgraph_append(n: int, deadline: float | None) -> dict[str, Any]:
    """One ``ainvoke`` per message on one thread: how a live LangGraph chat grows."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    graph = _append_graph()
    with _tmp() as folder:
        path = os.path.join(folder, "bench.db")
        async with AsyncSqliteSaver.from_conn_string(path) as saver:
            await saver.setup()
            app = graph.compile(checkpointer=saver)
            config = {"configurable": {"thread_id": "bench"}}
            message = {"role": "user", "content": REPLY}
            gc.collect()
            count = 0
            start = now()
            stop = None if deadline is None else start + deadline
            for _ in range(n):
                await app.ainvoke({"messages": [message]}, config, durability="sync")
                count += 1
                if stop is not None and now() > stop:
                    break
            elapsed = now() - start
        return {
            "seconds": elapsed,
            "count": count,
            "capped": count < n,
            "bytes": db_bytes(path),
        }


async def langgraph_build(path: str, n: int) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        await saver.setup()
        app = _append_graph().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "bench"}}
        messages = [{"role": "user", "content": REPLY} for _ in range(n)]
        await app.ainvoke({"messages": messages}, config, durability="sync")


async def langgraph_reload(path: str) -> dict[str, Any]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    gc.collect()
    start = now()
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        saved = await saver.aget_tuple({"configurable": {"thread_id": "bench"}})
        messages = saved.checkpoint["channel_values"]["messages"]
        count = 0
        for message in messages:  # in order, as the other readers do
            count += 1
            last = message
        elapsed = now() - start
    assert last["content"] == REPLY
    return {"seconds": elapsed, "count": count}


# ---------------------------------------------------------------------------------------
# OpenAI Agents SDK (agents.SQLiteSession)


async def openai_append(n: int, deadline: float | None) -> dict[str, Any]:
    from agents import SQLiteSession

    with _tmp() as folder:
        path = os.path.join(folder, "bench.db")
        session = SQLiteSession("bench", path)
        await session.add_items([])  # nothing; the schema is made in __init__
        item = {"role": "user", "content": REPLY}
        gc.collect()
        count = 0
        start = now()
        stop = None if deadline is None else start + deadline
        for _ in range(n):
            await session.add_items([item])  # one commit per call
            count += 1
            if stop is not None and now() > stop:
                break
        elapsed = now() - start
        session.close()
        return {
            "seconds": elapsed,
            "count": count,
            "capped": count < n,
            "bytes": db_bytes(path),
        }


async def openai_build(path: str, n: int) -> None:
    from agents import SQLiteSession

    session = SQLiteSession("bench", path)
    await session.add_items([{"role": "user", "content": REPLY} for _ in range(n)])
    session.close()


async def openai_reload(path: str) -> dict[str, Any]:
    from agents import SQLiteSession

    gc.collect()
    start = now()
    session = SQLiteSession("bench", path)
    items = await session.get_items()
    count = 0
    for item in items:
        count += 1
        last = item
    elapsed = now() - start
    session.close()
    assert last["content"] == REPLY
    return {"seconds": elapsed, "count": count}


# ---------------------------------------------------------------------------------------

ROOM = {"agentroom": agentroom_room, "autogen": autogen_room, "langgraph": langgraph_room}
APPEND = {
    "agentroom": lambda n, d: agentroom_append(n, d, each=False),
    "agentroom-each": lambda n, d: agentroom_append(n, d, each=True),
    "openai-agents": openai_append,
    "langgraph": langgraph_append,
}
BUILD = {"agentroom": agentroom_build, "openai-agents": openai_build, "langgraph": langgraph_build}
RELOAD = {
    "agentroom": agentroom_reload,
    "openai-agents": openai_reload,
    "langgraph": langgraph_reload,
}
WARMUP = 60  # messages in the untimed warm-up run (imports, first-call caches)


async def main(job: dict[str, Any]) -> dict[str, Any]:
    fw, wl = job["fw"], job["wl"]
    n, deadline = job.get("n", 0), job.get("deadline")
    if fw.startswith("agentroom"):
        from agentroom.cli.runtime import tune_gc

        tune_gc()  # as the agentroom command does
    if wl == "room":
        await ROOM[fw](WARMUP, None)
        return await ROOM[fw](n, deadline)
    if wl == "append":
        await APPEND[fw](WARMUP, None)
        return await APPEND[fw](n, deadline)
    if wl == "build":
        start = now()
        await BUILD[fw](job["path"], n)
        return {"seconds": now() - start, "count": n, "bytes": db_bytes(job["path"])}
    if wl == "reload":
        return await RELOAD[fw](job["path"])
    raise SystemExit(f"unknown workload {wl!r}")


if __name__ == "__main__":
    result = asyncio.run(main(json.loads(sys.argv[1])))
    print(json.dumps(result), flush=True)
