"""What the services on a database share: a borrowed store, or one of their own.

:class:`~agentroom.room.sessions.Sessions` and :class:`~agentroom.room.tokens.Tokens`
are each the one way an interface reaches what they hold.  A running room
lends them its own store (no second connection while it writes); a command
opens the database with the service's ``open`` and closes it with the
service.  A command that only reads must not leave an empty database behind
wherever it looked, so opening a missing file is refused unless asked.
"""

from __future__ import annotations

import os
from typing import Self

from agentroom.core.errors import NoDatabaseError
from agentroom.store import SqliteStore
from agentroom.store.opening import MEMORY


def database_missing(where: str) -> bool:
    """No database file at ``where`` (a stat, as the store's own opening makes)."""
    return where != MEMORY and not os.path.lexists(where)


class StoreService:
    """A service on one store, which it closes only if it opened it."""

    def __init__(self, store: SqliteStore, *, owned: bool = False) -> None:
        self._store = store
        self._owned = owned

    @classmethod
    async def _opened(cls, db: str | os.PathLike[str], *, create: bool, missing: str) -> Self:
        """The service on the database at ``db``, created if ``create``; else a missing file is
        :class:`NoDatabaseError` saying ``missing`` (``{where}`` is the path) and stays missing."""
        where = str(db)
        if not create and database_missing(where):
            raise NoDatabaseError(missing.format(where=where))
        return cls(await SqliteStore.open(db), owned=True)

    async def close(self) -> None:
        """Close the database if this service opened it (a borrowed store stays open)."""
        if self._owned:
            await self._store.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
