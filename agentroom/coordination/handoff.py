"""Handoff: the active agent keeps the floor until it hands the turn to another.

An agent hands off by calling a ``handoff`` tool or by writing ``HANDOFF:
name`` in its reply; the room records it as a ``handoff`` action (with
``from`` and ``to``) and the new agent becomes active.  The active agent is
sticky and part of the checkpointed state.  An optional ``partner`` (the
customer, say) speaks between the active agent's turns.

A human who is handed the floor answers, and the floor goes back to the
agent that handed it over, unless the human hands it elsewhere (``@name``,
a line said to one agent, or ``HANDOFF: name``).  Who to give it back to is
checkpointed too, so this holds across a resume.  A human's line to one agent
said while someone else has the floor gives that agent one turn (the
coordinator sees to it), and the floor stays where it was.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentroom.coordination.strategy import RoomView, Speak, Strategy, mentions
from agentroom.core.events import Event
from agentroom.core.protocol import BROADCAST, Envelope, MessageType
from agentroom.models.types import Hints, Member

HANDOFF = re.compile(
    r"\bHANDOFF:\s*@?([A-Za-z0-9_][A-Za-z0-9_.\-]*)"
    r"|\bhand(?:ing)?\s*(?:off|over|you over)\s+to\s+@([A-Za-z0-9_][A-Za-z0-9_.\-]*)",
    re.IGNORECASE,
)
"""``HANDOFF: name``, or ``hand off to @name``: an explicit name, never a stray word."""


class Handoff(Strategy):
    name = "handoff"

    def __init__(self, start: str, *, partner: str | None = None) -> None:
        self.start = start
        self.active = start
        self.partner = partner
        self.partner_next = False
        self.handed_by: str | None = None
        """The agent that handed the floor to the human who has it (it gets it back)."""
        self._requested: str | None = None

    async def next_speaker(self, room: RoomView) -> Speak | None:
        if self.partner and self.partner_next:
            return Speak(self.partner, by=f"the handoff ({self.partner} answers {self.active})")
        targets = [
            Member(p.id, p.role, p.description)
            for p in room.participants.values()
            if p.id not in (self.active, self.partner)
        ]
        return Speak(
            self.active,
            hints=Hints(handoff_targets=tuple(targets)),
            by=f"the handoff ({self.active} has the floor)",
        )

    def due(self, room: RoomView) -> str | None:
        return self.partner if self.partner and self.partner_next else self.active

    def observe(self, envelope: Envelope) -> None:
        meta = envelope.metadata
        if (
            envelope.type is MessageType.ACTION
            and meta.get("event") == Event.TOOL_CALL
            and meta.get("tool") == "handoff"
            and envelope.sender == self.active
        ):
            args = meta.get("arguments")
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except ValueError:
                    args = {}
            to = args.get("to") if isinstance(args, dict) else None
            if isinstance(to, str):
                self._requested = to

    async def turn_done(self, room: RoomView, speak: Speak, result: Envelope | None) -> None:
        if speak.agent_id != self.active:
            self.partner_next = False
            return
        target = self._requested
        self._requested = None
        human = self._human(room, self.active)
        if target is None and result is not None and result.type is MessageType.MESSAGE:
            target = _named(result, room.participants if human else None)
        if human and target in (None, self.active) and self.handed_by is not None:
            target = self.handed_by  # the human has answered: back to who asked them
        if target is None or target == self.active:
            self.partner_next = True
            return
        if target not in room.participants:
            known = ", ".join(sorted(p for p in room.participants if p != self.active))
            await room.say(
                f"{self.active} tried to hand off to {target!r}, who is not here; known: {known}",
                type=MessageType.STATUS,
                metadata={"event": Event.HANDOFF_REFUSED, "to": target},
            )
            self.partner_next = True
            return
        await room.say(
            f"{self.active} hands off to {target}",
            metadata={"event": Event.HANDOFF, "from": self.active, "to": target},
            reply_to=result.id if result is not None else None,
        )
        if self._human(room, target):
            self.handed_by = self.handed_by if human else self.active
        else:
            self.handed_by = None
        self.active = target
        # The new agent picks up at once; the partner then answers it.
        self.partner_next = target == self.partner

    @staticmethod
    def _human(room: RoomView, who: str) -> bool:
        participant = room.participants.get(who)
        return participant is not None and participant.human

    def round_size(self, room: RoomView) -> int:
        return 2 if self.partner else 1

    def state(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "partner_next": self.partner_next,
            "handed_by": self.handed_by,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.active = state.get("active", self.start)
        self.partner_next = bool(state.get("partner_next", False))
        self.handed_by = state.get("handed_by")
        self._requested = None


def _named(said: Envelope, participants: dict[str, Any] | None) -> str | None:
    """Whom a reply hands off to: ``HANDOFF: name``; for a human also ``@name`` or a line
    said to one participant (``participants`` given)."""
    found = HANDOFF.search(said.content)
    if found:
        return (found.group(1) or found.group(2)).rstrip(".-")
    if participants is None:
        return None
    if said.receiver != BROADCAST and said.receiver in participants:
        return said.receiver
    named = [n for n in mentions(said.content, participants) if n != said.sender]
    return named[0] if named else None
