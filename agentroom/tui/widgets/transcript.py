"""The live transcript: a bounded window of turn widgets, streamed replies, older turns on demand.

A message that arrives whole is one light widget (:class:`SaidLine`); only a
reply being streamed (its :class:`~agentroom.core.chunk.StreamChunk` chunks, which
the bus gives live viewers only) gets a Markdown widget of its own, fed by its
stream, until the reply's envelope arrives.

It holds at most ``window`` turns (``layout: stream``, anchored to the bottom
unless the reader scrolls up); older ones are pruned and paged back in from
SQLite when asked.  A streamed reply is one :class:`MessageTurn` fed through
one ``MarkdownStream``; the screen calls :meth:`add` with batches at 10-20 Hz,
so nothing is updated per token.

Every text passes :mod:`agentroom.tui.shown` on its way in: never markup,
never a raw control character, and a long message cut to a bounded number of
lines and characters (a 10 MB reply used to freeze the screen for minutes).
A cut entry says how much more there is; a click, ctrl+t or ``/open N``
shows it whole (:class:`Transcript.WholeRequested`).

The room's routine status lines (who speaks next, what a call cost:
:func:`~agentroom.room.formatting.is_routine`) are mounted like any other
but folded away unless :meth:`Transcript.show_routine` asks for them; they
come with nearly every turn and used to bury the dialogue.  Folding is a
class, so lines already shown fold and unfold at once, in their places.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group
from rich.markdown import Markdown as RichMarkdown
from rich.padding import Padding
from rich.style import Style
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from agentroom.core.chunk import LiveItem, StreamChunk
from agentroom.core.protocol import Envelope, MessageType
from agentroom.core.text import for_terminal
from agentroom.room.formatting import describe
from agentroom.tui.shown import MAX_CHARS, Cut, brief, cut, head_length, keep_line_breaks, plain
from agentroom.tui.whole import envelope_title

OlderReader = Callable[[int, int], Awaitable[list[Envelope]]]
HOW = "ctrl+t or a click shows it whole"


def _header(env: Envelope) -> str:
    """``alice → bob  #12``, and ``(interrupted)`` when the reply was cut short."""
    entry = describe(env)
    text = f"{entry.route}  #{entry.seq}" if entry.seq else entry.route
    return text + ("  (interrupted)" if entry.interrupted else "")


class Openable:
    """A transcript entry whose whole text opens on a click when it was shown cut."""

    envelope: Envelope
    is_cut: bool = False
    _part: Cut = Cut("")

    @property
    def shown_part(self) -> Cut:
        """What the entry shows of its text, and how much it leaves out."""
        return self._part

    @property
    def cut_note(self) -> str:
        """What the entry says under a cut text: how much more there is, how to see it."""
        return self.shown_part.note(HOW)

    @property
    def whole_title(self) -> str:
        return envelope_title(self.envelope)

    @property
    def whole_text(self) -> str:
        return self.envelope.content

    def on_click(self) -> None:
        if self.is_cut:
            assert isinstance(self, Widget)
            self.post_message(Transcript.WholeRequested(self.whole_title, self.whole_text))


