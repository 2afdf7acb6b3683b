"""The one grammar of a human's line (``agentroom.room.line``): parsing, hostile lines, acting.

The grammar is checked as a table of what a person types and what it means;
acting is checked on a real room (a :class:`LiveRoom` on the replay model),
as every interface uses it.
"""

from __future__ import annotations

import asyncio

import pytest

from agentroom.core.protocol import MessageType
from agentroom.models.replay import ReplayClient
from agentroom.room.line import (
    COMMANDS,
    Command,
    CommandSpec,
    LineError,
    Say,
    apply,
    help_text,
    parse_line,
)
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.workflows import parse_workflow
from tests.faults.hostile import HOSTILE, assert_inert
from tests.tui.test_tui_room import ROOM as TUI_ROOM
from tests.waiting import until

HERE = ["alice", "bob", "human"]


@pytest.mark.parametrize(
    ("line", "meant"),
    [
        ("hello all", Say("hello all")),
        ("  hello all \n", Say("hello all")),
        ("two\nlines", Say("two\nlines")),
        ("@bob just for you", Say("just for you", to="bob")),
        ("@bob: just for you", Say("just for you", to="bob")),
        ("@bob, just for you", Say("just for you", to="bob")),
        ("@bob\non the next line", Say("on the next line", to="bob")),
        ("@bob", Say("@bob", to="bob")),  # alone: a nudge that names bob, to bob
        ("@bob:", Say("@bob", to="bob")),
        ("@* @here is for everyone", Say("@here is for everyone")),
        ("@ is just text", Say("@ is just text")),
        ("//etc/hosts is wrong", Say("/etc/hosts is wrong")),
        ("/stop", Command("stop")),
        ("/STOP", Command("stop")),
        ("  /pause  ", Command("pause")),
        ("/resume", Command("resume")),
        ("/interrupt", Command("interrupt")),
        ("/help", Command("help")),
        ("/strategy", Command("strategy")),
        ("/strategy role-based", Command("strategy", "role-based")),
        ("/strategy\trole-based", Command("strategy", "role-based")),
        ("/aside bob just for you", Say("just for you", to="bob", aside=True)),
        ("/ASIDE bob  two\nlines ", Say("two\nlines", to="bob", aside=True)),
        ("/aside @bob: as typed after @", Say("as typed after @", to="bob", aside=True)),
    ],
)
def test_what_a_line_means(line, meant):
    assert parse_line(line, HERE) == meant


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("@bobb hi", "nobody named 'bobb' is in the room, so nothing was said; who is here: "),
        ("@bob's idea", 'nobody named "bob\'s" is in the room'),  # never to everyone by a typo
        ("@*", "type something after @*"),
        ("/dance", "/dance is not a command; commands: /stop, /pause, /resume, /interrupt, "),
        ("/etc/hosts", "to say a line that starts with /, start it with //"),
        ("/", "a command goes right after the /"),
        ("/ stop", "a command goes right after the /"),
        ("/stop now", "/stop takes nothing after it (not 'now'); type /stop alone"),
        (
            "/strategy round robin",
            "/strategy takes one NAME, not 'round robin'; type /strategy [NAME]",
        ),
        ("/open 3", "/open is not a command"),  # the TUI's own: not in the shared grammar
        ("/aside", "/aside says a line to one participant; type /aside NAME TEXT"),
        ("/aside * hi all", "/aside says a line to one participant; type /aside NAME TEXT"),
        ("/aside bob", "type something after /aside bob (it goes to bob only)"),
        ("/aside bobb hi", "nobody named 'bobb' is in the room, so nothing was said"),
        ("/aside bobb", "nobody named 'bobb' is in the room, so nothing was said"),
    ],
)
def test_a_line_that_means_nothing_says_what_to_type(line, says):
    parsed = parse_line(line, HERE)
    assert isinstance(parsed, LineError)
    assert says in parsed.message
    assert "\n" not in parsed.message


@pytest.mark.parametrize("line", ["", "   ", "\n\t \n"])
def test_a_blank_line_does_nothing(line):
    assert parse_line(line, HERE) is None


def test_an_interface_adds_its_own_commands_to_the_same_grammar():
    local = {"open": CommandSpec("open", "[N]", "show message #N whole")}
    assert parse_line("/open 3", HERE, local) == Command("open", "3")
    assert parse_line("/open", HERE, local) == Command("open")
    assert parse_line("/stop", HERE, local) == Command("stop")
    assert "/open [N]" in help_text(local) and "/open" not in help_text()
    error = parse_line("/nope", HERE, local)
    assert isinstance(error, LineError) and "/open [N]" in error.message


def test_every_command_is_in_the_help():
    assert all(spec.usage in help_text() for spec in COMMANDS.values())


# -- hostile lines -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "meant"),
    [
        (HOSTILE, Say(HOSTILE)),
        (f"@bob {HOSTILE}", Say(HOSTILE, to="bob")),
        (f"//{HOSTILE}", Say(f"/{HOSTILE}")),
        ("[bold]not markup[/bold] [/]", Say("[bold]not markup[/bold] [/]")),
        ("\ufffd invalid UTF-8, decoded \ufffd", Say("\ufffd invalid UTF-8, decoded \ufffd")),
        ("\x00\x07\x1b[2J\u202e", Say("\x00\x07\x1b[2J\u202e")),
    ],
)
def test_hostile_text_is_said_exactly(line, meant):
    """The grammar neither cleans nor interprets what is said: the screens make it inert."""
    assert parse_line(line, HERE) == meant


