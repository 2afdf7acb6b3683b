"""``@name text`` typed into a real ``agentroom run --headless``: the named agent answers next.

The samples on the offline demo model, lines on stdin as a person types them;
the transcript is checked where a person reads it (stdout) and in the saved
session (``sessions show --json``).  The offline model builds its reply from
the last message it saw, so the question's words in the answer show that the
agent given the floor saw the question.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from tests.child import Child
from tests.cli.test_run_cli import env, said, session_of, show  # noqa: F401 (a fixture)

STATUS = r"#\d+ +\[status\] room: "
"""How headless prints the room's status lines (the start of one)."""


def chosen(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(who, why) of every turn the room gave, in order."""
    return [
        (e["metadata"]["agent"], e["metadata"]["by"])
        for e in doc["envelopes"]
        if e["metadata"].get("event") == "speaker_selected"
    ]


def test_round_robin_at_name_gives_the_floor_and_an_aside_does_not(env):  # noqa: F811
    with Child([sys.executable, "-m", "agentroom", "run", "debate", "--headless"], env=env) as room:
        room.expect(
            re.escape("» your turn, human: type a line (@name text gives name the next turn")
        )
        room.say("@con what about deliveries?")  # answers the human's turn
        room.expect(STATUS + re.escape("next: con, chosen by human's @con"))
        answer = room.expect("con: ")
        room.expect(STATUS + re.escape("next: pro, chosen by the round-robin order"))
        room.expect("» your turn, human")
        room.say("/aside pro psst, keep it short")  # answers the turn, gives pro no extra one
        room.expect(STATUS + re.escape("next: pro, chosen by the round-robin order"))
        assert room.end() == 0  # the room goes on without the human until the moderator ends it
    assert "deliveries" in answer
    doc = show(env, session_of("\n".join(room.seen)))
    human = [
        (m["content"], m["receiver"], m["metadata"]) for m in said(doc) if m["sender"] == "human"
    ]
    assert human == [
        ("what about deliveries?", "con", {}),
        ("psst, keep it short", "pro", {"event": "aside"}),
    ]
    rounds = [(name, "the round-robin order") for name in ["pro", "con", "moderator", "human"]]
    assert chosen(doc)[:10] == [
        *rounds,
        ("con", "human's @con"),  # a turn between: the order resumes at pro
        *rounds,
        ("pro", "the round-robin order"),  # the aside gave nobody a turn
    ]


def test_role_based_at_name_gives_the_floor_without_asking_the_selector(env):  # noqa: F811
    # Paced, so the room is still talking when the lines come (it needs no human turn).
    paced = env | {"AGENTROOM_OFFLINE_WPS": "20"}
    run = [sys.executable, "-m", "agentroom", "run", "code_review", "--headless"]
    with Child(run, env=paced) as room:
        room.expect("room: Review this change")
        room.say("/pause")  # so the line comes between two turns
        room.expect(STATUS + "paused")
        room.say("@security is the file name checked?")
        room.expect(re.escape("human → security: is the file name checked?"))
        room.say("/resume")
        room.expect(STATUS + re.escape("next: security, chosen by human's @security"))
        room.expect("security: ")
        room.say("/stop")
        assert room.end() == 0
    doc = show(env, session_of("\n".join(room.seen)))
    envelopes = doc["envelopes"]
    (asked,) = [i for i, e in enumerate(envelopes) if e["sender"] == "human"]
    (picked,) = [i for i, e in enumerate(envelopes) if e["metadata"].get("addressed_by") == "human"]
    between = envelopes[asked + 1 : picked]
    assert not [e for e in between if e["metadata"].get("agent") == "selector"]  # not asked
    assert not [e for e in between if e["metadata"].get("event") == "speaker_selected"]
    reply = next(e for e in envelopes[picked:] if e["type"] == "message")
    assert reply["sender"] == "security"