class MessageTurn(Openable, Vertical):
    """One message: who said it to whom, and its Markdown body (streamed or whole).

    A streamed reply feeds its body only up to the transcript's limits; past
    them it only counts what else arrives (shown in a line under the body).
    """

    def __init__(self, env: Envelope, text: str = "", *, streaming: bool = False) -> None:
        classes = "turn"
        if env.metadata.get("interrupted"):
            classes += " interrupted"
        super().__init__(classes=classes)
        self.envelope = env
        self.seq = env.seq or 0
        self.sender = env.sender
        self._parts = [text if streaming else env.content]
        self._length = len(self._parts[0])
        self._newlines = self._parts[0].count("\n")
        self._shown = self._parts[0][: head_length(self._parts[0])]
        """The part of the text the body shows (raw); the rest is only counted."""
        self.is_cut = len(self._shown) < self._length
        self.streaming = streaming
        self.body = Markdown(keep_line_breaks(for_terminal(self._shown)), classes="body")
        self.head = Label(plain(_header(env)), classes="who")
        self.more = Label(classes="more")
        self.stream: MarkdownStream | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield self.head
        yield self.body
        yield self.more

    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0]

    @property
    def whole_text(self) -> str:
        return self.text

    def on_mount(self) -> None:
        self._show_more()
        if self.streaming:
            self.stream = Markdown.get_stream(self.body)

    async def append(self, fragment: str) -> None:
        self._parts.append(fragment)
        self._length += len(fragment)
        self._newlines += fragment.count("\n")
        if not self.is_cut:
            window = self._shown + fragment[: MAX_CHARS + 1 - len(self._shown)]
            shown = window[: head_length(window)]
            piece, self._shown = shown[len(self._shown) :], shown
            self.is_cut = len(shown) < self._length
            if piece and self.stream is not None:
                await self.stream.write(keep_line_breaks(for_terminal(piece)))
        if self.is_cut:
            self._show_more()

    @property
    def shown_part(self) -> Cut:
        hidden_lines = self._newlines - self._shown.count("\n")
        return Cut(for_terminal(self._shown), self._length - len(self._shown), hidden_lines)

    def _show_more(self) -> None:
        self.more.display = self.is_cut
        if self.is_cut:
            self.more.update(plain(self.cut_note, style="dim italic"))

    async def finish(self, env: Envelope) -> None:
        """The whole message arrived: stop streaming; make sure the body is exactly it."""
        if self.stream is not None:
            await self.stream.stop()
            self.stream = None
        self.streaming = False
        self.envelope = env
        self.seq = env.seq or 0
        self.head.update(plain(_header(env)))
        self.set_class(bool(env.metadata.get("interrupted")), "interrupted")
        if env.content != self.text:
            self._parts = [env.content]
            shown = env.content[: head_length(env.content)]
            if shown != self._shown:
                self._shown = shown
                await self.body.update(keep_line_breaks(for_terminal(shown)))
            self._length, self._newlines = len(env.content), env.content.count("\n")
            self.is_cut = len(self._shown) < self._length
        self._show_more()


class SaidLine(Openable, Widget):
    """A message that arrived whole: one light widget (header and Markdown in one render)."""

    DEFAULT_CSS = "SaidLine { height: auto; }"

    def __init__(self, env: Envelope) -> None:
        interrupted = bool(env.metadata.get("interrupted"))
        super().__init__(classes="said interrupted" if interrupted else "said")
        self.envelope = env
        self.seq = env.seq or 0
        self.sender = env.sender
        self.text = env.content
        self._part = cut(env.content)
        self.is_cut = self._part.is_cut
        self.streaming = False
        self._head = _header(env)

    def render(self) -> Group:
        colour = self.app.theme_variables.get(
            "warning" if self.has_class("interrupted") else "accent"
        )
        head = Text(self._head, style=f"bold {colour}" if colour else "bold")
        return message_block(head, self.shown_part, self.cut_note)


def message_block(
    head: Text, part: Cut, note: str, *, indent: int = 2, note_style: str | Style = "dim italic"
) -> Group:
    """A message as the transcript and the replay draw it: its header line, its body as
    Markdown under it (every line break kept), and ``note`` when part of it was cut."""
    body = Padding(RichMarkdown(keep_line_breaks(part.text)), (0, 0, 0, indent))
    if not part.is_cut:
        return Group(head, body)
    return Group(head, body, Padding(plain(note, note_style), (0, 0, 0, indent)))


class QuietLine(Openable, Static):
    """An action or status, shown small and dim: the room's bookkeeping, not its dialogue."""

    def __init__(self, env: Envelope) -> None:
        entry = describe(env)
        kind = entry.kind.value
        part = brief(entry.content)
        line = f"{kind} · {entry.route} · {part.with_note(HOW)}"
        routine = " routine" if entry.routine else ""
        super().__init__(plain(line), classes=f"quiet {kind}{routine}")
        self.envelope = env
        self.seq = env.seq or 0
        self._part = part
        self.is_cut = part.is_cut


