"""The tokens service against a real SQLite file: mint, verify, list, revoke, and what is kept.

A token proves one human of one session until it is revoked (also by another
process on the same file, as ``agentroom tokens revoke`` does while a server
runs); malformed input is refused by its shape, without a query; a deleted
session takes its tokens, a fork gets none; and the secret is nowhere on disk,
in an export, or in a log line or error message.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest

from agentroom import Engine, ScriptedAgent, SqliteStore
from agentroom.core.errors import NoDatabaseError, SessionNotFoundError, TokenNotFoundError
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.sessions import Sessions
from agentroom.room.tokens import Grant, Tokens
from agentroom.room.workflows import parse_workflow

TOKEN = re.compile(r"ar_[A-Za-z0-9_-]{43}")


async def saved_session(db_path: Path, title: str = "served") -> str:
    """A finished session with two envelopes in it."""
    async with Engine.open(db_path, title=title) as engine:
        engine.register_agent(ScriptedAgent("carol", ["one", "two"]))
        await engine.run_agent_turn("carol")
        await engine.run_agent_turn("carol")
        return engine.session_id


def token_rows(db_path: Path) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT id, human FROM tokens ORDER BY id").fetchall()


# -- minting and verifying ----------------------------------------------------------------------


async def test_a_minted_token_proves_its_human_of_its_session(db_path):
    sid = await saved_session(db_path)
    async with await Tokens.open(db_path) as tokens:
        alice = await tokens.mint(sid, "alice")
        bob = await tokens.mint(sid, "bob")
        assert TOKEN.fullmatch(alice) and TOKEN.fullmatch(bob) and alice != bob

        got = await tokens.verify(alice)
        assert isinstance(got, Grant)
        assert (got.session_id, got.human) == (sid, "alice")
        assert re.fullmatch(r"[0-9a-f]{10}", got.token_id)
        assert got.token_id not in alice  # the public id is not a piece of the secret
        bobs = await tokens.verify(bob)
        assert bobs is not None and bobs.human == "bob" and bobs.token_id != got.token_id

        listed = await tokens.list()
        assert [(t.token_id, t.session_id, t.human) for t in listed] == [
            (got.token_id, sid, "alice"),
            (bobs.token_id, sid, "bob"),
        ]
        assert all(t.revoked_at is None for t in listed)
        # a use is noted (through the writer: list() sees it once it is written)
        assert all(t.last_used_at is not None for t in listed)
        assert listed[0].created_at <= listed[0].last_used_at
    # on disk when mint returned, and readable by another opening of the file
    async with await Tokens.open(db_path) as again:
        assert await again.verify(alice) == got


async def test_a_token_not_yet_used_says_so(db_path):
    sid = await saved_session(db_path)
    async with await Tokens.open(db_path) as tokens:
        await tokens.mint(sid, "alice")
        [info] = await tokens.list(sid)
        assert (info.human, info.last_used_at, info.revoked_at) == ("alice", None, None)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ar_",
        "ar_short",
        "xx_" + "A" * 43,  # wrong prefix
        "AR_" + "A" * 43,
        "ar_" + "A" * 44,  # too long by one
        "ar_" + "A" * 42 + "=",  # not urlsafe base64
        "ar_" + "é" * 43,  # not ASCII
        "ar_" + "A" * 42 + "\n",
        "ar_" + "\x00" * 43,
        "ar_" + "A" * 1_000_000,  # huge
        "\udcff" * 46,  # not even encodable
    ],
)
async def test_malformed_tokens_are_refused_by_their_shape_without_a_query(db_path, bad):
    sid = await saved_session(db_path)
    tokens = await Tokens.open(db_path)
    await tokens.mint(sid, "alice")
    await tokens.close()
    # the connection is closed: a query would raise, so None means none was made
    assert await tokens.verify(bad) is None
    with pytest.raises(ValueError, match="no active connection"):
        await tokens.verify("ar_" + "A" * 43)  # (as one of the right shape shows)


async def test_an_unknown_token_of_the_right_shape_is_refused(db_path):
    sid = await saved_session(db_path)
    async with await Tokens.open(db_path) as tokens:
        real = await tokens.mint(sid, "alice")
        forged = real[:-4] + ("AAAA" if real[-4:] != "AAAA" else "BBBB")
        assert await tokens.verify(forged) is None
        assert await tokens.verify(real) is not None


async def test_minting_needs_a_saved_session_and_a_participant_id(db_path):
    sid = await saved_session(db_path)
    async with await Tokens.open(db_path) as tokens:
        with pytest.raises(SessionNotFoundError, match="no saved session 'nope' to make a token"):
            await tokens.mint("nope", "alice")
        for human in ("", "two words", "x" * 65, "-dash", "a\x1b[31m"):
            with pytest.raises(ValueError, match="is not a participant id"):
                await tokens.mint(sid, human)
        assert await tokens.list() == []


# -- revoking -----------------------------------------------------------------------------------


async def test_a_revoked_token_is_refused_and_revoking_it_again_keeps_its_time(db_path):
    sid = await saved_session(db_path)
    async with await Tokens.open(db_path) as tokens:
        alice = await tokens.mint(sid, "alice")
        bob = await tokens.mint(sid, "bob")
        grant = await tokens.verify(alice)
        assert grant is not None

        revoked = await tokens.revoke(grant.token_id)
        assert (revoked.token_id, revoked.human) == (grant.token_id, "alice")
        assert revoked.session_id == sid
        assert revoked.revoked_at is not None
        assert await tokens.verify(alice) is None
        assert await tokens.verify(bob) is not None  # only that one

        again = await tokens.revoke(grant.token_id)
        assert again.revoked_at == revoked.revoked_at  # still revoked, at its first time
        assert (await tokens.find(grant.token_id)).revoked_at == revoked.revoked_at
        assert await tokens.verify(alice) is None


async def test_a_revocation_by_another_process_holds_in_a_running_room_at_once(db_path):
    sid = await saved_session(db_path)
    room = await SqliteStore.open(db_path)  # the server's own connection, kept open
    try:
        served = Tokens(room)
        token = await served.mint(sid, "alice")
        grant = await served.verify(token)
        assert grant is not None
        async with await Tokens.open(db_path) as cli:  # what 'agentroom tokens revoke' opens
            await cli.revoke(grant.token_id)
        assert await served.verify(token) is None
    finally:
        await room.close()


async def test_revoke_takes_a_unique_prefix_and_says_what_an_ambiguous_one_matched(db_path):
    sid = await saved_session(db_path)
    async with await Tokens.open(db_path) as tokens:
        for i in range(17):  # 17 ids, 16 first digits: two of them share one
            await tokens.mint(sid, f"h{i}")
        ids = [t.token_id for t in await tokens.list()]
        first = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
        with pytest.raises(TokenNotFoundError, match=f"'{first}' matches several tokens"):
            await tokens.revoke(first)
        assert all(t.revoked_at is None for t in await tokens.list())

        target = ids[3]
        unique = next(
            target[:n] for n in range(1, 11) if sum(i.startswith(target[:n]) for i in ids) == 1
        )
        assert (await tokens.revoke(unique.upper())).token_id == target  # any case
        assert [t.token_id for t in await tokens.list() if t.revoked_at] == [target]

        unknown = next(c * 10 for c in "0123456789abcdef" if c * 10 not in ids)
        with pytest.raises(TokenNotFoundError, match=f"no token has the id '{unknown}'; run"):
            await tokens.revoke(unknown)


async def test_errors_about_ids_never_repeat_a_secret_token(db_path):
    sid = await saved_session(db_path)
    async with await Tokens.open(db_path) as tokens:
        secret = await tokens.mint(sid, "alice")
        for typed in (secret, f" {secret} ", secret[3:], secret[:20], "not-an-id"):
            with pytest.raises(TokenNotFoundError) as caught:
                await tokens.revoke(typed)
            said = str(caught.value)
            assert secret[3:13] not in said and typed.strip() not in said
            assert "agentroom tokens list" in said and "\n" not in said
        with pytest.raises(TokenNotFoundError, match="that is a secret token, not a token id"):
            await tokens.revoke(secret)
        assert await tokens.verify(secret) is not None  # nothing was revoked


# -- listing --------------------------------------------------------------------------------------


async def test_list_shows_every_session_or_one_by_its_prefix(db_path):
    first = await saved_session(db_path, "first")
    second = await saved_session(db_path, "second")
    async with await Tokens.open(db_path) as tokens:
        await tokens.mint(first, "alice")
        await tokens.mint(second, "bob")
        await tokens.mint(first, "carol")
        assert [t.human for t in await tokens.list()] == ["alice", "bob", "carol"]
        assert [t.human for t in await tokens.list(first)] == ["alice", "carol"]
        assert [t.human for t in await tokens.list(second)] == ["bob"]
        shared = next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
        assert [t.human for t in await tokens.list(second[: shared + 1])] == ["bob"]
        with pytest.raises(SessionNotFoundError, match="no saved session matches"):
            await tokens.list("no-such-session")


async def test_a_missing_database_is_not_created_by_looking_for_tokens(tmp_path):
    where = tmp_path / "nothing-here.db"
    with pytest.raises(NoDatabaseError, match="no tokens: there is no database at"):
        await Tokens.open(where)
    assert not where.exists()
    async with await Tokens.open(where, create=True) as tokens:
        assert await tokens.list() == []
    assert where.exists()


# -- sessions deleted and forked -----------------------------------------------------------------


async def test_deleting_a_session_deletes_its_tokens_and_a_fork_gets_none(db_path):
    kept = await saved_session(db_path, "kept")
    gone = await saved_session(db_path, "gone")
    async with await SqliteStore.open(db_path) as store:
        tokens, sessions = Tokens(store), Sessions(store)
        keeper = await tokens.mint(kept, "alice")
        doomed = await tokens.mint(gone, "bob")

        fork = await sessions.fork(kept, 1)
        assert await tokens.list(fork) == []
        grant = await tokens.verify(keeper)
        assert grant is not None and grant.session_id == kept  # never the fork's

        await sessions.delete(gone)
        assert await tokens.verify(doomed) is None
        assert [t.human for t in await tokens.list()] == ["alice"]
    assert [human for _, human in token_rows(db_path)] == ["alice"]


# -- the secret is kept nowhere -------------------------------------------------------------------


async def test_no_secret_reaches_the_database_an_export_or_a_log(db_path, tmp_path, caplog):
    sid = await saved_session(db_path)
    caplog.set_level(logging.DEBUG)
    async with await SqliteStore.open(db_path) as store:
        tokens = Tokens(store)
        secrets = [await tokens.mint(sid, human) for human in ("alice", "bob")]
        for secret in secrets:
            assert await tokens.verify(secret) is not None
        grant = await tokens.verify(secrets[1])
        assert grant is not None
        await tokens.revoke(grant.token_id)
        sessions = Sessions(store)
        for fmt in ("jsonl", "md"):
            await sessions.export_to_file(sid, fmt, tmp_path / f"export.{fmt}")
        await Sessions(store).fork(sid, 2)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert db_path in files and tmp_path / "export.jsonl" in files
    for secret in secrets:
        body = secret[3:].encode()
        for path in files:
            assert body not in path.read_bytes(), f"{path.name} holds a token"
        assert secret[3:] not in caplog.text
    with sqlite3.connect(db_path) as db:  # what is kept is the hash, in full
        digests = [d for (d,) in db.execute("SELECT digest FROM tokens")]
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests) and len(digests) == 2


# -- a running room lends its own store -----------------------------------------------------------


async def test_a_live_room_mints_and_verifies_on_its_own_connection(db_path):
    workflow = parse_workflow(
        "name: served\nagents:\n  - id: a\nhumans:\n  - id: alice\n  - id: bob\n"
    )
    room = LiveRoom(RoomOptions(db=db_path, workflow=workflow, feed=False))
    await room.open()
    try:
        assert room.engine is not None
        sid = room.engine.session_id
        alice = await room.tokens.mint(sid, "alice")
        grant = await room.tokens.verify(alice)
        assert grant is not None and (grant.session_id, grant.human) == (sid, "alice")
        assert [t.human for t in await room.tokens.list(sid)] == ["alice"]
    finally:
        await room.close()
