"""What the store hands back besides envelopes: room summaries and history rows."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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

    @property
    def live_state(self) -> str:
        """``running`` only if the process that opened it is still alive, else ``interrupted``."""
        if self.state != "running":
            return self.state
        owner = self.metadata.get("owner") or {}
        if owner.get("host") != socket.gethostname():
            return self.state
        pid = owner.get("pid")
        if not isinstance(pid, int):
            return self.state
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "interrupted"
        except PermissionError:
            return self.state
        return self.state

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
