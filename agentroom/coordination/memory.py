"""Shared memory: a blackboard of keyed entries per session, every write an attributed action.

Agents write with the ``remember`` tool (a ``memory_write`` action) and read
with ``recall``.  When two agents write different values under one key in the
same round, the workflow's policy decides, and the decision is itself an
action (``memory_resolved``), so the history of every key stays in the log:

- ``last-writer``: the later write wins;
- ``vote``: the named voters each pick one of the values (asked for as
  ``{"choice": VALUE}``, which a backend that enforces structured answers
  holds to the values in conflict); the majority wins,
  a tie goes by the stated tie-break (``earliest`` or ``latest`` write, or an
  arbiter);
- ``arbiter``: one named agent decides.

The blackboard is rebuilt from the log on resume: it holds nothing the log
does not.  That makes the end of a round resumable: the round's writes are in
the coordinator's checkpoint, and the votes already cast and the keys already
settled are in the log, so a round cut short by a crash is finished without
asking anyone twice.  A voter whose turn fails casts no vote.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from agentroom.agents.base import Address
from agentroom.core.errors import AgentTurnError
from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType
from agentroom.models.structured import one_of, picked
from agentroom.models.types import Hints

if TYPE_CHECKING:
    from agentroom.coordination.strategy import RoomView

Policy = Literal["last-writer", "vote", "arbiter"]

MEMORY_EVENTS = (Event.MEMORY_WRITE, Event.MEMORY_RESOLVED, Event.VOTE)
"""The actions :meth:`Blackboard.offer` reads: a resume reads only these from the log."""

CHOICE_KEY = "choice"
"""A vote is asked for as ``{"choice": VALUE}``, one of the values in conflict."""

HISTORY = 100
"""How many of a key's latest writes its entry remembers (the log has every one)."""


@dataclass(slots=True)
class Write:
    writer: str
    value: str
    seq: int


@dataclass(slots=True)
class Entry:
    value: str
    writer: str
    seq: int
    history: deque[Write] = field(default_factory=lambda: deque(maxlen=HISTORY))


