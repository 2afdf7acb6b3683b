"""A human's line to one agent gives that agent the floor: the requests not yet answered.

A person who types ``@con what about deliveries?`` expects con to answer,
whatever the strategy: a line said to one agent and kept private would
otherwise be answered by whoever the strategy picks, who never saw it.  So
the coordinator, not each strategy, keeps these requests: every strategy
gets the same rule, and no selector model is asked for a choice the human
already made.  Each request is one turn, taken before the strategy is asked
(the coordinator decides whether that turn also counts as the strategy's
own: :meth:`~agentroom.coordination.strategy.Strategy.due`).

A request is kept until its turn is taken, in the order the lines were
said, once per agent (one turn answers everything said to it so far: its
context holds it all).  Lines that never ask for a turn: an aside
(``/aside NAME TEXT``, marked :attr:`Event.ASIDE`), a line to a human, to
everyone, or from anyone but a human.  The requests are part of the
coordinator's checkpoint, and a resumed room reads the lines said after
that checkpoint again (:meth:`observe`), so none is lost to a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentroom.coordination.strategy import Participant
from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType


@dataclass(frozen=True, slots=True)
class FloorRequest:
    """``agent`` is to speak next because ``by`` (a human) said a line to it."""

    agent: str
    by: str

    @property
    def why(self) -> str:
        """How the room says who chose this turn: ``human's @con``."""
        return f"{self.by}'s @{self.agent}"


class FloorRequests:
    """The agents that humans have given the floor, in order; see the module docstring."""

    def __init__(self, participants: Mapping[str, Participant]) -> None:
        self._participants = participants
        self._pending: list[FloorRequest] = []

    def observe(self, envelope: Envelope) -> None:
        """Note a request if ``envelope`` is a human's line to one agent (not an aside)."""
        aside = envelope.metadata.get("event") == Event.ASIDE
        if envelope.type is not MessageType.MESSAGE or aside:
            return
        sender = self._participants.get(envelope.sender)
        receiver = self._participants.get(envelope.receiver)
        if sender is None or not sender.human or receiver is None or receiver.human:
            return
        if all(request.agent != receiver.id for request in self._pending):
            self._pending.append(FloorRequest(receiver.id, sender.id))

    def take(self) -> FloorRequest | None:
        """The oldest request, no longer pending (None when there is none)."""
        return self._pending.pop(0) if self._pending else None

    def state(self) -> list[list[str]]:
        return [[request.agent, request.by] for request in self._pending]

    def load(self, state: Any) -> None:
        """Restore from :meth:`state` (anything unreadable, as from an older room: none)."""
        self._pending = [
            FloorRequest(str(item[0]), str(item[1]))
            for item in (state if isinstance(state, list) else [])
            if isinstance(item, list) and len(item) == 2
        ]
