"""``agentroom tokens list`` and ``agentroom tokens revoke``, the real command (subprocesses).

The tokens are made the way ``agentroom serve`` makes them (the tokens
service on the session's database); the commands list them without the
secrets, revoke one by a prefix of its id (after which it proves nothing),
say so when it was revoked already, give one-line errors that never repeat
a secret, and leave a missing database missing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agentroom import Engine, ScriptedAgent
from agentroom.room.tokens import Tokens
from tests.cli.test_run_cli import agentroom  # the real command, stdin closed


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


async def served(db: str, title: str, humans: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """A saved session and a token for each of its humans: (session id, {human: token})."""
    async with Engine.open(db, title=title) as engine:
        engine.register_agent(ScriptedAgent("a", ["hello"]))
        await engine.run_agent_turn("a")
        sid = engine.session_id
    async with await Tokens.open(db) as tokens:
        return sid, {human: await tokens.mint(sid, human) for human in humans}


async def verified(db: str, token: str) -> str | None:
    async with await Tokens.open(db) as tokens:
        grant = await tokens.verify(token)
    return None if grant is None else grant.human


ROW = re.compile(
    r"^│ ([0-9a-f]{10}) +│ (\S+) +│ (\S+) +│ ([\d\- :]+?) +│ (\S+(?: \S+)?) +│ (.+?) +│$"
)
"""A row of the table: id, session, human, created, last used, revoked."""


def rows(stdout: str) -> list[tuple[str, ...]]:
    return [m.groups() for m in map(ROW.match, stdout.splitlines()) if m]


async def test_list_shows_ids_sessions_and_humans_never_a_secret(env):
    db = env["AGENTROOM_DB"]
    first, firsts = await served(db, "first", ("alice", "bob"))
    second, seconds = await served(db, "second", ("carol",))
    assert await verified(db, firsts["alice"]) == "alice"  # alice has joined once

    listed = agentroom(env, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    shown = rows(listed.stdout)
    assert [(s, h, revoked) for _, s, h, _, _, revoked in shown] == [
        (first[:18], "alice", "-"),
        (first[:18], "bob", "-"),
        (second[:18], "carol", "-"),
    ]
    assert shown[0][4] != "-" and shown[1][4] == "-"  # last used: alice only
    for token in (*firsts.values(), *seconds.values()):
        assert token[3:] not in listed.stdout + listed.stderr

    as_json = json.loads(agentroom(env, "tokens", "list", "--json").stdout)
    assert [(t["session_id"], t["human"]) for t in as_json] == [
        (first, "alice"),
        (first, "bob"),
        (second, "carol"),
    ]
    assert set(as_json[0]) == {
        "token_id",
        "session_id",
        "human",
        "created_at",
        "revoked_at",
        "last_used_at",
    }
    assert [t["token_id"] for t in as_json] == [row[0] for row in shown]

    one = agentroom(env, "tokens", "list", second[:18])
    assert [row[2] for row in rows(one.stdout)] == ["carol"]
    unknown = agentroom(env, "tokens", "list", "no-such-session")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "error: no saved session matches 'no-such-session'; run 'agentroom sessions list' "
        "to see them"
    )


async def test_revoke_by_a_prefix_refuses_the_token_from_then_on(env):
    db = env["AGENTROOM_DB"]
    sid, made = await served(db, "served", ("alice", "bob"))
    listed = json.loads(agentroom(env, "tokens", "list", "--json").stdout)
    ids = {t["human"]: t["token_id"] for t in listed}
    alice = ids["alice"]
    prefix = next(alice[:n] for n in range(1, 11) if not ids["bob"].startswith(alice[:n]))

    done = agentroom(env, "tokens", "revoke", prefix, "--db", db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"revoked token {alice} (alice in session {sid[:18]}); "
        "a client using it is refused from now on"
    )
    assert await verified(db, made["alice"]) is None
    assert await verified(db, made["bob"]) == "bob"
    [alice_row] = [r for r in rows(agentroom(env, "tokens", "list").stdout) if r[2] == "alice"]
    assert alice_row[5] != "-"

    again = agentroom(env, "tokens", "revoke", alice)
    assert again.returncode == 0, again.stderr
    assert re.fullmatch(
        rf"token {alice} \(alice in session {sid[:18]}\) was already revoked at "
        r"\d\d-\d\d \d\d:\d\d UTC; nothing to do",
        again.stdout.strip(),
    )


async def test_revoke_errors_are_one_line_and_never_repeat_a_secret(env):
    db = env["AGENTROOM_DB"]
    _, made = await served(db, "served", ("alice",))
    secret = made["alice"]
    pasted = agentroom(env, "tokens", "revoke", secret)
    assert pasted.returncode == 1
    assert pasted.stderr.strip() == (
        "error: that is a secret token, not a token id: give the id 'agentroom tokens list' shows"
    )
    assert secret[3:] not in pasted.stdout + pasted.stderr
    hints = (
        ("ffff0000ff", "no token has the id 'ffff0000ff'; run 'agentroom tokens list' to see them"),
        (
            "x[/]\x1b[31m",
            "a token id is 1 to 10 hex digits; run 'agentroom tokens list' to see them",
        ),
    )
    for typed, said in hints:
        failed = agentroom(env, "tokens", "revoke", typed)
        assert failed.returncode == 1
        assert failed.stderr.strip() == f"error: {said}"
    assert await verified(db, secret) == "alice"


def test_tokens_on_a_missing_database_create_nothing(env):
    db = Path(env["AGENTROOM_DB"])
    listed = agentroom(env, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == (
        f"No tokens (looked in {db}). agentroom serve makes one for each human of the room "
        "it serves."
    )
    assert json.loads(agentroom(env, "tokens", "list", "--json").stdout) == []
    revoked = agentroom(env, "tokens", "revoke", "abc")
    assert revoked.returncode == 1
    assert revoked.stderr.strip() == (
        f"error: no tokens: there is no database at {db} ('agentroom serve' makes tokens "
        "there; pass --db with another file)"
    )
    assert not db.exists() and not db.parent.joinpath(db.name + "-wal").exists()
