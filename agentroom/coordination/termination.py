"""When a run stops: small conditions that watch the room, combinable with ``&`` and ``|``.

Each condition sees every envelope (through the coordinator's bus sink) and
the end of every turn, and latches a reason once it fires.  ``a | b`` stops
when either has fired, ``a & b`` when both have (each remembers that it did).
Counters are plain data, so the coordinator can checkpoint them after every
turn and a resumed run carries on counting where it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType
from agentroom.core.text import counted, one_line, redact


class Termination:
    """Base: override :meth:`observe` and/or :meth:`turn_ended`; call :meth:`fire`."""

    kind = "termination"

    def __init__(self) -> None:
        self.reason: str | None = None

    @property
    def fired(self) -> bool:
        return self.reason is not None

    def fire(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def observe(self, envelope: Envelope) -> None:
        """See one envelope of the room (any type, any sender)."""

    def turn_ended(self) -> None:
        """A speaker's turn is over."""

    def started(self) -> None:
        """The run (or a resumed run) begins now."""

    def tick(self) -> None:
        """Time passes (called a few times a second while a run is on)."""

    def refresh(self) -> None:
        """Recompute a combination's verdict from its parts (after a part was cleared)."""

    def reset(self) -> None:
        """Forget counters and the latched reason: a fresh budget (used by resume)."""
        self.reason = None

    def state(self) -> dict[str, Any]:
        return {"reason": self.reason}

    def load(self, state: dict[str, Any]) -> None:
        self.reason = state.get("reason")

    def __or__(self, other: Termination) -> Termination:
        return AnyOf([self, other])

    def __and__(self, other: Termination) -> Termination:
        return AllOf([self, other])

    def describe(self) -> str:
        return self.kind


class _Composite(Termination):
    def __init__(self, parts: Iterable[Termination]) -> None:
        super().__init__()
        self.parts = list(parts)

    def observe(self, envelope: Envelope) -> None:
        for part in self.parts:
            part.observe(envelope)
        self._check()

    def turn_ended(self) -> None:
        for part in self.parts:
            part.turn_ended()
        self._check()

    def started(self) -> None:
        for part in self.parts:
            part.started()

    def tick(self) -> None:
        for part in self.parts:
            part.tick()
        self._check()

    def refresh(self) -> None:
        for part in self.parts:
            part.refresh()
        self.reason = None
        self._check()

    def reset(self) -> None:
        super().reset()
        for part in self.parts:
            part.reset()

    def state(self) -> dict[str, Any]:
        return {"reason": self.reason, "parts": [part.state() for part in self.parts]}

    def load(self, state: dict[str, Any]) -> None:
        super().load(state)
        for part, sub in zip(self.parts, state.get("parts", []), strict=False):
            part.load(sub)

    def _check(self) -> None:
        raise NotImplementedError


class AnyOf(_Composite):
    kind = "any"

    def _check(self) -> None:
        for part in self.parts:
            if part.fired:
                self.fire(part.reason or part.kind)
                return

    def __or__(self, other: Termination) -> Termination:
        return AnyOf([*self.parts, other])

    def describe(self) -> str:
        return " | ".join(part.describe() for part in self.parts)


class AllOf(_Composite):
    kind = "all"

    def _check(self) -> None:
        if self.parts and all(part.fired for part in self.parts):
            self.fire(" and ".join(part.reason or part.kind for part in self.parts))

    def __and__(self, other: Termination) -> Termination:
        return AllOf([*self.parts, other])

    def describe(self) -> str:
        return " & ".join(f"({part.describe()})" for part in self.parts)


class _Counting(Termination):
    """A condition that counts something up to a limit; the count is its state."""

    unit = "thing"
    """What is counted, singular (``reached 1 message``, ``reached 4 messages``)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.count = 0

    def add(self, amount: int = 1) -> None:
        self.count += amount
        if self.count >= self.limit:
            self.fire(self.reached())

    def reached(self) -> str:
        return f"reached {counted(self.limit, self.unit)}"

    def reset(self) -> None:
        super().reset()
        self.count = 0

    def state(self) -> dict[str, Any]:
        return {**super().state(), "count": self.count}

    def load(self, state: dict[str, Any]) -> None:
        super().load(state)
        self.count = int(state.get("count", 0))

    def describe(self) -> str:
        return f"{self.kind}={self.limit}"


class MaxMessages(_Counting):
    """Stop after ``limit`` messages (``message`` envelopes, from anyone) in this run."""

    kind = "max_messages"
    unit = "message"

    def observe(self, envelope: Envelope) -> None:
        if envelope.type is MessageType.MESSAGE:
            self.add()


class MaxTurns(_Counting):
    kind = "max_turns"
    unit = "turn"

    def turn_ended(self) -> None:
        self.add()


class TextMention(Termination):
    """Stop when a message contains ``text`` (e.g. ``TERMINATE``), optionally from some senders."""

    kind = "text"

    def __init__(self, text: str, senders: Iterable[str] | None = None) -> None:
        super().__init__()
        self.text = text
        self.senders = None if senders is None else frozenset(senders)

    def observe(self, envelope: Envelope) -> None:
        if (
            envelope.type is MessageType.MESSAGE
            and self.text in envelope.content
            and (self.senders is None or envelope.sender in self.senders)
        ):
            self.fire(f"{envelope.sender} said {self.text}")

    def describe(self) -> str:
        return f"text={self.text!r}"


class Timeout(Termination):
    """Stop once ``seconds`` of wall time have passed since the run (or resume) started."""

    kind = "timeout"

    def __init__(self, seconds: float, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.seconds = seconds
        self._clock = clock
        self._start: float | None = None

    def started(self) -> None:
        self._start = self._clock()

    def reset(self) -> None:
        """A fresh budget: the clock starts again now."""
        super().reset()
        self._start = self._clock()

    def _check(self) -> None:
        if self._start is not None and self._clock() - self._start >= self.seconds:
            self.fire(f"ran for {self.seconds:g}s")

    def observe(self, envelope: Envelope) -> None:
        self._check()

    def turn_ended(self) -> None:
        self._check()

    def tick(self) -> None:
        self._check()

    def describe(self) -> str:
        return f"timeout={self.seconds:g}s"


def _count(value: object) -> int:
    """A token count from a usage status: a number, or 0 for anything else (metadata is JSON)."""
    return int(value) if isinstance(value, int | float) else 0


class TokenBudget(_Counting):
    """Stop once the run's model calls have used ``limit`` tokens (from ``usage`` statuses)."""

    kind = "token_budget"

    def observe(self, envelope: Envelope) -> None:
        if envelope.type is MessageType.STATUS and envelope.metadata.get("event") == Event.USAGE:
            meta = envelope.metadata
            self.add(_count(meta.get("prompt_tokens")) + _count(meta.get("completion_tokens")))

    @property
    def used(self) -> int:
        return self.count

    def reached(self) -> str:
        return f"used {self.count} of a {self.limit}-token budget"


