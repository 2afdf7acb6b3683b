"""The room screen on a room served elsewhere (``agentroom join``): the same screen, on a
RemoteLink to a real uvicorn on port 0, driven with Textual's Pilot."""

from __future__ import annotations

from agentroom.server.join_url import join_target
from agentroom.server.remote import RemoteLink
from agentroom.tui.app import AgentroomApp
from agentroom.tui.widgets.agent_pane import AgentPane
from agentroom.tui.widgets.human_input import HumanInput
from agentroom.tui.widgets.participants import Participants
from agentroom.tui.widgets.status_bar import StatusBar
from agentroom.tui.widgets.transcript import Transcript
from tests.server.conftest import connect, mint, open_served, serving
from tests.waiting import until_drawn


def turns(app: AgentroomApp) -> list[tuple[str, str]]:
    screen = app.room_screen
    assert screen is not None
    return [(t.sender, t.text) for t in screen.query_one(Transcript).turns]


async def test_a_joined_room_is_drawn_and_spoken_to_like_a_local_one(db_path):
    served = open_served(db_path, limit=30)
    async with serving(served) as base:
        link = RemoteLink(join_target(f"{base}/#token={await mint(served, 'alice')}"))
        app = AgentroomApp(None, db=db_path, link=link)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            screen = app.room_screen
            assert screen is not None
            box = screen.query_one(HumanInput)
            await until_drawn(pilot, lambda: "your turn, alice" in str(box.border_title))
            assert ("ada", "Whiskers?") in turns(app)
            people = screen.query_one(Participants)
            assert list(people.states) == ["ada", "alice", "bob", "carol"]
            await pilot.press(*"Call it Miso.", "enter")
            await until_drawn(pilot, lambda: ("alice", "Call it Miso.") in turns(app))
            await until_drawn(pilot, lambda: "your turn" not in str(box.border_title))
            # Whose turn it is follows the room (bob's now, though nothing he said is
            # drawn yet); who is here follows the connections: carol has none, so she is
            # away until she joins.
            await until_drawn(pilot, lambda: people.states["bob"] == "asked")
            assert people.states["alice"] == "idle"
            await until_drawn(pilot, lambda: people.states["carol"] == "away")
            carol = await connect(base, await mint(served, "carol"))
            await until_drawn(pilot, lambda: people.states["carol"] == "idle")
            await carol.close()
            await until_drawn(pilot, lambda: people.states["carol"] == "away")
            status = screen.query_one(StatusBar)
            assert "round-robin" in str(status.render())
            assert served.session_id[:18] in str(status.render())
            # A command goes to the served room; the state it changes comes back and is drawn.
            await pilot.press(*"/pause", "enter")
            await until_drawn(pilot, lambda: str(status.render()).startswith("paused"))
            assert served.room.coordinator is not None and served.room.coordinator.paused
            # What only the serving side has is said plainly.
            await pilot.press(*"/export", "enter")
            await until_drawn(
                pilot, lambda: any("where the room runs" in n.message for n in app._notifications)
            )
            pane = screen.query_one(AgentPane)
            drawn = " ".join(" ".join(str(line.text) for line in pane.lines).split())
            assert "kept where the room runs" in drawn
        saved = [(e.sender, e.content) async for e in served.room.sessions.read(served.session_id)]
    assert ("alice", "Call it Miso.") in saved
