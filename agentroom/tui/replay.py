"""The replay screen: a saved session played back from the SQLite log, at a pace.

No model runs here.  Envelopes are read from the saved session (through
the sessions service, :mod:`agentroom.room.sessions`) in chunks as the
replay advances, and only a bounded window of lines is kept on screen (a
100,000-envelope session costs no more than a short one).  Envelopes appear
one by one with the real gaps between them, divided by the speed and capped
at two seconds; quiet envelopes are skipped, as every transcript skips them
(:func:`~agentroom.room.formatting.is_quiet`: a stream chunk, whose message
follows with the whole text, and a usage report), and so are the routine
status lines while they are folded (f2, as in the room).  A message is drawn
as the room draws it: a header, then its body as Markdown with its line
breaks (it used to be squeezed onto the header's line).  ``f`` forks the session
at the current position and dismisses the screen with ``("fork",
new_session_id)`` so the app can continue the fork live; ``escape``
dismisses it with ``None``.  A long message is shown cut
(:mod:`agentroom.tui.shown`); ``w`` shows the last one whole.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Literal

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.widgets import Footer, Input, Label, RichLog, Static

from agentroom.core.errors import AgentroomError
from agentroom.core.protocol import Envelope, MessageType
from agentroom.core.records import RoomInfo
from agentroom.room.formatting import describe, is_quiet, is_routine
from agentroom.room.sessions import Sessions
from agentroom.tui.config import routine_shown
from agentroom.tui.shown import MAX_CHARS, MAX_LINES, Cut, brief, cut, plain
from agentroom.tui.whole import WholeText, envelope_title
from agentroom.tui.widgets.transcript import message_block

SPEEDS = (1, 2, 5, 10, 20, 50)
CHUNK = 500
"""Envelopes read from the session at a time."""
WINDOW = 500
"""Lines kept on screen (older ones scroll out; a jump rebuilds the window).  A message is
Markdown, a millisecond or two to draw: a jump draws only what fills these lines."""
MIN_GAP = 0.2
"""Seconds between two envelopes at 1x at least, so a fast room is still watchable."""
MAX_DELAY = 2.0
"""Seconds between two envelopes at most, whatever the real gap was."""

HOW = "w shows it whole"


def shown_part(env: Envelope) -> Cut:
    """What the log shows of ``env``: a message cut to a few lines, anything else to one."""
    return cut(env.content) if env.type is MessageType.MESSAGE else brief(env.content)


PlayState = Literal["playing", "paused", "ended"]
ReplayResult = tuple[str, str] | None


SEQ_WIDTH = 7
"""Cells of the ``#seq`` column; a message's body is indented as far, under its sender."""


class ReplayLog(RichLog):
    """The replayed transcript: a block per message, a line per other envelope, styled from
    the screen's CSS."""

    COMPONENT_CLASSES = {"replay-log--seq", "replay-log--sender", "replay-log--meta"}

    def style(self, name: str) -> Style:
        """A component's colour and text style from the CSS (the log's own background stays)."""
        full = self.get_component_rich_style(name)
        return full.without_color + Style(color=full.color)

    def line(self, env: Envelope) -> RenderableType:
        """How ``env`` is drawn: a message as a header and its Markdown body (as in the
        room), anything else on one line (as ``agentroom sessions show`` prints it);
        a long one cut."""
        entry = describe(env)
        text = Text(no_wrap=False)
        text.append(f"#{entry.seq:<{SEQ_WIDTH - 2}} ", style=self.style("replay-log--seq"))
        part = shown_part(env)
        meta = self.style("replay-log--meta")
        if entry.said:
            text.append(plain(entry.who, style=self.style("replay-log--sender")))
            return message_block(text, part, part.note(HOW), indent=SEQ_WIDTH, note_style=meta)
        text.append(plain(f"[{entry.kind.value}] {entry.route}: {part.text}", style=meta))
        if part.is_cut:
            text.append(f" {part.note(HOW)}", style=meta)
        return text


class JumpTo(ModalScreen[int | None]):
    """A small input for the seq number to jump to."""

    CSS_PATH = "replay.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="replay.jump_cancel")]

    def __init__(self, last_seq: int, current: int) -> None:
        super().__init__()
        self.last_seq = last_seq
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-dialog"):
            yield Label(f"Jump to message # (0 to {self.last_seq}; now at #{self.current})")
            yield Input(placeholder="seq number", type="integer", id="jump-seq")

    def on_mount(self) -> None:
        self.query_one("#jump-seq", Input).focus()

    @on(Input.Submitted, "#jump-seq")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            value = int(event.value)
        except ValueError:
            self.notify("type a seq number, or escape", severity="warning")
            return
        self.dismiss(value)


