"""The agentroom terminal app: the room, and the screens around it.

``agentroom`` opens it on the default workflow at once; the workflow picker,
the session browser, the strategy menu and help are a key or a palette
command away.  Themes come from ``themes/``; the last one chosen, whether the
routine status lines are shown, and any key remappings (by binding id) live
in the user's config file.  A remapping that names no binding is said in the
room, with the ids there are.
"""

from __future__ import annotations

import contextlib
import os
from functools import partial
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.notifications import SeverityLevel
from textual.worker import WorkerError

from agentroom.core.errors import AgentroomError, FileWriteError
from agentroom.room.line import COMMANDS, help_rows
from agentroom.room.link import LocalLink, RoomLink
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.sessions import Sessions
from agentroom.room.workflows import load_workflow
from agentroom.tui.browser import ConfirmDelete, SessionBrowser, SessionTable
from agentroom.tui.config import (
    STATUS_LINES,
    config_path,
    load_config,
    routine_shown,
    save_config,
)
from agentroom.tui.help import HelpScreen
from agentroom.tui.keys import bindings_of, key_rows, keymap_from, keymap_problem
from agentroom.tui.picker import WorkflowPicker
from agentroom.tui.replay import JumpTo, ReplayScreen
from agentroom.tui.room import LOCAL_COMMANDS, RoomScreen
from agentroom.tui.shown import brief
from agentroom.tui.strategy import StrategyMenu
from agentroom.tui.themes import DEFAULT_THEME, load_themes
from agentroom.tui.whole import WholeText

