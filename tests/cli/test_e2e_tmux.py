"""End to end, as a person uses it: the real ``agentroom`` command in a real terminal (tmux).

It starts the room on a temporary database, waits for the agents' turns on
screen, types as the human with ``send-keys``, reads the screen with
``capture-pane``, quits, and finds the human's message in ``agentroom sessions
show``.  ``.ci/run`` installs tmux; without it the test says so and skips.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.environment import child_env
from tests.terminal import Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

AGENTROOM = Path(sys.executable).with_name("agentroom")


def sessions_listed(env: dict[str, str]) -> list[dict]:
    """``agentroom sessions list --json`` on ``env``'s database."""
    listed = subprocess.run(
        [str(AGENTROOM), "sessions", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return json.loads(listed.stdout)


def saved_session(env: dict[str, str]) -> tuple[dict, list[dict]]:
    """The one session in ``env``'s database, and its envelopes, as the CLI shows them."""
    (room,) = sessions_listed(env)
    shown = subprocess.run(
        [str(AGENTROOM), "sessions", "show", room["id"], "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return room, json.loads(shown.stdout)["envelopes"]


@pytest.fixture
def room_env(tmp_path):
    return child_env(
        tmp_path,
        AGENTROOM_CONFIG=str(tmp_path / "config.yaml"),
        AGENTROOM_OFFLINE_WPS="40",
        AGENTROOM_MODEL="offline",  # even where the local model is installed
        TERM="xterm-256color",
    )


def test_a_person_talks_in_the_room_and_finds_it_saved(room_env, tmp_path):
    with Terminal(tmp_path).start(f"{AGENTROOM} run debate", room_env) as term:
        shown = term.wait_for("your turn, human")
        assert "pro" in shown and "con" in shown and "moderator" in shown
        assert "offline demo model" in shown  # the status bar names the model
        term.keys("hello from a real terminal", literal=True)
        term.keys("Enter")
        # Said, not just typed: the transcript has the human's turn (header "human  #N").
        term.wait_for(re.compile(r"human  #\d+"))
        term.keys("C-q")
        assert term.wait_closed()
    room, envelopes = saved_session(room_env)
    said = [e for e in envelopes if e["sender"] == "human" and e["type"] == "message"]
    assert [e["content"] for e in said] == ["hello from a real terminal"]
    assert room["state"] == "stopped"  # quitting closes the session cleanly


def test_leaving_the_room_says_which_session_it_was_and_how_to_resume_it(room_env, tmp_path):
    # The shell stays after agentroom exits, so the terminal shows what it printed then.
    command = f"{AGENTROOM} run debate; echo agentroom-exited; sleep 600"
    with Terminal(tmp_path).start(command, room_env) as term:
        term.wait_for("your turn, human")
        term.keys("C-q")
        shown = term.wait_for("agentroom-exited")
    room, _ = saved_session(room_env)
    sid = room["id"]
    lines = [line.strip() for line in shown.splitlines() if line.strip()]
    at = lines.index("agentroom-exited")
    assert lines[at - 2].startswith(f"Session: {sid} (")
    assert lines[at - 1] == f"Resume it with: agentroom resume {sid[:18]}"


ASKED_FIRST = """\
name: asked first
agents:
  - id: helper
humans:
  - id: human
strategy:
  name: round-robin
  order: [human, helper]
"""


def test_leaving_a_room_where_nobody_spoke_keeps_no_session(room_env, tmp_path):
    workflow = tmp_path / "asked_first.yaml"
    workflow.write_text(ASKED_FIRST)
    command = f"{AGENTROOM} run {workflow}; echo agentroom-exited; sleep 600"
    with Terminal(tmp_path).start(command, room_env) as term:
        term.wait_for("your turn, human")  # the human is asked first, and leaves instead
        term.keys("C-q")
        shown = term.wait_for("agentroom-exited")
    assert re.search(r"Nobody said anything, so session \S+ was not kept\.", shown)
    assert sessions_listed(room_env) == []


def test_headless_at_a_terminal_a_line_typed_mid_reply_breaks_it_once_and_is_said_after(
    room_env, tmp_path
):
    command = (
        f"{AGENTROOM} run debate --headless --max-messages 3; echo agentroom-exited; sleep 600"
    )
    env = room_env | {"AGENTROOM_OFFLINE_WPS": "2"}  # pro's reply takes several seconds
    with Terminal(tmp_path).start(command, env) as term:
        term.wait_for(re.compile(r"^pro: \S", re.M))  # pro's reply is being previewed
        term.keys("hold on", literal=True)  # the terminal echoes it into pro's line
        term.keys("Enter")
        shown = term.wait_for("agentroom-exited")
    _, envelopes = saved_session(room_env)
    (reply,) = [e["content"] for e in envelopes if e["sender"] == "pro" and e["type"] == "message"]
    lines = [line.rstrip() for line in shown.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("pro: "))
    assert lines[start + 1].startswith("pro (continued): ")  # the rest, on a line of its own
    assert lines[start + 2] == "human: hold on"  # said after pro's reply is whole
    # pro's words are on screen once: the echo's line and the rest, nothing printed again
    previewed = lines[start].removeprefix("pro: ").removesuffix("hold on")
    rest = lines[start + 1].removeprefix("pro (continued): ")
    assert previewed + rest == reply
    assert not any(line == f"pro: {reply}" for line in lines)
