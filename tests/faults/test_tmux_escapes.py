"""The real program in a real terminal (tmux): a reply full of escape sequences does nothing.

The reply tries to retitle the window (OSC 0 and OSC 2), clear the screen and
ask the terminal for a cursor-position report (which the terminal would
"type" back into the app).  The pane's title must stay as it was, the screen
must keep its status bar and footer, and what the human then types must be
saved exactly, with no report mixed in.

The test runs its own tmux server (its own socket): a server that is already
running (another test's) would start the pane with *its* environment, and
the room would write to another test's database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

AGENTROOM = Path(sys.executable).with_name("agentroom")
REPLY = "before \x1b]0;PWNED-0\x07\x1b]2;PWNED-2\x1b\\\x1b[2J\x1b[H\x1b[6n\x9b6n after"
WORKFLOW = """\
name: Escapes
task: Talk.
agents:
  - id: alice
    model: replay:{script}
humans:
  - id: human
    timeout: 300
strategy:
  order: [alice, human]
termination:
  max_messages: 3
"""


class Terminal:
    """One tmux pane on a private tmux server, started with the given environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.socket = f"agentroom-test-{uuid.uuid4().hex[:12]}"
        self.target = "room"

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
        )
        return done.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", self.target, "-x", "130", "-y", "40", command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.target)

    def title(self) -> str:
        return self.tmux("display", "-p", "-t", self.target, "#{pane_title}").strip()

    def wait_for(self, text: str, timeout: float = 120) -> str:
        """Poll the screen until ``text`` is on it (the deadline only guards against a hang)."""
        end = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < end:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")

    def running(self) -> bool:
        return self.target in self.tmux("list-sessions")

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AGENTROOM_DB": str(tmp_path / "room.db"),
        "AGENTROOM_CONFIG": str(tmp_path / "config.yaml"),
        "AGENTROOM_MODEL": "offline",
        "OLLAMA_HOST": "127.0.0.1:9",
        "TERM": "xterm-256color",
    }


def saved_messages(env: dict[str, str]) -> list[tuple[str, str]]:
    def agentroom(*args: str) -> Any:
        run = [sys.executable, "-m", "agentroom", *args]
        return json.loads(subprocess.run(run, capture_output=True, env=env, timeout=60).stdout)

    (room,) = agentroom("sessions", "list", "--json")
    shown = agentroom("sessions", "show", room["id"], "--json")
    return [(e["sender"], e["content"]) for e in shown["envelopes"] if e["type"] == "message"]


def test_a_reply_cannot_retitle_clear_or_type_into_the_terminal(env, tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([REPLY]))
    workflow = tmp_path / "escapes.yaml"
    workflow.write_text(WORKFLOW.format(script=script))
    terminal = Terminal(env)
    # The shell waits for a line, so the pane's title is set before agentroom starts.
    terminal.start(f"read go; exec {AGENTROOM} run {workflow}")
    try:
        terminal.tmux("select-pane", "-t", terminal.target, "-T", "title-before")
        assert terminal.title() == "title-before"
        terminal.tmux("send-keys", "-t", terminal.target, "Enter")
        terminal.wait_for("after")  # the reply has reached the screen
        assert terminal.title() == "title-before"
        shown = terminal.wait_for("your turn, human")  # and the screen is whole
        assert "before ␛]0;PWNED-0" in shown  # drawn as visible text
        lines = shown.splitlines()
        assert lines[0].lstrip().startswith("session ")  # the status bar, not cleared away
        assert "f1 Help" in lines[-1] or "f1 Help" in lines[-2], shown  # the footer
        terminal.tmux("send-keys", "-t", terminal.target, "-l", "ok")
        terminal.tmux("send-keys", "-t", terminal.target, "Enter")
        terminal.wait_for("the room is over")
        assert terminal.title() == "title-before"
        terminal.tmux("send-keys", "-t", terminal.target, "C-q")
        end = time.monotonic() + 120
        while time.monotonic() < end and terminal.running():
            time.sleep(0.2)
        last = terminal.screen()
    finally:
        terminal.close()
    # What the human typed is exactly "ok": no cursor-position report was typed for them.
    assert saved_messages(env) == [("room", "Talk."), ("alice", REPLY), ("human", "ok")], last
