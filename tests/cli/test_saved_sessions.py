"""Saved sessions through the real command (subprocesses): show, export, list.

An interrupted reply says so in ``sessions show`` and in the Markdown export,
and its tokens count in the totals; the export folds the room's routine
status lines unless asked otherwise; ``sessions list`` on a database that is not there
says so and creates nothing; the id prefix the list and the README show
tells sessions apart.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from agentroom import Engine, ScriptedAgent
from agentroom.models.offline import OfflineModel
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.workflows import parse_workflow
from tests.cli.test_run_cli import agentroom  # the real command, stdin closed
from tests.waiting import until

PAIR = """
name: pair
agents:
  - id: pro
  - id: con
strategy:
  name: round-robin
termination:
  max_turns: 2
"""


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


async def interrupted_session(db: str) -> str:
    """pro is interrupted mid-reply (as Esc or /interrupt does), then con speaks."""
    room = LiveRoom(
        RoomOptions(
            db=db,
            workflow=parse_workflow(PAIR),
            task="Motion: tea is better than coffee.",
            default_model=OfflineModel(words_per_second=5),  # slow enough to be caught mid-reply
            feed=False,
        )
    )
    await room.open()
    try:
        running = asyncio.ensure_future(room.run())
        await until(lambda: any(chunk.text.strip() for chunk in room.partial()))
        assert room.interrupt() == "pro"
        result = await running
        return result.session_id
    finally:
        await room.close()


async def test_an_interrupted_reply_says_so_and_its_tokens_are_counted(env):
    sid = await interrupted_session(env["AGENTROOM_DB"])

    shown = agentroom(env, "sessions", "show", sid[:18])
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^#\d+\s+pro \(interrupted\): \S", shown.stdout, re.M), shown.stdout
    usage = next(line for line in shown.stdout.splitlines() if line.startswith("usage: "))
    pro = re.search(r"pro (\d+) in / (\d+) out", usage)
    assert pro and int(pro[1]) > 0 and int(pro[2]) > 0, usage  # what it streamed, counted

    doc = json.loads(agentroom(env, "sessions", "show", sid, "--json").stdout)
    cut = [(e["sender"], e["type"]) for e in doc["envelopes"] if e["metadata"].get("interrupted")]
    assert cut == [("pro", "status"), ("pro", "message")]  # the cut call's usage, its reply
    agents = doc["usage"]["agents"]
    assert agents["pro"]["calls"] == 1 and agents["pro"]["completion_tokens"] > 0
    assert doc["usage"]["total"]["calls"] == 2  # pro's cut call and con's whole one

    md = agentroom(env, "export", sid)
    assert md.returncode == 0, md.stderr
    assert "\n### pro (interrupted)\n" in md.stdout
    assert re.search(r"usage: con \d+ in / \d+ out, \$0\.0000; pro \d+ in", md.stdout)


async def routine_session(db: str) -> str:
    async with Engine.open(db, title="notes") as engine:
        engine.register_agent(ScriptedAgent("alice", ["first", "second"]))

        async def next_one(text: str) -> None:  # as the coordinator says it before a turn
            await engine.bus.announce(text, metadata={"event": "speaker_selected"})

        await next_one("next: alice")
        await engine.run_agent_turn("alice")
        await engine.bus.announce("paused", metadata={"event": "paused"})  # not routine
        await next_one("next: alice </details> & <b>not bold</b>")  # hostile, as said
        await next_one("next: alice, again")
        await engine.run_agent_turn("alice")
        return engine.session_id


def blocks(text: str) -> list[str]:
    return re.findall(r"<details><summary>(.*?)</summary>", text)


async def test_markdown_export_folds_routine_lines_unless_asked_otherwise(env, tmp_path):
    sid = await routine_session(env["AGENTROOM_DB"])

    folded = agentroom(env, "export", sid).stdout
    assert blocks(folded) == ["1 routine line", "2 routine lines"]
    assert "### alice\n" in folded and "\nfirst\n" in folded and "\nsecond\n" in folded
    assert "*status* · room · #3 · " in folded  # the pause: not routine, so never folded
    assert folded.index("#3 · ") < folded.index("<details><summary>2 routine lines")
    # what a line said cannot end its block early; the page shows it as it was said
    assert "next: alice &lt;/details> &amp; &lt;b>not bold&lt;/b>" in folded
    assert folded.count("</details>") == 2

    written = tmp_path / "notes.md"
    assert agentroom(env, "export", sid, "-o", str(written)).returncode == 0
    assert written.read_text() == folded  # a file folds them the same way

    inline = agentroom(env, "export", sid, "--routine", "show").stdout
    assert blocks(inline) == [] and "*status* · room · #1 · " in inline
    assert "next: alice </details> & <b>not bold</b>" in inline

    hidden = agentroom(env, "export", sid, "--routine", "hide").stdout
    assert "<details>" not in hidden and "next: alice" not in hidden
    assert "*status* · room · #3 · " in hidden and "\nsecond\n" in hidden

    wrong = agentroom(env, "export", sid, "--routine", "all")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "error: unknown --routine 'all'; use one of: fold, show, hide"
    jsonl = agentroom(env, "export", sid, "-f", "jsonl", "--routine", "hide")
    assert jsonl.returncode == 2 and "--routine is for Markdown" in jsonl.stderr


def test_sessions_list_where_there_is_no_database_creates_none(env, tmp_path):
    db = Path(env["AGENTROOM_DB"])
    listed = agentroom(env, "sessions", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == (
        f"No saved sessions yet (looked in {db}). Run agentroom to start one."
    )
    assert json.loads(agentroom(env, "sessions", "list", "--json").stdout) == []
    for command in (("sessions", "show", "01a2"), ("export", "01a2"), ("resume", "01a2")):
        done = agentroom(env, *command)
        assert done.returncode == 1, command
        assert done.stderr.strip() == (
            f"error: no saved sessions: there is no database at {db} (run 'agentroom' to "
            "start a session there, or pass --db with another file)"
        )
    assert not db.exists() and not db.parent.joinpath("room.db-wal").exists()


SHOWN_ID = re.compile(r"^│ ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}) ", re.M)


async def test_the_prefix_the_list_shows_tells_sessions_made_together_apart(env):
    made = []
    for title in ("one", "two", "three"):  # made within milliseconds of each other
        async with Engine.open(env["AGENTROOM_DB"], title=title) as engine:
            engine.register_agent(ScriptedAgent("alice", [title]))
            await engine.run_agent_turn("alice")
            made.append(engine.session_id)
    assert len({sid[:8] for sid in made}) == 1  # UUIDv7: the same first characters

    listed = agentroom(env, "sessions", "list").stdout
    prefixes = SHOWN_ID.findall(listed)
    assert sorted(prefixes) == sorted(sid[:18] for sid in made)
    for prefix, title in zip(prefixes, ("three", "two", "one"), strict=True):
        shown = agentroom(env, "sessions", "show", prefix)
        assert shown.returncode == 0 and f"alice: {title}" in shown.stdout
    ambiguous = agentroom(env, "sessions", "show", made[0][:8])
    assert ambiguous.returncode == 1 and "matches several sessions" in ambiguous.stderr

    # The README's examples are ids of that shape, not a prefix every session shares.
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    examples = re.findall(
        r"^\.venv/bin/agentroom (?:sessions show|export|resume) (\S+)", readme, re.M
    )
    assert examples, "the README shows no session id"
    shape = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}$")
    assert all(shape.match(example) for example in examples), examples
