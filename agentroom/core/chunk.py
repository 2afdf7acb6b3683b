"""A piece of a reply still being written: shown live, never stored, no place in the order.

A model's reply streams into the room as :class:`StreamChunk` chunks so screens
can follow it as it is written.  A chunk is not an
:class:`~agentroom.core.protocol.Envelope`: it takes no ``seq`` and no store
or coordinator ever sees it, so ``seq`` counts what is durable and a streamed
room's file holds its replies once, not once per 50 ms.  The finished reply
(or the partial one, marked interrupted) is the envelope; it carries all the
text the chunks of its turn showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from agentroom.core.protocol import Envelope


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """The next ``text`` of ``sender``'s reply in turn ``turn``; the bus stamps the sender.

    Chunks of one turn arrive in order and add up to what was shown of the
    reply so far; the envelope that ends the turn (its ``metadata["turn"]`` is
    ``turn``) replaces them.
    """

    sender: str
    session_id: str
    turn: str
    text: str
    model: str = ""

    def to_dict(self) -> dict[str, str]:
        """A JSON-serialisable dict (a ``delta`` frame's body for a network client)."""
        return {
            "sender": self.sender,
            "session_id": self.session_id,
            "turn": self.turn,
            "text": self.text,
            "model": self.model,
        }


LiveItem: TypeAlias = Envelope | StreamChunk
"""What a live viewer is given, in order: a durable envelope or an ephemeral chunk."""
