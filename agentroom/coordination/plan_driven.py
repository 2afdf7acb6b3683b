"""Plan-driven: a planner writes a numbered plan; each step goes to the agent whose role fits.

The planner's plan is an ``action`` envelope.  It is asked for as JSON,
``{"steps": [{"task": ..., "assignee": ...}]}`` with the workers' ids as the
only assignees allowed (:func:`plan_format`), which a backend that enforces
structured answers holds it to: a small model's plan is then always well
formed, every step going to someone who is here.  A plan written in words
instead (``1. ...`` per line) is read as before: the room assigns every step
(an explicit name in the step wins, else the best overlap of the step's
words with an agent's role and description).  The room hands the steps out
in order, and records each step's status.  A step whose answer says it is blocked
stalls; after ``replan_after`` stalled rounds the planner is asked to
re-plan.  When every step is done, the run is over.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from agentroom.agents.base import Address
from agentroom.coordination.strategy import Participant, RoomView, Speak, Strategy
from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType
from agentroom.models.structured import json_object, strict_object, text_field
from agentroom.models.types import Hints, Member, ResponseFormat

STEP = re.compile(r"^\s*(?:step\s*)?(\d+)\s*[.):-]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
BLOCKED = re.compile(
    r"\b(?:blocked|stuck|(?:cannot|can't|can not|unable to)\s+(?:proceed|continue|finish|"
    r"complete|do (?:this|it|that)|go on))\b",
    re.IGNORECASE,
)
"""An answer that says the step could not be done (not any sentence with "cannot")."""
_COMMON = frozenset(
    "the and for with that this from into onto about each then them they their our your "
    "who what when where which will would should could can all any some one two three "
    "step steps first next last make sure".split()
)
_WORD = re.compile(r"[a-z][a-z'-]{2,}")


STEPS_LIMIT = 6
"""The most steps a structured plan may have (a small model would otherwise go on)."""
STEP_LIMIT = 120
"""Characters in one step of a structured plan."""


def parse_plan(text: str) -> list[str]:
    """The steps of a numbered plan, in order (``1. ...``, ``2) ...``, ``Step 3: ...``)."""
    return [body for _, body in STEP.findall(text)]


def plan_format(workers: Sequence[str]) -> ResponseFormat:
    """A plan of 1 to :data:`STEPS_LIMIT` steps, each a task and one of ``workers`` to do it.

    The task comes first: a small model picks a better assignee once it has
    written what the step is.
    """
    step = strict_object(
        {"task": text_field(STEP_LIMIT), "assignee": {"type": "string", "enum": list(workers)}}
    )
    steps = {"type": "array", "items": step, "minItems": 1, "maxItems": STEPS_LIMIT}
    return ResponseFormat(
        "plan", strict_object({"steps": steps}), max_tokens=16 + STEPS_LIMIT * (STEP_LIMIT // 3)
    )


def read_plan(text: str, workers: Sequence[Participant]) -> list[tuple[str, str]]:
    """The steps of a plan and who does each: the JSON of :func:`plan_format`, or words.

    A structured step naming nobody here is assigned as a step in words would be.
    """
    ids = {w.id for w in workers}
    value = json_object(text)
    raw = value.get("steps") if value is not None else None
    if isinstance(raw, list):
        steps = [s for s in raw if isinstance(s, dict) and str(s.get("task") or "").strip()]
        return [
            (
                str(s["task"]).strip(),
                s["assignee"] if s.get("assignee") in ids else assign(str(s["task"]), workers, i),
            )
            for i, s in enumerate(steps)
        ]
    return [(body, assign(body, workers, i)) for i, body in enumerate(parse_plan(text))]


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in _WORD.findall(text.lower()) if w not in _COMMON}


def assign(step: str, workers: Sequence[Participant], index: int) -> str:
    """Who does a step: a named worker, else the best role fit, else by turns."""
    lowered = step.lower()
    for worker in workers:
        if re.search(rf"(?<![\w-])@?{re.escape(worker.id.lower())}(?![\w-])", lowered):
            return worker.id
    words = _words(step)
    scored = [(len(words & _words(f"{w.role} {w.description}")), w.id) for w in workers]
    best = max(score for score, _ in scored)
    if best > 0:
        return next(wid for score, wid in scored if score == best)
    return workers[index % len(workers)].id


class PlanDriven(Strategy):
    name = "plan-driven"

    def __init__(
        self, planner: str, *, workers: Sequence[str] | None = None, replan_after: int = 3
    ) -> None:
        self.planner = planner
        self.workers = list(workers) if workers else None
        self.replan_after = max(1, replan_after)
        self.phase = "plan"
        self.steps: list[dict[str, Any]] = []
        self.stalled = 0
        self.plans = 0

    def _workers(self, room: RoomView) -> list[Participant]:
        chosen = [
            p
            for p in room.agents
            if p.id != self.planner and (self.workers is None or p.id in self.workers)
        ]
        return chosen or [room.participants[self.planner]]

    def _pending(self) -> dict[str, Any] | None:
        return next((s for s in self.steps if s["status"] != "done"), None)

    async def next_speaker(self, room: RoomView) -> Speak | None:
        if self.phase == "done":
            return None
        if self.phase == "plan":
            team = [{"id": p.id, "role": p.role} for p in self._workers(room)]
            who = ", ".join(f"{t['id']} ({t['role'] or 'agent'})" for t in team)
            ask = (
                "Re-plan the remaining work" if self.plans else "Write a numbered plan for the task"
            )
            await room.say(
                f"@{self.planner}: {ask}, one step per line, naming who does each step: {who}.",
                to=self.planner,
                metadata={"event": Event.PLAN_REQUESTED, "version": self.plans + 1},
            )
            return Speak(
                self.planner,
                hints=Hints(
                    expect="plan",
                    team=tuple(Member(t["id"], t["role"]) for t in team),
                    response_format=plan_format([t["id"] for t in team]),
                ),
                address=Address(type=MessageType.ACTION, metadata={"event": Event.PLAN}),
                by="the plan (the planner plans)",
            )
        step = self._pending()
        assert step is not None
        await room.say(
            f"Step {step['n']} is yours, @{step['assignee']}: {step['text']}",
            to=step["assignee"],
            metadata={"event": Event.STEP_ASSIGNED, "step": step["n"]},
        )
        return Speak(
            step["assignee"],
            hints=Hints(expect="step", step=step["text"]),
            by=f"the plan (step {step['n']})",
        )

    async def turn_done(self, room: RoomView, speak: Speak, result: Envelope | None) -> None:
        if self.phase == "plan":
            await self._plan_written(room, result)
        elif self.phase == "work":
            await self._step_answered(room, result)

    async def _plan_written(self, room: RoomView, result: Envelope | None) -> None:
        workers = self._workers(room)
        planned = read_plan(result.content, workers) if result is not None else []
        if not planned:
            self.stalled += 1
            await room.say(
                f"{self.planner} wrote no numbered plan",
                type=MessageType.STATUS,
                metadata={"event": Event.PLAN_MISSING, "stalled": self.stalled},
            )
            if self.stalled >= self.replan_after:
                self.phase = "done"
            return
        done_before = [s for s in self.steps if s["status"] == "done"]
        self.plans += 1
        self.steps = done_before + [
            {"n": len(done_before) + i + 1, "text": text, "assignee": who, "status": "pending"}
            for i, (text, who) in enumerate(planned)
        ]
        self.stalled = 0
        self.phase = "work"
        await room.say(
            "plan: " + "; ".join(f"{s['n']}. {s['assignee']}" for s in self.steps),
            metadata={"event": Event.PLAN_ASSIGNED, "version": self.plans, "steps": self.steps},
            reply_to=result.id if result is not None else None,
        )

    async def _step_answered(self, room: RoomView, result: Envelope | None) -> None:
        step = self._pending()
        assert step is not None
        answered = result if result is not None and result.type is MessageType.MESSAGE else None
        if answered is not None and not BLOCKED.search(answered.content):
            step["status"] = "done"
            self.stalled = 0
            await room.say(
                f"step {step['n']} done by {step['assignee']}",
                metadata={"event": Event.STEP_DONE, "step": step["n"]},
                reply_to=answered.id,
            )
            if self._pending() is None:
                self.phase = "done"
            return
        step["status"] = "stalled"
        self.stalled += 1
        if self.stalled >= self.replan_after:
            await room.say(
                f"step {step['n']} stalled for {self.stalled} rounds; asking {self.planner} "
                "to re-plan",
                metadata={"event": Event.REPLAN, "step": step["n"]},
            )
            self.phase = "plan"
        else:
            await room.say(
                f"step {step['n']} stalled ({self.stalled}/{self.replan_after})",
                type=MessageType.STATUS,
                metadata={"event": Event.STEP_STALLED, "step": step["n"], "stalled": self.stalled},
            )

    @property
    def finished_reason(self) -> str:
        done = sum(1 for s in self.steps if s["status"] == "done")
        if self.steps and done == len(self.steps):
            return f"the plan is complete ({done} steps done)"
        return f"{self.planner} could not produce a workable plan"

    def round_size(self, room: RoomView) -> int:
        return max(1, len(self.steps))

    def new_task(self, task: str) -> None:
        if self.phase == "done":  # the last plan is finished: plan for the new task
            self.phase, self.steps, self.stalled = "plan", [], 0

    def state(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "steps": copy.deepcopy(self.steps),  # a copy: the steps change as work is done
            "stalled": self.stalled,
            "plans": self.plans,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.phase = state.get("phase", "plan")
        self.steps = copy.deepcopy(list(state.get("steps", [])))
        self.stalled = int(state.get("stalled", 0))
        self.plans = int(state.get("plans", 0))
