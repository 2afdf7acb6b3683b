"""The Room screen: the live transcript, who is here, one agent's own view, and your input.

The screen holds a :class:`~agentroom.room.link.RoomLink`: the same screen
draws a room of this process and one served elsewhere (``agentroom join``).
A worker drains the link's feed in batches and redraws at most 20 times a
second; another runs the room.  The screen never calls an agent: what you
type goes through the link in the grammar every interface shares (the
screen's own commands, such as ``/export``, stay here).  When the room asks
you to speak, the input says so and takes focus.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from agentroom.core.chunk import LiveItem, StreamChunk
from agentroom.core.errors import AgentroomError
from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType
from agentroom.room.line import Command, CommandSpec, LineError, parse_line
from agentroom.room.link import Health, RoomLink
from agentroom.room.state import RoomState
from agentroom.tui.config import routine_shown
from agentroom.tui.shown import plain
from agentroom.tui.whole import WholeText, envelope_title
from agentroom.tui.widgets.agent_pane import AgentPane
from agentroom.tui.widgets.human_input import HumanInput
from agentroom.tui.widgets.participants import Participants
from agentroom.tui.widgets.status_bar import StatusBar
from agentroom.tui.widgets.transcript import Transcript

REFRESH = 1 / 20
STATE_CHECK = 0.5
"""Seconds between looks at the room's state besides those its feed prompts."""
COMMANDS_HELP = "/stop /pause /resume /strategy [name] /export /fork /help · @name gets next turn"
"""The input's hint (the grammar is :mod:`agentroom.room.line`; /help lists all of it)."""
LOCAL_COMMANDS = {
    spec.name: spec
    for spec in (
        CommandSpec("export", "", "write the session as Markdown in the current folder"),
        CommandSpec("fork", "", "a new session that starts from here"),
        CommandSpec("open", "[N]", "show message #N whole (by default the last one cut)"),
        CommandSpec(
            "fold", "", "fold the routine status lines (who speaks next, usage) or show them"
        ),
    )
}
"""The screen's own commands, besides the ones every interface accepts."""
UNKNOWN_VIEW = "(what an agent has seen is kept where the room runs; the transcript has it all)"
"""The agent pane of a room served elsewhere."""


