"""The room as a person opens it with the local model installed, in a real terminal (tmux).

Nothing names a model, so the room takes its default: the packaged
SmolLM2-135M-Instruct.  The screen must name it, and its agents' replies must
appear on screen and in the saved session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

from agentroom.models.local import missing
from tests.test_e2e_tmux import AGENTROOM, saved_session, screen, tmux, wait_for

WHY = missing()
pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(WHY is not None, reason=f"the local model cannot run here: {WHY}"),
]


def test_the_default_room_runs_on_smollm2_and_shows_its_replies(tmp_path):
    skip = ("AGENTROOM_MODEL", "OPENAI_API_KEY", "AGENTROOM_NO_LOCAL")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(
        AGENTROOM_DB=str(tmp_path / "room.db"),
        AGENTROOM_CONFIG=str(tmp_path / "config.yaml"),
        OLLAMA_HOST="127.0.0.1:9",
        TERM="xterm-256color",
    )
    session = f"agentroom-local-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "140",
            "-y",
            "45",
            f"{AGENTROOM} run debate",
        ],
        env=env,
        check=True,
        timeout=30,
    )
    try:
        shown = wait_for(session, "SmolLM2", timeout=60)  # the status bar names the model
        shown = wait_for(session, "your turn, human", timeout=240)  # pro, con, moderator spoke
        assert "offline demo model" not in shown
        tmux("send-keys", "-t", session, "C-q")
        end = time.monotonic() + 20
        while time.monotonic() < end and session in tmux("list-sessions"):
            time.sleep(0.2)
    except AssertionError:
        print(screen(session))
        raise
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
    _, envelopes = saved_session(env)
    replies = [e for e in envelopes if e["type"] == "message" and e["sender"] in ("pro", "con")]
    assert len(replies) >= 2 and all(e["content"].strip() for e in replies)
    assert {e["metadata"]["model"] for e in replies} == {"local:SmolLM2-135M-Instruct"}
    # What they said is what the screen showed: the last reply's opening words were on it.
    assert replies[-1]["content"].split()[0] in shown