@pytest.mark.parametrize(
    "line",
    [
        f"/{HOSTILE}",
        f"/strategy {HOSTILE}",
        f"/aside {HOSTILE}",
        "/aside \x1b]0;PWNED\x07 hi",
        f"@{HOSTILE}",
        "@\x1b]0;PWNED\x07 hi",
        "/\x9b31m",
        "@\ufffd\ufffd hi",
        "/[/]",
        "@[/] hi",
        "/stop \x1b[2J",
    ],
)
def test_errors_quote_a_hostile_line_inert_and_short(line):
    parsed = parse_line(line, HERE)
    assert isinstance(parsed, LineError)
    assert_inert(parsed.message, f"the error for {line!r}")
    assert "\n" not in parsed.message and len(parsed.message) < 400


@pytest.mark.parametrize("line", ["x" * 5_000_000, "/" + "x" * 5_000_000, "@" + "b" * 5_000_000])
def test_a_huge_line_is_parsed_and_an_error_about_it_stays_short(line):
    parsed = parse_line(line + " and more", HERE)
    if isinstance(parsed, Say):
        assert len(parsed.text) == len(line) + len(" and more")
    else:
        assert isinstance(parsed, LineError) and len(parsed.message) < 400


# -- acting on a real room ---------------------------------------------------------------------

ROOM = TUI_ROOM.format(timeout=60, limit=60)
"""alice, bob and a human, in that order (the TUI tests' room)."""


async def open_room(
    db_path, *, delay: float = 0.0, words: int = 1
) -> tuple[LiveRoom, ReplayClient]:
    model = ReplayClient([" ".join(["word"] * words)] * 40, delay=delay)
    room = LiveRoom(
        RoomOptions(db=db_path, workflow=parse_workflow(ROOM), default_model=model, feed=False)
    )
    await room.open()
    return room, model


async def test_apply_steers_the_room_as_each_command_says(db_path):
    room, _ = await open_room(db_path)
    human = room.human
    assert human is not None and room.coordinator is not None
    running = asyncio.create_task(room.run())
    try:
        await until(lambda: human.waiting)

        async def line(text: str):
            parsed = parse_line(text, room.participants)
            assert parsed is not None
            return await apply(room, parsed, human)

        assert (await line("/pause")).text == ""  # the room says it itself
        assert room.coordinator.paused
        await line("/resume")
        assert not room.coordinator.paused
        shown = await line("/strategy")
        assert shown.ok and "the strategy is round-robin" in shown.text and "handoff" in shown.text
        refused = await line("/strategy loudest")
        assert not refused.ok and "unknown strategy 'loudest'" in refused.text
        assert room.coordinator.strategy.name == "round-robin"
        await line("/strategy Role_Based")  # any spelling, as in a workflow file
        assert room.coordinator.strategy.name == "role-based"
        assert (await line("/help")).text == help_text()
        wrong = await line("@carol hi")
        assert not wrong.ok and "nobody named 'carol'" in wrong.text
        assert (await line("@bob")).ok
        assert (await line("/aside alice psst")).ok
        await line("/stop")
        result = await running
    finally:
        running.cancel()
        await room.close()
    assert result.reason == "stopped by human"  # who typed it
    said = [
        (e.receiver, e.content, e.metadata.get("event"))
        for e in result.envelopes
        if e.sender == "human" and e.type is MessageType.MESSAGE
    ]
    # The unknown name said nothing, to anyone; the aside is marked as one.
    assert said == [("bob", "@bob", None), ("alice", "psst", "aside")]
    assert "paused: no one is given a turn until resumed" in [e.content for e in result.envelopes]


async def test_interrupt_stops_whoever_is_speaking(db_path):
    room, model = await open_room(db_path, delay=0.01, words=400)
    running = asyncio.create_task(room.run())
    try:
        await until(lambda: model.requests)  # alice's turn is under way
        assert (await apply(room, Command("interrupt"), room.human)).text == "interrupted alice"
        await apply(room, Command("stop"), room.human)
        result = await running
    finally:
        running.cancel()
        await room.close()
    first = next(e for e in result.envelopes if e.sender == "alice")
    assert first.metadata.get("interrupted") or first.metadata.get("event") == "interrupted"


async def test_a_room_without_a_human_takes_commands_but_says_nothing(db_path):
    room, _ = await open_room(db_path)
    try:
        said = await apply(room, Say("hello"), None)
        assert not said.ok and "no human participant" in said.text
        assert (await apply(room, Command("pause"), None)).ok
        assert room.coordinator is not None and room.coordinator.paused
    finally:
        await room.close()


async def test_a_room_not_open_yet_says_so():
    room = LiveRoom(RoomOptions(db=":memory:"))
    reply = await apply(room, Command("pause"), None)
    assert not reply.ok and reply.text == "the room is not open yet"
