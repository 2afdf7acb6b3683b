"""A poisoned string from each of the three sources never stops the saving.

A model stream that splits an emoji across two chunks, a Latin-1 byte on the
headless room's stdin, and a tool listing a non-UTF-8 filename each put text
into the room that is not valid Unicode as it arrives.  Each is repaired where
it enters (a split character joined, a lone half or a stray byte shown as
U+FFFD), and everything said after it is saved too.  Each test drives the real
``agentroom`` command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.environment import child_env
from tests.openai_server import OpenAIServer, sse_reply

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return child_env(tmp_path)


def agentroom(env: dict[str, str], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agentroom", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=TIMEOUT,
    )


def saved(env: dict[str, str]) -> list[dict]:
    listed = agentroom(env, "sessions", "list", "--json")
    (room,) = json.loads(listed.stdout)
    shown = agentroom(env, "sessions", "show", room["id"], "--json")
    return json.loads(shown.stdout)["envelopes"]


def said_by(envelopes: list[dict], *senders: str) -> list[str]:
    return [e["content"] for e in envelopes if e["type"] == "message" and e["sender"] in senders]


def write_workflow(folder: Path, body: str) -> str:
    path = folder / "poison.yaml"
    path.write_text(body)
    return str(path)


def test_a_model_stream_that_splits_an_emoji(env, tmp_path):
    flow = write_workflow(
        tmp_path,
        "name: split\ntask: talk\nagents:\n  - id: alice\n  - id: bob\n"
        "termination:\n  max_messages: 4\n",
    )
    answers = (
        sse_reply(["smile \ud83d", "\ude00 done"]),  # the two halves of 😀 in two chunks
        sse_reply(["ends on half \ud83d"]),  # a half that never finds its partner
        sse_reply(["and after it"]),
    )
    with OpenAIServer(*answers) as server:
        done = agentroom(env, "run", flow, "--headless", "--model", server.spec())
    assert done.returncode == 0, done.stderr.decode()
    assert said_by(saved(env), "alice", "bob") == [
        "smile 😀 done",
        "ends on half \ufffd",
        "and after it",
    ]


@pytest.mark.parametrize(
    "locale", [{"LC_ALL": "C"}, {"LC_ALL": "C.UTF-8"}, {"PYTHONIOENCODING": "utf-8:strict"}]
)
def test_a_latin1_byte_on_the_headless_rooms_stdin(env, tmp_path, locale):
    flow = write_workflow(
        tmp_path,
        "name: stdin\ntask: talk\nagents:\n  - id: alice\nhumans:\n  - id: human\n"
        "    timeout: 60\nstrategy:\n  order: [human, alice]\ntermination:\n  max_messages: 5\n",
    )
    env = env | locale
    lines = b"caf\xe9 au lait\nthe next line\n"
    done = agentroom(env, "run", flow, "--headless", "--model", "offline", stdin=lines)
    assert done.returncode == 0, done.stderr.decode()
    assert said_by(saved(env), "human") == ["caf\ufffd au lait", "the next line"]


def test_a_tool_listing_a_non_utf8_filename(env, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "plain.txt").write_text("x")
    os.close(os.open(os.fsencode(folder) + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY, 0o600))
    script = tmp_path / "script.yaml"
    script.write_text(
        json.dumps(
            [
                {"tool_calls": [{"name": "list_folder", "arguments": {"path": str(folder)}}]},
                "I listed the folder.",
                "And I carry on.",
            ]
        )
    )
    flow = write_workflow(
        tmp_path,
        "name: tool\ntask: list\nagents:\n  - id: alice\n"
        "    tools: [tests.tools_for_tests:list_folder]\n"
        f"    model: replay:{script}\ntermination:\n  max_messages: 3\n",
    )
    done = agentroom(env, "run", flow, "--headless")
    assert done.returncode == 0, done.stderr.decode()
    envelopes = saved(env)
    (result,) = [e for e in envelopes if e["metadata"].get("event") == "tool_result"]
    assert "caf\ufffd.txt" in result["content"] and "plain.txt" in result["content"]
    assert said_by(envelopes, "alice") == ["I listed the folder.", "And I carry on."]