class Blackboard:
    """Keyed entries, fed from the bus; conflicts settled at the end of each round."""

    def __init__(
        self,
        policy: Policy = "last-writer",
        *,
        voters: list[str] | None = None,
        arbiter: str | None = None,
        tie_break: str = "earliest",
    ) -> None:
        self.policy = policy
        self.voters = list(voters or [])
        self.arbiter = arbiter
        self.tie_break = tie_break
        self.entries: dict[str, Entry] = {}
        self._round: dict[str, list[Write]] = {}
        self._ballots: dict[str, dict[str, tuple[str, int]]] = {}
        """Answers cast on an open conflict: key -> ballot -> (answer, seq); from the log."""
        self._settled: dict[str, int] = {}
        """The seq of each key's last resolution (a conflict older than it is settled)."""

    # -- the bus sink ---------------------------------------------------------------------

    def offer(self, envelope: Envelope) -> bool:
        meta = envelope.metadata
        if envelope.type is not MessageType.ACTION:
            return True
        event, key = meta.get("event"), meta.get("key")
        if not isinstance(key, str):
            return True
        if event == Event.MEMORY_WRITE:
            write = Write(envelope.sender, str(meta.get("value", "")), envelope.seq or 0)
            self._apply(key, write)
            self._round.setdefault(key, []).append(write)
        elif event == Event.MEMORY_RESOLVED:
            self._apply(
                key, Write(str(meta.get("writer", "room")), str(meta["value"]), envelope.seq or 0)
            )
            self._settled[key] = envelope.seq or 0
            self._ballots.pop(key, None)
        elif event == Event.VOTE and not meta.get("interrupted"):
            ballot = str(meta.get("ballot") or f"vote:{envelope.sender}")
            cast = (envelope.content, envelope.seq or 0)
            self._ballots.setdefault(key, {})[ballot] = cast
        return True

    async def put(self, envelope: Envelope) -> None:
        self.offer(envelope)

    def _apply(self, key: str, write: Write) -> None:
        entry = self.entries.get(key)
        if entry is None:
            self.entries[key] = Entry(write.value, write.writer, write.seq)
            self.entries[key].history.append(write)
        else:
            entry.value, entry.writer, entry.seq = write.value, write.writer, write.seq
            entry.history.append(write)

    def get(self, key: str) -> str | None:
        entry = self.entries.get(key)
        return None if entry is None else entry.value

    def snapshot(self) -> dict[str, str]:
        return {key: entry.value for key, entry in sorted(self.entries.items())}

    # -- conflicts ----------------------------------------------------------------------

    def conflicts(self) -> dict[str, list[Write]]:
        """Keys written with different values by different agents in this round."""
        out = {}
        for key, writes in self._round.items():
            if len({w.value for w in writes}) > 1 and len({w.writer for w in writes}) > 1:
                out[key] = writes
        return out

    async def end_round(self, room: RoomView) -> list[Envelope]:
        """Settle this round's conflicts by the policy; returns the decisions published.

        A conflict the log shows settled already (the round was cut short by a
        crash after it) is not settled again.
        """
        decisions = []
        conflicts = self.conflicts()
        self._round = {}
        for key, writes in conflicts.items():
            if self._settled.get(key, -1) > writes[-1].seq:
                continue
            decisions.append(await self._resolve(room, key, writes))
        self._round = {}  # the decisions themselves are not new conflicts
        return decisions

    async def _resolve(self, room: RoomView, key: str, writes: list[Write]) -> Envelope:
        values = list(dict.fromkeys(w.value for w in writes))  # distinct, in write order
        since = writes[-1].seq  # ballots cast after the round's last write count
        votes: dict[str, str] = {}
        if self.policy == "last-writer":
            winner, how = writes[-1].value, f"last writer ({writes[-1].writer}) wins"
        elif self.policy == "arbiter" and self.arbiter:
            choice = await self._ask(room, self.arbiter, key, values, "arbiter", since)
            if choice is None:
                winner, how = values[0], f"{self.arbiter} could not decide; the first value wins"
            else:
                votes[self.arbiter] = choice
                winner, how = choice, f"{self.arbiter} decided"
        else:
            for voter in self.voters:
                choice = await self._ask(room, voter, key, values, "vote", since)
                if choice is not None:  # a voter whose turn failed casts no vote
                    votes[voter] = choice
            counted, how = self._count(room, key, values, votes, writes)
            if counted is not None:
                winner = counted
            else:  # a tie the arbiter settles
                choice = await self._ask(room, str(self.tie_break), key, values, "tie", since)
                if choice is None:
                    winner, how = values[0], "tie; the first value wins"
                else:
                    winner, how = choice, f"tie; {self.tie_break} decided"
        return await room.say(
            f"memory {key!r}: {winner!r} ({how})",
            metadata={
                "event": Event.MEMORY_RESOLVED,
                "key": key,
                "value": winner,
                "policy": self.policy,
                "candidates": values,
                "votes": votes,
                "writer": "room",
            },
        )

    def _count(
        self,
        room: RoomView,
        key: str,
        values: list[str],
        votes: dict[str, str],
        writes: list[Write],
    ) -> tuple[str | None, str]:
        tally = Counter(votes.values())
        top = max(tally.values(), default=0)
        leaders = [v for v in values if tally.get(v, 0) == top]
        summary = ", ".join(f"{v!r}: {tally.get(v, 0)}" for v in values)
        if len(leaders) == 1:
            return leaders[0], f"majority vote ({summary})"
        if self.tie_break == "latest":
            latest = next(w.value for w in reversed(writes) if w.value in leaders)
            return latest, f"tie ({summary}); the latest write wins"
        if self.tie_break == "earliest":
            earliest = next(w.value for w in writes if w.value in leaders)
            return earliest, f"tie ({summary}); the earliest write wins"
        if self.tie_break in room.participants:
            return None, summary
        return leaders[0], f"tie ({summary}); the first value wins"

    async def _ask(
        self, room: RoomView, agent_id: str, key: str, values: list[str], kind: str, since: int
    ) -> str | None:
        """One agent picks one of ``values`` (its answer is an attributed ``vote`` action).

        ``kind`` (``vote``, ``arbiter``, ``tie``) and ``agent_id`` name the ballot:
        one cast after ``since`` is taken from the log instead of asking again.
        None when the agent's turn failed (the room was told by the engine).
        """
        ballot = f"{kind}:{agent_id}"
        cast = self._ballots.get(key, {}).get(ballot)
        if cast is not None and cast[1] > since:
            return choose(cast[0], values)
        options = "\n".join(f"{i}. {value}" for i, value in enumerate(values, 1))
        request = await room.say(
            f"@{agent_id}: agents disagree on {key!r}. Pick one by its number:\n{options}",
            to=agent_id,
            metadata={
                "event": Event.VOTE_REQUESTED,
                "key": key,
                "options": values,
                "ballot": ballot,
            },
        )
        try:
            answer = await room.ask(
                agent_id,
                hints=Hints(
                    choose_from=tuple(values), response_format=one_of("vote", CHOICE_KEY, values)
                ),
                address=Address(
                    receiver="room",
                    type=MessageType.ACTION,
                    metadata={"event": Event.VOTE, "key": key, "ballot": ballot},
                    reply_to=request.id,
                ),
            )
        except AgentTurnError:
            return None
        return choose(answer.content, values)

    def state(self) -> dict[str, Any]:
        return {
            "round": {k: [[w.writer, w.value, w.seq] for w in ws] for k, ws in self._round.items()}
        }

    def load(self, state: dict[str, Any]) -> None:
        self._round = {
            k: [Write(w, v, s) for w, v, s in ws] for k, ws in state.get("round", {}).items()
        }


def choose(answer: str, values: list[str]) -> str:
    """The value an answer picks: ``{"choice": value}``, else by number, else by quoting it;
    else the first value."""
    structured = picked(answer, CHOICE_KEY, values)
    if structured is not None:
        return structured
    number = re.search(r"\b(\d+)\b", answer)
    if number and 1 <= int(number.group(1)) <= len(values):
        return values[int(number.group(1)) - 1]
    lowered = answer.lower()
    named = [v for v in values if v.lower() in lowered]
    return named[0] if len(named) == 1 else values[0]
