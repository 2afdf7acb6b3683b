"""What the store hands back besides envelopes: room summaries, owners, health, checkpoints.

These are plain data (no I/O), made by the store and read by every layer
above it: the room layer's sessions service hands :class:`RoomInfo` to the
CLI, the TUI and (later) a server; a live room passes :class:`StoreHealth` to
whoever shows it.  They live in core, not in ``store/``, so that naming one
does not make an interface depend on the store (which interfaces never
import): a record is the shape of what was saved, the same kind of thing as
the protocol's envelope.  A re-export from the room layer would have hidden
that dependency, not removed it: the type would still be the store's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Owner:
    """The recorded owner of a room (see ``ownership.py``); pid and host are for display."""

    pid: int | None
    host: str | None
    epoch: int
    lease_until: datetime
    locked: bool
    alive: bool
    """Still running: its OS lock is held, or (without one) its lease has not lapsed."""

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Whether the store can write: ``ok``, or failing with a one-line ``reason``.

    ``waiting`` counts the records queued but not yet written when this was
    said.  ``permanent`` failures do not go away by themselves (the room was
    taken over, its file replaced): the room must stop.  A health that is ok
    may carry a ``reason`` too: a note of something that was put right (a
    deleted database file restored).
    """

    ok: bool = True
    reason: str = ""
    waiting: int = 0
    permanent: bool = False

    def describe(self) -> str:
        """The one line a person reads: in the room, on stderr, in a notification."""
        if not self.ok:
            then = "" if self.permanent else "; no new turn until it can write again"
            return f"the room cannot be saved: {self.reason}{then}"
        return self.reason or "the room can be saved again; carrying on"


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """One saved room session, as ``agentroom sessions list`` shows it."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    state: str
    last_seq: int
    messages: int
    agents: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    owner: Owner | None = None

    @property
    def live_state(self) -> str:
        """``running`` only while its owner is alive (lock or lease), else ``interrupted``."""
        if self.state != "running":
            return self.state
        return "running" if self.owner is not None and self.owner.alive else "interrupted"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "state": self.live_state,
            "last_seq": self.last_seq,
            "messages": self.messages,
            "agents": list(self.agents),
            "metadata": self.metadata,
        }


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    name: str
    pos: int
    created_at: datetime
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One token a person joins a served room with, as ``agentroom tokens list`` shows it.

    Never the secret itself (only its hash is kept, and this is not it):
    ``token_id`` is the short public name a person revokes it by.  Times are
    ISO 8601 in UTC; ``revoked_at`` and ``last_used_at`` are None until then.
    """

    token_id: str
    session_id: str
    human: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "session_id": self.session_id,
            "human": self.human,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
        }
