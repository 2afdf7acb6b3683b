"""Help, keys and the command palette, as a newcomer meets them (issue 13).

``/help`` and F1 open one help that lists every command with what it does
(the same rows headless ``/help`` prints) and every key as it is after the
user's keymap; a keymap id that no binding has is said in the room; the
palette lists the room's commands before anything is typed.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from textual.command import CommandList

from agentroom.room.line import COMMANDS, help_rows
from agentroom.tui.help import HelpScreen
from agentroom.tui.room import LOCAL_COMMANDS
from agentroom.tui.widgets.human_input import HumanInput
from tests.tui.drawn import screen_lines, screen_text
from tests.tui.test_tui_room import make_app
from tests.waiting import until_drawn


@asynccontextmanager
async def room(db_path, size=(120, 40)):
    """The room on screen, the human's turn come."""
    app, _ = make_app(db_path, ["x"] * 20, timeout=5, limit=30)
    async with app.run_test(size=size, notifications=True) as pilot:
        box = app.room_screen.query_one(HumanInput)
        await until_drawn(pilot, lambda: "your turn" in str(box.border_title))
        yield app, pilot


def row_with(lines: list[str], *parts: str) -> str:
    """The one drawn line that holds every part, in order."""
    found = [line for line in lines if all(p in line for p in parts)]
    assert len(found) == 1, (parts, found)
    line = found[0]
    assert [line.index(p) for p in parts] == sorted(line.index(p) for p in parts), line
    return line


async def test_slash_help_lists_every_command_with_what_it_does(db_path):
    async with room(db_path, (120, 50)) as (app, pilot):
        app.room_screen.query_one(HumanInput).insert("/help")
        await pilot.press("enter")
        await until_drawn(pilot, lambda: isinstance(app.screen, HelpScreen))
        lines = screen_lines(app)
        assert app.screen.commands == help_rows(LOCAL_COMMANDS)  # what headless /help prints
        for spec in [*COMMANDS.values(), *LOCAL_COMMANDS.values()]:
            row_with(lines, f" {spec.usage} ", spec.does[:40])
        row_with(lines, "@NAME TEXT", "says TEXT to NAME only")
        row_with(lines, "//TEXT", "says /TEXT to everyone")
        # ...and the keys, which headless has none of.
        row_with(lines, "esc", "room.interrupt", "Stop whoever is speaking")
        row_with(lines, "f2", "app.status_lines", "Show or fold the routine status lines")
        await pilot.press("escape")
        await until_drawn(pilot, lambda: app.screen is app.room_screen)
        await pilot.press("f1")  # the same help
        await until_drawn(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert screen_lines(app) == lines


async def test_the_help_fits_80_columns(db_path):
    async with room(db_path, (80, 24)) as (app, pilot):
        await pilot.press("f1")
        await until_drawn(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "/stop" in text and "end the run; whoever is speaking keeps" in text  # wrapped


async def test_f1_and_the_footer_show_the_keys_as_remapped(db_path, _config):
    _config.write_text("keymap:\n  room.strategy: f5\n  app.help: f12\n")
    async with room(db_path, (120, 40)) as (app, pilot):
        footer = screen_lines(app)[-1]
        assert "f5 Strategy" in footer and "f12 Help" in footer
        assert "^s" not in footer and "f1 " not in footer
        await pilot.press("f12")
        await until_drawn(pilot, lambda: isinstance(app.screen, HelpScreen))
        lines = screen_lines(app)
        row_with(lines, " f5 ", "room.strategy", "Pick how the next speaker is chosen")
        row_with(lines, " f12 ", "app.help")
        row_with(lines, " ^b ", "app.sessions")  # not remapped: as it was
        await pilot.press("escape")
        await until_drawn(pilot, lambda: app.screen is app.room_screen)
        await pilot.press("f5")  # the remapped key works
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "StrategyMenu")


async def test_a_keymap_id_that_no_binding_has_is_said_in_the_room(db_path, _config):
    _config.write_text("keymap:\n  room.interupt: ctrl+c\n  room.strategy: f5\n")
    async with room(db_path, (120, 40)) as (app, pilot):

        def warned() -> list[str]:
            return [n.message for n in app._notifications if "room.interupt" in n.message]

        await until_drawn(pilot, warned)
        [message] = warned()
        assert "\n" not in message and str(_config) in message
        assert "no binding has the id 'room.interupt' (did you mean room.interrupt?)" in message
        assert "room.{export,interrupt,older,strategy,whole}" in message  # the ids there are
        assert "app.{help,sessions,status_lines,workflows}" in message
        assert "room.interupt" in screen_text(app)  # shown, in the room
        await pilot.press("f5")  # what the keymap says rightly is done all the same
        await until_drawn(pilot, lambda: app.screen.__class__.__name__ == "StrategyMenu")


async def test_a_keymap_that_is_not_a_map_is_said_too(db_path, _config):
    _config.write_text("keymap: [ctrl+c]\n")
    async with room(db_path, (120, 40)) as (app, pilot):
        await until_drawn(
            pilot,
            lambda: any("must map binding ids to keys" in n.message for n in app._notifications),
        )


def palette(app) -> list[str]:
    """What the command palette lists now (nothing while it is not open)."""
    found = app.screen.query(CommandList)
    if not found:
        return []
    options = found.first()
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_the_palette_finds_the_rooms_commands(db_path):
    async with room(db_path) as (app, pilot):
        await pilot.press("ctrl+p", *"strategy")
        await until_drawn(pilot, lambda: any("Choose the strategy" in f for f in palette(app)))


async def test_the_palette_lists_the_rooms_commands_before_anything_is_typed(db_path):
    async with room(db_path, (120, 50)) as (app, pilot):
        await pilot.press("ctrl+p")

        wanted = [
            "Stop the room",
            "Pause the room",
            "Resume the room",
            "Choose the strategy",
            "Interrupt the speaker",
            "Export as Markdown",
            "Fork this session",
            "Fold or show the status lines",
            "Browse sessions",
            "Help",
        ]
        await until_drawn(
            pilot, lambda: all(any(w in item for item in palette(app)) for w in wanted)
        )
        text = screen_text(app)
        assert "Pause the room" in text and "Give nobody a turn until /resume" in text
        options = app.screen.query_one(CommandList)
        options.highlighted = next(i for i, item in enumerate(palette(app)) if "Pause the" in item)
        await pilot.press("enter")
        coordinator = app.room_screen.link.room.coordinator
        await until_drawn(pilot, lambda: coordinator.paused)
