"""Headless input through the real command: a line typed mid-stream, and stdin that ends.

A line the human types while a reply streams must not break that reply's
line nor print the reply twice: it is printed once the reply's line ends.
When stdin has ended, a human's turn is skipped as "stdin ended", never as
"did not answer within 0.001s", however far the reading thread is behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

TIMEOUT = 120
AGENTROOM = [sys.executable, "-m", "agentroom"]

FIRST_THE_HUMAN = """\
name: asked first
agents:
  - id: helper
humans:
  - id: human
    timeout: 0.001
strategy:
  name: round-robin
  order: [human, helper]
termination:
  max_messages: 4
"""


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


class Output:
    """A child's stdout as it comes, byte by byte: a previewed line shows before it ends."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.data = bytearray()
        self._changed = threading.Condition()
        assert proc.stdout is not None
        threading.Thread(target=self._read, args=(proc.stdout.fileno(),), daemon=True).start()

    def _read(self, fd: int) -> None:
        while chunk := os.read(fd, 4096):
            with self._changed:
                self.data.extend(chunk)
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    ended = False

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def wait_for(self, condition: Callable[[], bool]) -> None:
        """Until ``condition()`` holds for what was read; the guard only catches a hang."""
        with self._changed:
            if not self._changed.wait_for(lambda: condition() or self.ended, timeout=TIMEOUT):
                raise AssertionError(f"still not there after {TIMEOUT} s:\n{self.text}")
            assert condition(), f"the output ended first:\n{self.text}"


def test_a_line_typed_while_a_reply_streams_comes_after_the_whole_reply(env):
    proc = subprocess.Popen(
        [*AGENTROOM, "run", "debate", "--headless", "--max-messages", "3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env | {"AGENTROOM_OFFLINE_WPS": "4"},  # a reply streams for a few seconds
    )
    try:
        out = Output(proc)
        # pro's reply is being previewed: its line has begun and not ended
        out.wait_for(lambda: "\npro: " in out.text and not out.text.endswith("\n"))
        assert proc.stdin is not None
        proc.stdin.write(b"hold on, pro\n")
        proc.stdin.flush()
        out.wait_for(lambda: out.ended)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)
    assert proc.returncode == 0
    lines = out.text.splitlines()
    shown = subprocess.run(
        [*AGENTROOM, "sessions", "show", lines[-1].split()[-1], "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    envelopes = json.loads(shown.stdout)["envelopes"]
    said = [e for e in envelopes if e["type"] == "message"]
    (reply,) = [e for e in said if e["sender"] == "pro"]
    (aside,) = [e for e in said if e["sender"] == "human"]
    assert aside["content"] == "hold on, pro" and aside["seq"] < reply["seq"]  # said first
    # ... but printed after pro's whole line, which is there once, unbroken
    at = lines.index(f"pro: {reply['content']}")
    assert lines[at + 1] == "human: hold on, pro"
    assert sum(reply["content"] in line for line in lines) == 1


def run_asked_first(env: dict[str, str], folder: Path, stdin: bytes) -> list[str]:
    """The human-first workflow run headless on ``stdin`` (a file); its output lines."""
    workflow = folder / "first.yaml"
    workflow.write_text(FIRST_THE_HUMAN)
    lines = folder / "lines.txt"
    lines.write_bytes(stdin)
    with lines.open("rb") as source:
        done = subprocess.run(
            [*AGENTROOM, "run", str(workflow), "--headless"],
            stdin=source,
            capture_output=True,
            text=True,
            env=env | {"AGENTROOM_OFFLINE_WPS": "0"},
            timeout=TIMEOUT,
        )
    assert done.returncode == 0, done.stderr
    assert "did not answer" not in done.stdout, done.stdout
    return done.stdout.splitlines()


def test_stdin_that_ends_skips_the_human_as_ended_even_behind_a_long_input(env, tmp_path):
    # Many empty lines (each ignored) before the end: the reading thread is still at them
    # when the human's 1 ms turn begins, and must catch up before the turn says why it ends.
    out = run_asked_first(env, tmp_path, b"\n" * 300_000)
    skipped = [line for line in out if "skipping their turn" in line]
    assert skipped and all(
        line.endswith("human has no input any more (stdin ended); skipping their turn")
        for line in skipped
    ), out


def test_a_line_already_typed_answers_a_turn_that_times_out_before_it_is_read(env, tmp_path):
    out = run_asked_first(env, tmp_path, b"\n" * 300_000 + b"here I am\n")
    first = next(i for i, line in enumerate(out) if line.startswith("» your turn, human: "))
    assert out[first + 1] == "human: here I am"  # the answer to that turn, not an aside later
