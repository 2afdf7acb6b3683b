"""``agentroom tokens list`` and ``agentroom tokens revoke``: who may join a served room.

``agentroom serve`` makes the tokens; these commands show them (never the
secrets: only their public ids exist after they were printed once) and take
one back.  A revocation is on disk when the command ends, and a running
server checks the database on every connection and line, so the client using
it is refused from then on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from agentroom.cli.console import SHORT_ID, DbOption, JsonOption, db_for, listing, out, run
from agentroom.core.records import TokenInfo
from agentroom.room.tokens import Tokens

_ID_WIDTH = 10


def _when(iso: str | None) -> str:
    """An ISO UTC time as the tables show times (``sessions list``), or ``-``."""
    return "-" if iso is None else f"{datetime.fromisoformat(iso):%m-%d %H:%M}"


def _tokens_table(tokens: list[TokenInfo]) -> Table:
    table = Table(
        title="Tokens (times in UTC; revoke one by its id or a unique prefix; --json for all)",
        title_justify="left",
        header_style="bold",
    )
    table.add_column("id", no_wrap=True, style="bold", min_width=_ID_WIDTH)
    # on a narrow terminal the session's id gives way before the human's name does
    table.add_column("session", no_wrap=True, overflow="ellipsis", min_width=13)
    table.add_column("human", overflow="ellipsis", no_wrap=True, min_width=8, max_width=24)
    for when in ("created", "last used", "revoked"):
        table.add_column(when, no_wrap=True, min_width=len("01-31 23:59"))
    for token in tokens:
        cells = (
            token.token_id,
            token.session_id[:SHORT_ID],
            token.human,
            _when(token.created_at),
            _when(token.last_used_at),
            _when(token.revoked_at),
        )
        table.add_row(*map(Text, cells))  # Text, not str: nothing is read as markup
    return table


SessionFilter = Annotated[
    str | None,
    typer.Argument(help="Only this session's tokens (id or unique prefix).", show_default=False),
]
TokenIdArg = Annotated[
    str, typer.Argument(help="The token's id (or a unique prefix), as 'tokens list' shows it.")
]


def tokens_list(
    ctx: typer.Context,
    session_id: SessionFilter = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the tokens people join served rooms with (ids only, never the secrets)."""
    where = db_for(ctx, db)
    wanted = session_id.strip() if session_id and session_id.strip() else None

    found = run(listing(Tokens.open(where), lambda tokens: tokens.list(wanted), as_json))
    if as_json:
        return
    if found:
        out.print(_tokens_table(found))
        return
    of = " of that session" if wanted else ""
    out.print(
        Text.assemble(
            f"No tokens{of} (looked in {where}). ",
            ("agentroom serve", "bold"),
            " makes one for each human of the room it serves.",
        )
    )


def tokens_revoke(ctx: typer.Context, token_id: TokenIdArg, db: DbOption = None) -> None:
    """Revoke a token: whoever joins with it is refused from now on."""

    async def go() -> tuple[TokenInfo, bool]:
        async with await Tokens.open(db_for(ctx, db)) as tokens:
            before = await tokens.find(token_id)
            if before.revoked_at is not None:
                return before, False
            return await tokens.revoke(before.token_id), True

    info, now = run(go())
    whose = f"{info.human} in session {info.session_id[:SHORT_ID]}"
    if now:
        out.print(
            f"revoked token {info.token_id} ({whose}); a client using it is refused from now on"
        )
    else:
        out.print(
            f"token {info.token_id} ({whose}) was already revoked at "
            f"{_when(info.revoked_at)} UTC; nothing to do"
        )
