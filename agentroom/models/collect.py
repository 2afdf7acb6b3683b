"""Gathering a streamed reply, keeping what arrived if the stream is cut short."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

from agentroom.models.types import (
    Finished,
    ModelEvent,
    ModelReply,
    TextDelta,
    ToolCallRequested,
    Usage,
)
from agentroom.text import REPLACEMENT, split_surrogate, valid_text

OnText = Callable[[str], Awaitable[None] | None]


async def collect(
    events: AsyncIterator[ModelEvent],
    into: ModelReply | None = None,
    on_text: OnText | None = None,
) -> ModelReply:
    """Consume ``events`` into a :class:`ModelReply`.

    If the caller is cancelled, the stream is closed at once (so a server stops
    generating) and the reply keeps the text received so far, marked
    ``interrupted``; the cancellation then propagates.  Pass ``into`` to hold
    on to that partial reply.

    Text is made valid here, as it enters the room: a character split across
    two deltas (an emoji as two UTF-16 halves) is held back until its other
    half arrives, and a half that never finds its partner becomes U+FFFD.
    """
    reply = into if into is not None else ModelReply()
    parts = reply.parts
    held = ""
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                text = held + event.text if held else event.text
                text, held = split_surrogate(text)
                if not text:
                    continue
                text = valid_text(text)
                parts.append(text)
                if on_text is not None:
                    result = on_text(text)
                    if inspect.isawaitable(result):
                        await result
            elif isinstance(event, ToolCallRequested):
                reply.tool_calls.append(event.call)
            elif isinstance(event, Usage):
                reply.usage = event if reply.usage is None else reply.usage + event
            elif isinstance(event, Finished):
                reply.finish_reason = event.reason
        if held:  # the stream ended on half a character
            parts.append(REPLACEMENT)
            if on_text is not None:
                result = on_text(REPLACEMENT)
                if inspect.isawaitable(result):
                    await result
    except asyncio.CancelledError:
        reply.interrupted = True
        reply.finish_reason = "interrupted"
        await _close(events)
        raise
    except BaseException:
        await _close(events)
        raise
    return reply


async def _close(events: AsyncIterator[ModelEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.shield(aclose())
