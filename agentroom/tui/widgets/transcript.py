"""The live transcript: a bounded window of turn widgets, streamed replies, older turns on demand.

A message that arrives whole is one light widget (:class:`SaidLine`); only a
reply being streamed gets a Markdown widget of its own, fed by its stream.

It holds at most ``window`` turns (``layout: stream``, anchored to the bottom
unless the reader scrolls up); older ones are pruned and paged back in from
SQLite when asked.  A streamed reply is one :class:`MessageTurn` fed through
one ``MarkdownStream``; the screen calls :meth:`add` with batches at 10-20 Hz,
so nothing is updated per token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.console import Group
from rich.markdown import Markdown as RichMarkdown
from rich.padding import Padding
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Label, Markdown, Static
from textual.widgets._markdown import MarkdownStream

from agentroom.protocol import Envelope, MessageType

QUIET = frozenset({"usage", "stream"})
OlderReader = Callable[[int, int], Awaitable[list[Envelope]]]


def _header(env: Envelope, *, interrupted: bool = False) -> str:
    text = f"{env.route}  #{env.seq}" if env.seq else env.route
    return text + ("  (interrupted)" if interrupted else "")


class MessageTurn(Vertical):
    """One message: who said it to whom, and its Markdown body (streamed or whole)."""

    def __init__(self, env: Envelope, text: str = "", *, streaming: bool = False) -> None:
        classes = "turn"
        if env.metadata.get("interrupted"):
            classes += " interrupted"
        super().__init__(classes=classes)
        self.envelope = env
        self.seq = env.seq or 0
        self.sender = env.sender
        self._text = text if streaming else env.content
        self.streaming = streaming
        self.body = Markdown(self._text, classes="body")
        self.head = Label(
            _header(env, interrupted=bool(env.metadata.get("interrupted"))), classes="who"
        )
        self.stream: MarkdownStream | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield self.head
        yield self.body

    @property
    def text(self) -> str:
        return self._text

    def on_mount(self) -> None:
        if self.streaming:
            self.stream = Markdown.get_stream(self.body)

    async def append(self, fragment: str) -> None:
        self._text += fragment
        if self.stream is not None:
            await self.stream.write(fragment)

    async def finish(self, env: Envelope) -> None:
        """The whole message arrived: stop streaming; make sure the body is exactly it."""
        if self.stream is not None:
            await self.stream.stop()
            self.stream = None
        self.streaming = False
        self.envelope = env
        self.seq = env.seq or 0
        interrupted = bool(env.metadata.get("interrupted"))
        self.head.update(_header(env, interrupted=interrupted))
        self.set_class(interrupted, "interrupted")
        if env.content != self._text:
            self._text = env.content
            await self.body.update(env.content)


class SaidLine(Widget):
    """A message that arrived whole: one light widget (header and Markdown in one render)."""

    DEFAULT_CSS = "SaidLine { height: auto; }"

    def __init__(self, env: Envelope) -> None:
        interrupted = bool(env.metadata.get("interrupted"))
        super().__init__(classes="said interrupted" if interrupted else "said")
        self.envelope = env
        self.seq = env.seq or 0
        self.sender = env.sender
        self.text = env.content
        self.streaming = False
        self._head = _header(env, interrupted=interrupted)

    def render(self) -> Group:
        colour = self.app.theme_variables.get(
            "warning" if self.has_class("interrupted") else "accent"
        )
        head = Text(self._head, style=f"bold {colour}" if colour else "bold")
        body = Padding(RichMarkdown(self.text), (0, 0, 0, 2))
        return Group(head, body)


class QuietLine(Static):
    """An action or status, shown small and dim: the room's bookkeeping, not its dialogue."""

    def __init__(self, env: Envelope) -> None:
        kind = env.type.value
        text = " ".join(env.content.split())
        super().__init__(f"{kind} · {env.route} · {text}", classes=f"quiet {kind}", markup=False)
        self.seq = env.seq or 0


class Transcript(VerticalScroll):
    """See the module docstring."""

    def __init__(self, *, window: int = 300, reader: OlderReader | None = None, **kw) -> None:
        super().__init__(**kw)
        self.window = window
        self.reader = reader
        self._live: dict[str, MessageTurn] = {}
        self.oldest_seq = 0

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
        event = env.metadata.get("event")
        if env.type is MessageType.MESSAGE:
            return SaidLine(env)
        if event in QUIET:
            return None
        return QuietLine(env)

    async def add(self, batch: list[Envelope]) -> None:
        """Show a batch of envelopes, in seq order."""
        new: list[MessageTurn | SaidLine | QuietLine] = []
        for env in batch:
            event = env.metadata.get("event")
            turn_id = env.metadata.get("turn")
            if event == "stream" and isinstance(turn_id, str):
                live = self._live.get(turn_id)
                if live is None:
                    live = self._live[turn_id] = MessageTurn(env, "", streaming=True)
                    await self.mount_all([*new, live])
                    new = []
                await live.append(env.content)
                continue
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
        extra = len(self.children) - self.window
        if extra <= 0:
            return
        doomed = [w for w in list(self.children)[:extra] if not getattr(w, "streaming", False)]
        if doomed:
            self.oldest_seq = max(getattr(w, "seq", 0) for w in doomed)
            await self.remove_children(doomed)

    async def preload(self, envs: list[Envelope]) -> None:
        """Start from the end of a saved session (older turns page in on demand)."""
        await self.add(envs)
        self.oldest_seq = max(0, (envs[0].seq or 1) - 1) if envs else 0

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
