"""The tokens service: who may join a served room, as which human.

``agentroom serve`` mints one token per human of its room and prints it in
the join command; every connection (and every line on it) shows its token,
and :meth:`Tokens.verify` says which human of which session it proves, or
None.  ``agentroom tokens list/revoke`` read and revoke them.  Like
:class:`~agentroom.room.sessions.Sessions`, this is the one way an interface
reaches tokens: a running room lends its own store (:attr:`LiveRoom.tokens`),
a command opens the database with :meth:`Tokens.open`.

A token is ``ar_`` and 32 random bytes (256 bits, urlsafe base64).  Only its
SHA-256 is stored.  A plain hash is right for a secret this strong: salts and
slow hashes (bcrypt, scrypt) exist to make guessing *low*-entropy passwords
from a stolen hash expensive, and nobody can enumerate 2**256 candidates, so
they would only make every check slower (one per line of a busy room).  The
hash also makes the lookup an exact match on an index, with no comparison
whose timing depends on the secret.  The secret is returned once by
:meth:`Tokens.mint` and never written, logged, or quoted in an error:
malformed input is refused by its shape before any query, and the errors
about token ids never repeat what was typed unless it has the shape of an id.

Each token also has a short random public id (``token_id``), shown in lists
and used to revoke it; it proves nothing.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import re
import secrets
from dataclasses import dataclass

from agentroom.bus import PARTICIPANT_ID
from agentroom.core.errors import TokenNotFoundError
from agentroom.core.records import TokenInfo
from agentroom.room.service import StoreService

__all__ = ["PREFIX", "Grant", "TokenInfo", "Tokens", "digest_of"]

PREFIX = "ar_"
"""What every token starts with: a person (or a secret scanner) can tell one when they see it."""

_SECRET_BYTES = 32
_TOKEN = re.compile(r"ar_[A-Za-z0-9_-]{43}")
"""The whole shape of a token: the prefix and 32 bytes of urlsafe base64, unpadded."""
TOKEN_LENGTH = len(PREFIX) + 43

_ID_HEX = 10
"""Hex digits of a public id: 40 random bits, unique by the table's key (a clash draws again)."""
_ID = re.compile(rf"[0-9a-f]{{1,{_ID_HEX}}}")


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token proves: this human of this session (``token_id`` names the token)."""

    token_id: str
    session_id: str
    human: str


def digest_of(token: str) -> str:
    """The SHA-256 (hex) a token is stored and looked up as."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed(token: object) -> bool:
    """Whether ``token`` has a token's shape (checked before any hashing or query)."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return False
    return _TOKEN.fullmatch(token) is not None


def _new_token_id() -> str:
    return secrets.token_hex(_ID_HEX // 2 + 1)[:_ID_HEX]


def _id_typed(text: str) -> str:
    """A token id as typed, lower-cased, or an error that does not repeat a secret.

    Anything not shaped like an id (hex digits, up to ten) is not quoted: a
    person who pastes the secret token where its id belongs must not see it
    again in an error, nor leave it in a log of the terminal.
    """
    typed = text.strip().lower()
    if _ID.fullmatch(typed):
        return typed
    if text.strip().startswith(PREFIX):
        raise TokenNotFoundError(
            "that is a secret token, not a token id: give the id 'agentroom tokens list' shows"
        )
    raise TokenNotFoundError(
        f"a token id is 1 to {_ID_HEX} hex digits; run 'agentroom tokens list' to see them"
    )


class Tokens(StoreService):
    """The tokens in one database; see the module docstring.

    Built on a store it borrows (a running room's), or by :meth:`open`, which
    opens one and closes it with the service.
    """

    @classmethod
    async def open(cls, db: str | os.PathLike[str], *, create: bool = False) -> Tokens:
        """Open the database at ``db`` for its tokens.

        A missing file is :class:`NoDatabaseError` and stays missing unless
        ``create``: tokens are only ever made in a room's database, which exists.
        """
        return await cls._opened(
            db,
            create=create,
            missing="no tokens: there is no database at {where} ('agentroom serve' makes "
            "tokens there; pass --db with another file)",
        )

    async def mint(self, session_id: str, human: str) -> str:
        """A new token for ``human`` of session ``session_id``: the secret, returned only here.

        It is on disk (as its hash) when this returns.  ``human`` must be a
        participant id; the session must exist (its full id).
        """
        if not isinstance(human, str) or not PARTICIPANT_ID.match(human):
            raise ValueError(
                f"human {human!r} is not a participant id: use 1-64 letters, digits, "
                "'_', '-' or '.', starting with a letter, digit or '_'"
            )
        token = PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
        await self._store.add_token(session_id, digest_of(token), human, _new_token_id)
        return token

    async def verify(self, token: str) -> Grant | None:
        """Which human of which session ``token`` proves; None if malformed, unknown or revoked.

        Malformed input (wrong prefix, wrong length, anything not ASCII) is
        refused by its shape without a query.  A use is noted as the token's
        ``last_used_at`` through the writer, never waited for.
        """
        if not well_formed(token):
            return None
        found = await self._store.token_grant(digest_of(token))
        return None if found is None else Grant(*found)

    async def list(self, session_id: str | None = None) -> builtins.list[TokenInfo]:
        """Every token, revoked ones too, oldest first; one session's if given (id or prefix)."""
        if session_id is None:
            return await self._store.list_tokens()
        room = await self._store.get_room(session_id)
        return await self._store.list_tokens(room.id)

    async def find(self, token_id: str) -> TokenInfo:
        """One token by its id or a unique prefix; ``TokenNotFoundError`` says what matched."""
        return await self._store.find_token(_id_typed(token_id))

    async def revoke(self, token_id: str) -> TokenInfo:
        """Revoke a token (id or unique prefix): from now on :meth:`verify` refuses it.

        Durable when this returns.  A token revoked before stays revoked at its
        first time (compare ``revoked_at`` with :meth:`find`'s to tell).
        """
        found = await self.find(token_id)
        return await self._store.revoke_token(found.token_id)
