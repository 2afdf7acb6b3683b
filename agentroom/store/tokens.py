"""The ``tokens`` table (schema V6): who may join a served room, kept as hashes.

A token row binds one human of one room to the SHA-256 of a secret the store
never sees (``agentroom.room.tokens`` makes the secret and hashes it).  Adding
and revoking a token are each their own transaction, run after everything
queued before them (:meth:`GroupCommitWriter.run_job`), so a token handed out
is on disk first and a revocation holds from the moment it returns.

Looking a token up is one indexed read on the store's connection, without a
flush: a served room checks a token per connection and per line, and must not
wait on the writer for it.  When a token was last used is queued as a record
for the writer (it joins the next group commit, at most once a minute per
token), so a check costs no transaction of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from agentroom.core.errors import SessionNotFoundError, TokenNotFoundError
from agentroom.core.ids import micros_to_datetime, next_micros
from agentroom.core.records import TokenInfo
from agentroom.store.ops import TOKEN_USED
from agentroom.store.statements import like_prefix

if TYPE_CHECKING:
    import aiosqlite

    from agentroom.store.writer import GroupCommitWriter

TOUCH_EVERY = 60.0
"""Seconds between two writes of one token's ``last_used_at`` (the first use is always written)."""

TOUCH = "UPDATE tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?"

_SELECT = (
    "SELECT t.id, r.uid, t.human, t.created_at, t.revoked_at, t.last_used_at "
    "FROM tokens t JOIN rooms r ON r.id = t.room"
)
_GIVE_UP_AFTER = 8
"""Ids tried before a mint gives up: a clash of random public ids is already unlikely once."""


def _iso(micros: int | None) -> str | None:
    return None if micros is None else micros_to_datetime(micros).isoformat()


def _info(row: Sequence[Any]) -> TokenInfo:
    token_id, room, human, created, revoked, used = row
    return TokenInfo(
        token_id=token_id,
        session_id=room,
        human=human,
        created_at=micros_to_datetime(created).isoformat(),
        revoked_at=_iso(revoked),
        last_used_at=_iso(used),
    )


def insert_token(
    conn: sqlite3.Connection,
    room: int,
    digest: str,
    human: str,
    now: int,
    new_token_id: Callable[[], str],
) -> TokenInfo:
    """Add a token row under a fresh public id (another one if the first is taken)."""
    for _ in range(_GIVE_UP_AFTER):
        token_id = new_token_id()
        try:
            with conn:
                conn.execute(
                    "INSERT INTO tokens (id, digest, room, human, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (token_id, digest, room, human, now),
                )
        except sqlite3.IntegrityError:
            taken = conn.execute("SELECT 1 FROM tokens WHERE id = ?", (token_id,)).fetchone()
            if taken is None:  # the digest itself: not a clash another id would fix
                raise
            continue
        return _info(conn.execute(f"{_SELECT} WHERE t.id = ?", (token_id,)).fetchone())
    raise sqlite3.IntegrityError(f"no free token id after {_GIVE_UP_AFTER} tries")


def revoke_token(conn: sqlite3.Connection, token_id: str, now: int) -> TokenInfo | None:
    """Mark a token revoked (kept at its first revocation's time); its row after, or None."""
    with conn:
        conn.execute(
            "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", (now, token_id)
        )
    row = conn.execute(f"{_SELECT} WHERE t.id = ?", (token_id,)).fetchone()
    return None if row is None else _info(row)


class TokenRecords:
    """The token reads and writes of :class:`~agentroom.store.SqliteStore`."""

    _writer: GroupCommitWriter
    _tokens_touched: dict[str, float]

    if TYPE_CHECKING:

        @property
        def _db(self) -> aiosqlite.Connection: ...

        async def flush(self) -> None: ...
        async def _room_key(self, uid: str) -> int: ...

    async def add_token(
        self, room_uid: str, digest: str, human: str, new_token_id: Callable[[], str]
    ) -> TokenInfo:
        """Bind the token whose SHA-256 is ``digest`` to ``human`` of room ``room_uid``, durably."""
        await self.flush()  # a room just created is written first
        try:
            key = await self._room_key(room_uid)
        except SessionNotFoundError:
            raise SessionNotFoundError(
                f"no saved session {room_uid!r} to make a token for; "
                "run 'agentroom sessions list' to see them"
            ) from None
        return await self._writer.run_job(
            insert_token, key, digest, human, next_micros(), new_token_id
        )

    async def token_grant(self, digest: str) -> tuple[str, str, str] | None:
        """(token id, room id, human) of the live token with this digest; None if none.

        No flush: a token is durable before it is handed out (``add_token``),
        and a revocation before ``revoke`` returns.
        """
        async with self._db.execute(
            "SELECT t.id, r.uid, t.human FROM tokens t JOIN rooms r ON r.id = t.room "
            "WHERE t.digest = ? AND t.revoked_at IS NULL",
            (digest,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        token_id, room, human = (str(v) for v in row)
        self._token_used(token_id)
        return token_id, room, human

    def _token_used(self, token_id: str) -> None:
        now = asyncio.get_running_loop().time()
        last = self._tokens_touched.get(token_id)
        if last is not None and now - last < TOUCH_EVERY:
            return
        self._tokens_touched[token_id] = now
        self._writer.force((TOKEN_USED, token_id, next_micros()))

    async def list_tokens(self, room_uid: str | None = None) -> list[TokenInfo]:
        """Every token (of one room, if given), oldest first, revoked ones included."""
        await self.flush()
        where, params = "", tuple[int, ...]()
        if room_uid is not None:
            where, params = " WHERE t.room = ?", (await self._room_key(room_uid),)
        sql = f"{_SELECT}{where} ORDER BY t.created_at, t.id"
        async with self._db.execute(sql, params) as cur:
            return [_info(row) for row in await cur.fetchall()]

    async def find_token(self, prefix: str) -> TokenInfo:
        """The token whose id is ``prefix`` or starts with it; the error says what matched.

        ``prefix`` is a token id as a person types it (the caller checked its
        shape): it may be quoted in the error, a secret token never gets here.
        """
        await self.flush()
        pattern = like_prefix(prefix)
        async with self._db.execute(
            f"{_SELECT} WHERE t.id = ? OR t.id LIKE ? ESCAPE '\\' ORDER BY t.id = ? DESC LIMIT 6",
            (prefix, pattern, prefix),
        ) as cur:
            rows = list(await cur.fetchall())
        if rows and rows[0][0] == prefix:
            return _info(rows[0])
        if not rows:
            raise TokenNotFoundError(
                f"no token has the id {prefix!r}; run 'agentroom tokens list' to see them"
            )
        if len(rows) > 1:
            shown = ", ".join(str(row[0]) for row in rows[:5])
            raise TokenNotFoundError(
                f"{prefix!r} matches several tokens ({shown}); give more of the id"
            )
        return _info(rows[0])

    async def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke the token with this exact id, durably; a revoked one keeps its first time."""
        info = await self._writer.run_job(revoke_token, token_id, next_micros())
        if info is None:
            raise TokenNotFoundError(
                f"no token has the id {token_id!r}; run 'agentroom tokens list' to see them"
            )
        self._tokens_touched.pop(token_id, None)
        return info
