"""The four structured samples, run on the packaged SmolLM2-135M, each show their feature.

Issue 13: on this model the role-based selector's answers were unusable, the
planner "could not produce a workable plan", the support desk never handed
off and the research team never delegated.  Each sample is run here as a
person runs it (``agentroom run NAME --model local``, headless), and the saved
session (``sessions show --json``) must show its feature: a speaker the
selector picked (not the default it falls back to), a plan whose steps go to
workers and get done, a handoff, a delegation or a vote.  What the model says
is never checked, only the structure the room recorded; the structure comes
from the constraints (a grammar for each decision), not from luck.  The seed
is pinned so that a failure can be run again as it ran.

Each run prints its wall time (``pytest -s`` shows it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agentroom.core.events import Event
from agentroom.models.local import missing
from tests.environment import child_env

WHY = missing()
pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(WHY is not None, reason=f"the local model cannot run here: {WHY}"),
]

SEED = "1"
TIMEOUT = 1200  # a loaded two-core machine: minutes, not seconds


def run_sample(tmp_path: Path, name: str, max_messages: int) -> list[dict[str, Any]]:
    """Run sample ``name`` on the local model; the saved session's envelopes."""
    env = child_env(tmp_path, local=True)
    agentroom = [sys.executable, "-m", "agentroom"]
    limits = ["--seed", SEED, "--max-messages", str(max_messages)]
    started = time.monotonic()
    done = subprocess.run(
        [*agentroom, "run", name, "--model", "local", "--headless", *limits],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    print(f"\n{name} on SmolLM2 (seed {SEED}, {max_messages} messages): {took:.1f} s")
    session = next(
        line.split()[1] for line in done.stdout.splitlines() if line.startswith("Session: ")
    )
    shown = subprocess.run(
        [*agentroom, "sessions", "show", session, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    envelopes: list[dict[str, Any]] = json.loads(shown.stdout)["envelopes"]
    return envelopes


def tagged(envelopes: list[dict[str, Any]], event: Event) -> list[dict[str, Any]]:
    return [e for e in envelopes if e["metadata"].get("event") == event]


def test_code_review_the_selector_picks_the_speakers(tmp_path):
    envelopes = run_sample(tmp_path, "code_review", max_messages=3)
    picks = [e["metadata"]["by"] for e in tagged(envelopes, Event.SPEAKER_SELECTED)]
    assert picks == ["the selector (local:SmolLM2-135M-Instruct)"] * 2
    assert tagged(envelopes, Event.SELECTOR_RETRY) == []  # no answer was unusable


def test_trip_planner_plans_and_its_steps_are_carried_out(tmp_path):
    envelopes = run_sample(tmp_path, "trip_planner", max_messages=3)
    (plan,) = tagged(envelopes, Event.PLAN)
    assert plan["sender"] == "planner"
    (assigned,) = tagged(envelopes, Event.PLAN_ASSIGNED)
    steps = assigned["metadata"]["steps"]
    assert steps and {s["assignee"] for s in steps} <= {"researcher", "booker", "budgeter"}
    done = [e["metadata"]["step"] for e in tagged(envelopes, Event.STEP_DONE)]
    assert done == list(range(1, min(2, len(steps)) + 1))  # the run stops after two answers
    assert tagged(envelopes, Event.PLAN_MISSING) == []


def test_support_desk_triage_hands_off(tmp_path):
    envelopes = run_sample(tmp_path, "support_desk", max_messages=6)
    handoffs = tagged(envelopes, Event.HANDOFF)
    assert handoffs, "no handoff"
    first = handoffs[0]["metadata"]
    assert first["from"] == "triage"
    assert first["to"] in ("billing", "tech", "customer", "human")


def test_research_team_the_lead_delegates_or_the_team_votes(tmp_path):
    envelopes = run_sample(tmp_path, "research_team", max_messages=2)
    delegations = tagged(envelopes, Event.DELEGATE)
    votes = tagged(envelopes, Event.VOTE)
    assert delegations or votes
    for delegation in delegations:
        assert delegation["sender"] == "lead" and delegation["receiver"] in ("analyst", "writer")
    answered = {e["metadata"]["delegation"] for e in tagged(envelopes, Event.DELEGATION_RESULT)}
    assert answered == {d["id"] for d in delegations}  # every delegation was answered
