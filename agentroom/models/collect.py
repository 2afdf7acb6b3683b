"""Gathering a streamed reply, keeping what arrived if the stream is cut short."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from agentroom.core.text import REPLACEMENT, split_surrogate, valid_text
from agentroom.models.types import (
    Finished,
    ModelEvent,
    ModelReply,
    TextDelta,
    ToolCall,
    ToolCallRequested,
    Usage,
    Waiting,
)

OnText = Callable[[str], Awaitable[None] | None]
OnWait = Callable[[Waiting], Awaitable[None] | None]

REPLY_LIMIT = 200_000
"""Characters of one reply kept (about 50,000 tokens); past them the stream is closed.

A model that never stops (or a server that streams without end) must not
grow the room's memory, the database or the screen without bound."""


async def collect(
    events: AsyncIterator[ModelEvent],
    into: ModelReply | None = None,
    on_text: OnText | None = None,
    *,
    on_wait: OnWait | None = None,
    limit: int = REPLY_LIMIT,
) -> ModelReply:
    """Consume ``events`` into a :class:`ModelReply`.

    If the caller is cancelled, the stream is closed at once (so a server stops
    generating) and the reply keeps the text received so far, marked
    ``interrupted``; the cancellation then propagates.  Pass ``into`` to hold
    on to that partial reply.

    Text is made valid here, as it enters the room: a character split across
    two deltas (an emoji as two UTF-16 halves) is held back until its other
    half arrives, and a half that never finds its partner becomes U+FFFD.

    A reply longer than ``limit`` characters keeps its first ``limit``, ends
    with a note saying it was cut, and is marked ``cut``; the stream is closed
    there, so nothing more is generated or paid for.  ``on_wait`` hears when
    the backend waits before a retry, so the room can say so.
    """
    reply = into if into is not None else ModelReply()
    parts = reply.parts
    held = ""
    size = 0
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                text = held + event.text if held else event.text
                text, held = split_surrogate(text)
                if not text:
                    continue
                text = valid_text(text)
                size += len(text)
                if size > limit:
                    text = text[: len(text) - (size - limit)]
                    reply.cut = True
                    reply.finish_reason = "cut"
                    text += f"… [cut: the reply passed {limit:,} characters]"
                    held = ""
                parts.append(text)
                if on_text is not None:
                    result = on_text(text)
                    if inspect.isawaitable(result):
                        await result
                if reply.cut:
                    break
            elif isinstance(event, ToolCallRequested):
                call = event.call  # a server's JSON may hold lone surrogates too
                reply.tool_calls.append(
                    ToolCall(valid_text(call.id), valid_text(call.name), valid_text(call.arguments))
                )
            elif isinstance(event, Usage):
                reply.usage = event if reply.usage is None else reply.usage + event
            elif isinstance(event, Finished):
                reply.finish_reason = event.reason
            elif isinstance(event, Waiting) and on_wait is not None:
                await _call(on_wait, event)
        if reply.cut:
            await _close(events)
        elif held:  # the stream ended on half a character
            parts.append(REPLACEMENT)
            if on_text is not None:
                await _call(on_text, REPLACEMENT)
    except asyncio.CancelledError:
        reply.interrupted = True
        reply.finish_reason = "interrupted"
        await _close(events)
        raise
    except BaseException:
        await _close(events)
        raise
    return reply


async def _call(callback: Callable[[Any], Awaitable[None] | None], value: Any) -> None:
    result = callback(value)
    if inspect.isawaitable(result):
        await result


async def _close(events: AsyncIterator[ModelEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.shield(aclose())
