"""Faults between an agent and its model, injected for real, at the level of one agent turn.

A server that is down (a closed port), one that refuses the key (401), a
replay script used up, a server sending one endless line, and a server that
echoes the API key back in its error: each ends the turn with a status in the
room and an :class:`AgentTurnError` caused by a clear :class:`ModelError`
subclass (the coordinator counts those), and none leaks the key or holds
memory without bound.  Each test takes well under a second.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentroom import AgentTurnError, Engine, MessageType
from agentroom.agents import LLMAgent
from agentroom.core.errors import (
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelServerError,
    ReplayExhaustedError,
)
from agentroom.models.openai_compat import LINE_LIMIT, OpenAICompatClient, RetryPolicy
from agentroom.models.replay import ReplayClient
from agentroom.models.types import ModelClient
from tests.environment import child_env
from tests.openai_server import Canned, OpenAIServer, error_reply, sse_reply

KEY = "sk-fault-7d2e9b4c1a6f3e8d5b0c"
QUICK = RetryPolicy(attempts=2, base_delay=0.01)


async def failed_turn(db: Path, model: ModelClient) -> tuple[AgentTurnError, list]:
    """One agent's turn that fails: the error it raised and what the room saw."""
    async with Engine.open(db) as engine:
        engine.register_agent(LLMAgent("agent", model))
        watch = engine.bus.subscribe()
        with pytest.raises(AgentTurnError) as info:
            await engine.run_agent_turn("agent")
        seen = await watch.get_batch()
    return info.value, seen


def failure_status(seen: list) -> str:
    (status,) = [e for e in seen if e.metadata.get("event") == "turn_failed"]
    assert status.type is MessageType.STATUS and status.sender == "room"
    return status.content


async def test_a_model_server_that_is_down(db_path):
    client = OpenAICompatClient("m", base_url="http://127.0.0.1:9/v1", retry=QUICK)
    exc, seen = await failed_turn(db_path, client)
    assert isinstance(exc.__cause__, ModelConnectionError)
    assert failure_status(seen).startswith(
        "agent could not take its turn: no server answered at http://127.0.0.1:9/v1"
    )
    waits = [e.content for e in seen if e.metadata.get("event") == "waiting"]
    assert len(waits) == 1 and "no answer from the server at http://127.0.0.1:9/v1" in waits[0]


async def test_a_model_server_that_refuses_the_key(db_path):
    with OpenAIServer(error_reply(401, "invalid api key")) as server:
        client = OpenAICompatClient(
            "m", base_url=server.url, api_key=KEY, api_key_env="AGENTROOM_API_KEY", retry=QUICK
        )
        exc, seen = await failed_turn(db_path, client)
    assert isinstance(exc.__cause__, ModelAuthError)
    assert failure_status(seen) == (
        f"agent could not take its turn: {server.url} refused the API key (401): set "
        "AGENTROOM_API_KEY to a valid key"
    )
    assert len(server.requests) == 1  # a wrong key is not retried


async def test_a_replay_script_that_is_used_up(db_path):
    exc, seen = await failed_turn(db_path, ReplayClient([]))
    assert isinstance(exc.__cause__, ReplayExhaustedError)
    assert isinstance(exc.__cause__, ModelError)
    assert "has no reply left for request #1" in failure_status(seen)


async def test_one_endless_line_ends_the_turn_without_holding_it(db_path):
    sent: list[int] = []

    def endless() -> Iterator[bytes]:  # 64 MiB with no newline, 64 KiB at a time
        piece = b"data: " + b"x" * (64 * 1024)
        for _ in range(1024):
            sent.append(len(piece))
            yield piece

    stream = Canned(200, endless(), {"content-type": "text/event-stream"})
    with OpenAIServer(stream) as server:
        client = OpenAICompatClient("m", base_url=server.url, retry=QUICK)
        exc, seen = await failed_turn(db_path, client)
    assert isinstance(exc.__cause__, ModelServerError)
    assert f"a line longer than {LINE_LIMIT:,} bytes" in failure_status(seen)
    assert sum(sent) < 16 * LINE_LIMIT


ECHO_ROOM = """\
name: Echo
agents:
  - id: agent
termination:
  max_turns: 2
"""


def test_a_server_echoing_the_key_leaves_it_nowhere(tmp_path):
    """Through the real command: the key is in no byte of the database, the transcript or
    stderr, though the server put it in its error (which the room still shows, redacted)."""
    workflow = tmp_path / "echo.yaml"
    workflow.write_text(ECHO_ROOM)
    db = tmp_path / "room.db"
    env = child_env(tmp_path, AGENTROOM_API_KEY=KEY, AGENTROOM_DB=str(db), COLUMNS="200")
    echo = error_reply(400, f"bad request; you sent Authorization: Bearer {KEY}")
    with OpenAIServer(echo, sse_reply(["recovered"])) as server:
        command = ["run", str(workflow), "--headless", "--model", server.spec()]
        done = subprocess.run(
            [sys.executable, "-m", "agentroom", *command],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    sent = {k.lower(): v for k, v in server.requests[0]["_headers"].items()}
    assert sent["authorization"] == f"Bearer {KEY}"  # what the server "echoed" was sent
    assert "you sent Authorization: [redacted]" in done.stdout
    assert "recovered" in done.stdout
    for where, text in (("stdout", done.stdout), ("stderr", done.stderr)):
        assert KEY not in text and KEY[3:15] not in text, where
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("room.db*"))
    assert stored and KEY.encode() not in stored and KEY[3:15].encode() not in stored
