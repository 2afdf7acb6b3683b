"""One 10 MB message in the room: the screen keeps answering, shows it cut, opens it whole.

A reply of 10 MB used to freeze the app for minutes (the transcript laid out
all of it as Markdown; ctrl+q was ignored).  Now the transcript, the agent
pane and the replay show a bounded part and say how much more there is, and
ctrl+t (or a click, or ``/open N``) opens a screen that draws only the
visible lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentroom.models.replay import ReplayClient
from agentroom.text import for_terminal
from agentroom.tui.app import AgentroomApp
from agentroom.tui.live import RoomOptions
from agentroom.tui.shown import MAX_CHARS, MAX_LINES
from agentroom.tui.whole import TextLines, WholeText
from agentroom.tui.widgets.agent_pane import AgentPane
from agentroom.tui.widgets.human_input import HumanInput
from agentroom.tui.widgets.transcript import SaidLine, Transcript
from agentroom.workflows import parse_workflow
from tests.faults.hostile import HOSTILE
from tests.faults.test_tui_output import inert_screen
from tests.test_tui_room import until

MB10 = 10_000_000
PATIENCE = 120.0
"""Seconds a condition may take on a loaded machine before the test gives up (not a timing)."""

WORKFLOW = """\
name: Long replies
agents:
  - id: alice
humans:
  - id: human
    timeout: 600
strategy:
  order: [alice, human]
termination:
  max_messages: 10
"""


@pytest.fixture(autouse=True)
def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTROOM_CONFIG", str(tmp_path / "config.yaml"))


def room(db_path: Path, replies: list[str]) -> AgentroomApp:
    model = ReplayClient(replies)
    options = RoomOptions(db=db_path, workflow=parse_workflow(WORKFLOW), default_model=model)
    return AgentroomApp(options, db=db_path)


def whole_lines(app: AgentroomApp) -> list[str]:
    return app.screen.query_one(TextLines).lines if isinstance(app.screen, WholeText) else []


async def test_a_10_mb_reply_is_shown_cut_the_screen_answers_and_it_opens_whole(db_path):
    # One word of 10 MB: the model streams it as one piece, then the message is stored.
    huge = "x" * (MB10 - len(HOSTILE)) + HOSTILE
    app = room(db_path, [huge, "short and sweet", "again"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.room_screen
        transcript = screen.query_one(Transcript)
        await until(pilot, lambda: any(t.sender == "alice" for t in transcript.turns), PATIENCE)
        # The screen answers a key while the reply is being handled: wait for its effect.
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen.__class__.__name__ == "StrategyMenu", PATIENCE)
        await pilot.press("escape")
        box = screen.query_one(HumanInput)
        await until(pilot, lambda: "your turn" in str(box.border_title), PATIENCE)
        (alice,) = [t for t in transcript.turns if t.sender == "alice"]
        assert alice.text == huge and alice.is_cut  # all of it kept, a part of it shown
        more = str(alice.more.render())
        assert f"… {MB10 - MAX_CHARS:,} more characters" in more and "ctrl+t" in more
        pane = str(screen.query_one(AgentPane).lines[-1].text)
        assert "more characters" in pane and f"/open {alice.seq}" in pane  # alice's view, cut too
        inert_screen(app, "the room with a 10 MB reply")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: len(whole_lines(app)) > 0, PATIENCE)
        lines = whole_lines(app)
        width = app.screen.query_one(TextLines).wrapped_at
        assert len(lines) == -(-len(for_terminal(huge)) // width)  # all of it, wrapped
        tail = "".join(lines[-3:])
        assert tail.endswith("@[/] end") and "␛]0;PWNED" in tail
        inert_screen(app, "the whole 10 MB reply")
        await pilot.press("end")  # scrolling to the end draws the last lines only
        await until(pilot, lambda: app.screen.query_one(TextLines).scroll_offset.y > 0)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)


async def test_a_10_mb_pasted_message_of_many_lines_opens_whole_on_a_click(db_path):
    lines = [f"line {i:06d} " + "y" * 88 for i in range(MB10 // 100)]
    pasted = "\n".join(lines)
    app = room(db_path, ["hello", "ok", "ok"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.room_screen
        box = screen.query_one(HumanInput)
        await until(pilot, lambda: "your turn" in str(box.border_title), PATIENCE)
        await screen.handle_input(pasted)  # the human's line, as the input would send it
        said = screen.query_one(Transcript).query(SaidLine)
        await until(pilot, lambda: any(s.sender == "human" for s in said), PATIENCE)
        (mine,) = [s for s in screen.query_one(Transcript).query(SaidLine) if s.sender == "human"]
        assert mine.is_cut and mine.part.text.count("\n") == MAX_LINES - 1
        assert f"{len(lines) - MAX_LINES:,} more lines" in mine.part.note()
        await pilot.press("ctrl+s")  # the screen still answers
        await until(pilot, lambda: app.screen.__class__.__name__ == "StrategyMenu", PATIENCE)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await until(pilot, lambda: "your turn" in str(box.border_title), PATIENCE)  # settled
        shown = mine.region.intersection(screen.query_one(Transcript).region)
        await pilot.click(mine, offset=(shown.x - mine.region.x + 2, shown.y - mine.region.y))
        await until(pilot, lambda: len(whole_lines(app)) == len(lines), PATIENCE)
        assert whole_lines(app)[-1] == lines[-1]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("ctrl+q")
    assert app.return_code == 0
