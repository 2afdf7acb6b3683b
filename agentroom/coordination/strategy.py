"""The one interface every coordination strategy implements, and what it may see.

A strategy only decides who speaks next (and with which hints or address);
it never draws anything and never publishes except through the room view it
is given.  Its whole state is a small dict, checkpointed after every turn, so
a resumed session continues exactly where it stopped.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from agentroom.agents.base import Address
from agentroom.core.protocol import Envelope, MessageType
from agentroom.models.types import NO_HINTS, Hints

if TYPE_CHECKING:
    from agentroom.coordination.host import RoomHost

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.\-]*)")


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    role: str = ""
    description: str = ""
    human: bool = False


@dataclass(frozen=True, slots=True)
class Speak:
    """The strategy's decision: who speaks next, with what hints, and where the reply goes."""

    agent_id: str
    hints: Hints = NO_HINTS
    address: Address | None = None
    by: str = ""
    """Why this speaker (``the round-robin order``, ``the selector (...)``): the room says so."""


class RoomView:
    """What a strategy may see of the room, and the two ways it may act on it.

    It sees who is here (:attr:`participants`), the recent dialogue
    (:attr:`recent`), the task and who spoke last; it acts by saying something
    as the room (:meth:`say`) or by asking one participant for an answer in a
    turn of their own (:meth:`ask`).  The host behind it (bus, store, engine)
    stays out of reach, so a strategy cannot publish as someone else, write
    the log, or depend on how the room is built.
    """

    def __init__(self, host: RoomHost, participants: dict[str, Participant]) -> None:
        self._host = host
        self.participants = participants
        self.recent: deque[Envelope] = deque(maxlen=50)
        self.last_speaker: str | None = None

    def observe(self, envelope: Envelope) -> None:
        if envelope.type is MessageType.MESSAGE:
            self.recent.append(envelope)

    @property
    def task(self) -> str:
        """What the room is working on."""
        return self._host.task

    @property
    def last_message(self) -> Envelope | None:
        return self.recent[-1] if self.recent else None

    @property
    def agents(self) -> list[Participant]:
        return [p for p in self.participants.values() if not p.human]

    def sampling_seed(self) -> int | None:
        """The seed for a model request the strategy makes now (the room's, varied per turn)."""
        return self._host.sampling_seed()

    async def say(self, content: str, **kwargs: Any) -> Envelope:
        """The room speaks (instructions, assignments, decisions): an attributed envelope."""
        kwargs.setdefault("type", MessageType.ACTION)
        return await self._host.bus.announce(content, **kwargs)

    async def ask(self, agent_id: str, *, hints: Hints, address: Address | None = None) -> Envelope:
        """``agent_id`` answers in a turn of its own (a vote, a choice); AgentTurnError if not."""
        return await self._host.run_agent_turn(agent_id, hints=hints, address=address)


def mentions(text: str, known: set[str] | dict[str, Any]) -> list[str]:
    """The known participant ids ``@mentioned`` in ``text``, in order, without repeats."""
    found: list[str] = []
    for name in MENTION.findall(text):
        name = name.rstrip(".-")
        if name in known and name not in found:
            found.append(name)
    return found


class Strategy:
    """Base of the coordination strategies; see the module docstring."""

    name: ClassVar[str] = "strategy"

    async def next_speaker(self, room: RoomView) -> Speak | None:
        """Who speaks next; None when the strategy has nothing left to do."""
        raise NotImplementedError

    def due(self, room: RoomView) -> str | None:
        """Who :meth:`next_speaker` would give the next turn to, if that is settled already.

        Round-robin's next in order, handoff's active agent: known without
        asking anyone or saying anything.  None (the default) when the
        strategy still has to decide (a selector, a plan step to hand out).
        When a human gives the floor to the agent that is due, that turn is
        the strategy's own (its :meth:`turn_done` runs, the order moves on);
        to anyone else it is a turn between, and the strategy carries on
        where it was.  Must not change anything.
        """
        return None

    def observe(self, envelope: Envelope) -> None:
        """See every envelope as it is published (handoffs, plans, mentions)."""

    async def turn_done(self, room: RoomView, speak: Speak, result: Envelope | None) -> None:
        """The turn the strategy asked for is over (``result`` is what it published)."""

    @property
    def finished_reason(self) -> str:
        return f"the {self.name} strategy has nobody left to call on"

    def round_size(self, room: RoomView) -> int:
        """Turns in one round (for memory conflicts: writes in the same round clash)."""
        return max(1, len(room.participants))

    def new_task(self, task: str) -> None:
        """A run begins on a new task (the order carries on; a finished plan starts again)."""

    def state(self) -> dict[str, Any]:
        return {}

    def load(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state` (a resumed session, or a switch mid-session).

        ``load({})`` is the strategy as it was built: :meth:`reset` relies on it.
        """

    def reset(self) -> None:
        """Start over, as first built (the team's :meth:`~MultiAgentCoordinator.reset`)."""
        self.load({})
