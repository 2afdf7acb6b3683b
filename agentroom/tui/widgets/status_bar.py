"""The room's one-line summary: state, strategy, turn, tokens, cost, models, session.

The most telling parts come first and the line is cut at the screen's edge
with an ellipsis: on a narrow terminal, or with a long model name, the
state, strategy and turn stay in sight (they used to be the ones cut away,
or wrapped out of the bar's one line).
"""

from __future__ import annotations

from textual.widgets import Static

from agentroom.tui.shown import plain


class StatusBar(Static):
    DEFAULT_CSS = "StatusBar { text-wrap: nowrap; text-overflow: ellipsis; }"

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
                f"{state} · {strategy} · turn {turn} · {tokens} tokens · {cost}"
                f" · model: {models} · session {session[:18]}"
            )
        )
