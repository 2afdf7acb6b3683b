"""Waiting for a condition in async tests: the condition decides, a deadline only catches a hang."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], object], *, guard: float = 60.0) -> None:
    """Return once ``condition()`` is true; fail if it is still false after ``guard`` seconds.

    The guard is not a measure: a loaded machine may take long, a broken one forever.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + guard
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {guard:.0f} s: {condition}")
        await asyncio.sleep(0.005)
