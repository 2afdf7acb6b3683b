"""A room whose every turn fails ends, says why in one line, and exits non-zero.

Real rooms (``python -m agentroom run --headless`` in a subprocess) on a
model that cannot answer: a server that is down (a closed port), a server
that answers 401 (tests/openai_server.py, on a real port), a replay script
used up.  Each used to spin for ever, writing failure rows as fast as it
could; now the workflow's failure limits end it (3 failed turns in a row by
one agent, 5 in the room, by default), so the number of envelopes is bounded;
and a room in which nobody ever spoke keeps no session (a start that failed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.test_run_cli import agentroom, session_of, show
from tests.openai_server import OpenAIServer, error_reply
from tests.tui.test_tui_room import make_app, settled
from tests.waiting import until_drawn

TWO_AGENTS = """
name: failing room
task: Say something.
agents:
  - id: alice
  - id: bob
termination:
  max_messages: 40
{extra}
"""


def workflow(tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "failing.yaml"
    path.write_text(TWO_AGENTS.format(extra=extra))
    return str(path)


def failures(doc: dict) -> list[str]:
    return [
        e["metadata"]["agent"]
        for e in doc["envelopes"]
        if e["metadata"].get("event") == "turn_failed"
    ]


FAILED_LINE = re.compile(r"^#\d+\s+\[status\] room: (\w+) could not take its turn: ", re.M)


def ended_with(env: dict[str, str], done, reason_start: str) -> dict:
    """The run exited 1, said why on one stderr line, and saved a bounded session."""
    reason = stopped_because(done, reason_start)
    doc = show(env, session_of(done.stdout))
    assert doc["state"] == "stopped"
    assert doc["envelopes"][-1]["metadata"] == {"event": "stopped", "reason": reason}
    assert len(doc["envelopes"]) < 50  # no spinning: a run or two of a handful of turns
    return doc


def ended_unsaid(env: dict[str, str], done, reason_start: str) -> list[str]:
    """As :func:`ended_with`, for a room in which nobody ever spoke: its session is not
    kept (a start that failed leaves nothing behind); returns whose turns failed."""
    stopped_because(done, reason_start)
    assert re.search(r"^Nobody said anything, so session \S+ was not kept\.$", done.stdout, re.M)
    assert json.loads(agentroom(env, "sessions", "list", "--json").stdout) == []
    assert len(done.stdout.splitlines()) < 50  # no spinning
    return FAILED_LINE.findall(done.stdout)


def stopped_because(done, reason_start: str) -> str:
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: stopped: {reason_start}"), line
    reason = line.removeprefix("error: stopped: ")
    assert f"stopped: {reason}" in done.stdout
    return reason


def test_a_server_that_answers_401_ends_the_room_after_three_failed_turns(env, tmp_path):
    with OpenAIServer(error_reply(401, "invalid api key"), repeat=True) as server:
        done = agentroom(env, "run", workflow(tmp_path), "--headless", "-m", server.spec())
    failed = ended_unsaid(
        env, done, f"alice failed 3 turns in a row: {server.url} refused the API key (401)"
    )
    assert failed == ["alice", "bob", "alice", "bob", "alice"]
    assert len(server.requests) == 5  # one request a turn: a 401 is not retried


def test_a_used_up_replay_script_ends_the_room_and_resume_ends_the_same_way(env, tmp_path):
    script = tmp_path / "script.yaml"
    script.write_text("- Hello from alice.\n")
    spec = f"replay:{script}"
    done = agentroom(env, "run", workflow(tmp_path), "--headless", "-m", spec)
    doc = ended_with(
        env,
        done,
        "bob failed 3 turns in a row: replay:script.yaml has no reply left for request #6 "
        "(its script has 1)",
    )
    assert failures(doc) == ["bob", "alice", "bob", "alice", "bob"]  # alice spoke once first
    again = agentroom(env, "resume", session_of(done.stdout), "--headless", "-m", spec)
    # The resumed room goes on where it stopped, on a fresh copy of the script: the same end.
    resumed = ended_with(env, again, "bob failed 3 turns in a row: replay:script.yaml")
    assert failures(resumed)[5:] == ["bob", "alice", "bob", "alice", "bob"]


def test_a_server_that_is_down_ends_the_room_at_the_workflows_limit(env, tmp_path):
    path = workflow(tmp_path, "  max_agent_failures: 2")
    done = agentroom(env, "run", path, "--headless", "-m", "openai-compat:m@http://127.0.0.1:9/v1")
    failed = ended_unsaid(
        env, done, "alice failed 2 turns in a row: no server answered at http://127.0.0.1:9/v1"
    )
    assert failed == ["alice", "bob", "alice"]


@pytest.mark.parametrize("limit", [0, -1])
def test_failure_limits_below_one_are_refused_by_validate(env, tmp_path, limit):
    bad = agentroom(
        env, "workflows", "validate", workflow(tmp_path, f"  max_room_failures: {limit}")
    )
    assert bad.returncode == 1
    (line,) = bad.stderr.strip().splitlines()
    assert line.endswith(f":9: termination.max_room_failures: {limit} is too small; use 1 or more")


async def test_the_room_screen_shows_why_a_failing_room_ended(db_path):
    app, model = make_app(db_path, [], timeout=0.05, limit=12)  # the script is empty
    async with app.run_test(size=(120, 40)) as pilot:
        await until_drawn(pilot, lambda: settled(app))
        assert app.room_screen.stopped == (
            "alice failed 3 turns in a row: replay has no reply left for request #5 "
            "(its script has 0)"
        )
        shown = [n for n in app._notifications if "failed 3 turns in a row" in str(n.message)]
        assert [n.severity for n in shown] == ["error"]
    assert len(model.requests) == 5
