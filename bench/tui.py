"""The terminal UI on a big session: opening, paging, replaying, and the live transcript.

A session of 100,000 envelopes (3 scripted agents) is made once per run.
Measured:

- resuming it: ``Engine.open(session_id=...)`` with every agent's conversation
  rebuilt from SQLite (what opening the room on a saved session costs);
- the replay screen: opening it on the session and jumping to its end, in a
  headless Textual app (``run_test``);
- the live transcript: 3,000 messages added in batches of 10 (a busy room at
  the 20 Hz flush); the cost per batch, and that the window stays bounded.
"""

from __future__ import annotations

import os
import time

from agentroom import Engine, ScriptedAgent
from agentroom.core.protocol import Envelope
from agentroom.store import SqliteStore
from bench.util import Result, note, report, section, tempdir

SIZE = 100_000
LIVE = 3_000
BATCH = 10


async def _make(path: str) -> str:
    async with Engine.open(path, title="big") as engine:
        names = ("a", "b", "c")
        for name in names:
            engine.register_agent(ScriptedAgent(name, lambda turn: "x" * 100))
        for i in range(SIZE):
            await engine.run_agent_turn(names[i % 3])
        await engine.flush()
        return engine.session_id


async def _resume(path: str, sid: str) -> float:
    start = time.perf_counter()
    async with Engine.open(path, session_id=sid) as engine:
        assert len(engine.conversations.get_agent_conversation("a")) == SIZE
        return time.perf_counter() - start


async def _replay(path: str, sid: str) -> tuple[float, float]:
    from textual.app import App

    from agentroom.tui.replay import ReplayScreen

    store = await SqliteStore.open(path)
    try:
        app = App()
        async with app.run_test(size=(120, 40)) as pilot:
            start = time.perf_counter()
            screen = ReplayScreen(store, sid, autoplay=False)
            await app.push_screen(screen)
            await pilot.pause()
            opened = time.perf_counter() - start
            start = time.perf_counter()
            await screen.jump(SIZE)
            await pilot.pause()
            jumped = time.perf_counter() - start
        return opened, jumped
    finally:
        await store.close()


async def _live() -> tuple[float, int]:
    from textual.app import App, ComposeResult

    from agentroom.tui.widgets.transcript import Transcript

    class Host(App):
        def compose(self) -> ComposeResult:
            yield Transcript(id="t")

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        transcript = app.query_one(Transcript)
        costs = []
        for start in range(0, LIVE, BATCH):
            batch = [
                Envelope(sender="a", content=f"message {n} " + "word " * 30, seq=n + 1)
                for n in range(start, start + BATCH)
            ]
            began = time.perf_counter()
            await transcript.add(batch)
            await pilot.pause()
            costs.append(time.perf_counter() - began)
        costs.sort()
        return costs[len(costs) // 2], len(transcript.children)


async def run() -> list[Result]:
    section(f"tui: a session of {SIZE:,} envelopes; a live transcript of {LIVE:,} messages")
    results = []
    with tempdir() as folder:
        path = os.path.join(folder, "big.db")
        sid = await _make(path)
        results.append(
            report(
                f"resume a {SIZE:,}-envelope session (Engine.open)", await _resume(path, sid), "s"
            )
        )
        opened, jumped = await _replay(path, sid)
        results.append(report("replay screen: open on it", opened * 1000, "ms"))
        results.append(report(f"replay screen: jump to #{SIZE:,}", jumped * 1000, "ms"))
    per_batch, shown = await _live()
    results.append(
        report(f"live transcript: add a batch of {BATCH} messages", per_batch * 1000, "ms median")
    )
    note(f"{shown} widgets on screen after {LIVE:,} messages (the window is bounded)")
    return results
