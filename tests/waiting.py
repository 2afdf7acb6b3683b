"""Waiting for a condition in async tests: the condition decides, a deadline only catches a hang."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


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


async def until_drawn(pilot: Any, condition: Callable[[], object], guard: float = 60.0) -> None:
    """Let a Textual app run (workers, timers, screen changes) until ``condition()`` holds.

    The app runs a little before the first look, so a key just pressed has
    been handled before a condition that was already true is believed.  Like
    :func:`until`, the guard only catches a hang: two busy cores and a room of
    four agents may take long, and that is not a failure.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + guard
    while True:
        await pilot.pause(0.05)
        if condition():
            return
        if loop.time() > deadline:
            raise AssertionError(f"the screen never got there in {guard:.0f} s: {condition}")
