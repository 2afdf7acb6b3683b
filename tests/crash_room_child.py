"""Runs the debate workflow through the real coordinator until killed (for test_run_cli).

Prints ``SESSION <id>`` and then ``MSG <seq> <sender>`` for every message as
it is published (a bus callback), flushed at once.  The debate's own end (the
moderator's TERMINATE) is taken out and the message limit made huge, so the
room talks until the test SIGKILLs it; the human never answers (a tiny
timeout), so their turns pass at once.  The workflow is kept with the session
(by ``run_workflow``), so ``agentroom resume`` can rebuild the room.
"""

from __future__ import annotations

import asyncio
import sys

from agentroom import Engine, MessageType
from agentroom.models.offline import OfflineModel
from agentroom.workflows import TerminationSpec, find_workflow, load_workflow

HUMAN_TIMEOUT = 0.001
MAX_MESSAGES = 1_000_000


def show(envelope) -> None:
    print("MSG", envelope.seq, envelope.sender, flush=True)


async def main(db: str) -> None:
    workflow = load_workflow(find_workflow("debate"))
    workflow.termination = TerminationSpec(max_messages=MAX_MESSAGES)
    for human in workflow.humans:
        human.timeout = HUMAN_TIMEOUT
    async with Engine.open(db, title="crash room") as engine:
        print("SESSION", engine.session_id, flush=True)
        engine.bus.subscribe(show, types=MessageType.MESSAGE)
        await engine.run_workflow(workflow, default_model=OfflineModel(words_per_second=0))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
