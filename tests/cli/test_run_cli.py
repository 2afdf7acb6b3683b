"""End to end through the real command: run, resume, workflows, and a SIGKILL mid-run.

Every run is ``python -m agentroom ...`` in a subprocess on the offline model
(no Ollama: ``OLLAMA_HOST`` points at a closed port; no pacing:
``AGENTROOM_OFFLINE_WPS=0``).  Transcripts are checked with the real
``sessions show --json`` command.
"""

from __future__ import annotations

import asyncio
import http.server
import itertools
import json
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentroom.cli.main import app
from agentroom.core.text import counted
from agentroom.room.sessions import Sessions
from agentroom.room.workflows import samples_dir
from tests.child import Child, killed_at
from tests.environment import child_env
from tests.room.test_workflows import SAMPLE_NAMES

DEBATE_ORDER = ["pro", "con", "moderator", "human"]
TIMEOUT = 60


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return child_env(tmp_path, COLUMNS="200")


def debate_copy(env: dict[str, str], name: str, human_timeout: float) -> str:
    """The debate sample as one of the user's own workflows, with another human timeout."""
    text = (samples_dir() / "debate.yaml").read_text()
    assert "    timeout: 60\n" in text
    folder = Path(env["XDG_CONFIG_HOME"]) / "agentroom" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(
        text.replace("    timeout: 60\n", f"    timeout: {human_timeout}\n")
    )
    return name