class RoomScreen(Screen[None]):
    CSS_PATH = "room.tcss"
    BINDINGS = [
        Binding(
            "escape",
            "interrupt",
            "Interrupt",
            id="room.interrupt",
            tooltip="Stop whoever is speaking; their partial reply is kept",
        ),
        Binding(
            "ctrl+s",
            "strategy",
            "Strategy",
            id="room.strategy",
            tooltip="Pick how the next speaker is chosen",
        ),
        Binding(
            "ctrl+l",
            "older",
            "Older",
            id="room.older",
            tooltip="Page older turns back in from the database",
        ),
        Binding(
            "ctrl+r",
            "export",
            "Export",
            id="room.export",
            tooltip="Write the session as Markdown in the current folder",
        ),
        Binding(
            "ctrl+t",
            "whole",
            "Whole",
            id="room.whole",
            tooltip="Show the last message that was cut, whole (/open N: message #N)",
            show=False,
        ),
    ]

    def __init__(self, link: RoomLink) -> None:
        super().__init__()
        self.link = link
        self.stopped: str | None = None
        self._speaking: dict[str, str] = {}  # agent -> state this turn
        self._shown: tuple[RoomState, str | None] | None = None  # what the status bar says

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="main"):
            yield Transcript(id="transcript", reader=self._older)
            with Vertical(id="side"):
                yield Participants(id="participants")
                yield AgentPane(id="pane")
        yield HumanInput(id="input")
        yield Footer()

    async def on_mount(self) -> None:
        box = self.query_one(HumanInput)
        box.border_title = "you"
        box.border_subtitle = plain(COMMANDS_HELP)  # "[name]" is text, not a tag
        box.focus()
        await self.show_routine(routine_shown())
        self.start()

    async def show_routine(self, shown: bool) -> None:
        """Show the transcript's routine status lines, or fold them away."""
        self.query_one(Transcript).show_routine(shown)

    @work(exclusive=True, group="room")
    async def start(self) -> None:
        link = self.link
        try:
            await link.open()
        except Exception as exc:  # a model spec or a session that cannot be used
            self.notify(str(exc), title="cannot open the room", severity="error", timeout=30)
            return
        try:
            await self._show_opened()
        except NoMatches:  # the screen was taken down (the app quit) while the room opened
            return
        result = await link.run()
        self.stopped = result.reason
        self.notify(
            f"stopped: {result.reason}",
            title="the room is over",
            severity="error" if result.failed else "information",
        )
        with contextlib.suppress(NoMatches):  # taken down as the room ended
            self._not_asked()
            self._status()

    async def _show_opened(self) -> None:
        """Fill the screen from the room just opened, and start showing what it says."""
        link = self.link
        link.watch_health(self._health)
        state = link.state()
        rows = [(member.id, member.label) for member in state.members]
        self.query_one(Participants).set_participants(rows)
        self.query_one(HumanInput).names = state.participants
        if rows:
            self._show_agent(rows[0][0])
        recent = await link.recent()  # a resumed session: show where it was
        if recent:
            await self.query_one(Transcript).preload(recent)
        self.pump()
        # A room's state may change with nothing said (a server's ``state`` frame).
        self.set_interval(STATE_CHECK, self._status)
        self.app.sub_title = state.title

    def _health(self, health: Health) -> None:
        """The room is not being kept (the disk, the connection), or is again: a
        notification, besides the room's status."""
        self.notify(
            health.text,
            title=health.title,
            severity="error" if not health.ok else "information",
            timeout=30 if not health.ok else 8,
            markup=False,
        )

    @work(group="feed")
    async def pump(self) -> None:
        link = self.link
        transcript = self.query_one(Transcript)
        while True:
            batch = await link.get_batch()
            if not batch or not self.is_attached:
                return
            try:
                await transcript.add(batch)
                self._after(batch)
            except NoMatches:  # the screen is being taken down while the room closes
                return
            await asyncio.sleep(REFRESH)

    # -- what a batch changes ------------------------------------------------------------------

    def _after(self, batch: list[LiveItem]) -> None:
        people = self.query_one(Participants)
        me = self.link.me
        for env in batch:
            if isinstance(env, StreamChunk):
                people.set_state(env.sender, "streaming")
                continue
            event = env.metadata.get("event")
            if env.type is MessageType.MESSAGE and env.sender in people.states:
                people.set_state(env.sender, "idle")
            elif event == Event.TURN_FAILED:
                people.set_state(str(env.metadata.get("agent")), "error")
            elif event == Event.SKIPPED:
                people.set_state(str(env.metadata.get("agent")), "skipped")
                if me is not None and env.metadata.get("agent") == me:
                    self._not_asked()
            elif event == Event.INPUT_REQUESTED:
                self._your_turn(env.receiver)
        state = self.link.state()
        self._floor(state)
        pane = self.query_one(AgentPane)
        if pane.agent_id:
            view = self.link.agent_view(pane.agent_id)
            if view is not None:
                pane.catch_up(view)
        self._status(state)

    def _not_asked(self) -> None:
        box = self.query_one(HumanInput)
        box.remove_class("asked")
        box.border_title = "the room is over (ctrl+q to quit)" if self.stopped else "you"

    def _your_turn(self, who: str) -> None:
        if self.stopped:
            return
        box = self.query_one(HumanInput)
        box.border_title = f"your turn, {who}: say something (Enter sends)"
        box.add_class("asked")
        box.focus()

    def _status(self, state: RoomState | None = None) -> None:
        state = state or self.link.state()
        if not state.session_id:  # not open yet
            return
        shown = (state, self.stopped)
        if shown == self._shown:
            return
        self._shown = shown
        self._floor(state)
        self.query_one(StatusBar).show(
            session=state.session_id,
            strategy=state.strategy,
            turn=state.turn,
            tokens=state.tokens,
            cost=state.cost,
            models=state.models,
            state="paused" if state.paused else ("stopped" if self.stopped else "running"),
        )

    def _floor(self, state: RoomState) -> None:
        """Who has the floor, and (in a served room) who is here, from the room's state.

        The feed says what each one did (streaming, said it, failed); the state, which
        across the network may arrive after the envelopes it follows, says whose turn it
        is now, so a turn shown ends when the state moves on, not only when its speaker
        says something.  A human with no connection to a served room is away.
        """
        people, me, current = self.query_one(Participants), self.link.me, state.speaker
        for name, now in list(people.states.items()):
            if name != current and now in ("thinking", "your turn", "asked"):
                people.set_state(name, "idle")
        if current is not None and people.states.get(current) in (
            "idle",
            "error",
            "skipped",
            "away",
        ):
            waiting = current == me and current in state.waiting
            asked = current in state.humans  # another person's turn: not thinking, asked
            people.set_state(current, "your turn" if waiting else "asked" if asked else "thinking")
        if state.online is None:
            return
        for human in state.humans:
            drawn = people.states.get(human)
            if human not in state.online and drawn == "idle":
                people.set_state(human, "away")
            elif human in state.online and drawn == "away":
                people.set_state(human, "idle")

    def _show_agent(self, agent_id: str) -> None:
        view = self.link.agent_view(agent_id)
        if view is not None:
            self.query_one(AgentPane).show(agent_id, view)
        else:
            self.query_one(AgentPane).unknown(agent_id, UNKNOWN_VIEW)

    @on(DataTable.RowHighlighted, "#participants")
    def _picked(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self._show_agent(str(event.row_key.value))

    async def _older(self, before_seq: int, count: int) -> list[Envelope]:
        return await self.link.older(before_seq, count)

    # -- what the human does --------------------------------------------------------------------

    @on(HumanInput.Submitted)
    async def _submitted(self, event: HumanInput.Submitted) -> None:
        await self.handle_input(event.text)
        me = self.link.me
        if me is None or me not in self.link.state().waiting:  # a command leaves the turn theirs
            self._not_asked()

    async def handle_input(self, text: str) -> None:
        """Parse the line in the shared grammar (:mod:`agentroom.room.line`) and act on it:
        the screen's own commands here, everything else through the link."""
        parsed = parse_line(text, self.link.state().participants, LOCAL_COMMANDS)
        if isinstance(parsed, Command) and await self._local(parsed):
            return
        if isinstance(parsed, LineError):  # said here: it knows the screen's own commands too
            self.notify(parsed.message, severity="warning", timeout=8)
        elif parsed is not None:
            await self._send(text, command=isinstance(parsed, Command))

    async def _send(self, text: str, *, command: bool) -> None:
        reply = await self.link.send(text)
        if reply.text:
            self.notify(reply.text, severity="information" if reply.ok else "warning", timeout=8)
        if command:
            with contextlib.suppress(NoMatches):  # the screen is being taken down
                self._status()

    async def _local(self, command: Command) -> bool:
        """Run one of the screen's own commands (or its own way to do a shared one)."""
        if command.name == "strategy" and not command.arg:
            self.action_strategy()  # the choices, as a menu to pick from
        elif command.name == "export":
            await self.action_export()
        elif command.name == "fork":
            await self.fork()
        elif command.name == "open":
            await self.open_whole(command.arg.lstrip("#"))
        elif command.name == "help":  # the app's help: the same list, and the keys
            await self.app.run_action("help")
        elif command.name == "fold":  # as f2 does, on every screen
            await self.app.run_action("status_lines")
        else:
            return False
        return True

    async def command(self, name: str) -> None:
        """Run command ``name`` (the command palette's way in)."""
        await self.handle_input(f"/{name}")

    async def switch_strategy(self, name: str) -> None:
        await self._send(f"/strategy {name}", command=True)

    def action_strategy(self) -> None:
        from agentroom.tui.strategy import StrategyMenu

        current = self.link.state().strategy or None

        async def chosen(name: str | None) -> None:
            if name and name != current:
                await self.switch_strategy(name)

        self.app.push_screen(StrategyMenu(current), chosen)

    async def action_interrupt(self) -> None:
        await self._send("/interrupt", command=True)

    async def action_whole(self) -> None:
        await self.open_whole("")

    async def open_whole(self, seq: str) -> None:
        """Show message ``#seq`` whole (by default the last one that was cut)."""
        if seq and not (seq.isdigit() and int(seq) > 0):
            self.notify(f"/open takes a message number (#N), not {seq!r}", severity="warning")
            return
        number = int(seq) if seq else None
        found = self.query_one(Transcript).whole(number)
        if found is None and number is not None:  # paged out: read it
            env = await self.link.envelope(number)
            if env is not None:
                found = (envelope_title(env), env.content)
        if found is None:
            self.notify(f"no message #{number}" if number else "no message was cut")
            return
        self.app.push_screen(WholeText(*found))

    @on(Transcript.WholeRequested)
    def _whole_requested(self, event: Transcript.WholeRequested) -> None:
        self.app.push_screen(WholeText(event.title, event.text))

    async def action_older(self) -> None:
        count = await self.query_one(Transcript).load_older()
        self.notify(f"{count} older turns loaded" if count else "nothing older to load")

    async def action_export(self) -> None:
        try:
            path = await self.link.export(Path.cwd())
        except AgentroomError as exc:
            self.notify(str(exc), title="not exported", severity="error", timeout=15)
            return
        self.notify(f"exported to {path}")

    async def fork(self) -> None:
        try:
            fork_id = await self.link.fork()
        except AgentroomError as exc:
            self.notify(str(exc), title="not forked", severity="error", timeout=15)
            return
        self.notify(
            f"forked as {fork_id}; continue it with: agentroom resume {fork_id[:18]}", timeout=15
        )
