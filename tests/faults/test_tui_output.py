"""Escape sequences and markup through every screen of the app, driven with Textual's Pilot.

What is checked is what Textual would write to the terminal: the rendered
screen (``export_screenshot`` holds every character drawn) must carry no raw
control character, and text that looks like markup (``[/]``) must show as
typed instead of crashing the app.  The room, its notifications, the help,
the workflow picker, the session browser and the replay are all covered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.app import App

from agentroom.models.replay import ReplayClient
from agentroom.room.live import RoomOptions
from agentroom.room.workflows import parse_workflow
from agentroom.tui.app import AgentroomApp
from agentroom.tui.widgets.human_input import HumanInput
from agentroom.tui.widgets.status_bar import StatusBar
from agentroom.tui.widgets.transcript import Transcript
from tests.faults.hostile import HOSTILE, assert_inert, hostile_session
from tests.waiting import until_drawn

SIZE = (140, 45)

WORKFLOW = f"""\
name: {json.dumps("room " + HOSTILE)}
task: {json.dumps("task " + HOSTILE)}
agents:
  - id: alice
  - id: bob
humans:
  - id: human
    timeout: 60
strategy:
  order: [alice, bob, human]
termination:
  max_messages: 30
"""


@pytest.fixture(autouse=True)
def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTROOM_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")


def inert_screen(app: App, where: str) -> str:
    """The screen as drawn (SVG text), checked for raw control characters."""
    drawn = app.export_screenshot()
    assert_inert(drawn, where)
    return drawn


def notes(app: App) -> list[str]:
    """The notifications on screen, as plain text."""
    return [str(toast.render()) for toast in app.screen.query("Toast")]


def hostile_room(db_path: Path) -> AgentroomApp:
    model = ReplayClient(
        [f"alice {HOSTILE}", f"bob {HOSTILE}"] * 5, label=f"replay [/]{HOSTILE}", delay=0
    )
    options = RoomOptions(db=db_path, workflow=parse_workflow(WORKFLOW), default_model=model)
    return AgentroomApp(options, db=db_path)


async def test_the_room_shows_hostile_replies_task_names_and_labels_inert(db_path):
    app = hostile_room(db_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = app.room_screen
        box = screen.query_one(HumanInput)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title), guard=60)
        turns = [(t.sender, t.text) for t in screen.query_one(Transcript).turns]
        assert ("alice", f"alice {HOSTILE}") in turns  # kept exactly, shown inert
        drawn = inert_screen(app, "the room")
        assert "␛]0;PWNED" in drawn
        assert "[/]" in str(screen.query_one(StatusBar).render())  # the model's label, as is
        # What the human types: a receiver that is markup, a line full of escapes.
        await pilot.press(*"@[/] hi", "enter")
        await until_drawn(pilot, lambda: any("nobody named '[/]'" in n for n in notes(app)))
        box.insert(f"typed {HOSTILE}")
        await pilot.press("enter")
        await until_drawn(pilot, lambda: ("human", f"typed {HOSTILE}") in _turns(app))
        inert_screen(app, "the room after the human's lines")
        # Commands quoting what was typed: an error, an unknown command.
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title), guard=60)
        box.insert(f"/strategy [/]{HOSTILE}")
        await pilot.press("enter")
        await until_drawn(pilot, lambda: any("[/]" in n and "strategy" in n for n in notes(app)))
        box.insert(f"/[/]{HOSTILE}")
        await pilot.press("enter")
        await until_drawn(
            pilot, lambda: any("/[/]" in n and "is not a command" in n for n in notes(app))
        )
        assert all(not any(c in n for c in "\x1b\x9b\x07") for n in notes(app))
        inert_screen(app, "the room with its notifications")
        await pilot.press("f1")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        inert_screen(app, "help")


def _turns(app: AgentroomApp) -> list[tuple[str, str]]:
    return [(t.sender, t.text) for t in app.room_screen.query_one(Transcript).turns]


async def test_a_model_spec_that_is_markup_is_said_not_crashed_on(db_path):
    options = RoomOptions(db=db_path, workflow=parse_workflow(WORKFLOW), model=f"x[/]{HOSTILE}")
    app = AgentroomApp(options, db=db_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until_drawn(pilot, lambda: any("unknown model spec" in n for n in notes(app)))
        assert any("'x[/]" in n for n in notes(app))
        inert_screen(app, "the room that could not open")


async def test_the_picker_browser_and_replay_show_hostile_names_inert(db_path, tmp_path):
    folder = tmp_path / "xdg-config" / "agentroom" / "workflows"
    folder.mkdir(parents=True)
    (folder / "evil.yaml").write_text(WORKFLOW)
    (folder / "broken.yaml").write_text(f"name: {json.dumps(HOSTILE)}\nagents: []\n")
    await hostile_session(db_path)
    app = AgentroomApp(None, db=db_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "WorkflowPicker")
        drawn = inert_screen(app, "the workflow picker")
        assert "[/]" in drawn
        await app.action_sessions()
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "SessionBrowser")
        inert_screen(app, "the session browser")
        await pilot.press("d")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "ConfirmDelete")
        inert_screen(app, "the delete question")
        await pilot.press("n")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "SessionBrowser")
        await pilot.press("enter")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "ReplayScreen")
        await until_drawn(pilot, lambda: app.screen.state == "ended", guard=60)
        drawn = inert_screen(app, "the replay")
        assert "second" in drawn
