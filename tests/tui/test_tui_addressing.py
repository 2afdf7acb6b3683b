"""``@name text`` typed into the TUI: the named agent answers next, in the transcript.

Driven with Textual's Pilot on the replay model, whose recorded requests say
which agent (or the selector) was asked, in order, and what each was shown.
"""

from __future__ import annotations

from agentroom.models.replay import ReplayClient
from agentroom.room.live import RoomOptions
from agentroom.room.workflows import parse_workflow
from agentroom.tui.app import AgentroomApp
from agentroom.tui.widgets.human_input import HumanInput
from agentroom.tui.widgets.transcript import QuietLine
from tests.tui.test_tui_room import ROOM as TUI_ROOM
from tests.tui.test_tui_room import turns
from tests.waiting import until_drawn

ROOM = TUI_ROOM.format(timeout=60, limit=30)
"""alice, bob and a human, in that order when the strategy is round-robin."""


def make_app(db_path, strategy: str, replies: list[str]) -> tuple[AgentroomApp, ReplayClient]:
    model = ReplayClient(replies)
    workflow = parse_workflow(ROOM)
    options = RoomOptions(db=db_path, workflow=workflow, default_model=model, strategy=strategy)
    return AgentroomApp(options, db=db_path), model


def quiet(app) -> list[str]:
    return [str(w.render()) for w in app.room_screen.query(QuietLine)]


async def ask_bob_then_stop(app, pilot, answer: str) -> None:
    """At the human's turn, ask bob; see bob's answer next; stop at the human's next turn."""
    box = app.room_screen.query_one(HumanInput)
    await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
    await pilot.press(*"@b", "tab", *"why so short?", "enter")
    await until_drawn(pilot, lambda: ("bob", answer) in turns(app))
    shown = turns(app)
    assert shown[shown.index(("human", "why so short?")) + 1] == ("bob", answer)
    assert any("next: bob, chosen by human's @bob" in line for line in quiet(app))
    await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
    await pilot.press(*"/stop", "enter")
    await until_drawn(pilot, lambda: app.room_screen.stopped is not None)


def shown_to(model: ReplayClient, agent: str) -> list[list[str]]:
    return [[m.content for m in r.messages] for r in model.requests if r.hints.agent == agent]


async def test_round_robin_the_addressed_agent_answers_next(db_path):
    # alice, bob, human; then bob (asked), and the order resumes with alice.
    replies = ["Miso.", "Too plain.", "It is two syllables.", "Biscuit?", "Better."]
    app, model = make_app(db_path, "round-robin", replies)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask_bob_then_stop(app, pilot, "It is two syllables.")
    assert [r.hints.agent for r in model.requests] == ["alice", "bob", "bob", "alice", "bob"]
    assert shown_to(model, "bob")[1][-1] == "human (to you): why so short?"


async def test_role_based_the_addressed_agent_answers_next_and_no_selector_is_asked(db_path):
    # The selector picks the human; the human asks bob; the selector picks the human again.
    app, model = make_app(db_path, "role-based", ["human", "It is two syllables.", "human"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ask_bob_then_stop(app, pilot, "It is two syllables.")
    assert [r.hints.agent for r in model.requests] == ["selector", "bob", "selector"]
    assert shown_to(model, "bob")[0][-1] == "human (to you): why so short?"