class AgentAnswered(Termination):
    """Stop once ``agent`` has said something (a message)."""

    kind = "agent_answered"

    def __init__(self, agent: str) -> None:
        super().__init__()
        self.agent = agent

    def observe(self, envelope: Envelope) -> None:
        if envelope.type is MessageType.MESSAGE and envelope.sender == self.agent:
            self.fire(f"{self.agent} answered")

    def describe(self) -> str:
        return f"agent_answered={self.agent}"


class ToolCalled(Termination):
    """Stop once one of the named tools has been called (like AutoGen's FunctionCallTermination).

    It fires on the call's result, so the tool has run and the model has its
    answer; the turn that called it ends as usual, and then the room stops.
    """

    kind = "tool_called"

    def __init__(self, tools: Iterable[str]) -> None:
        super().__init__()
        self.tools = frozenset(tools)

    def observe(self, envelope: Envelope) -> None:
        meta = envelope.metadata
        if (
            envelope.type is MessageType.ACTION
            and meta.get("event") == Event.TOOL_RESULT
            and meta.get("tool") in self.tools
        ):
            self.fire(f"{envelope.sender} called {meta['tool']}")

    def describe(self) -> str:
        return f"tool_called={','.join(sorted(self.tools))}"


class HandoffToHuman(Termination):
    """Stop when the turn is handed to one of the humans."""

    kind = "handoff_to_human"

    def __init__(self, humans: Iterable[str]) -> None:
        super().__init__()
        self.humans = frozenset(humans)

    def observe(self, envelope: Envelope) -> None:
        meta = envelope.metadata
        if meta.get("event") == Event.HANDOFF and meta.get("to") in self.humans:
            self.fire(f"{meta.get('from', envelope.sender)} handed off to {meta['to']}")


class FailedTurns(Termination):
    """Stop when turns keep failing: ``per_agent`` in a row by one agent, or ``per_room`` in all.

    A room whose model is down, refuses the key or has used up its script
    publishes only failure statuses, so no other condition ever fires and the
    room would write failure rows as fast as it can.  The coordinator reports
    each turn's outcome here; a turn that said something resets its agent's
    count and the room's.  Every coordinator has one, whatever the workflow's
    own conditions are (see :attr:`MultiAgentCoordinator.failures`).
    """

    kind = "failed_turns"

    def __init__(self, per_agent: int = 3, per_room: int = 5) -> None:
        super().__init__()
        if per_agent < 1 or per_room < 1:
            raise ValueError("failure limits must be at least 1")
        self.per_agent = per_agent
        self.per_room = per_room
        self.agents: dict[str, int] = {}
        self.room = 0

    def failed(self, agent_id: str, error: str) -> None:
        """``agent_id``'s turn failed with ``error`` (said in the reason if this one ends it)."""
        count = self.agents[agent_id] = self.agents.get(agent_id, 0) + 1
        self.room += 1
        error = one_line(redact(error))
        if count >= self.per_agent:
            self.fire(f"{agent_id} failed {count} turns in a row: {error}")
        elif self.room >= self.per_room:
            self.fire(f"{self.room} turns failed in a row, the last by {agent_id}: {error}")

    def succeeded(self, agent_id: str) -> None:
        self.agents.pop(agent_id, None)
        self.room = 0

    def reset(self) -> None:
        super().reset()
        self.agents = {}
        self.room = 0

    def state(self) -> dict[str, Any]:
        return {**super().state(), "agents": dict(self.agents), "room": self.room}

    def load(self, state: dict[str, Any]) -> None:
        super().load(state)
        self.agents = {str(k): int(v) for k, v in (state.get("agents") or {}).items()}
        self.room = int(state.get("room", 0))

    def describe(self) -> str:
        return f"{self.per_agent} failed turns of one agent or {self.per_room} in the room"


class ExternalStop(Termination):
    """Fires when someone outside the strategy says stop (the human's ``/stop``)."""

    kind = "external"

    def request(self, reason: str = "stopped by the human") -> None:
        self.fire(reason)
