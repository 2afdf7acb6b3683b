"""What a room looks like right now, as one plain record a screen or a client can draw.

A screen needs more than the envelopes: who is here and on which model, the
strategy, the turn, whether the room is paused or over, who has the floor,
which humans it is waiting for, tokens and cost.  In this process that is read
from the :class:`~agentroom.room.live.LiveRoom`; across the network it arrives
in the server's ``hello`` and ``state`` frames (docs/protocol.md).  One record,
with one ``to_dict``/``from_dict``, serves both, so a room screen draws a local
room and a remote one from the same fields and nothing is written twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentroom.room.live import LiveRoom


@dataclass(frozen=True, slots=True)
class Member:
    """One participant: its id, ``agent`` or ``human``, and what it runs on (a model label,
    or ``human``)."""

    id: str
    kind: str
    label: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "label": self.label}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Member:
        return cls(str(data["id"]), str(data.get("kind", "agent")), str(data.get("label", "")))


@dataclass(frozen=True, slots=True)
class RoomState:
    """A snapshot of a room; see the module docstring.  Equal snapshots mean nothing to redraw."""

    session_id: str
    title: str = ""
    strategy: str = ""
    turn: int = 0
    paused: bool = False
    stopped: str | None = None
    """Why the run ended (None while it runs)."""
    speaker: str | None = None
    """Who has the floor now (None between turns)."""
    waiting: tuple[str, ...] = ()
    """The humans the room is waiting for right now (their turn)."""
    tokens: int = 0
    cost: str = "$0"
    members: tuple[Member, ...] = field(default_factory=tuple)
    last_seq: int = 0
    online: tuple[str, ...] | None = None
    """The humans connected to a served room right now; None where nobody connects (a room
    open in this process knows only its own human, who is here)."""

    @property
    def models(self) -> str:
        """The models the agents run on, each once, sorted: ``offline, local:smollm2``."""
        return ", ".join(sorted({m.label for m in self.members if m.kind != "human"}))

    @property
    def humans(self) -> list[str]:
        return [m.id for m in self.members if m.kind == "human"]

    @property
    def participants(self) -> list[str]:
        return [m.id for m in self.members]

    @property
    def running(self) -> str:
        """``running``, ``paused`` or ``stopped``: what a status bar says."""
        return "stopped" if self.stopped else ("paused" if self.paused else "running")

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "title": self.title,
            "strategy": self.strategy,
            "turn": self.turn,
            "paused": self.paused,
            "stopped": self.stopped,
            "speaker": self.speaker,
            "waiting": list(self.waiting),
            "tokens": self.tokens,
            "cost": self.cost,
            "members": [m.to_dict() for m in self.members],
            "last_seq": self.last_seq,
            "online": None if self.online is None else list(self.online),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoomState:
        """Read a snapshot a server sent; a missing field takes its default, so an older or
        newer server's ``state`` still draws."""
        stopped = data.get("stopped")
        speaker = data.get("speaker")
        online = data.get("online")
        return cls(
            session_id=str(data.get("session_id", "")),
            title=str(data.get("title", "")),
            strategy=str(data.get("strategy", "")),
            turn=int(data.get("turn", 0)),
            paused=bool(data.get("paused", False)),
            stopped=None if stopped is None else str(stopped),
            speaker=None if speaker is None else str(speaker),
            waiting=tuple(str(w) for w in data.get("waiting", ())),
            tokens=int(data.get("tokens", 0)),
            cost=str(data.get("cost", "$0")),
            members=tuple(Member.from_dict(m) for m in data.get("members", ())),
            last_seq=int(data.get("last_seq", 0)),
            online=None if online is None else tuple(str(h) for h in online),
        )

    @classmethod
    def of(cls, room: LiveRoom) -> RoomState:
        """The snapshot of a room open in this process (an empty one until it is open)."""
        engine, coordinator = room.engine, room.coordinator
        if engine is None:
            return cls(session_id="")
        members = tuple(
            Member(
                agent_id,
                "human" if agent.kind == "human" else "agent",
                str(getattr(agent, "model_label", agent.kind)),
            )
            for agent_id, agent in engine.agents.items()
        )
        usage = engine.usage.total
        return cls(
            session_id=engine.session_id,
            title=room.workflow.name if room.workflow is not None else "",
            strategy=coordinator.strategy.name if coordinator is not None else "",
            turn=coordinator.turns if coordinator is not None else 0,
            paused=coordinator.paused if coordinator is not None else False,
            stopped=coordinator.stopped if coordinator is not None else None,
            speaker=coordinator.current_speaker if coordinator is not None else None,
            waiting=tuple(h.id for h in room.humans if h.waiting),
            tokens=usage.prompt_tokens + usage.completion_tokens,
            cost=usage.cost_text if usage.calls else "$0",
            members=members,
            last_seq=engine.bus.last_seq,
        )
