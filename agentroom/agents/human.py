"""The human participant: the bridge between a human interface and the bus.

A human interface (the TUI, a CLI prompt, a web page) never publishes on its
own: it calls :meth:`HumanAgent.say`, which publishes as the human through the
human's handle.  When a coordinator gives the human a turn, :meth:`ask`
announces that input is wanted and waits for the next thing the human says;
the interface reads :attr:`inbox` to show what was addressed to the human.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from agentroom.agents.base import Agent, AgentSettings, Turn
from agentroom.core.errors import HumanLeftError, HumanTimeoutError
from agentroom.core.events import Event
from agentroom.core.protocol import BROADCAST, Envelope, MessageType

if TYPE_CHECKING:
    from agentroom.bus import AgentHandle
    from agentroom.bus.subscriptions import Subscription
    from agentroom.conversation import ConversationSystem


class HumanAgent(Agent):
    """A person in the room."""

    kind = "human"

    def __init__(
        self,
        id: str = "human",
        *,
        role: str = "human",
        description: str = "the person in the room",
        settings: AgentSettings | None = None,
        inbox_size: int = 10_000,
    ) -> None:
        super().__init__(id, role=role, description=description, settings=settings)
        self._inbox_size = inbox_size
        self._inbox: Subscription[Envelope] | None = None
        self._pending: asyncio.Future[Envelope] | None = None
        self.gone: str | None = None
        """Why the human can no longer answer (set by :meth:`leave`); None while they can."""
        self.catch_up: Callable[[], Awaitable[None]] | None = None
        """Set by an interface whose input may hold more than it has handed over yet (stdin
        read on a thread): awaited when a turn times out, it returns once what is there is
        handed over (a line, which then answers; or the end of the input, which then skips
        the human as gone rather than slow), so a thread not yet scheduled is never taken
        for a person who did not answer."""

    def bind(self, handle: AgentHandle, conversation: ConversationSystem) -> None:
        super().bind(handle, conversation)
        # Lossy by design: the interface may not read it, and the bus must never wait on a
        # person.  Everything is in SQLite regardless.
        self._inbox = handle.subscribe(include_own=True, maxsize=self._inbox_size, lossless=False)

    @property
    def inbox(self) -> Subscription[Envelope]:
        """Envelopes addressed to the human (directly or to everyone), in seq order."""
        if self._inbox is None:
            raise RuntimeError(f"human {self.id!r} is not registered with an engine yet")
        return self._inbox

    def leave(self, reason: str = "left the room") -> None:
        """The human can no longer answer (their input ended): skip them from now on.

        A turn waiting for them ends now, and every later one at once, each
        with :class:`HumanLeftError` saying ``reason``.
        """
        self.gone = f"{self.id} {reason}"
        pending = self._pending
        if pending is not None and not pending.done():
            pending.set_exception(HumanLeftError(self.gone))

    @property
    def waiting(self) -> bool:
        """True while a turn is waiting for the human to say something."""
        return self._pending is not None and not self._pending.done()

    async def say(
        self,
        content: str,
        to: str = BROADCAST,
        *,
        type: MessageType | str = MessageType.MESSAGE,
        metadata: dict[str, Any] | None = None,
    ) -> Envelope:
        """Publish as the human.  If the human's turn is pending, this is the answer."""
        env = await self.handle.publish(content, to=to, type=type, metadata=metadata)
        if env.sender == self.id and env.type is MessageType.MESSAGE:
            self.answer(env)
        return env

    def answer(self, envelope: Envelope) -> bool:
        """Take ``envelope`` as the answer to the turn waiting for this human (their own line,
        or, in a room where any human may answer, another's: :class:`AnyHumanAnswers`).

        Returns False when no turn is waiting (the line is then just said).
        """
        pending = self._pending
        if pending is None or pending.done():
            return False
        pending.set_result(envelope)
        return True

    async def ask(self, prompt: str = "", *, timeout: float | None = None) -> Envelope:
        """Announce that the human's input is wanted and wait for what they say next.

        Raises :class:`HumanTimeoutError` after ``timeout`` seconds (None: no
        limit), :class:`HumanLeftError` once the human has left; cancelling the
        caller withdraws the request.
        """
        if self.waiting:
            raise RuntimeError(f"already waiting for {self.id!r} to answer")
        if self.gone is not None:
            raise HumanLeftError(self.gone)
        fut: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()
        self._pending = fut
        try:
            await self.handle.publish(
                prompt or f"waiting for {self.id} to speak",
                to=self.id,
                type=MessageType.STATUS,
                metadata={"event": Event.INPUT_REQUESTED, "timeout": timeout},
            )
            try:
                return await asyncio.wait_for(asyncio.shield(fut), timeout)
            except HumanLeftError:  # leave() while waiting: say why, not "did not answer"
                raise
            except TimeoutError:
                if self.catch_up is not None and not fut.done():
                    await self.catch_up()
                if fut.done():  # answered, or gone (this raises why), while catching up
                    return fut.result()
                raise HumanTimeoutError(f"{self.id} did not answer within {timeout:g}s") from None
        finally:
            self._pending = None
            if not fut.done():
                fut.cancel()
            elif not fut.cancelled():
                # A leave() in the same moment as the timeout: the turn already ended, so
                # nobody reads its HumanLeftError; read it here, or asyncio prints it on
                # stderr as "never retrieved" when the future is collected.
                fut.exception()

    async def take_turn(self, turn: Turn) -> Envelope:
        return await self.ask(timeout=self.settings.turn_timeout)


class AnyHumanAnswers:
    """A bus sink for a room where any human may answer a human's turn (``room.any_human``).

    When the room waits for one human and another says a line to everyone or to
    the one asked, that line is the answer: in a room several people share,
    whoever is at the keyboard keeps the room going.  It watches the bus, not
    :meth:`HumanAgent.say`, so a line counts however it reached the room (a
    screen, stdin, a network client).  An aside is said to one without giving
    anyone a turn, so it never answers one.
    """

    def __init__(self, humans: Iterable[HumanAgent]) -> None:
        self.humans = {human.id: human for human in humans}

    def offer(self, envelope: Envelope) -> bool:
        if (
            envelope.type is MessageType.MESSAGE
            and envelope.sender in self.humans
            and envelope.metadata.get("event") != Event.ASIDE
        ):
            for human in self.humans.values():
                if human.id != envelope.sender and envelope.receiver in (BROADCAST, human.id):
                    human.answer(envelope)
        return True

    async def put(self, envelope: Envelope) -> None:
        self.offer(envelope)
