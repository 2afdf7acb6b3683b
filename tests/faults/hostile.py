"""Hostile text for the fault-injection tests, and the checks that it came out inert.

``HOSTILE`` is what a model, a tool, a file or a person may send: escape
sequences that retitle the window (OSC 0 and 2), clear the screen, ask the
terminal for a cursor-position report (which it "types" back), a C1 CSI, a
bidirectional override, and Rich/Textual markup that does not balance.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from agentroom import Engine, HumanAgent, ScriptedAgent

HOSTILE = (
    "hi \x1b]0;PWNED\x07 \x1b]2;PWNED\x1b\\ \x1b[2J\x1b[6n \x9b31m \x9d0;x\x9c "
    "\u202eevil [/] [bold]b[/bold] @[/] end"
)
"""Everything at once: OSC title, clear screen, cursor report, C1 CSI/OSC, bidi, markup."""

RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What a terminal acts on instead of showing (newline and tab are fine)."""


def assert_inert(text: str, where: str = "output") -> None:
    """No raw control character in ``text`` (what reached, or would reach, a terminal)."""
    found = RAW_CONTROL.search(text)
    assert found is None, (
        f"raw {found.group()!r} in {where}: {text[max(0, found.start() - 60) : found.end() + 60]!r}"
    )


def assert_inert_bytes(data: bytes, where: str = "output") -> None:
    """As :func:`assert_inert`, on what a process wrote (UTF-8: C1 is two bytes)."""
    assert b"\x1b" not in data, f"ESC in {where}"
    assert_inert(data.decode("utf-8"), where)


def colourless(env: dict[str, str]) -> dict[str, str]:
    """``env`` (the shared ``env`` fixture's) without forced colours: styles are escapes too."""
    return {k: v for k, v in env.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}


def agentroom(env: dict[str, str], *args: str, stdin: bytes | None = None) -> Any:
    """The real command in a subprocess; stdout and stderr as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "agentroom", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        timeout=120,
    )


async def hostile_session(db: Path | str) -> str:
    """A saved session whose title, messages and a status all carry ``HOSTILE``."""
    async with Engine.open(db, title=f"title {HOSTILE}") as engine:
        human = engine.register_agent(HumanAgent("human"))
        engine.register_agent(ScriptedAgent("alice", [HOSTILE, f"second {HOSTILE}"]))
        await engine.run_agent_turn("alice")
        await human.say(HOSTILE, to="alice")
        await engine.bus.announce(f"status {HOSTILE}")
        await engine.run_agent_turn("alice")
        await engine.save_all()
        return engine.session_id


def make_hostile_session(db: Path | str) -> str:
    return asyncio.run(hostile_session(db))
