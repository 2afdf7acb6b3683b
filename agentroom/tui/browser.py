"""The session browser: every saved session, to replay, resume, fork (from the replay) or delete.

It reads the saved sessions (through :class:`~agentroom.room.sessions.Sessions`)
and nothing else: no model is run here.
The screen's result tells the app what to open live: ``("resume", id)`` for
a session picked with ``r``, ``("fork", id)`` for a fork made in the replay,
``None`` when the user just went back.

Sessions are listed most recently active first, and the time shown is that
of the last activity (the list once sorted by it under a "started" heading).
A session the app itself holds open is shown as the app sees it
(``held``): the saved state says ``running`` until a room is closed, and
the app keeps an ended room open to export or fork it.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Label, Static

from agentroom.core.errors import AgentroomError
from agentroom.core.records import RoomInfo
from agentroom.room.sessions import Sessions
from agentroom.tui.shown import plain

SHORT_ID = 18
"""As many characters of an id as ``agentroom sessions list`` shows (any unique prefix works)."""

BrowserResult = tuple[str, str] | None
HeldState = Callable[[str], str | None]
"""How the app sees a session it holds open (``running``, ``stopped``), None if it does not."""


def active_text(room: RoomInfo) -> str:
    return f"{room.updated_at:%Y-%m-%d %H:%M}"


class ConfirmDelete(ModalScreen[bool]):
    """Yes or no: delete this session for good?"""

    CSS_PATH = "browser.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Delete", id="browser.confirm_yes"),
        Binding("n,escape", "answer(False)", "Keep", id="browser.confirm_no"),
    ]

    def __init__(self, room: RoomInfo) -> None:
        super().__init__()
        self.room = room

    def compose(self) -> ComposeResult:
        room = self.room
        with Vertical(id="confirm-dialog"):
            name = room.title or room.id[:SHORT_ID]
            yield Label(plain(f"Delete “{name}”?"), id="confirm-question")
            yield Label(
                f"{room.messages} messages, {room.last_seq} envelopes, "
                f"{len(room.agents)} agents. This cannot be undone; forks of it stay.",
                id="confirm-details",
            )
            with Horizontal(id="confirm-buttons"):
                yield Button("Delete (y)", variant="error", id="confirm-yes")
                yield Button("Keep (n)", variant="primary", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


class SessionTable(DataTable[Text]):
    """The sessions, one a row: Home and End move the selection to the first and last.

    (A table's own Home and End scroll sideways, and left the selection where
    it was: ``d`` after End offered to delete the first row.)
    """

    BINDINGS = [
        Binding("home", "scroll_top", "First", id="browser.first", show=False),
        Binding("end", "scroll_bottom", "Last", id="browser.last", show=False),
    ]


class SessionBrowser(Screen[BrowserResult]):
    """Saved sessions, most recently active first; see the module docstring."""

    CSS_PATH = "browser.tcss"
    AUTO_FOCUS = "#sessions"
    BINDINGS = [
        Binding("enter,o", "open_replay", "Replay", id="browser.replay"),
        Binding("r", "resume", "Resume", id="browser.resume"),
        Binding("d", "delete", "Delete", id="browser.delete"),
        Binding("escape", "back", "Back", id="browser.back"),
    ]

    def __init__(
        self,
        sessions: Sessions,
        *,
        limit: int | None = None,
        autoplay: bool = True,
        held: HeldState | None = None,
    ) -> None:
        super().__init__()
        self.sessions = sessions
        self.limit = limit
        self.autoplay = autoplay
        """Whether a replay opened from here starts playing at once."""
        self.held = held
        self.rooms: dict[str, RoomInfo] = {}

    def state(self, room: RoomInfo) -> str:
        """The session's state as shown: the app's own view of a session it holds open."""
        held = self.held(room.id) if self.held is not None else None
        return held or room.live_state

    def compose(self) -> ComposeResult:
        yield Label("Saved sessions", id="browser-heading")
        table = SessionTable(id="sessions", cursor_type="row", zebra_stripes=True)
        table.add_column("title", key="title")
        table.add_column("last active (UTC)", key="active")
        table.add_column("agents", key="agents")
        table.add_column("messages", key="messages")
        table.add_column("state", key="state")
        table.add_column("id", key="id")
        yield table
        yield Static("No saved sessions yet. Start a room and it is kept here.", id="browser-empty")
        yield Footer()

    async def on_mount(self) -> None:
        await self.reload()

    # -- the table --------------------------------------------------------------------------

    async def reload(self, select: str | None = None) -> None:
        """Read the sessions again; keep the cursor on ``select`` (or the current one)."""
        table = self.query_one("#sessions", DataTable)
        keep = select or self.selected
        row = table.cursor_row
        rooms = await self.sessions.recent(self.limit)
        self.rooms = {room.id: room for room in rooms}
        table.clear()
        for room in rooms:
            cells = (  # Text, not str: a title is never read as markup, nor sent raw
                room.title or "-",
                active_text(room),
                ", ".join(room.agents) or "-",
                f"{room.messages:>8}",
                self.state(room),
                room.id[:SHORT_ID],
            )
            table.add_row(*(plain(cell, no_wrap=True) for cell in cells), key=room.id)
        empty = not rooms
        table.display = not empty
        self.query_one("#browser-empty").display = empty
        count = len(rooms)
        self.query_one("#browser-heading", Label).update(
            f"Saved sessions ({count})" if count else "Saved sessions"
        )
        if keep in self.rooms:
            table.move_cursor(row=table.get_row_index(keep))
        elif rooms:  # the one under the cursor is gone: the next one takes its place
            table.move_cursor(row=min(max(row, 0), len(rooms) - 1))

    @property
    def selected(self) -> str | None:
        """The id of the session under the cursor."""
        table = self.query_one("#sessions", DataTable)
        if not table.row_count:
            return None
        row = min(max(table.cursor_row, 0), table.row_count - 1)
        key = table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return key

    @on(DataTable.RowSelected, "#sessions")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open_replay(event.row_key.value)

    # -- actions ----------------------------------------------------------------------------

    def action_open_replay(self) -> None:
        if (sid := self.selected) is not None:
            self.open_replay(sid)

    def open_replay(self, session_id: str) -> None:
        from agentroom.tui.replay import ReplayScreen

        async def done(result: tuple[str, str] | None) -> None:
            if result is not None and result[0] == "fork":
                self.dismiss(result)  # the app continues the fork live
            else:
                await self.reload(session_id)

        self.app.push_screen(ReplayScreen(self.sessions, session_id, autoplay=self.autoplay), done)

    def action_resume(self) -> None:
        sid = self.selected
        if sid is None:
            return
        room = self.rooms[sid]
        if self.state(room) == "running":
            self.notify(
                f"“{room.title or sid[:SHORT_ID]}” is running; replay it and fork it instead",
                severity="warning",
                markup=False,
            )
            return
        self.dismiss(("resume", sid))

    def action_delete(self) -> None:
        sid = self.selected
        if sid is None:
            return
        room = self.rooms[sid]
        if self.held is not None and self.held(sid) is not None:
            self.notify(
                f"“{room.title or sid[:SHORT_ID]}” is open in this agentroom until it quits; "
                "delete it in the next one (ctrl+b, then d)",
                severity="warning",
                markup=False,
            )
            return

        async def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                await self.sessions.delete(sid)
            except AgentroomError as exc:
                self.notify(str(exc), severity="error", timeout=10, markup=False)
                return
            await self.reload()
            self.notify(f"deleted “{room.title or sid[:SHORT_ID]}”", markup=False)

        self.app.push_screen(ConfirmDelete(room), answered)

    def action_back(self) -> None:
        self.dismiss(None)
