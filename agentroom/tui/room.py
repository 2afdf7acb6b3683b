"""The Room screen: the live transcript, who is here, one agent's own view, and your input.

A worker drains the room's bus feed in batches and redraws at most 20 times
a second; another runs the coordinator.  The screen never calls an agent:
what you type is said through the human agent, and commands go to the
coordinator.  When the room asks you to speak, the input says so and takes
focus.
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
from agentroom.core.records import StoreHealth
from agentroom.room.line import Command, CommandSpec, Parsed, apply, parse_line
from agentroom.room.live import LiveRoom
from agentroom.tui.config import routine_shown
from agentroom.tui.shown import plain
from agentroom.tui.whole import WholeText, envelope_title
from agentroom.tui.widgets.agent_pane import AgentPane
from agentroom.tui.widgets.human_input import HumanInput
from agentroom.tui.widgets.participants import Participants
from agentroom.tui.widgets.status_bar import StatusBar
from agentroom.tui.widgets.transcript import Transcript

REFRESH = 1 / 20
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

    def __init__(self, room: LiveRoom) -> None:
        super().__init__()
        self.room = room
        self.stopped: str | None = None
        self._speaking: dict[str, str] = {}  # agent -> state this turn

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
        room = self.room
        try:
            await room.open()
        except Exception as exc:  # a model spec or a session that cannot be used
            self.notify(str(exc), title="cannot open the room", severity="error", timeout=30)
            return
        try:
            await self._show_opened()
        except NoMatches:  # the screen was taken down (the app quit) while the room opened
            return
        result = await room.run()
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
        room = self.room
        engine = room.engine
        assert engine is not None and room.model is not None
        room.watch_health(self._store_health)
        rows = []
        for agent_id, agent in engine.agents.items():
            label = agent.model_label if hasattr(agent, "model_label") else agent.kind
            rows.append((agent_id, label))
        self.query_one(Participants).set_participants(rows)
        self.query_one(HumanInput).names = list(engine.agents)
        if rows:
            self._show_agent(rows[0][0])
        if room.options.session_id is not None:  # a resumed session: show where it was
            recent = await room.sessions.read_before(engine.session_id, engine.bus.last_seq + 1, 60)
            await self.query_one(Transcript).preload(recent)
        self.pump()
        self.app.sub_title = room.workflow.name if room.workflow else ""

    def _store_health(self, health: StoreHealth) -> None:
        """The store cannot write (or can again): a notification, besides the room's status."""
        self.notify(
            health.describe(),
            title="not saved" if not health.ok else "saved",
            severity="error" if not health.ok else "information",
            timeout=30 if not health.ok else 8,
            markup=False,
        )

    @work(group="feed")
    async def pump(self) -> None:
        feed = self.room.feed
        assert feed is not None
        transcript = self.query_one(Transcript)
        while True:
            batch = await feed.get_batch()
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
                if self.room.human is not None and env.metadata.get("agent") == self.room.human.id:
                    self._not_asked()
            elif event == Event.INPUT_REQUESTED:
                self._your_turn(env.receiver)
        current = self.room.coordinator.current_speaker if self.room.coordinator else None
        if current is not None and people.states.get(current) in ("idle", "error", "skipped"):
            human = self.room.human
            waiting = human is not None and human.id == current and human.waiting
            people.set_state(current, "your turn" if waiting else "thinking")
        pane = self.query_one(AgentPane)
        if pane.agent_id and self.room.engine is not None:
            conv = self.room.engine.conversations.agent_sessions.get(pane.agent_id)
            if conv is not None:
                pane.catch_up(conv.messages)
        self._status()

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

    def _status(self) -> None:
        engine, coordinator = self.room.engine, self.room.coordinator
        if engine is None or coordinator is None:
            return
        usage = engine.usage.total
        labels = sorted(
            {getattr(a, "model_label", a.kind) for a in engine.agents.values() if a.kind != "human"}
        )
        state = "paused" if coordinator.paused else ("stopped" if self.stopped else "running")
        self.query_one(StatusBar).show(
            session=engine.session_id,
            strategy=coordinator.strategy.name,
            turn=coordinator.turns,
            tokens=usage.prompt_tokens + usage.completion_tokens,
            cost=usage.cost_text if usage.calls else "$0",
            models=", ".join(labels),
            state=state,
        )

    def _show_agent(self, agent_id: str) -> None:
        engine = self.room.engine
        if engine is None:
            return
        conv = engine.conversations.agent_sessions.get(agent_id)
        if conv is not None:
            self.query_one(AgentPane).show(agent_id, conv.messages)

    @on(DataTable.RowHighlighted, "#participants")
    def _picked(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self._show_agent(str(event.row_key.value))

    async def _older(self, before_seq: int, count: int) -> list[Envelope]:
        engine = self.room.engine
        if engine is None:
            return []
        return await self.room.sessions.read_before(engine.session_id, before_seq, count)

    # -- what the human does --------------------------------------------------------------------

    @on(HumanInput.Submitted)
    async def _submitted(self, event: HumanInput.Submitted) -> None:
        await self.handle_input(event.text)
        human = self.room.human
        if human is None or not human.waiting:  # a command leaves the turn the human's
            self._not_asked()

    async def handle_input(self, text: str) -> None:
        """Parse the line in the shared grammar (:mod:`agentroom.room.line`) and act on it:
        the screen's own commands here, everything else through :func:`apply`."""
        room = self.room
        parsed = parse_line(text, room.participants, LOCAL_COMMANDS)
        if isinstance(parsed, Command) and await self._local(parsed):
            return
        if parsed is not None:
            await self._act(parsed)

    async def _act(self, parsed: Parsed) -> None:
        reply = await apply(self.room, parsed, self.room.human, LOCAL_COMMANDS)
        if reply.text:
            self.notify(reply.text, severity="information" if reply.ok else "warning", timeout=8)
        if isinstance(parsed, Command):
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
        await self._act(Command("strategy", name))

    def action_strategy(self) -> None:
        from agentroom.tui.strategy import StrategyMenu

        current = self.room.coordinator.strategy.name if self.room.coordinator else None

        async def chosen(name: str | None) -> None:
            if name and name != current:
                await self.switch_strategy(name)

        self.app.push_screen(StrategyMenu(current), chosen)

    async def action_interrupt(self) -> None:
        await self._act(Command("interrupt"))

    async def action_whole(self) -> None:
        await self.open_whole("")

    async def open_whole(self, seq: str) -> None:
        """Show message ``#seq`` whole (by default the last one that was cut)."""
        if seq and not (seq.isdigit() and int(seq) > 0):
            self.notify(f"/open takes a message number (#N), not {seq!r}", severity="warning")
            return
        number = int(seq) if seq else None
        found = self.query_one(Transcript).whole(number)
        engine = self.room.engine
        if found is None and number is not None and engine is not None:  # paged out: read it
            async for env in self.room.sessions.read(
                engine.session_id, after_seq=number - 1, limit=1
            ):
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
        engine = self.room.engine
        if engine is None:
            return
        await engine.flush()
        path = Path.cwd() / f"agentroom-{engine.session_id[:13]}.md"
        try:
            await self.room.sessions.export_to_file(engine.session_id, "md", path)
        except AgentroomError as exc:
            self.notify(str(exc), title="not exported", severity="error", timeout=15)
            return
        self.notify(f"exported to {path}")

    async def fork(self) -> None:
        engine = self.room.engine
        if engine is None:
            return
        await engine.flush()
        fork_id = await self.room.sessions.fork(engine.session_id, engine.bus.last_seq)
        self.notify(
            f"forked as {fork_id}; continue it with: agentroom resume {fork_id[:18]}", timeout=15
        )