class ReplayScreen(Screen[ReplayResult]):
    """Plays ``session_id`` (an id or unique prefix) of ``sessions``; see the module docstring.

    ``autoplay`` starts playing at once (else paused, for stepping); ``speed`` is one
    of :data:`SPEEDS`; ``window`` is how many lines stay on screen.  An unknown
    session is said in a notification and the screen dismissed with ``None``.
    """

    CSS_PATH = "replay.tcss"
    AUTO_FOCUS = "#replay-log"
    BINDINGS = [
        Binding("space", "toggle_play", "Play/Pause", id="replay.play_pause"),
        Binding("n,right", "step", "Step", id="replay.step", priority=True, key_display="n"),
        Binding("plus,equals_sign", "faster", "Faster", id="replay.faster", key_display="+"),
        Binding("minus", "slower", "Slower", id="replay.slower", key_display="-"),
        Binding("g", "jump", "Jump to #", id="replay.jump"),
        Binding("f", "fork", "Fork here", id="replay.fork"),
        Binding("w", "whole", "Whole", id="replay.whole", show=False),
        Binding("escape", "back", "Back", id="replay.back"),
    ]

    def __init__(
        self,
        sessions: Sessions,
        session_id: str,
        *,
        autoplay: bool = True,
        speed: int = 1,
        window: int = WINDOW,
    ) -> None:
        super().__init__()
        self.sessions = sessions
        self.requested_id = session_id
        self.session_id = session_id
        self.room: RoomInfo | None = None
        self.autoplay = autoplay
        self.speed = speed if speed in SPEEDS else SPEEDS[0]
        self.window = window
        self.state: PlayState = "paused"
        self.position = 0
        """The seq of the last envelope shown (0: nothing yet)."""
        self.last_seq = 0
        self.shown: deque[Envelope] = deque(maxlen=window)
        """The envelopes on screen, oldest first (bounded like the log itself)."""
        self._buffer: deque[Envelope] = deque()
        self._loaded = 0  # the seq of the last envelope read from the session
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._forking = False
        self.routine_shown = routine_shown()
        """Whether the routine status lines are shown (f2), else skipped like quiet ones."""
        self.status_line = ""
        """What the status line says: state, position (``#seq / last_seq``) and speed."""

    def compose(self) -> ComposeResult:
        yield Label("Replay", id="replay-heading")
        yield ReplayLog(id="replay-log", max_lines=self.window, wrap=True, min_width=20)
        yield Static(id="replay-status")
        yield Footer()

    async def on_mount(self) -> None:
        try:
            room = await self.sessions.find(self.requested_id)
            last_seq = await self.sessions.last_seq(room.id)
        except AgentroomError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            self.dismiss(None)
            return
        self.session_id = room.id
        self.last_seq = last_seq
        self.room = room  # from here on the keys work
        agents = ", ".join(room.agents) or "no agents"
        self.query_one("#replay-heading", Label).update(
            plain(f"Replay · {room.title or 'untitled'} · {room.id[:18]} · {agents}")
        )
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        if self.last_seq == 0:
            self.state = "ended"
        elif self.autoplay:
            self.state = "playing"
        self._update_status()
        self.run_worker(self._player(), name="replay-player", group="replay", exclusive=True)

    # -- reading the log --------------------------------------------------------------------

    async def _load_chunk(self) -> bool:
        got = [
            env
            async for env in self.sessions.read(
                self.session_id, after_seq=self._loaded, limit=CHUNK
            )
        ]
        if not got:
            return False
        self._loaded = got[-1].seq or self._loaded
        self.last_seq = max(self.last_seq, self._loaded)
        self._buffer.extend(env for env in got if not self.skipped(env))
        return True

    def skipped(self, env: Envelope) -> bool:
        """Whether the replay leaves ``env`` out: quiet, or routine while those are folded."""
        return not self.routine_shown if is_routine(env) else is_quiet(env)

    async def _peek(self) -> Envelope | None:
        while not self._buffer:
            if not await self._load_chunk():
                return None
        return self._buffer[0]

    async def _advance(self) -> Envelope | None:
        """Show the next envelope; None (and the ``ended`` state) when there is none."""
        async with self._lock:
            env = await self._peek()
            if env is None:
                self._set_state("ended")
                return None
            self._buffer.popleft()
            self._show(env)
            self.position = env.seq or self.position
            if self.position >= self.last_seq and not self._buffer:
                self.state = "ended"
            self._update_status()
            return env

    def _show(self, env: Envelope) -> None:
        self.shown.append(env)
        log = self.query_one(ReplayLog)
        log.write(log.line(env), scroll_end=True)

    def _restyle(self, theme: Theme) -> None:
        """Lines are drawn with the theme's colours: draw the window again after a change."""
        self._redraw()

    def _redraw(self) -> None:
        """Draw the window again: the last envelopes shown, as many as fill its lines."""
        log = self.query_one(ReplayLog)
        log.clear()
        shown, lines = list(self.shown), 0
        start = len(shown)
        while start > 0 and lines < self.window:
            start -= 1
            env = shown[start]
            lines += 1  # its header, or its one line
            if env.type is MessageType.MESSAGE:  # and at least its lines
                lines += min(env.content.count("\n", 0, MAX_CHARS), MAX_LINES) + 1
        for env in shown[start:]:
            log.write(log.line(env), scroll_end=True)

    # -- playing ----------------------------------------------------------------------------

    async def _player(self) -> None:
        """Shows the next envelope after its gap while playing; woken by every control."""
        while True:
            self._wake.clear()
            if self.state != "playing":
                await self._wake.wait()
                continue
            try:
                async with self._lock:
                    nxt = await self._peek()
                if nxt is None:
                    self._set_state("ended")
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self.delay_before(nxt))
                    continue  # paused, stepped, jumped or sped up meanwhile: think again
                except TimeoutError:
                    pass
                if self.state == "playing":
                    await self._advance()
            except AgentroomError as exc:  # the log could not be read: say so, stay open
                self.notify(f"replay paused: {exc}", severity="error", timeout=10, markup=False)
                self._set_state("paused")

    def delay_before(self, env: Envelope) -> float:
        """Seconds to wait before showing ``env``: the real gap, at the speed, capped."""
        gap = MIN_GAP
        if self.shown:
            gap = max(gap, (env.created_at - self.shown[-1].created_at).total_seconds())
        return min(gap / self.speed, MAX_DELAY)

    def _set_state(self, state: PlayState) -> None:
        self.state = state
        self._update_status()
        self._wake.set()

    def _update_status(self) -> None:
        self.status_line = (
            f"{self.state}   #{self.position} / {self.last_seq}   speed {self.speed}x"
        )
        self.query_one("#replay-status", Static).update(self.status_line)

    # -- actions ----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """The session is found and nothing (a fork) is under way."""
        return self.room is not None and not self._forking

    async def action_toggle_play(self) -> None:
        if not self.ready:
            return
        if self.state == "playing":
            self._set_state("paused")
        elif self.state == "ended":
            if self.last_seq:
                await self.jump(0)
                self._set_state("playing")
        else:
            self._set_state("playing")

    async def action_step(self) -> None:
        if not self.ready:
            return
        if self.state == "playing":
            self._set_state("paused")
        await self._advance()
        self._wake.set()

    def action_faster(self) -> None:
        self._set_speed(+1)

    def action_slower(self) -> None:
        self._set_speed(-1)

    def _set_speed(self, step: int) -> None:
        index = min(max(SPEEDS.index(self.speed) + step, 0), len(SPEEDS) - 1)
        self.speed = SPEEDS[index]
        self._update_status()
        self._wake.set()

    def action_jump(self) -> None:
        if not self.ready:
            return

        async def chosen(seq: int | None) -> None:
            if seq is not None:
                await self.jump(seq)

        self.app.push_screen(JumpTo(self.last_seq, self.position), chosen)

    async def jump(self, seq: int) -> None:
        """Show the session as it stood at ``seq`` (clamped to the log): the last window of it."""
        async with self._lock:
            seq = min(max(seq, 0), self.last_seq)
            self.shown.clear()
            self._buffer.clear()
            start = max(0, seq - self.window)
            if seq > start:
                async for env in self.sessions.read(
                    self.session_id, after_seq=start, limit=seq - start
                ):
                    if not self.skipped(env):
                        self.shown.append(env)
            self._redraw()
            self.position = seq
            self._loaded = seq
            if seq >= self.last_seq:
                self.state = "ended"
            elif self.state == "ended":
                self.state = "paused"
            self._update_status()
        self._wake.set()

    async def show_routine(self, shown: bool) -> None:
        """Show the routine status lines or fold them: the window is drawn again as it was."""
        self.routine_shown = shown
        if self.room is not None:
            await self.jump(self.position)

    def action_whole(self) -> None:
        """Show the last long message on screen whole."""
        for env in reversed(self.shown):
            if shown_part(env).is_cut:
                self.app.push_screen(WholeText(envelope_title(env), env.content))
                return
        self.notify("no message on screen was cut")

    def action_fork(self) -> None:
        if not self.ready:
            return
        if self.position == 0:
            self.notify("nothing shown yet: play or step first, then fork", severity="warning")
            return
        if self.state == "playing":
            self._set_state("paused")
        self._forking = True
        self.notify(f"forking at #{self.position}…")
        self.run_worker(self._fork(self.position), name="replay-fork", group="replay-fork")

    async def _fork(self, seq: int) -> None:
        try:
            new_id = await self.sessions.fork(self.session_id, seq)
        except (AgentroomError, ValueError) as exc:
            self._forking = False
            self.notify(f"could not fork: {exc}", severity="error", timeout=10, markup=False)
            return
        self.dismiss(("fork", new_id))

    def action_back(self) -> None:
        if self._forking:  # a half-made fork is worse than a short wait
            self.notify("forking…; this screen closes by itself when the fork is made")
            return
        self.dismiss(None)
