"""The real program in a real terminal (tmux): a reply full of escape sequences does nothing.

The reply tries to retitle the window (OSC 0 and OSC 2), clear the screen and
ask the terminal for a cursor-position report (which the terminal would
"type" back into the app).  The pane's title must stay as it was, the screen
must keep its status bar and footer, and what the human then types must be
saved exactly, with no report mixed in.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.test_e2e_tmux import AGENTROOM, saved_session
from tests.environment import child_env
from tests.terminal import Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

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


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return child_env(
        tmp_path,
        AGENTROOM_CONFIG=str(tmp_path / "config.yaml"),
        AGENTROOM_MODEL="offline",
        TERM="xterm-256color",
    )


def test_a_reply_cannot_retitle_clear_or_type_into_the_terminal(env, tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([REPLY]))
    workflow = tmp_path / "escapes.yaml"
    workflow.write_text(WORKFLOW.format(script=script))
    # The shell waits for a line, so the pane's title is set before agentroom starts.
    command = f"read go; exec {AGENTROOM} run {workflow}"
    with Terminal(tmp_path).start(command, env) as term:
        term.tmux("select-pane", "-t", term.session, "-T", "title-before")
        assert term.title() == "title-before"
        term.keys("Enter")
        term.wait_for("after")  # the reply has reached the screen
        assert term.title() == "title-before"
        shown = term.wait_for("your turn, human")  # and the screen is whole
        assert "before ␛]0;PWNED-0" in shown  # drawn as visible text
        lines = shown.splitlines()
        assert lines[0].lstrip().startswith("running · ")  # the status bar, not cleared away
        assert "f1 Help" in lines[-1] or "f1 Help" in lines[-2], shown  # the footer
        term.keys("ok", literal=True)
        term.keys("Enter")
        term.wait_for("the room is over")
        assert term.title() == "title-before"
        term.keys("C-q")
        assert term.wait_closed()
    # What the human typed is exactly "ok": no cursor-position report was typed for them.
    _, envelopes = saved_session(env)
    said = [(e["sender"], e["content"]) for e in envelopes if e["type"] == "message"]
    assert said == [("room", "Talk."), ("alice", REPLY), ("human", "ok")]
