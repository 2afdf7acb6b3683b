"""The room as a person opens it with the local model installed, in a real terminal (tmux).

Nothing names a model, so the room takes its default: the packaged
SmolLM2-135M-Instruct.  The screen must name it, and its agents' replies must
appear on screen and in the saved session.
"""

from __future__ import annotations

import shutil

import pytest

from agentroom.models.local import missing
from tests.cli.test_e2e_tmux import AGENTROOM, saved_session
from tests.environment import child_env
from tests.terminal import Terminal

WHY = missing()
pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(WHY is not None, reason=f"the local model cannot run here: {WHY}"),
]


def test_the_default_room_runs_on_smollm2_and_shows_its_replies(tmp_path):
    env = child_env(
        tmp_path,
        local=True,
        AGENTROOM_CONFIG=str(tmp_path / "config.yaml"),
        TERM="xterm-256color",
    )
    with Terminal(tmp_path, width=140, height=45).start(f"{AGENTROOM} run debate", env) as term:
        shown = term.wait_for("SmolLM2", timeout=120)  # the status bar names the model
        shown = term.wait_for("your turn, human", timeout=480)  # pro, con, moderator spoke
        assert "offline demo model" not in shown
        term.keys("C-q")
        assert term.wait_closed()
    _, envelopes = saved_session(env)
    replies = [e for e in envelopes if e["type"] == "message" and e["sender"] in ("pro", "con")]
    assert len(replies) >= 2 and all(e["content"].strip() for e in replies)
    assert {e["metadata"]["model"] for e in replies} == {"local:SmolLM2-135M-Instruct"}
    # What they said is what the screen showed: the last reply's opening words were on it.
    assert replies[-1]["content"].split()[0] in shown
