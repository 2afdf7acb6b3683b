"""The agentroom terminal app: the room, and the screens around it.

``agentroom`` opens it on the default workflow at once; the workflow picker,
the session browser, the strategy menu and help are a key or a palette
command away.  Themes come from ``themes/``; the last one chosen and any key
remappings (by binding id) live in the user's config file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import WorkerError

from agentroom.core.errors import AgentroomError, FileWriteError
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.sessions import Sessions
from agentroom.room.workflows import load_workflow
from agentroom.tui.config import load_config, save_config
from agentroom.tui.help import HelpScreen
from agentroom.tui.room import RoomScreen
from agentroom.tui.shown import brief
from agentroom.tui.themes import DEFAULT_THEME, load_themes

ROOM_COMMANDS = (
    ("Stop the room", "stop", "End the run; whoever is speaking keeps what they said"),
    ("Pause the room", "pause", "Give nobody a turn until resumed"),
    ("Resume the room", "resume", "Give turns again"),
    ("Choose the strategy", "strategy", "How the next speaker is chosen"),
    ("Interrupt the speaker", "interrupt", "Stop the current reply, keeping it"),
    ("Export as Markdown", "export", "Write the session to a file here"),
    ("Fork this session", "fork", "A new session that starts from here"),
    ("Open a workflow", "workflows", "The samples and your own"),
    ("Browse sessions", "sessions", "Replay, resume or delete saved sessions"),
    ("Help", "help", "Keys and commands"),
)


class RoomCommands(Provider):
    """The room's commands in the command palette."""

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        app = self.app
        assert isinstance(app, AgentroomApp)
        for title, command, help_text in ROOM_COMMANDS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(app.run_command, command),
                    help=help_text,
                )


class AgentroomApp(App[None]):
    TITLE = "agentroom"
    COMMANDS = App.COMMANDS | {RoomCommands}
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help", tooltip="Keys and commands"),
        Binding(
            "ctrl+o", "workflows", "Workflows", id="app.workflows", tooltip="Open another workflow"
        ),
        Binding(
            "ctrl+b", "sessions", "Sessions", id="app.sessions", tooltip="Browse saved sessions"
        ),
    ]

    def __init__(
        self,
        options: RoomOptions | None,
        *,
        db: str | os.PathLike[str],
        keymap: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.options = options
        self.db = db
        self.config = load_config()
        self._wanted_keymap = keymap  # (App._keymap is Textual's own)
        self.rooms: list[LiveRoom] = []
        self._sessions: Sessions | None = None
        self.exit_error = ""
        """What could not be saved when the app closed (the CLI prints it, and exits 1)."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification, from every screen, is plain text on a few lines.

        Notifications quote what people, models and files said (a bounced
        ``@[/]``, an error naming a workflow): such text is never markup and
        never reaches the terminal raw, and a long one is cut.
        """
        super().notify(
            brief(message, 600).with_note(),
            title=brief(title, 100).text,
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    # -- start and stop -----------------------------------------------------------------------

    def on_mount(self) -> None:
        for theme in load_themes():
            self.register_theme(theme)
        wanted = self.config.get("theme") or DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        keymap = self._wanted_keymap
        if keymap is None:
            keymap = self.config.get("keymap")
        if isinstance(keymap, dict):
            self.set_keymap({str(k): str(v) for k, v in keymap.items()})
        if self.options is not None:
            self.open_room(self.options)
        else:
            self.action_workflows()

    def watch_theme(self, theme: str) -> None:
        if getattr(self, "config", None) is not None and self.config.get("theme") != theme:
            self.config["theme"] = theme
            try:
                save_config(theme=theme)
            except FileWriteError as exc:  # the theme still changes, for this run
                self.notify(str(exc), title="theme not saved", severity="warning")

    async def on_unmount(self) -> None:
        for room in self.rooms:
            if room.coordinator is not None:
                room.coordinator.stop("the app was closed")
        # Textual cancels the screens' workers without waiting for them.  A room still
        # opening (or running) cleans up as it is cancelled; that must finish before the
        # rooms close and the event loop ends, or its database connection is left open.
        # (Cancelled once: a second cancel would cut that clean-up short.)
        for worker in [w for w in self.workers if w.group == "room"]:
            if not worker.is_cancelled:
                worker.cancel()
            with contextlib.suppress(WorkerError):
                await worker.wait()
        for room in self.rooms:
            try:
                await room.close()
            except AgentroomError as exc:  # records the disk would not take, even at the end
                self.exit_error = self.exit_error or str(exc)
        if self._sessions is not None:
            try:
                await self._sessions.close()
            except AgentroomError as exc:
                self.exit_error = self.exit_error or str(exc)

    def open_room(self, options: RoomOptions) -> None:
        room = LiveRoom(options)
        self.rooms.append(room)
        self.push_screen(RoomScreen(room))

    @property
    def room_screen(self) -> RoomScreen | None:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, RoomScreen):
                return screen
        return None

    # -- actions ------------------------------------------------------------------------------

    async def run_command(self, command: str) -> None:
        if command == "help":
            self.action_help()
        elif command == "workflows":
            self.action_workflows()
        elif command == "sessions":
            await self.action_sessions()
        elif self.room_screen:
            await self.room_screen.command(command)
        else:
            self.notify("open a room first", severity="warning")

    def action_help(self) -> None:
        rows: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for screen in (self.screen, self):
            for binding in getattr(screen, "BINDINGS", []):
                if isinstance(binding, Binding) and binding.id and binding.id not in seen:
                    seen.add(binding.id)
                    keys = (
                        self.get_key_display(binding)
                        if hasattr(self, "get_key_display")
                        else binding.key
                    )
                    rows.append((keys, binding.tooltip or binding.description, binding.id))
        rows.append(("ctrl+p", "Command palette (themes, the room's commands)", "(textual)"))
        rows.append(("ctrl+q", "Quit", "(textual)"))
        self.push_screen(HelpScreen(rows))

    def action_workflows(self) -> None:
        from agentroom.tui.picker import WorkflowPicker
        from agentroom.tui.strategy import StrategyMenu

        def chosen(path: Path | None) -> None:
            if path is None:
                if self.room_screen is None:
                    self.exit()
                return
            try:
                workflow = load_workflow(path)
            except Exception as exc:
                self.notify(str(exc), severity="error", timeout=20)
                return
            base = self.options or RoomOptions(db=self.db)

            def start(strategy: str | None) -> None:
                if strategy is None:
                    return
                self.open_room(
                    RoomOptions(
                        db=self.db,
                        workflow=workflow,
                        source=str(path),
                        strategy=strategy,
                        model=base.model,
                        default_model=base.default_model,
                    )
                )

            # The strategy is chosen at the start too (the workflow's own is preselected).
            self.push_screen(StrategyMenu(workflow.strategy.name), start)

        self.push_screen(WorkflowPicker(), chosen)

    async def action_sessions(self) -> None:
        from agentroom.tui.browser import SessionBrowser

        if self._sessions is None:
            self._sessions = await Sessions.open(self.db)

        def chosen(result: tuple[str, str] | None) -> None:
            if not result:
                return
            kind, session_id = result
            if kind in ("resume", "fork"):
                base = self.options or RoomOptions(db=self.db)
                self.open_room(
                    RoomOptions(
                        db=self.db,
                        session_id=session_id,
                        model=base.model,
                        default_model=base.default_model,
                    )
                )

        self.push_screen(SessionBrowser(self._sessions), chosen)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