def agentroom(
    env: dict[str, str], *args: str, stdin: Any = subprocess.DEVNULL, cwd: Path | None = None
):
    return subprocess.run(
        [sys.executable, "-m", "agentroom", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=stdin,
        cwd=cwd,
        timeout=TIMEOUT,
    )


def session_of(stdout: str) -> str:
    """The session id from the run's last lines (``Session: ID (reason)``)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines[-2].startswith("Session: "), stdout
    sid = lines[-2].split()[1]
    assert lines[-1] == f"Show it with: agentroom sessions show {sid[:18]}"
    return sid


def show(env: dict[str, str], sid: str) -> dict[str, Any]:
    """``agentroom sessions show ID --json`` (in-process: the same command, no startup)."""
    result = CliRunner().invoke(
        app, ["sessions", "show", sid, "--json", "--db", env["AGENTROOM_DB"]], env=env
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


SPOKEN = re.compile(r"^(?:#\d+\s+)?([a-z]+): ")
"""A message line: ``#12    pro: ...``, or ``pro: ...`` when the reply was streamed."""


def speakers(stdout: str, names: list[str]) -> list[str]:
    found = (SPOKEN.match(line) for line in stdout.splitlines())
    return [m.group(1) for m in found if m and m.group(1) in names]


def route(envelope: dict[str, Any]) -> str:
    """How the transcript labels an envelope: ``sender``, or ``sender → receiver``."""
    to = envelope["receiver"]
    return envelope["sender"] if to == "*" else f"{envelope['sender']} → {to}"


def said(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages of a session, the task included."""
    return [e for e in doc["envelopes"] if e["type"] == "message"]


def turns(envelopes: list[dict[str, Any]]) -> list[str]:
    """Who was given each turn, in order: the room says so before each (``speaker_selected``)."""
    return [
        e["metadata"]["agent"]
        for e in envelopes
        if e["metadata"].get("event") == "speaker_selected"
    ]


def after_event(doc: dict[str, Any], event: str) -> list[dict[str, Any]]:
    envs = doc["envelopes"]
    (at,) = [i for i, e in enumerate(envs) if e["metadata"].get("event") == event]
    return envs[at + 1 :]


def next_in(order: list[str], who: str) -> str:
    return order[(order.index(who) + 1) % len(order)]


# -- run --------------------------------------------------------------------------------------


def test_run_headless_prints_the_live_transcript_and_ends_with_the_session_id(env):
    done = agentroom(env, "run", "debate", "--headless")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "room: Motion: cities should ban private cars from their centres." in out
    assert "on offline demo model" in out
    spoken = speakers(out, DEBATE_ORDER)
    assert spoken == ["pro", "con", "moderator"] * (len(spoken) // 3) and len(spoken) >= 6
    # stdin is empty: the human's turns pass at once, saying why
    assert "human has no input any more (stdin ended); skipping their turn" in out
    assert "did not answer within" not in out
    assert "stopped: moderator said TERMINATE" in out
    sid = session_of(out)
    assert out.rstrip().splitlines()[-2] == f"Session: {sid} (moderator said TERMINATE)"
    doc = show(env, sid)
    assert doc["id"] == sid and doc["state"] == "stopped"
    assert said(doc)[-1]["sender"] == "moderator" and "TERMINATE" in said(doc)[-1]["content"]


def test_max_messages_stops_after_that_many_messages(env):
    done = agentroom(env, "run", "debate", "--headless", "--max-messages", "3")
    assert done.returncode == 0, done.stderr
    assert "stopped: reached 3 messages" in done.stdout
    doc = show(env, session_of(done.stdout))
    # The task counts: it is a message in the room like any other.
    assert [(m["sender"], m["metadata"].get("event")) for m in said(doc)] == [
        ("room", "task"),
        ("pro", None),
        ("con", None),
    ]
    assert speakers(done.stdout, DEBATE_ORDER) == ["pro", "con"]


def test_strategy_role_based_on_the_debate(env):
    done = agentroom(  # in any spelling, as in a workflow file
        env, "run", "debate", "--headless", "--strategy", "Role_Based", "--max-messages", "5"
    )
    assert done.returncode == 0, done.stderr
    assert "; role-based" in done.stdout and "chosen by the selector" in done.stdout
    doc = show(env, session_of(done.stdout))
    picked = [
        e["metadata"]["agent"]
        for e in doc["envelopes"]
        if e["metadata"].get("event") == "speaker_selected"
    ]
    spoken = [m["sender"] for m in said(doc)[1:]]
    assert len(spoken) == 4 and set(spoken) <= set(DEBATE_ORDER)
    assert [p for p in picked if p != "human"] == spoken  # each turn was picked by the selector
    assert all(a != b for a, b in itertools.pairwise(picked))  # allow_repeat: false
    bad = agentroom(env, "run", "debate", "--headless", "--strategy", "loudest")
    assert bad.returncode == 2 and "unknown strategy 'loudest'" in bad.stderr


def test_task_option_is_what_the_room_works_on(env):
    task = "Motion: four-day weeks should be the norm."
    done = agentroom(env, "run", "debate", "--headless", "--task", task, "--max-messages", "2")
    assert done.returncode == 0, done.stderr
    assert f"room: {task}" in done.stdout
    doc = show(env, session_of(done.stdout))
    first = said(doc)[0]
    assert first["content"] == task and first["metadata"]["event"] == "task"
    assert "private cars" not in done.stdout


def test_human_lines_from_stdin_reach_the_room_and_stop_ends_it(env):
    with Child([sys.executable, "-m", "agentroom", "run", "debate", "--headless"], env=env) as room:
        room.expect("» your turn, human")
        # Paused, the room gives nobody a turn: the aside cannot become the answer to the
        # human's next turn (with an instant model that turn may come before a line does).
        room.say("/pause")
        room.expect(r".*room: paused: no one is given a turn")
        room.say("Please keep it to one sentence each.")  # answers the turn
        room.say("@con what about deliveries?")  # to con alone, who answers it next
        room.expect("human → con: what about deliveries?")
        room.say("/resume")
        room.expect(r"con: ")  # the room went on after the human's turn, con first
        room.expect("» your turn, human")
        room.say("/stop")
        assert room.end() == 0
    text = "\n".join(room.seen)
    assert "stopped: stopped by human" in text
    sid = session_of(text)
    assert f"Session: {sid} (stopped by human)" in text
    doc = show(env, sid)
    human = [(m["content"], m["receiver"]) for m in said(doc) if m["sender"] == "human"]
    assert human == [
        ("Please keep it to one sentence each.", "*"),
        ("what about deliveries?", "con"),
    ]
    spoken = [m["sender"] for m in said(doc)]
    # The first line answered the human's turn, after pro, con and the moderator had spoken.
    assert spoken[:5] == ["room", "pro", "con", "moderator", "human"]
    assert doc["envelopes"][-1]["metadata"] == {"event": "stopped", "reason": "stopped by human"}


def test_stdin_ending_during_the_humans_turn_ends_that_turn(env):
    """A human turn already waiting when stdin ends passes at once, not after its timeout.

    (It used to wait out the whole timeout: 60 s in debate.yaml, and 'run debate < /dev/null'
    hit it whenever the agents' first turns outran the thread reading stdin.)
    """
    name = debate_copy(env, "patient_debate", 3600)  # an hour: only stdin's end can pass the turn
    with Child([sys.executable, "-m", "agentroom", "run", name, "--headless"], env=env) as room:
        room.expect("» your turn, human")
        assert room.end() == 0  # nobody will ever type: the turn passes now, not in an hour
    assert "human has no input any more (stdin ended); skipping their turn" in "\n".join(room.seen)


# -- resume -----------------------------------------------------------------------------------


def test_resume_continues_with_the_next_speaker(env):
    first = agentroom(env, "run", "debate", "--headless", "--max-messages", "5")
    assert first.returncode == 0, first.stderr
    sid = session_of(first.stdout)
    before = [m["sender"] for m in said(show(env, sid))]
    assert before == ["room", "pro", "con", "moderator", "pro"]
    again = agentroom(env, "resume", sid[:18], "--max-messages", "3", "--headless")
    assert again.returncode == 0, again.stderr
    assert "resumed after 5 turns" in again.stdout  # pro, con, moderator, human, pro
    assert session_of(again.stdout) == sid
    doc = show(env, sid)
    resumed = after_event(doc, "resumed_session")
    after = [e["sender"] for e in resumed if e["type"] == "message"]
    assert after[0] == next_in(DEBATE_ORDER, before[-1]) == "con"
    assert after == ["con", "moderator", "pro"]  # the human's turn between was skipped
    assert turns(resumed) == ["con", "moderator", "human", "pro"]
    assert "stopped: reached 3 messages" in again.stdout
    assert [e["seq"] for e in doc["envelopes"]] == list(range(1, len(doc["envelopes"]) + 1))


def test_resume_unknown_session_is_one_line_and_nonzero(env):
    Path(env["AGENTROOM_DB"]).touch()  # a database with no sessions in it yet
    done = agentroom(env, "resume", "nosuchid", "--headless")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "error: no saved session matches 'nosuchid'; run 'agentroom sessions list' to see them"
    ]


TOOLS_WORKFLOW = """\
name: Clerks
agents:
  - id: clerk
    tools: [tests.tools_for_tests:add, tests.tools_for_tests:shout]
  - id: quiet
termination:
  max_turns: 1
"""


def test_resume_of_a_session_with_tools_needs_its_workflow_file(env, tmp_path):
    file = tmp_path / "clerks.yaml"
    file.write_text(TOOLS_WORKFLOW)
    first = agentroom(env, "run", str(file), "--headless")
    assert first.returncode == 0, first.stderr
    sid = session_of(first.stdout)
    moved = file.rename(tmp_path / "moved.yaml")
    refused = agentroom(env, "resume", sid, "--headless", "--max-messages", "1")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: session {sid} runs tools named by its workflow file")
    assert line.endswith(
        f"pass the workflow that started it: agentroom resume {sid} --workflow FILE"
    )
    again = agentroom(
        env, "resume", sid, "--workflow", str(moved), "--headless", "--max-messages", "1"
    )
    assert again.returncode == 0, again.stderr
    assert "resumed after 1 turn" in again.stdout


# -- workflows --------------------------------------------------------------------------------


def test_workflows_list_shows_the_six_samples(env):
    table = agentroom(env, "workflows", "list")
    assert table.returncode == 0, table.stderr
    for name in SAMPLE_NAMES:
        assert name in table.stdout
    as_json = agentroom(env, "workflows", "list", "--json")
    rows = json.loads(as_json.stdout)
    assert [r["name"] for r in rows] == SAMPLE_NAMES
    assert all(r["error"] is None for r in rows)
    assert {r["name"]: r["strategy"] for r in rows} == {
        "code_review": "role-based",
        "debate": "round-robin",
        "pair_review": "round-robin",
        "research_team": "round-robin",
        "support_desk": "handoff",
        "trip_planner": "plan-driven",
    }


def test_workflows_validate_ok_and_broken(env, tmp_path):
    sample = samples_dir() / "debate.yaml"
    ok = agentroom(env, "workflows", "validate", str(sample))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == (
        f"{sample}: ok (Round-robin debate: 3 agents, 1 human, round-robin, "
        "stops on max_messages=16 | text='TERMINATE')"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nagents:\n  - id: a\n  - id: b\n    model: gpt4\n")
    bad = agentroom(env, "workflows", "validate", str(broken))
    assert bad.returncode == 1 and bad.stdout == ""
    (line,) = bad.stderr.strip().splitlines()
    assert line.startswith(f"error: {broken}:5: agents[1].model: unknown model spec 'gpt4'")


def test_workflows_validate_lists_the_tools_it_would_import_and_refuses_dangerous_ones(
    env, tmp_path
):
    file = tmp_path / "clerks.yaml"
    file.write_text(TOOLS_WORKFLOW)
    ok = agentroom(env, "workflows", "validate", str(file))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[1:] == [
        "Python it would import and run with your rights; a model chooses the arguments, so "
        "trust each one as you would a program:",
        "  clerk: tests.tools_for_tests:add",
        "  clerk: tests.tools_for_tests:shout",
    ]
    file.write_text(TOOLS_WORKFLOW.replace("tests.tools_for_tests:shout", "os:system"))
    bad = agentroom(env, "workflows", "validate", str(file))
    assert bad.returncode == 1 and bad.stdout == ""
    (line,) = bad.stderr.strip().splitlines()
    assert line.startswith(f"error: {file}:4: agents[0].tools[1]: tool 'os:system' is refused")
    assert "allow_unsafe_tools: true" in line


def test_unknown_workflow_name_exits_nonzero_listing_the_known_ones(env):
    done = agentroom(env, "run", "nosuch", "--headless")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "error: no workflow named 'nosuch': give a file, or one of: " + ", ".join(SAMPLE_NAMES)
    ]


def test_run_with_a_broken_file_prints_its_errors_in_order(env, tmp_path):
    broken = tmp_path / "two.yaml"
    broken.write_text("name: x\nagents:\n  - id: a\n    colour: red\n  - id: b\n    size: 3\n")
    done = agentroom(env, "run", str(broken), "--headless")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {broken}:4: agents[0].colour")
    assert f"{broken}:6: agents[1].size" in lines[1]


# -- SIGKILL mid-run, then resume -------------------------------------------------------------


MESSAGE_LINE = re.compile(r"^[a-z]+(?: → [a-z]+)?: ")
"""A message as the headless transcript prints it: ``route: content``."""
STATUS_LINE = re.compile(r"^#(\d+)\s")
"""A status as the headless transcript prints it: ``#seq  [status] ...``."""


def endless_debate(folder: Path) -> Path:
    """The debate sample with no end of its own, and a human who never answers in time."""
    text = (samples_dir() / "debate.yaml").read_text()
    for old, new in (
        ("  text: TERMINATE\n  text_from: [moderator]\n", ""),
        ("    timeout: 60\n", "    timeout: 0.001\n"),
    ):
        assert old in text
        text = text.replace(old, new)
    path = folder / "endless_debate.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory) -> dict[str, Any]:
    """``agentroom run --headless`` SIGKILLed once it printed 30 messages, then resumed at once.

    The resume comes right after the kill: the dead owner's OS lock went with
    it, so the room is known to be free without waiting for its lease.
    """
    folder = tmp_path_factory.mktemp("crash")
    db = folder / "room.db"
    environ = child_env(folder, AGENTROOM_DB=str(db))
    run = [sys.executable, "-m", "agentroom", "run", str(endless_debate(folder)), "--headless"]
    room = killed_at(
        [*run, "--max-messages", "1000000"],
        lambda lines: len([line for line in lines if MESSAGE_LINE.match(line)]) >= 30,
        env=environ,
    )
    printed = room.seen[:-1] if room.unterminated else room.seen  # a line cut by the kill
    with sqlite3.connect(db) as conn:
        integrity_after_kill = conn.execute("PRAGMA integrity_check").fetchone()[0]
        ((session,),) = conn.execute("SELECT uid FROM rooms").fetchall()
    before = show(environ, session)
    checkpoint = _checkpoint(db, session)
    resumed = agentroom(environ, "resume", session, "--max-messages", "4", "--headless")
    after = show(environ, session)
    with sqlite3.connect(db) as conn:
        integrity_after_resume = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return {
        "session": session,
        "printed": printed,
        "before": before,
        "checkpoint": checkpoint,
        "resumed": resumed,
        "after": after,
        "integrity": (integrity_after_kill, integrity_after_resume),
    }


def _checkpoint(db: Path, session: str) -> dict[str, Any]:
    """The coordinator's last checkpoint as SQLite has it (what resume will start from)."""
    import asyncio

    from agentroom.store import SqliteStore

    async def read() -> dict[str, Any]:
        async with await SqliteStore.open(db) as store:
            saved = await store.load_room_state(session)
        assert saved is not None
        return saved[1]

    return asyncio.run(read())


def test_sigkill_mid_run_then_resume_continues_round_robin(killed_and_resumed):
    run = killed_and_resumed
    assert run["integrity"] == ("ok", "ok")
    before, after = run["before"]["envelopes"], run["after"]["envelopes"]
    assert run["before"]["state"] == "interrupted"  # killed while running
    seqs = [e["seq"] for e in before]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap in what survived the kill
    # A line is printed once what it shows is saved: every message printed survived the
    # kill, in order (a few more may have been saved but not yet printed), and every
    # status printed is saved under the seq it showed.
    saved = [f"{route(e)}: {e['content']}" for e in before if e["type"] == "message"]
    printed = [line for line in run["printed"] if MESSAGE_LINE.match(line)]
    assert len(printed) >= 30
    assert printed == saved[: len(printed)]
    statuses = [int(m.group(1)) for line in run["printed"] if (m := STATUS_LINE.match(line))]
    assert statuses and set(statuses) <= set(seqs)
    assert all(before[seq - 1]["type"] == "status" for seq in statuses)

    done = run["resumed"]  # right after the kill: no "open in another agentroom", no wait
    assert done.returncode == 0, done.stderr
    state = run["checkpoint"]
    assert state["stopped"] is None  # it never stopped: it was killed
    assert f"resumed after {counted(state['turns'], 'turn')}" in done.stdout

    # Turns the old run began, in order: the checkpoint is taken after each turn ends, so
    # it is at the last turn or one behind it.  When the kill came after a turn's envelopes
    # but before its checkpoint was committed (or in the middle of a turn), that turn was in
    # flight: resume gives the floor to the same speaker again (the turn is redone).
    old_turns = turns(before)
    assert len(old_turns) - state["turns"] in (0, 1)
    assert old_turns == (DEBATE_ORDER * len(old_turns))[: len(old_turns)]
    assert old_turns[state["turns"] - 1] == state["last_speaker"]

    # The resumed run came after the old one, and went on round-robin from the checkpoint.
    assert [e["seq"] for e in after[: len(before)]] == seqs
    assert after[len(before)]["seq"] == seqs[-1] + 1
    resumed = after_event(run["after"], "resumed_session")
    new_turns = turns(resumed)
    assert new_turns[0] == next_in(DEBATE_ORDER, state["last_speaker"])
    expected = [next_in(DEBATE_ORDER, state["last_speaker"])]
    while len(expected) < len(new_turns):
        expected.append(next_in(DEBATE_ORDER, expected[-1]))
    assert new_turns == expected
    new_messages = [e for e in resumed if e["type"] == "message"]
    assert new_messages and all(e["sender"] in DEBATE_ORDER for e in new_messages)
    assert after[-1]["metadata"]["event"] == "stopped"
    assert [e["seq"] for e in after] == list(range(1, len(after) + 1))


def test_resume_after_a_crash_gives_max_messages_more(killed_and_resumed):
    # The crashed run's counters are in its checkpoint; --max-messages on resume still
    # means that many more (it once fired on the first new message, the count being ~30).
    resumed = after_event(killed_and_resumed["after"], "resumed_session")
    assert len([e for e in resumed if e["type"] == "message"]) == 4


# -- a fork of a headless run, resumed headless -------------------------------------------------


async def fork_of(db: str, source: str, upto: int) -> str:
    async with await Sessions.open(db) as sessions:
        return await sessions.fork(source, upto)


def usage_of(doc: dict[str, Any], agent: str) -> list[int]:
    """The prompt tokens of each of ``agent``'s model calls (the offline model counts words)."""
    return [
        e["metadata"]["prompt_tokens"]
        for e in doc["envelopes"]
        if e["metadata"].get("event") == "usage" and e["sender"] == agent
    ]


def test_a_fork_mid_turn_resumed_headless_goes_on_as_the_source_did(env):
    first = agentroom(env, "run", "debate", "--headless", "--max-messages", "7")
    assert first.returncode == 0, first.stderr
    source = session_of(first.stdout)
    doc = show(env, source)
    envelopes = doc["envelopes"]
    # The human's turn was skipped (stdin is empty: a turn, nothing said); then pro was
    # chosen.  Fork there, before pro's reply: mid-turn, pro next.
    (skip,) = [e["seq"] for e in envelopes if e["metadata"].get("event") == "skipped"][:1]
    upto = next(e["seq"] for e in envelopes if e["seq"] > skip and e["type"] == "status")
    assert turns([e for e in envelopes if e["seq"] <= upto])[-2:] == ["human", "pro"]
    fork = asyncio.run(fork_of(env["AGENTROOM_DB"], source, upto))  # as the replay's f does

    again = agentroom(env, "resume", fork[:18], "--headless", "--max-messages", "2")
    assert again.returncode == 0, again.stderr
    resumed = after_event(show(env, fork), "resumed_session")
    assert turns(resumed)[:2] == ["pro", "con"]  # as the source went on from there
    assert [e["sender"] for e in resumed if e["type"] == "message"] == ["pro", "con"]
    # pro's context was the source's at that turn: every message said before the fork point
    source_pro = usage_of(doc, "pro")[1]  # pro's second call in the source, after the skip
    assert usage_of(show(env, fork), "pro")[-1] == source_pro


# -- a start that fails keeps no session ----------------------------------------------------------


def test_a_model_that_cannot_be_built_leaves_no_session(env, tmp_path):
    done = agentroom(
        env, "run", "debate", "--headless", "--model", f"replay:{tmp_path / 'no-such.jsonl'}"
    )
    assert done.returncode == 1
    assert "error: cannot read replay script" in done.stderr
    listed = agentroom(env, "sessions", "list", "--json")
    assert json.loads(listed.stdout) == []


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A server that refuses every key: each model call fails at once (401, no retry)."""

    def do_POST(self) -> None:
        body = b'{"error": {"message": "bad key", "type": "invalid_request_error"}}'
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


def test_a_room_whose_model_refuses_every_turn_leaves_no_session(env):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        done = agentroom(env, "run", "debate", "--headless", "--model", f"openai-compat:m@{url}")
    finally:
        server.shutdown()
    assert done.returncode == 1
    assert "could not take its turn" in done.stdout and "refused the API key" in done.stderr
    (last,) = [line for line in done.stdout.splitlines() if line.strip()][-1:]
    assert re.fullmatch(r"Nobody said anything, so session \S+ was not kept\.", last)
    assert json.loads(agentroom(env, "sessions", "list", "--json").stdout) == []
    # ... while a room in which someone spoke is kept, whatever failed after
    kept = agentroom(env, "run", "debate", "--headless", "--max-messages", "2")
    assert kept.returncode == 0
    assert [r["id"] for r in json.loads(agentroom(env, "sessions", "list", "--json").stdout)] == [
        session_of(kept.stdout)
    ]
