"""Memory and time of a long room: live, resumed, shown, and listed among many.

Issue 11 measured that memory grew with the whole session rather than the
window.  This benchmark builds a big session the way a real room does and
measures each step in a process of its own, reporting that process's peak
resident memory (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in the small
process that starts it, ``bench/peak.py``) and its wall time:

- **live**: a room of ``AGENTS`` ``LLMAgent``\\ s on an instant model, round-robin
  under a :class:`MultiAgentCoordinator` until ``MaxMessages(MESSAGES)``, on a
  real engine (bus, SQLite store, every agent's conversation, usage ledger).
  Every reply is streamed (``CHUNKS`` status chunks) and reports its usage, so
  the log holds ``CHUNKS + 2`` envelopes per message, as a real room's does.
- **resume**: ``Engine.open(session_id=...)``, every agent registered again,
  the coordinator resumed from its checkpoint, and one more turn.
- **show --json** / **show**: ``agentroom sessions show ID [--json] > /dev/null``.
- **list**: ``agentroom sessions list [--json]`` on a database of ``SESSIONS``
  saved sessions, each with its workflow in its metadata (as ``agentroom run``
  saves it), 3 agents and a few envelopes.

Sizes are parameters: ``python -m bench.memory --agents 50 --messages 100000
--sessions 1000`` (``python -m bench memory`` uses these defaults, or
``BENCH_MEMORY_AGENTS`` / ``BENCH_MEMORY_MESSAGES`` / ``BENCH_MEMORY_SESSIONS``).
Goal: every peak under 200 MB, whatever the session's length.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bench.util import Result, note, report, section, tempdir

AGENTS = int(os.environ.get("BENCH_MEMORY_AGENTS", "50"))
MESSAGES = int(os.environ.get("BENCH_MEMORY_MESSAGES", "100000"))
SESSIONS = int(os.environ.get("BENCH_MEMORY_SESSIONS", "1000"))
CAP_MB = int(os.environ.get("BENCH_MEMORY_CAP_MB", "6000"))
CHUNKS = 1
GOAL_MB = 200.0
REPLY = "x" * 100
WORKFLOW = Path(__file__).resolve().parent.parent / "sample_workflows" / "debate.yaml"


class _InstantModel:
    """A reply in ``CHUNKS`` deltas, its usage, done: a model that costs nothing."""

    label = "bench-instant"

    async def stream(self, request: object) -> AsyncIterator[object]:
        from agentroom.models.types import Finished, TextDelta, Usage

        for _ in range(CHUNKS):
            yield TextDelta(REPLY)
        yield Usage(10, 1)
        yield Finished("stop")


def _names(agents: int) -> list[str]:
    return [f"agent{i:02d}" for i in range(agents)]


def _agents(agents: int) -> list[object]:
    from agentroom import LLMAgent

    model = _InstantModel()
    # stream_interval 0: every delta is published as a chunk, as a slow model's would be.
    return [LLMAgent(name, model, stream_interval=0) for name in _names(agents)]


# -- the steps, each run in a process of its own ----------------------------------------------


async def live(db: str, agents: int, messages: int) -> str:
    """Run the room until ``messages`` messages; print and return its session id."""
    from agentroom import Engine
    from agentroom.coordination import MaxMessages, MultiAgentCoordinator, RoundRobin

    async with Engine.open(db, title="memory bench") as engine:
        for agent in _agents(agents):
            engine.register_agent(agent)  # type: ignore[arg-type]
        coordinator = MultiAgentCoordinator(
            engine, RoundRobin(_names(agents)), MaxMessages(messages)
        )
        result = await coordinator.run("Talk among yourselves.")
        await engine.flush()
        print(json.dumps({"session": engine.session_id, "reason": result.reason}))
        return engine.session_id


async def resume(db: str, session: str, agents: int) -> None:
    """Reopen the saved room, bring every agent back, resume the coordinator, one turn."""
    from agentroom import Engine
    from agentroom.coordination import MaxMessages, MultiAgentCoordinator, RoundRobin

    async with Engine.open(db, session_id=session) as engine:
        for agent in _agents(agents):
            engine.register_agent(agent)  # type: ignore[arg-type]
        coordinator = MultiAgentCoordinator(engine, RoundRobin(_names(agents)), MaxMessages(1))
        saved = await engine.store.load_room_state(session)
        if saved is not None:
            await coordinator.resume_from(saved[1], fresh_budget=True)
        result = await coordinator.run()
        print(json.dumps({"turns": result.turns, "reason": result.reason}))


async def populate(db: str, sessions: int) -> None:
    """``sessions`` saved rooms as ``agentroom run`` leaves them (workflow in the metadata)."""
    from agentroom.bus import MessageBus
    from agentroom.conversation import ConversationManager
    from agentroom.room.builder import workflow_metadata
    from agentroom.room.workflows import load_workflow
    from agentroom.store import SqliteStore

    workflow = load_workflow(WORKFLOW)
    metadata = workflow_metadata(workflow, str(WORKFLOW), "offline")
    names = [a.id for a in workflow.agents][:3]
    async with await SqliteStore.open(db) as store:
        for i in range(sessions):
            room = store.create_room(f"{workflow.name} {i}", metadata)
            bus = MessageBus(room)
            bus.attach(store.sink)
            manager = ConversationManager(room, store)
            bus.attach(manager)
            handles = [bus.register(name) for name in names]
            for name in names:
                manager.create_agent_conversation(name)
            for n in range(6):
                await handles[n % len(handles)].publish(f"message {n} of room {i}")
            store.set_room_state(room, "stopped")
            await bus.aclose()
        await store.flush()


# -- measuring ----------------------------------------------------------------------------------


class OverCap(Exception):
    """The step needed more address space than ``CAP_MB`` allows (it was stopped)."""


PEAK = Path(__file__).with_name("peak.py")


def _measure(argv: list[str], stdout: int | None = subprocess.DEVNULL) -> tuple[float, float, str]:
    """Run ``argv``; return its peak RSS in MB, its wall time in s and what it printed.

    It is started by ``bench/peak.py`` (see there why), which reads the peak
    with ``getrusage(RUSAGE_CHILDREN)`` and stops a step whose memory passes
    ``CAP_MB`` (``sessions show --json`` before issue 11 would need tens of
    gigabytes here): :class:`OverCap`.
    """
    with (
        tempfile.TemporaryFile("w+") as errors,
        tempfile.TemporaryFile("w+") as output,
        tempfile.NamedTemporaryFile("r") as result,
    ):
        subprocess.run(
            [sys.executable, "-S", str(PEAK), result.name, str(CAP_MB), *argv],
            stdout=output if stdout is None else stdout,
            stderr=errors,
            check=True,
        )
        measured = json.load(result)
        if measured["over_cap"]:
            raise OverCap(f"stopped at the {CAP_MB:,} MB cap after {measured['seconds']:,.0f} s")
        if measured["returncode"] != 0:
            errors.seek(0)
            raise RuntimeError(
                f"{' '.join(argv[2:8])} failed ({measured['returncode']}): {errors.read()[-2000:]}"
            )
        output.seek(0)
        return measured["peak_mb"], measured["seconds"], output.read()


def _step(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.memory", *args]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agentroom", *args]


def _report(label: str, argv: list[str]) -> list[Result]:
    try:
        peak, seconds, _ = _measure(argv)
    except OverCap as exc:
        note(f"{label}: {exc}")
        return [
            report(
                f"{label}: peak memory", CAP_MB, "MB (over)", goal=GOAL_MB, higher_is_better=False
            )
        ]
    return _results(label, peak, seconds)


def _results(label: str, peak: float, seconds: float) -> list[Result]:
    return [
        report(f"{label}: peak memory", peak, "MB", goal=GOAL_MB, higher_is_better=False),
        report(f"{label}: time", seconds, "s"),
    ]


def measure_all(agents: int, messages: int, sessions: int) -> list[Result]:
    results: list[Result] = []
    with tempdir() as folder:
        db = os.path.join(folder, "big.db")
        peak, seconds, out = _measure(_step("live", db, str(agents), str(messages)), stdout=None)
        session = json.loads(out.strip().splitlines()[-1])["session"]
        results += _results(f"live room, {agents} agents, to {messages:,} messages", peak, seconds)
        note(f"database {os.path.getsize(db) / 2**20:,.0f} MB; session {session}")
        results += _report(
            f"resume it (Engine.open, {agents} agents back, a turn)",
            _step("resume", db, session, str(agents)),
        )
        results += _report(
            "agentroom sessions show ID --json > /dev/null",
            _cli("--db", db, "sessions", "show", session, "--json"),
        )
        results += _report(
            "agentroom sessions show ID > /dev/null", _cli("--db", db, "sessions", "show", session)
        )
    with tempdir() as folder:
        db = os.path.join(folder, "many.db")
        subprocess.run(_step("populate", db, str(sessions)), check=True)
        results += _report(
            f"agentroom sessions list, {sessions:,} sessions", _cli("--db", db, "sessions", "list")
        )
        results += _report(
            f"agentroom sessions list --json, {sessions:,} sessions",
            _cli("--db", db, "sessions", "list", "--json"),
        )
    return results


async def run() -> list[Result]:
    section(
        f"memory: a {AGENTS}-agent room to {MESSAGES:,} messages ({CHUNKS} stream chunk and "
        f"a usage status each), each step in its own process (peak RSS, wall time)"
    )
    return measure_all(AGENTS, MESSAGES, SESSIONS)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--agents", type=int, default=AGENTS)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    sub = parser.add_subparsers(dest="step")
    one = sub.add_parser("live")
    one.add_argument("db")
    one.add_argument("agents", type=int)
    one.add_argument("messages", type=int)
    two = sub.add_parser("resume")
    two.add_argument("db")
    two.add_argument("session")
    two.add_argument("agents", type=int)
    three = sub.add_parser("populate")
    three.add_argument("db")
    three.add_argument("sessions", type=int)
    args = parser.parse_args(argv)
    from agentroom.cli.runtime import tune_gc

    tune_gc()  # as the agentroom command does
    if args.step == "live":
        asyncio.run(live(args.db, args.agents, args.messages))
    elif args.step == "resume":
        asyncio.run(resume(args.db, args.session, args.agents))
    elif args.step == "populate":
        asyncio.run(populate(args.db, args.sessions))
    else:
        section(
            f"memory: a {args.agents}-agent room to {args.messages:,} messages, "
            f"{args.sessions:,} sessions listed"
        )
        measure_all(args.agents, args.messages, args.sessions)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
