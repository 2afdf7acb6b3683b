"""Runs a busy room forever, printing each seq that flush() acknowledged.

For test_crash and tests/faults/test_kill_busy_room, which SIGKILL it.
"""

from __future__ import annotations

import asyncio
import sys

from agentroom import Engine, ScriptedAgent

NAMES = ("a", "b", "c")


async def main(db: str) -> None:
    async with Engine.open(db, title="crash") as engine:
        sys.stdout.write(f"SESSION {engine.session_id}\n")
        sys.stdout.flush()
        for name in NAMES:
            engine.register_agent(
                ScriptedAgent(name, lambda turn, n=name: f"{n} saw {len(turn.messages)}")
            )
        turn = 0
        while True:
            for _ in range(7):
                env = await engine.run_agent_turn(NAMES[turn % 3])
                turn += 1
            await engine.flush()
            # One write per line: a SIGKILL may cut between two writes, never inside one.
            sys.stdout.write(f"ACK {env.seq}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
