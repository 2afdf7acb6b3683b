"""How the room describes an envelope to a person: one definition of quiet, one formatter.

Every place that shows envelopes (the CLI's ``sessions show`` and headless
transcript, the TUI's transcript, replay, whole-text screen and agent pane,
the Markdown export) asks here what an envelope *is* to a reader and styles
the answer its own way (Rich text, widgets, Markdown).  Before, each had its
own list of what to leave out, and the lists had drifted apart.

- :func:`is_quiet`: what no transcript shows as a line of its own.  A stream
  chunk an older agentroom stored as a status row (the finished message
  carries all of it; chunks are ephemeral now, :mod:`agentroom.core.chunk`,
  and a live view previews them before the reply) and a usage report (summed up instead:
  the TUI's status bar, the usage line under ``sessions show`` and at the end
  of a Markdown export).  Both are statuses: a message is dialogue and is
  never quiet, whatever its metadata says.
- :func:`is_routine`: the room's routine bookkeeping, a status line that
  comes with nearly every turn (who was picked to speak next, what a model
  call cost).  A screen may fold these away so the dialogue is not buried
  under them (the TUI folds them unless asked, and shows usage reports only
  then; every other reader leaves usage out, being quiet).
- :func:`describe`: an :class:`Entry`, interface-neutral: who, to whom when
  not everyone, its kind and event, whether it is quiet or was interrupted,
  and its text made safe for the target (a terminal gets no control
  character; a file gets the text exactly).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from agentroom.core.events import Event
from agentroom.core.protocol import BROADCAST, Envelope, Message, MessageType
from agentroom.core.text import for_terminal

QUIET_EVENTS: frozenset[str] = frozenset({Event.STREAM, Event.USAGE})
"""Status events no transcript shows as a line (see the module docstring)."""

ROUTINE_EVENTS: frozenset[str] = frozenset({Event.SPEAKER_SELECTED, Event.USAGE})
"""Status events a screen may fold away (see the module docstring)."""

Target = Literal["terminal", "file"]
"""Where the text goes: a terminal (controls made visible) or a file (exactly as said)."""

_SAFE: Mapping[Target, Callable[[str], str]] = {"terminal": for_terminal, "file": str}


def _quiet(kind: MessageType, metadata: Mapping[str, Any]) -> bool:
    return kind is MessageType.STATUS and metadata.get("event") in QUIET_EVENTS


def is_quiet(env: Envelope) -> bool:
    """Whether no transcript shows ``env`` as a line of its own (see the module docstring)."""
    return _quiet(env.type, env.metadata)


def _routine(kind: MessageType, metadata: Mapping[str, Any]) -> bool:
    return kind is MessageType.STATUS and metadata.get("event") in ROUTINE_EVENTS


def is_routine(env: Envelope) -> bool:
    """Whether ``env`` is routine bookkeeping a screen may fold (see the module docstring)."""
    return _routine(env.type, env.metadata)


@dataclass(frozen=True)
class Entry:
    """One envelope (or one message of an agent's own view) as a reader meets it.

    Names are already safe for the target; :attr:`text` is made safe the first
    time it is read.  A view that shows only part of a long text (the TUI cuts
    one at 40 lines) starts from :attr:`content`, exactly as said, and makes
    safe only the part it shows: a 10 MB message is not copied whole for that.
    """

    kind: MessageType
    sender: str
    receiver: str | None
    """Whom it was for; None when it was said to everyone."""
    seq: int | None
    event: str | None
    """The ``event`` in its metadata (``turn_failed``, ``input_requested``, ...), if any."""
    quiet: bool
    routine: bool
    """Routine bookkeeping a screen may fold (:func:`is_routine`)."""
    interrupted: bool
    created_at: datetime
    content: str = field(repr=False)
    """The text exactly as said (not yet safe for anything)."""
    target: Target = "terminal"

    @cached_property
    def text(self) -> str:
        """The whole text, safe for the target."""
        return _SAFE[self.target](self.content)

    @property
    def said(self) -> bool:
        """Dialogue (a message), rather than the room's bookkeeping (an action or a status)."""
        return self.kind is MessageType.MESSAGE

    @property
    def route(self) -> str:
        """``sender``, or ``sender → receiver`` when not said to everyone."""
        return self.sender if self.receiver is None else f"{self.sender} → {self.receiver}"

    @property
    def who(self) -> str:
        """:attr:`route`, and ``(interrupted)`` when the reply was cut short by a stop."""
        return f"{self.route} (interrupted)" if self.interrupted else self.route

    @property
    def title(self) -> str:
        """``message · alice → bob #12``: what a screen showing it alone is titled."""
        return f"{self.kind.value} · {self.route} #{self.seq}" if self.seq else self.route


def describe(item: Envelope | Message, target: Target = "terminal") -> Entry:
    """An envelope as a reader meets it, its text safe for ``target``.

    A message of an agent's own view is described as the envelope it came from would be.
    """
    if isinstance(item, Message):
        kind, sender, receiver = item.message_type, item.agent_id, item.recipient_id
    else:
        kind, sender, receiver = item.type, item.sender, item.receiver
    safe = _SAFE[target]
    event = item.metadata.get("event")
    return Entry(
        kind=kind,
        sender=safe(sender),
        receiver=None if receiver == BROADCAST else safe(receiver),
        seq=item.seq,
        event=event if isinstance(event, str) else None,
        quiet=_quiet(kind, item.metadata),
        routine=_routine(kind, item.metadata),
        interrupted=bool(item.metadata.get("interrupted")),
        created_at=item.created_at,
        content=item.content,
        target=target,
    )
