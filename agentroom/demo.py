"""A short scripted room that runs anywhere: what ``agentroom`` shows until models land.

Three scripted agents take turns on a small design question.  Everything goes
through the real engine, bus and store, so the demo session can be listed,
shown and exported like any other.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from agentroom.agents import ScriptedAgent
from agentroom.engine import Engine
from agentroom.protocol import Envelope

TASK = "Decide how the room should show an agent that is still typing."

SCRIPT: dict[str, list[str]] = {
    "planner": [
        "Proposal: a single status line under the transcript, one entry per typing agent.",
        "Agreed. Next: the line lists names only, never partial text.",
        "Then we are done: status line, names only, flushed at 10 Hz. Writing it up.",
    ],
    "critic": [
        "A status line hides *what* is being typed. Could we stream the partial reply inline?",
        "Inline streaming is fine if it is flushed at 10-20 Hz, not per token.",
        "No objections left. Ship it.",
    ],
    "builder": [
        "Inline streaming costs one widget per in-flight turn; that is cheap.",
        "I will batch tokens and flush on a timer, so long replies stay smooth.",
        "Done on my side; the transcript stays ordered by seq.",
    ],
}


async def run_demo(
    db_path: str | os.PathLike[str],
    *,
    turns: int = 9,
    delay: float = 0.6,
    show: Callable[[Any], object] = print,
    line: Callable[[Envelope], Any] = lambda e: f"{e.sender}: {e.content}",
) -> str:
    """Run the demo room, showing each envelope as it is published; returns its session id."""
    async with Engine.open(db_path, title="demo: " + TASK) as engine:
        order = list(SCRIPT)
        for name in order:
            engine.register_agent(
                ScriptedAgent(name, SCRIPT[name], role=name, cycle=True, delay=delay)
            )
        engine.bus.subscribe(lambda env: show(line(env)))
        await engine.bus.announce(f"Task: {TASK}")
        for turn in range(turns):
            await engine.run_agent_turn(order[turn % len(order)])
        await engine.bus.announce(f"Demo finished after {turns} turns.")
        await engine.save_all()
        return engine.session_id
