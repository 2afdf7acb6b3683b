"""End to end, as three people use it: ``agentroom serve`` in one terminal, two ``agentroom
join`` room screens in two others (tmux, each its own), each human typing in turn."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.cli.test_e2e_tmux import AGENTROOM, saved_session
from tests.environment import child_env
from tests.terminal import Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

PAIR = """
name: Pair room
task: Name the cat.
agents:
  - id: ada
    role: namer
  - id: cy
    role: critic
humans:
  - id: alice
    timeout: 600
  - id: bob
    timeout: 600
strategy:
  name: round-robin
  order: [ada, alice, cy, bob]
termination:
  max_messages: 40
"""
HEADER = re.compile(r"\b(ada|cy|alice|bob)  #(\d+)")
"""A turn's header on the room screen: who, and the message number."""


def join_url(screen: str, human: str) -> str:
    found = re.search(rf"^{human}\s+agentroom join '([^']+)'", screen, re.M)
    assert found, f"no join line for {human}:\n{screen}"
    return found.group(1)


def said(screen: str) -> list[tuple[str, int]]:
    return [(who, int(seq)) for who, seq in HEADER.findall(screen)]


def test_two_people_join_one_room_and_see_the_same_conversation(tmp_path: Path):
    workflow = tmp_path / "pair.yaml"
    workflow.write_text(PAIR)
    env = child_env(tmp_path / "server", AGENTROOM_MODEL="offline")
    people = {
        human: child_env(
            tmp_path / human,
            AGENTROOM_CONFIG=str(tmp_path / f"{human}.yaml"),
            TERM="xterm-256color",
        )
        for human in ("alice", "bob")
    }
    with (
        Terminal(tmp_path, width=220).start(
            f"{AGENTROOM} serve {workflow} --port 0", env
        ) as server,
        Terminal(tmp_path, height=50) as alice,
        Terminal(tmp_path, height=50) as bob,
    ):
        shown = server.wait_for(re.compile(r"^bob\s+agentroom join", re.M))
        alice.start(f"{AGENTROOM} join '{join_url(shown, 'alice')}'", people["alice"])
        bob.start(f"{AGENTROOM} join '{join_url(shown, 'bob')}'", people["bob"])
        alice.wait_for("your turn, alice")
        alice.keys("hello from alice", literal=True)
        alice.keys("Enter")
        bob.wait_for("your turn, bob")
        bob.keys("hello from bob", literal=True)
        bob.keys("Enter")
        # Then ada speaks, and the room waits for alice again: both screens settle.
        alice.wait_for("your turn, alice")
        for term in (alice, bob):
            term.wait_for(re.compile(r"bob  #\d+[\s\S]*ada  #\d+"))
        seen = {"alice": said(alice.screen()), "bob": said(bob.screen())}
        assert seen["alice"] == seen["bob"]  # the same turns, in the same order
        speakers = [who for who, _ in seen["alice"]]
        assert speakers[-5:] == ["ada", "alice", "cy", "bob", "ada"]
        assert "hello from alice" in bob.screen() and "hello from bob" in alice.screen()
        for term in (alice, bob):
            term.keys("C-q")
            assert term.wait_closed()
        server.keys("C-c")
        assert server.wait_closed()
    _, envelopes = saved_session(env)
    lines = [(e["sender"], e["content"]) for e in envelopes if e["type"] == "message"]
    assert ("alice", "hello from alice") in lines and ("bob", "hello from bob") in lines
    assert lines.index(("alice", "hello from alice")) < lines.index(("bob", "hello from bob"))
