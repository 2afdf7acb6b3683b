"""Token usage and cost, per agent and per session, tallied from ``usage`` status envelopes.

Model-backed agents publish one ``usage`` status per model call; nothing else
keeps count.  So the live total (the engine's :class:`UsageLedger`, a bus
sink) and a saved session's total (``agentroom sessions show``) are the same
sum over the same envelopes.  A cost that any call could not price stays
visible as unknown instead of being counted as zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType


@dataclass(slots=True)
class UsageTotal:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    estimated_calls: int = 0

    def add(self, meta: dict[str, Any]) -> None:
        self.calls += 1
        self.prompt_tokens += int(meta.get("prompt_tokens") or 0)
        self.completion_tokens += int(meta.get("completion_tokens") or 0)
        cost = meta.get("cost_usd")
        if cost is None:
            self.unpriced_calls += 1
        else:
            self.cost_usd += float(cost)
        if meta.get("estimated"):
            self.estimated_calls += 1

    @property
    def cost_text(self) -> str:
        if self.calls and self.unpriced_calls == self.calls:
            return "unknown"
        known = f"${self.cost_usd:.4f}"
        return f"{known} + unknown" if self.unpriced_calls else known

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": None if self.calls and self.unpriced_calls == self.calls else self.cost_usd,
            "cost": self.cost_text,
            "unpriced_calls": self.unpriced_calls,
            "estimated_calls": self.estimated_calls,
        }


@dataclass(slots=True)
class UsageLedger:
    """Running totals; attach to the bus (it is a sink) or feed it saved envelopes."""

    total: UsageTotal = field(default_factory=UsageTotal)
    by_agent: dict[str, UsageTotal] = field(default_factory=dict)

    @classmethod
    def of(cls, envelopes: Iterable[Envelope]) -> UsageLedger:
        ledger = cls()
        for env in envelopes:
            ledger.offer(env)
        return ledger

    @classmethod
    def of_totals(cls, rows: Iterable[tuple[str, int, int, int, float, int, int]]) -> UsageLedger:
        """A ledger from per-agent sums (``SqliteStore.usage_totals``): nothing decoded."""
        ledger = cls()
        total = ledger.total
        for agent, calls, prompt, completion, cost, unpriced, estimated in rows:
            mine = ledger.by_agent.setdefault(agent, UsageTotal())
            for t in (mine, total):
                t.calls += calls
                t.prompt_tokens += prompt
                t.completion_tokens += completion
                t.cost_usd += cost
                t.unpriced_calls += unpriced
                t.estimated_calls += estimated
        return ledger

    def offer(self, envelope: Envelope) -> bool:
        if envelope.type is MessageType.STATUS and envelope.metadata.get("event") == Event.USAGE:
            meta = envelope.metadata
            agent = str(meta.get("agent") or envelope.sender)
            self.total.add(meta)
            self.by_agent.setdefault(agent, UsageTotal()).add(meta)
        return True

    async def put(self, envelope: Envelope) -> None:
        self.offer(envelope)

    def summary(self) -> str:
        """``a 25 in / 3 out, $0.0000; total 25 in / 3 out, $0.0000``: what a transcript
        says once at its end instead of one line per model call (those are quiet)."""
        parts = [
            f"{name} {t.prompt_tokens} in / {t.completion_tokens} out, {t.cost_text}"
            for name, t in sorted(self.by_agent.items())
        ]
        total = self.total
        parts.append(
            f"total {total.prompt_tokens} in / {total.completion_tokens} out, {total.cost_text}"
        )
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.to_dict(),
            "agents": {name: t.to_dict() for name, t in sorted(self.by_agent.items())},
        }
