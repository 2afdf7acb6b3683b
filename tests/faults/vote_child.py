"""A room with shared memory settled by vote, run until the test SIGKILLs it mid-vote.

alice and bob each write a different venue with the ``remember`` tool (a
conflict), so the end of the first round asks both to vote.  alice votes;
bob's model makes everything so far durable, prints ``VOTING``, and waits
for ever: the test kills the process there, with the vote request on disk.
Prints ``SESSION <id>`` first.  The workflow is kept with the session (by
``run_workflow``), so ``agentroom resume`` rebuilds the room.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

from agentroom import Engine
from agentroom.models.replay import ReplayClient
from agentroom.models.types import ModelEvent, ModelRequest
from agentroom.room.workflows import parse_workflow

WORKFLOW = """
name: vote room
agents:
  - id: alice
  - id: bob
memory:
  enabled: true
  policy: vote
  voters: [alice, bob]
termination:
  max_turns: 2
"""


def remember(value: str) -> dict:
    return {"tool_calls": [{"name": "remember", "arguments": {"key": "venue", "value": value}}]}


SCRIPT = [remember("Lisbon"), "I wrote Lisbon.", remember("Porto"), "I wrote Porto.", "2"]


class HeldAtBobsVote:
    """The script, except that bob's vote never comes."""

    label = "replay"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.replay = ReplayClient(SCRIPT)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        if request.hints.agent == "bob" and request.hints.choose_from:
            await self.engine.flush()  # the vote request, and all before it, is on disk
            print("VOTING", flush=True)
            await asyncio.Event().wait()
        async for event in self.replay.stream(request):
            yield event


async def main(db: str) -> None:
    async with Engine.open(db, title="vote room") as engine:
        print("SESSION", engine.session_id, flush=True)
        await engine.run_workflow(
            parse_workflow(WORKFLOW), "where do we meet?", default_model=HeldAtBobsVote(engine)
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
