"""Handoff: the active agent keeps the floor until it hands the turn to another.

An agent hands off by calling a ``handoff`` tool or by writing ``HANDOFF:
name`` in its reply; the room records it as a ``handoff`` action (with
``from`` and ``to``) and the new agent becomes active.  The active agent is
sticky and part of the checkpointed state.  An optional ``partner`` (the
customer, say) speaks between the active agent's turns.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentroom.coordination.strategy import RoomView, Speak, Strategy
from agentroom.protocol import Envelope, MessageType

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
        self._requested: str | None = None

    async def next_speaker(self, room: RoomView) -> Speak | None:
        if self.partner and self.partner_next:
            return Speak(self.partner, by=f"the handoff ({self.partner} answers {self.active})")
        targets = [
            {"id": p.id, "role": p.role, "description": p.description}
            for p in room.participants.values()
            if p.id not in (self.active, self.partner)
        ]
        return Speak(
            self.active,
            hints={"handoff_targets": targets},
            by=f"the handoff ({self.active} has the floor)",
        )

    def observe(self, envelope: Envelope) -> None:
        meta = envelope.metadata
        if (
            envelope.type is MessageType.ACTION
            and meta.get("event") == "tool_call"
            and meta.get("tool") == "handoff"
            and envelope.sender == self.active
        ):
            args = meta.get("arguments")
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except ValueError:
                    args = {}
            if isinstance(args, dict) and isinstance(args.get("to"), str):
                self._requested = args["to"]

    async def turn_done(self, room: RoomView, speak: Speak, result: Envelope | None) -> None:
        if speak.agent_id != self.active:
            self.partner_next = False
            return
        target = self._requested
        self._requested = None
        if target is None and result is not None and result.type is MessageType.MESSAGE:
            found = HANDOFF.search(result.content)
            target = (found.group(1) or found.group(2)).rstrip(".-") if found else None
        if target is None or target == self.active:
            self.partner_next = True
            return
        if target not in room.participants:
            known = ", ".join(sorted(p for p in room.participants if p != self.active))
            await room.say(
                f"{self.active} tried to hand off to {target!r}, who is not here; known: {known}",
                type=MessageType.STATUS,
                metadata={"event": "handoff_refused", "to": target},
            )
            self.partner_next = True
            return
        await room.say(
            f"{self.active} hands off to {target}",
            metadata={"event": "handoff", "from": self.active, "to": target},
            reply_to=result.id if result is not None else None,
        )
        self.active = target
        # The new agent picks up at once; the partner then answers it.
        self.partner_next = target == self.partner

    def round_size(self, room: RoomView) -> int:
        return 2 if self.partner else 1

    def state(self) -> dict[str, Any]:
        return {"active": self.active, "partner_next": self.partner_next}

    def load(self, state: dict[str, Any]) -> None:
        self.active = state.get("active", self.start)
        self.partner_next = bool(state.get("partner_next", False))
        self._requested = None