class Transcript(VerticalScroll):
    """See the module docstring."""

    DEFAULT_CSS = "Transcript.-fold > .routine { display: none; }"

    @dataclass
    class WholeRequested(Message):
        """Show this text whole (a cut entry was clicked)."""

        title: str
        text: str

    def __init__(self, *, window: int = 300, reader: OlderReader | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.window = window
        self.reader = reader
        self._live: dict[str, MessageTurn] = {}
        self.oldest_seq = 0
        self.show_routine(False)

    def show_routine(self, shown: bool) -> None:
        """Show the routine status lines, or fold them away (those shown already too)."""
        self.set_class(not shown, "-fold")

    def on_mount(self) -> None:
        self.anchor()
        self._paging = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Scrolled up to the top with older turns pruned: page them back in.
        if new_value <= 0 < old_value and self.oldest_seq > 0 and not self._paging:
            self._paging = True
            self.run_worker(self._page_in(), exclusive=True, group="older")

    async def _page_in(self) -> None:
        try:
            await self.load_older()
        finally:
            self._paging = False

    @property
    def turns(self) -> list[MessageTurn | SaidLine]:
        return [w for w in self.children if isinstance(w, MessageTurn | SaidLine)]

    def _widget_for(self, env: Envelope) -> SaidLine | QuietLine | None:
        entry = describe(env)
        if entry.said:
            return SaidLine(env)
        if entry.quiet and not entry.routine:
            return None
        return QuietLine(env)

    async def add(self, batch: Sequence[LiveItem]) -> None:
        """Show a batch of envelopes and stream chunks, in the order the bus gave them."""
        new: list[MessageTurn | SaidLine | QuietLine] = []
        for env in batch:
            if isinstance(env, StreamChunk):
                live = self._live.get(env.turn)
                if live is None:
                    # Until its envelope arrives, the reply is shown as its speaker's message.
                    said = Envelope(sender=env.sender, metadata={"turn": env.turn})
                    live = self._live[env.turn] = MessageTurn(said, "", streaming=True)
                    await self.mount_all([*new, live])
                    new = []
                await live.append(env.text)
                continue
            turn_id = env.metadata.get("turn")
            if env.type is not MessageType.STATUS and isinstance(turn_id, str):
                live = self._live.pop(turn_id, None)
                if live is not None:
                    await self._settle(live, env)
                    continue
            widget = self._widget_for(env)
            if widget is not None:
                new.append(widget)
        if new:
            await self.mount_all(new)
        await self._prune()

    async def _settle(self, live: MessageTurn, env: Envelope) -> None:
        """A streamed turn is finished: from now on it is drawn like any whole message.

        Whether a reply was streamed depends on how fast it came (a quick one is
        not); once it is complete the screen must not show that difference.
        """
        await live.finish(env)
        widget = self._widget_for(env)
        if widget is None:
            return
        await self.mount(widget, before=live)
        await live.remove()

    async def _prune(self) -> None:
        """Keep ``window`` entries besides the routine lines (which go with their neighbours)."""
        children = list(self.children)
        counted = [i for i, w in enumerate(children) if not w.has_class("routine")]
        extra = len(counted) - self.window
        if extra <= 0:
            return
        upto = counted[extra - 1] + 1
        doomed = [w for w in children[:upto] if not getattr(w, "streaming", False)]
        if doomed:
            self.oldest_seq = max(getattr(w, "seq", 0) for w in doomed)
            await self.remove_children(doomed)

    async def preload(self, envs: list[Envelope]) -> None:
        """Start from the end of a saved session (older turns page in on demand)."""
        await self.add(envs)
        self.oldest_seq = max(0, (envs[0].seq or 1) - 1) if envs else 0

    def whole(self, seq: int | None = None) -> tuple[str, str] | None:
        """The title and whole text of entry ``#seq`` in the window, else of the latest cut one."""
        for widget in reversed(self.children):
            if not isinstance(widget, Openable):
                continue
            if (seq is None and widget.is_cut) or (seq is not None and widget.envelope.seq == seq):
                return widget.whole_title, widget.whole_text
        return None

    async def load_older(self, count: int = 50) -> int:
        """Page older turns back in from SQLite (above the first shown); returns how many."""
        if self.reader is None or self.oldest_seq <= 0:
            return 0
        envs = await self.reader(self.oldest_seq + 1, count)
        widgets = [w for w in (self._widget_for(e) for e in envs) if w is not None]
        first = self.children[0] if self.children else None
        if widgets:
            await self.mount_all(widgets, before=first) if first else await self.mount_all(widgets)
        self.oldest_seq = max(0, (envs[0].seq or 1) - 1) if envs else 0
        return len(widgets)
