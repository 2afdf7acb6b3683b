"""The real ``agentroom serve`` program: join lines printed with the port it got, SIGKILL and
``--resume`` losing nothing that was acknowledged, SIGTERM closing every client with 1000
and the session cleanly, and a port in use said in one line."""

from __future__ import annotations

import re
import signal
import socket
import sys
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.child import Child
from tests.environment import child_env
from tests.server.conftest import connect

WORKFLOW = """
name: Served from a process
task: Pick a name for the cat.
agents:
  - id: ada
humans:
  - id: alice
    timeout: 600
  - id: bob
    timeout: 600
strategy:
  name: round-robin
  order: [ada, alice, bob]
"""
JOIN = re.compile(r"(\w+) +agentroom join '(http://127\.0\.0\.1:(\d+))/#token=(ar_\S+)'$")


def serve(tmp_path: Path, *args: str, stderr: str = "stderr.txt") -> Child:
    command = [sys.executable, "-m", "agentroom", "serve", *args, "--port", "0"]
    return Child(command, env=child_env(tmp_path), out=tmp_path / stderr)


def joins(child: Child) -> tuple[str, dict[str, str]]:
    """The base URL and each human's token, from the lines ``serve`` prints first."""
    tokens: dict[str, str] = {}
    base = ""
    while len(tokens) < 2:
        match = JOIN.match(child.expect(r"\w+ +agentroom join "))
        assert match, child.seen
        human, base, port, token = match.groups()
        assert int(port) > 0
        tokens[human] = token
    return base, tokens


@pytest.mark.slow
async def test_sigkill_then_resume_keeps_every_acknowledged_line(tmp_path):
    path = tmp_path / "served.yaml"
    path.write_text(WORKFLOW)
    with serve(tmp_path, str(path), "--model", "offline") as first:
        base, tokens = joins(first)
        alice = await connect(base, tokens["alice"])
        session = alice.hello["session_id"]
        acknowledged: dict[int, str] = {}
        for i in range(12):
            text = f"line {i} from alice"
            reply = await alice.say(text)
            assert reply["ok"], reply
            acknowledged[reply["seq"]] = text
        seen = max(alice.frames.seqs)
        first.kill()
    with pytest.raises(ConnectionClosed):
        while True:
            await alice.read()

    resume = ("--resume", session, "--model", "offline")
    with serve(tmp_path, str(path), *resume, stderr="stderr-2.txt") as again:
        base, fresh = joins(again)
        assert fresh["alice"] != tokens["alice"]  # new ones are printed; the old still work
        back = await connect(base, tokens["alice"], since=0)
        # Everything alice was shown had been saved: the resumed room is not behind it.
        assert back.hello["session_id"] == session and back.hello["last_seq"] >= seen
        await back.catch_up()
        saved = {f["seq"]: f for f in back.frames.durable}
        for seq, text in acknowledged.items():
            assert saved[seq]["sender"] == "alice" and saved[seq]["content"] == text
        # Resumed with since=: only what comes after, and the room goes on.
        later = await connect(base, fresh["alice"], since=seen)
        reply = await later.say("still here after the crash")
        assert reply["ok"] and reply["seq"] > back.hello["last_seq"]
        assert all(seq > seen for seq in later.frames.seqs)
        # SIGTERM: every client is closed with 1000, the session closed and named.
        again.proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await later.read()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        again.expect(r"Session: " + re.escape(session))
        again.expect(r"Serve it again with: agentroom serve --resume " + session[:18])
        assert again.proc.wait(60) == 0
    # A token is printed once, in its join line, and never anywhere else (no log line).
    logged = (tmp_path / "stderr.txt").read_text() + (tmp_path / "stderr-2.txt").read_text()
    printed = "\n".join(first.seen + again.seen)
    for token in [*tokens.values(), *fresh.values()]:
        assert token not in logged and printed.count(token) == 1


def test_serving_beyond_this_machine_warns_that_tls_belongs_in_front(tmp_path):
    path = tmp_path / "served.yaml"
    path.write_text(WORKFLOW)
    command = [sys.executable, "-m", "agentroom", "serve", str(path), "--host", "0.0.0.0"]
    with Child([*command, "--port", "0"], env=child_env(tmp_path), listen="stderr") as child:
        line = child.expect(r"agentroom: warning")
        child.proc.send_signal(signal.SIGTERM)
        assert child.proc.wait(60) == 0
    assert "serving on 0.0.0.0" in line and "TLS" in line


def test_a_port_in_use_is_one_line_that_says_what_to_do(tmp_path):
    path = tmp_path / "served.yaml"
    path.write_text(WORKFLOW)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "agentroom", "serve", str(path), "--port", str(port)]
        with Child(command, env=child_env(tmp_path), listen="stderr") as child:
            line = child.expect(r"error")
            assert child.proc.wait(60) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line


async def test_the_servers_terminal_says_where_who_joins_and_whom_the_room_waits_for(tmp_path):
    path = tmp_path / "served.yaml"
    path.write_text(WORKFLOW)
    with serve(tmp_path, str(path), "--model", "offline") as child:
        heading = child.expect(r"Serving ")
        base, tokens = joins(child)
        assert heading.startswith(f"Serving 'Served from a process' at {base} (session ")
        assert heading.endswith("(its URL also opens the room in a browser):")
        # Nobody types at the server's terminal: it says whom the room waits for.
        waiting = child.expect(r"» waiting for alice")
        assert "their turn" in waiting and "your turn" not in "\n".join(child.seen)
        alice = await connect(base, tokens["alice"])
        child.expect(r"» alice joined")
        await alice.ws.close()
        child.expect(r"» alice left")
        child.proc.send_signal(signal.SIGTERM)
        assert child.proc.wait(60) == 0
