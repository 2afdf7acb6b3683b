"""Round-robin: a fixed order, over and over; a human takes their turn like anyone else.

A human's line to one agent gives that agent the next turn (the coordinator
sees to it); the order then resumes where it was, so nobody loses a turn: when
the agent was next anyway, that was its turn and the order moves on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentroom.coordination.strategy import RoomView, Speak, Strategy
from agentroom.core.protocol import Envelope


class RoundRobin(Strategy):
    name = "round-robin"

    def __init__(self, order: Sequence[str]) -> None:
        if not order:
            raise ValueError("round-robin needs at least one participant in its order")
        self.order = list(order)
        self.cursor = 0

    async def next_speaker(self, room: RoomView) -> Speak | None:
        return Speak(self.order[self.cursor % len(self.order)], by="the round-robin order")

    def due(self, room: RoomView) -> str | None:
        return self.order[self.cursor % len(self.order)]

    async def turn_done(self, room: RoomView, speak: Speak, result: Envelope | None) -> None:
        self.cursor = (self.cursor + 1) % len(self.order)

    def round_size(self, room: RoomView) -> int:
        return len(self.order)

    def state(self) -> dict[str, Any]:
        return {"cursor": self.cursor}

    def load(self, state: dict[str, Any]) -> None:
        self.cursor = int(state.get("cursor", 0)) % len(self.order)