ROOM_COMMANDS = (
    ("Stop the room", "stop"),
    ("Pause the room", "pause"),
    ("Resume the room", "resume"),
    ("Choose the strategy", "strategy"),
    ("Interrupt the speaker", "interrupt"),
    ("Export as Markdown", "export"),
    ("Fork this session", "fork"),
    ("Fold or show the status lines", "fold"),
)
"""The palette's commands for the room on screen (what each does is the command's own text)."""
APP_COMMANDS = (
    ("Open a workflow", "workflows", "the samples and your own"),
    ("Browse sessions", "sessions", "replay, resume or delete saved sessions"),
    ("Help", "help", "what you can type, and every key"),
)
"""The palette's commands that need no room."""
WITH_KEYS = (
    RoomScreen,
    HelpScreen,
    WholeText,
    SessionBrowser,
    SessionTable,
    ConfirmDelete,
    ReplayScreen,
    JumpTo,
    WorkflowPicker,
    StrategyMenu,
)
"""Every screen and widget of the app that has bindings with ids (a keymap may name those)."""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class RoomCommands(Provider):
    """The room's commands in the command palette, listed before anything is typed too."""

    def _commands(self) -> list[tuple[str, str, str]]:
        app = self.app
        assert isinstance(app, AgentroomApp)
        room: list[tuple[str, str, str]] = []
        if app.room_screen is not None:
            specs = {**COMMANDS, **LOCAL_COMMANDS}
            room = [(title, name, specs[name].does) for title, name in ROOM_COMMANDS]
        return room + list(APP_COMMANDS)

    async def discover(self) -> Hits:
        for title, command, does in self._commands():
            yield DiscoveryHit(title, partial(self._run, command), help=_sentence(does))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, command, does in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(self._run, command),
                    help=_sentence(does),
                )

    async def _run(self, command: str) -> None:
        app = self.app
        assert isinstance(app, AgentroomApp)
        await app.run_command(command)


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
        Binding(
            "f2",
            "status_lines",
            "Status lines",
            id="app.status_lines",
            tooltip="Show or fold the routine status lines (who speaks next, what a call cost)",
        ),
    ]

    def __init__(
        self,
        options: RoomOptions | None,
        *,
        db: str | os.PathLike[str],
        keymap: dict[str, str] | None = None,
        link: RoomLink | None = None,
    ) -> None:
        """Open the room ``options`` says (or, with ``link``, the room it reaches: one
        joined across the network); with neither, the workflow picker first."""
        super().__init__()
        self.options = options
        self._link = link
        self.db = db
        self.config = load_config()
        self._wanted_keymap = keymap  # (App._keymap is Textual's own)
        self.keymap: dict[str, str] = {}
        """The key remappings in force, by binding id (F1 shows the keys they make)."""
        self.links: list[RoomLink] = []
        """The rooms on the app's screens: of this process (:class:`LocalLink`), or not."""
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
        self._apply_keymap()
        if self._link is not None:
            self.open_link(self._link)
        elif self.options is not None:
            self.open_room(self.options)
        else:
            self.action_workflows()

    def _apply_keymap(self) -> None:
        """Remap keys by id as the config says; say in the room what it names wrongly."""
        problems = []
        keymap = self._wanted_keymap
        if keymap is None:
            keymap, problem = keymap_from(self.config, config_path())
            problems.append(problem)
        known = [b.id or "" for b in bindings_of([self, *WITH_KEYS])]
        problems.append(keymap_problem(keymap, known, config_path()))
        self.keymap = {k: v for k, v in keymap.items() if k in known}
        if self.keymap:
            self.set_keymap(self.keymap)
        for problem in filter(None, problems):
            self.notify(problem, title="keymap", severity="warning", timeout=30)

    def watch_theme(self, theme: str) -> None:
        if getattr(self, "config", None) is not None and self.config.get("theme") != theme:
            self.config["theme"] = theme
            try:
                save_config(theme=theme)
            except FileWriteError as exc:  # the theme still changes, for this run
                self.notify(str(exc), title="theme not saved", severity="warning")

    @property
    def rooms(self) -> list[LiveRoom]:
        """The rooms this process runs (the sessions the app leaves behind)."""
        return [link.room for link in self.links if isinstance(link, LocalLink)]

    async def on_unmount(self) -> None:
        for link in self.links:
            link.leave("the app was closed")
        # Textual cancels the screens' workers without waiting for them.  A room still
        # opening (or running) cleans up as it is cancelled; that must finish before the
        # rooms close and the event loop ends, or its database connection is left open.
        # (Cancelled once: a second cancel would cut that clean-up short.)
        for worker in [w for w in self.workers if w.group == "room"]:
            if not worker.is_cancelled:
                worker.cancel()
            with contextlib.suppress(WorkerError):
                await worker.wait()
        for link in self.links:
            try:
                await link.close()
            except AgentroomError as exc:  # records the disk would not take, even at the end
                self.exit_error = self.exit_error or str(exc)
        if self._sessions is not None:
            try:
                await self._sessions.close()
            except AgentroomError as exc:
                self.exit_error = self.exit_error or str(exc)

    def open_room(self, options: RoomOptions, *, instead: RoomScreen | None = None) -> None:
        """Open a room on a screen of its own (in place of ``instead``, when that is on top)."""
        self.open_link(LocalLink(LiveRoom(options)), instead=instead)

    def open_link(self, link: RoomLink, *, instead: RoomScreen | None = None) -> None:
        """Show the room ``link`` reaches on a screen of its own (see :meth:`open_room`)."""
        self.links.append(link)
        if instead is not None and self.screen is instead:
            self.switch_screen(RoomScreen(link))
        else:
            self.push_screen(RoomScreen(link))

    def _holding(self, session_id: str) -> LiveRoom | None:
        """The room of this app that has ``session_id`` open, if any."""
        for room in self.rooms:
            if room.engine is not None and room.engine.session_id == session_id:
                return room
        return None

    def held_state(self, session_id: str) -> str | None:
        """How this app sees a session it holds open: ``running``, or ``stopped`` once its
        run has ended (None: not held here).

        The saved state says ``running`` until the room is closed, and the app
        keeps an ended room open (to export or fork it), so the browser asks here.
        """
        room = self._holding(session_id)
        if room is None:
            return None
        return "running" if room.result is None else "stopped"

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
        elif command == "fold":
            await self.action_status_lines()
        elif command == "workflows":
            self.action_workflows()
        elif command == "sessions":
            await self.action_sessions()
        elif self.room_screen:
            await self.room_screen.command(command)
        else:
            self.notify("open a room first", severity="warning")

    def action_help(self) -> None:
        """The help: what can be typed in the room, and the keys of this screen and the app,
        as they are after the user's keymap."""
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        bindings = bindings_of([screen, *screen.query("*"), self])
        rows = key_rows(bindings, self.keymap, self.get_key_display)
        rows.append(("ctrl+p", "(textual)", "Command palette (the room's commands, themes)"))
        rows.append(("ctrl+q", "(textual)", "Quit"))
        self.push_screen(HelpScreen(rows, help_rows(LOCAL_COMMANDS)))

    async def action_status_lines(self) -> None:
        """Show or fold the routine status lines on every screen, and remember which."""
        shown = not routine_shown(self.config)
        self.config[STATUS_LINES] = "shown" if shown else "folded"
        for screen in self.screen_stack:
            if isinstance(screen, RoomScreen | ReplayScreen):
                await screen.show_routine(shown)
        self.notify(
            "status lines shown (f2 folds them)" if shown else "status lines folded (f2 shows them)"
        )
        try:
            save_config(**{STATUS_LINES: self.config[STATUS_LINES]})
        except FileWriteError as exc:  # shown or folded here all the same
            self.notify(str(exc), title="not remembered", severity="warning")

    def action_workflows(self) -> None:
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
        if self._sessions is None:
            self._sessions = await Sessions.open(self.db)

        async def chosen(result: tuple[str, str] | None) -> None:
            if not result:
                return
            kind, session_id = result
            if kind not in ("resume", "fork"):
                return
            instead = None
            held = self._holding(session_id)
            if held is not None:  # ended here (a running one is not offered): let it go first
                link = next(k for k in self.links if isinstance(k, LocalLink) and k.room is held)
                instead = next(
                    (s for s in self.screen_stack if isinstance(s, RoomScreen) and s.link is link),
                    None,
                )
                self.links.remove(link)
                try:
                    await link.close()
                except AgentroomError as exc:
                    self.notify(str(exc), title="not resumed", severity="error", timeout=20)
                    return
            base = self.options or RoomOptions(db=self.db)
            self.open_room(
                RoomOptions(
                    db=self.db,
                    session_id=session_id,
                    model=base.model,
                    default_model=base.default_model,
                ),
                instead=instead,
            )

        self.push_screen(SessionBrowser(self._sessions, held=self.held_state), chosen)
