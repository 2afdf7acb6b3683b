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
    """
    reply = into if into is not None else ModelReply()
    parts = reply.parts
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                if not event.text:
                    continue
                parts.append(event.text)
                if on_text is not None:
                    result = on_text(event.text)
                    if inspect.isawaitable(result):
                        await result
            elif isinstance(event, ToolCallRequested):
                reply.tool_calls.append(event.call)
            elif isinstance(event, Usage):
                reply.usage = event if reply.usage is None else reply.usage + event
            elif isinstance(event, Finished):
                reply.finish_reason = event.reason
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
