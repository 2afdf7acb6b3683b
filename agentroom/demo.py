"""The room as ``agentroom`` shows it until the terminal UI lands: agents streaming in order.

Three model-backed agents take turns on a small design question, on whatever
model resolves (the offline demo model on a machine with nothing
configured).  Everything goes through the real engine, bus and store, so the
session can be listed, shown and exported like any other.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from agentroom.agents import LLMAgent
from agentroom.engine import Engine
from agentroom.models.spec import Resolution, make_client
from agentroom.protocol import Envelope, MessageType

TASK = "Decide how the room should show an agent that is still typing."

CAST = (
    ("planner", "planner", "You turn the discussion into concrete next steps."),
    ("critic", "critic", "You look for what could go wrong and ask hard questions."),
    ("builder", "builder", "You say how you would implement it, briefly."),
)


async def run_demo(
    db_path: str | os.PathLike[str],
    resolution: Resolution,
    *,
    turns: int = 6,
    write: Callable[[str], Any] = print,
    line: Callable[[Envelope], Any] = lambda e: f"{e.sender}: {e.content}",
) -> str:
    """Run the demo room, streaming each reply as it arrives; returns the session id."""
    model = make_client(resolution.spec)
    async with Engine.open(db_path, title="demo: " + TASK) as engine:
        engine.task = TASK
        for name, role, description in CAST:
            engine.register_agent(LLMAgent(name, model, role=role, description=description))

        streaming: set[str] = set()

        def show(env: Envelope) -> None:
            event = env.metadata.get("event")
            if event == "stream":
                if env.sender not in streaming:
                    streaming.add(env.sender)
                    write(f"{env.sender}: ", end="")
                write(env.content, end="")
            elif env.type is MessageType.MESSAGE and env.sender in streaming:
                streaming.discard(env.sender)
                write("")
            elif event != "usage":
                write(line(env))

        engine.bus.subscribe(show)
        await engine.bus.announce(f"Model: {model.label}: {resolution.reason}")
        await engine.bus.announce(f"Task: {TASK}")
        for turn in range(turns):
            await engine.run_agent_turn(CAST[turn % len(CAST)][0])
        await engine.bus.announce(f"Demo finished after {turns} turns.")
        await engine.save_all()
        return engine.session_id
