"""SIGKILL while the end of a round is being voted on, then resume: no turn runs twice.

The coordinator checkpoints a turn before the round it closes is settled, and
the settling itself resumes from the checkpoint and the log (the votes already
cast), so the resumed run finishes the vote, asking only who had not voted,
and never runs the last turn (and its tool call) again.
"""

from __future__ import annotations

from pathlib import Path

from tests.child import PYTHON, killed_at
from tests.cli.test_run_cli import agentroom, show

CHILD = Path(__file__).with_name("vote_child.py")


def of(doc: dict, event: str) -> list[dict]:
    return [e for e in doc["envelopes"] if e["metadata"].get("event") == event]


def test_a_crash_during_the_vote_resumes_the_vote_not_the_turn(env, tmp_path):
    args = [PYTHON, str(CHILD), env["AGENTROOM_DB"]]
    child = killed_at(args, lambda lines: lines[-1:] == ["VOTING"], env=env)
    session = child.seen[0].removeprefix("SESSION ")
    before = show(env, session)
    assert [e["receiver"] for e in of(before, "vote_requested")] == ["alice", "bob"]
    assert [e["sender"] for e in of(before, "vote")] == ["alice"]

    script = tmp_path / "bob_votes.yaml"
    script.write_text("- '2'\n")  # only bob's vote: any other request would fail a turn
    done = agentroom(env, "resume", session, "--headless", "-m", f"replay:{script}")
    assert done.returncode == 0, done.stderr
    assert "stopped: reached 2 turns" in done.stdout

    after = show(env, session)
    assert of(after, "turn_failed") == []
    said = [(e["sender"], e["content"]) for e in after["envelopes"] if e["type"] == "message"]
    assert said == [
        ("room", "where do we meet?"),
        ("alice", "I wrote Lisbon."),
        ("bob", "I wrote Porto."),  # once: the resumed run did not give bob the turn again
    ]
    calls = [(e["sender"], e["metadata"]["arguments"]) for e in of(after, "tool_call")]
    assert calls == [
        ("alice", {"key": "venue", "value": "Lisbon"}),
        ("bob", {"key": "venue", "value": "Porto"}),
    ]
    assert [e["receiver"] for e in of(after, "vote_requested")] == ["alice", "bob", "bob"]
    assert [(e["sender"], e["content"]) for e in of(after, "vote")] == [
        ("alice", "2"),
        ("bob", "2"),
    ]
    (resolved,) = of(after, "memory_resolved")
    assert resolved["metadata"]["value"] == "Porto"
    assert resolved["metadata"]["votes"] == {"alice": "Porto", "bob": "Porto"}
