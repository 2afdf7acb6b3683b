"""One 10 MB message in the room: the screen keeps answering, shows it cut, opens it whole.

A message of 10 MB (pasted by a person, or from a session saved before
replies were capped) used to freeze the app for minutes (the transcript laid
out all of it as Markdown; ctrl+q was ignored).  Now the transcript, the agent
pane and the replay show a bounded part and say how much more there is, and
ctrl+t (or a click, or ``/open N``) opens a screen that draws only the
visible lines.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentroom.core.text import for_terminal
from agentroom.models.replay import ReplayClient
from agentroom.room.live import RoomOptions
from agentroom.room.workflows import parse_workflow
from agentroom.tui.app import AgentroomApp
from agentroom.tui.shown import MAX_CHARS, MAX_LINES
from agentroom.tui.whole import TextLines, WholeText
from agentroom.tui.widgets.agent_pane import AgentPane
from agentroom.tui.widgets.human_input import HumanInput
from agentroom.tui.widgets.transcript import SaidLine, Transcript
from tests.faults.hostile import HOSTILE
from tests.faults.test_tui_output import inert_screen
from tests.waiting import until_drawn

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


def pane_text(pane: AgentPane) -> str:
    """The agent pane's lines as one text, wrapping undone."""
    return " ".join(" ".join(line.text for line in pane.lines).split())


def whole_lines(app: AgentroomApp) -> list[str]:
    return app.screen.query_one(TextLines).lines if isinstance(app.screen, WholeText) else []


async def test_a_10_mb_line_is_shown_cut_the_screen_answers_and_it_opens_whole(db_path):
    # One line of 10 MB, as pasted by the human (a model's reply is capped well below).
    huge = "x" * (MB10 - len(HOSTILE)) + HOSTILE
    app = room(db_path, ["hello", "short and sweet", "again"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.room_screen
        transcript = screen.query_one(Transcript)
        box = screen.query_one(HumanInput)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title), PATIENCE)
        saying = asyncio.create_task(screen.handle_input(huge))  # as the input sends a line
        # The screen answers a key while the message arrives: wait for its effect.
        await pilot.press("ctrl+s")
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "StrategyMenu", PATIENCE)
        await pilot.press("escape")
        await saying
        await until_drawn(
            pilot, lambda: any(t.sender == "human" for t in transcript.turns), PATIENCE
        )
        (mine,) = [t for t in transcript.turns if t.sender == "human"]
        assert mine.whole_text == huge and mine.is_cut  # all of it kept, a part of it shown
        assert mine.cut_note.startswith(f"… {MB10 - MAX_CHARS:,} more characters: ctrl+t")
        pane = screen.query_one(AgentPane)
        await until_drawn(
            pilot, lambda: f"/open {mine.seq} shows it whole" in pane_text(pane), PATIENCE
        )
        inert_screen(app, "the room with a 10 MB message")
        await pilot.press("ctrl+t")
        await until_drawn(pilot, lambda: len(whole_lines(app)) > 0, PATIENCE)
        lines = whole_lines(app)
        width = app.screen.query_one(TextLines).wrapped_at
        assert len(lines) == -(-len(for_terminal(huge)) // width)  # all of it, wrapped
        tail = "".join(lines[-3:])
        assert tail.endswith("@[/] end") and "␛]0;PWNED" in tail
        inert_screen(app, "the whole 10 MB message")
        await pilot.press("end")  # scrolling to the end draws the last lines only
        await until_drawn(pilot, lambda: app.screen.query_one(TextLines).scroll_offset.y > 0)
        await pilot.press("escape")
        await until_drawn(pilot, lambda: app.screen is screen)


async def test_a_10_mb_pasted_message_of_many_lines_opens_whole_on_a_click(db_path):
    lines = [f"line {i:06d} " + "y" * 88 for i in range(MB10 // 100)]
    pasted = "\n".join(lines)
    app = room(db_path, ["hello", "ok", "ok"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.room_screen
        box = screen.query_one(HumanInput)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title), PATIENCE)
        await screen.handle_input(pasted)  # the human's line, as the input would send it
        said = screen.query_one(Transcript).query(SaidLine)
        await until_drawn(pilot, lambda: any(s.sender == "human" for s in said), PATIENCE)
        (mine,) = [s for s in screen.query_one(Transcript).query(SaidLine) if s.sender == "human"]
        assert mine.is_cut and mine.shown_part.text.count("\n") == MAX_LINES - 1
        assert f"{len(lines) - MAX_LINES:,} more lines" in mine.cut_note
        await pilot.press("ctrl+s")  # the screen still answers
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "StrategyMenu", PATIENCE)
        await pilot.press("escape")
        await until_drawn(pilot, lambda: app.screen is screen)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title), PATIENCE)  # settled
        shown = mine.region.intersection(screen.query_one(Transcript).region)
        await pilot.click(mine, offset=(shown.x - mine.region.x + 2, shown.y - mine.region.y))
        await until_drawn(pilot, lambda: len(whole_lines(app)) == len(lines), PATIENCE)
        assert whole_lines(app)[-1] == lines[-1]
        await pilot.press("escape")
        await until_drawn(pilot, lambda: app.screen is screen)
        await pilot.press("ctrl+q")
    assert app.return_code == 0


async def test_a_streamed_reply_feeds_its_markdown_only_up_to_the_limit():
    """The turn being streamed: past the limit it only counts what arrives."""
    from textual.app import App, ComposeResult

    from agentroom.core.chunk import StreamChunk
    from agentroom.core.protocol import Envelope
    from agentroom.tui.widgets.transcript import MessageTurn

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield Transcript()

    def chunk(text: str) -> StreamChunk:
        return StreamChunk("alice", "room", "t1", text)

    pieces = [("line\n" * 30), "y" * 5_000_000, f"{HOSTILE}\n" * 3, "z" * 5_000_000]
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        transcript = app.query_one(Transcript)
        for piece in pieces:
            await transcript.add([chunk(piece)])
        (turn,) = transcript.query(MessageTurn)
        assert turn.streaming and turn.is_cut and turn.text == "".join(pieces)
        assert turn.shown_part.text == "line\n" * 30 + "y" * (MAX_CHARS - 150)
        assert turn.cut_note.startswith(f"… {len(turn.text) - MAX_CHARS:,} more characters, 3 more")
        whole = "".join(pieces)
        done = Envelope(sender="alice", content=whole, seq=9, metadata={"turn": "t1"})
        await transcript.add([done])
        await pilot.pause()
        (said,) = [t for t in transcript.turns if t.sender == "alice"]
        assert said.is_cut and said.whole_text == whole
        inert_screen(app, "a streamed 10 MB reply")
