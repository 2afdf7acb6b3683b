"""End to end, as a person uses it: the real ``agentroom`` command in a real terminal (tmux).

It starts the room on a temporary database, waits for the agents' turns on
screen, types as the human with ``send-keys``, reads the screen with
``capture-pane``, quits, and finds the human's message in ``agentroom sessions
show``.  ``.ci/run`` installs tmux; without it the test says so and skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

AGENTROOM = Path(sys.executable).with_name("agentroom")


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30)
    return done.stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_for(session: str, text: str | re.Pattern[str], timeout: float = 120) -> str:
    """Poll the screen until ``text`` (a string or a pattern) is on it.

    The deadline is only a guard against a hang: a loaded machine may take long.
    """
    end = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < end:
        shown = screen(session)
        if text in shown if isinstance(text, str) else text.search(shown):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")


def saved_session(env: dict[str, str]) -> tuple[dict, list[dict]]:
    """The one session in ``env``'s database, and its envelopes, as the CLI shows them."""
    listed = subprocess.run(
        [str(AGENTROOM), "sessions", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    (room,) = json.loads(listed.stdout)
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
    return {
        **os.environ,
        "AGENTROOM_DB": str(tmp_path / "room.db"),
        "AGENTROOM_CONFIG": str(tmp_path / "config.yaml"),
        "AGENTROOM_OFFLINE_WPS": "40",
        "AGENTROOM_MODEL": "offline",  # even where the local model is installed
        "OLLAMA_HOST": "127.0.0.1:9",
        "TERM": "xterm-256color",
    }


def test_a_person_talks_in_the_room_and_finds_it_saved(room_env, tmp_path):
    session = f"agentroom-e2e-{uuid.uuid4().hex[:8]}"
    command = f"{AGENTROOM} run debate"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "130", "-y", "40", command],
        env=room_env,
        check=True,
        timeout=30,
    )
    try:
        shown = wait_for(session, "your turn, human")
        assert "pro" in shown and "con" in shown and "moderator" in shown
        assert "offline demo model" in shown  # the status bar names the model
        tmux("send-keys", "-t", session, "-l", "hello from a real terminal")
        tmux("send-keys", "-t", session, "Enter")
        # Said, not just typed: the transcript has the human's turn (header "human  #N").
        wait_for(session, re.compile(r"human  #\d+"))
        tmux("send-keys", "-t", session, "C-q")
        end = time.monotonic() + 120
        while time.monotonic() < end and session in tmux("list-sessions"):
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
    room, envelopes = saved_session(room_env)
    said = [e for e in envelopes if e["sender"] == "human" and e["type"] == "message"]
    assert [e["content"] for e in said] == ["hello from a real terminal"]
    assert room["state"] == "stopped"  # quitting closes the session cleanly
