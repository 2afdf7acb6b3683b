"""What tokens cost: a table of prices per million tokens, overridable per user.

Models that run here (offline, replay, Ollama, local) cost nothing.  A model
with no known price has cost ``None`` and is shown as unknown, never as 0.
Prices change: put your own in ``prices.yaml`` in the agentroom config folder
(``{"openai:gpt-4o-mini": {"input": 0.15, "output": 0.60}}``, USD per 1M).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from agentroom.core.paths import config_dir
from agentroom.models.types import Usage

# USD per 1M tokens (input, output), as published by the vendor when written.
PRICES: dict[str, tuple[float, float]] = {
    "openai:gpt-4o": (2.50, 10.00),
    "openai:gpt-4o-mini": (0.15, 0.60),
    "openai:gpt-4.1": (2.00, 8.00),
    "openai:gpt-4.1-mini": (0.40, 1.60),
    "openai:gpt-4.1-nano": (0.10, 0.40),
    "openai:o4-mini": (1.10, 4.40),
}
FREE_KINDS = ("offline", "replay", "ollama", "local")


@cache
def prices_file() -> Path:
    return config_dir() / "prices.yaml"


@cache
def _user_prices(path: Path) -> dict[str, tuple[float, float]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    table = {}
    for label, price in data.items() if isinstance(data, dict) else ():
        if isinstance(price, dict) and {"input", "output"} <= price.keys():
            table[str(label)] = (float(price["input"]), float(price["output"]))
    return table


def price_of(label: str) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens for a model label, or None if unknown."""
    return _price(label, prices_file())


@cache
def _price(label: str, table: Path) -> tuple[float, float] | None:
    # Asked after every model call, so remembered per label, like the prices file
    # it reads (a change to that file is seen by the next run).
    if label.split(":", 1)[0] in FREE_KINDS or label.startswith("offline"):
        return (0.0, 0.0)
    return _user_prices(table).get(label) or PRICES.get(label)


def cost_of(label: str, usage: Usage) -> float | None:
    price = price_of(label)
    if price is None:
        return None
    return (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000
