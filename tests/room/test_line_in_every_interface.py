"""The TUI and ``--headless`` take the same lines and do the same with them.

One script of lines, typed into the TUI's input (Textual's Pilot) and into
the stdin of a real ``agentroom run --headless`` process; each line's effect
is checked where a person sees it: what was said, to whom, in the transcript;
what the room announced; what the line answered (a notification in the TUI,
a ``»`` line headless).  Before, ``@bob`` alone went to everyone in the TUI
and to bob headless, and the two took different commands.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from agentroom.models.replay import ReplayClient
from agentroom.room.line import HELP_HEADING, Command, help_rows, parse_line
from agentroom.room.live import RoomOptions
from agentroom.room.workflows import parse_workflow
from agentroom.tui.app import AgentroomApp
from agentroom.tui.room import COMMANDS_HELP, LOCAL_COMMANDS
from agentroom.tui.widgets.human_input import HumanInput
from agentroom.tui.widgets.transcript import QuietLine, SaidLine
from tests.child import Child
from tests.environment import child_env
from tests.room.test_line import ROOM
from tests.waiting import until_drawn

SAID, ANNOUNCED, ANSWERED = "said", "announced", "answered"

SCRIPT = [
    # @name alone: said to that one only, and the words are the mention itself.
    ("@bob", SAID, "human → bob: @bob"),
    ("/pause", ANNOUNCED, "paused: no one is given a turn until resumed"),
    ("/resume", ANNOUNCED, "resumed"),
    ("/strategy round-robin", ANNOUNCED, "strategy switched from round-robin to round-robin"),
    ("/strategy loudest", ANSWERED, "cannot switch strategy: unknown strategy 'loudest'"),
    ("/help", ANSWERED, HELP_HEADING),
    ("/dance", ANSWERED, "/dance is not a command"),
    ("/pause now", ANSWERED, "/pause takes nothing after it"),
    ("@nobody hi", ANSWERED, "nobody named 'nobody' is in the room, so nothing was said"),
    ("@alice: just for you", SAID, "human → alice: just for you"),
    ("/aside bob: psst", SAID, "human → bob: psst"),
    ("/aside carol psst", ANSWERED, "nobody named 'carol' is in the room, so nothing was said"),
    ("/STOP", ANNOUNCED, "stopped: stopped by human"),
]
"""Each line, what kind of effect it has, and the text a person sees for it."""


@pytest.fixture(autouse=True)
def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTROOM_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


async def test_the_tui_does_what_each_line_says(db_path):
    options = RoomOptions(
        db=db_path, workflow=parse_workflow(ROOM), default_model=ReplayClient(["ok"] * 60)
    )
    app = AgentroomApp(options, db=db_path)
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        screen = app.room_screen
        box = screen.query_one(HumanInput)

        def seen() -> list[str]:
            said = [f"{w.envelope.route}: {w.text}" for w in screen.query(SaidLine)]
            return said + [str(w.render()) for w in screen.query(QuietLine)]

        def answers() -> list[str]:
            return [str(toast.render()) for toast in app.screen.query("Toast")]

        await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
        # /strategy alone: the TUI shows the choices as a menu to pick from.
        box.insert("/strategy")
        await pilot.press("enter")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "StrategyMenu")
        await pilot.press("escape")
        await until_drawn(pilot, lambda: app.screen is screen)
        assert "your turn" in str(box.border_title)  # a command does not take the turn away
        # /help: the TUI shows the same list in its help, with its keys beside it.
        box.insert("/help")
        await pilot.press("enter")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        assert app.screen.commands == help_rows(LOCAL_COMMANDS)
        await pilot.press("escape")
        await until_drawn(pilot, lambda: app.screen is screen)
        for line, effect, text in SCRIPT:
            if line == "/help":
                continue  # shown above
            box.insert(line)
            await pilot.press("enter")
            where = answers if effect == ANSWERED else seen

            def done(where=where, text=text) -> bool:
                return any(text in shown for shown in where())

            await until_drawn(pilot, done)
        await until_drawn(pilot, lambda: screen.stopped is not None)
    assert screen.stopped == "stopped by human"


def test_headless_does_what_each_line_says(tmp_path):
    workflow = tmp_path / "one_grammar.yaml"
    workflow.write_text(ROOM)
    run = [sys.executable, "-m", "agentroom", "run", str(workflow), "--headless"]
    with Child(run, env=child_env(tmp_path)) as room:
        room.expect("» your turn, human")
        # /strategy alone: headless says which it is and the choices.
        room.say("/strategy")
        room.expect("» the strategy is round-robin; /strategy NAME switches to one of: ")
        for line, effect, text in SCRIPT:
            room.say(line)
            shown = re.escape(text)
            if effect == ANSWERED:
                room.expect(f"» {shown}")
            else:  # a message as it reads, or the room's status line
                room.expect(f"(#\\d+ +\\[status\\] room: )?{shown}")
        assert room.end() == 0
    assert "Session: " in "\n".join(room.seen)


def test_every_command_the_tui_hints_at_is_in_its_grammar():
    """The input's border hint is written by hand (its length is part of the screen)."""
    hinted = [word for word in COMMANDS_HELP.split() if word.startswith("/")]
    assert hinted
    for word in hinted:
        parsed = parse_line(word, [], LOCAL_COMMANDS)
        assert isinstance(parsed, Command), word
