"""The room's one-line summary: session, strategy, turn, tokens, cost, models."""

from __future__ import annotations

from textual.widgets import Static

from agentroom.tui.shown import plain


class StatusBar(Static):
    def show(
        self,
        *,
        session: str,
        strategy: str,
        turn: int,
        tokens: int,
        cost: str,
        models: str,
        state: str,
    ) -> None:
        self.update(
            plain(
                f"session {session[:18]} · {strategy} · turn {turn} · {tokens} tokens · {cost}"
                f" · {state} · model: {models}"
            )
        )
