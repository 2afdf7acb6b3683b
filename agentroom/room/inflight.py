"""The replies being written right now, so far: what a viewer who arrives mid-reply is missing.

Stream chunks are never stored, so a screen or client that starts watching
while an agent is streaming has only the chunks still to come.  This bus sink
keeps each turn's chunks until the durable envelope that ends it arrives (one
from the same speaker with the same ``turn``: the reply, or a tool call after
which the turn streams anew), and can say what has been shown of every
in-flight reply (:meth:`InFlight.partial`).  A turn that ends with nothing
carrying its id (the room reports it failed or was interrupted) is let go when
the room says so.
"""

from __future__ import annotations

from agentroom.core.chunk import StreamChunk
from agentroom.core.protocol import ROOM, Envelope


class InFlight:
    """A sink for envelopes and chunks (attach it both ways) that keeps the unfinished replies."""

    __slots__ = ("_replies",)

    def __init__(self) -> None:
        self._replies: dict[str, tuple[StreamChunk, list[str]]] = {}
        """turn -> (its first chunk, the pieces so far): joined only when asked for."""

    def offer(self, item: Envelope | StreamChunk) -> bool:
        if isinstance(item, StreamChunk):
            reply = self._replies.get(item.turn)
            if reply is None:
                self._replies[item.turn] = (item, [item.text])
            elif reply[0].sender == item.sender:
                reply[1].append(item.text)
            return True
        turn = item.metadata.get("turn")
        if isinstance(turn, str):
            reply = self._replies.get(turn)
            if reply is not None and reply[0].sender == item.sender:
                del self._replies[turn]
        elif item.sender == ROOM and self._replies:
            agent = item.metadata.get("agent")
            for turn, (first, _) in list(self._replies.items()):
                if first.sender == agent:
                    del self._replies[turn]
        return True

    async def put(self, item: Envelope | StreamChunk) -> None:
        self.offer(item)

    def partial(self) -> list[StreamChunk]:
        """Every reply being streamed now, each as one chunk holding all its text so far."""
        out = []
        for first, pieces in self._replies.values():
            if len(pieces) > 1:
                pieces[:] = ["".join(pieces)]
            out.append(
                StreamChunk(first.sender, first.session_id, first.turn, pieces[0], first.model)
            )
        return out
