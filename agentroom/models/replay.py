"""The replay client: scripted model replies for tests, streamed like a real model.

A script is a list of replies; each is text, or a mapping with ``text``,
``tool_calls`` (``[{"name": ..., "arguments": {...}}]``), ``usage`` and
``finish_reason``.  Every request received is recorded, so a test can assert
on exactly what an agent sent.  Running out of script is a clear error, not a
silent repeat.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from agentroom.core.errors import ModelConfigError, ReplayExhaustedError
from agentroom.models.types import (
    Finished,
    ModelEvent,
    ModelRequest,
    TextDelta,
    ToolCall,
    ToolCallRequested,
    Usage,
)

_WORDS = re.compile(r"\S+\s*|\s+")


class ReplayClient:
    """Streams scripted replies word by word; records every request."""

    def __init__(
        self,
        script: Iterable[str | Mapping[str, Any]],
        *,
        label: str = "replay",
        delay: float = 0.0,
    ) -> None:
        self.script = [_entry(item, i) for i, item in enumerate(script)]
        self.label = label
        self.delay = delay
        self.requests: list[ModelRequest] = []

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> ReplayClient:
        """Load a script from YAML or JSON: a list of replies, or ``{replies: [...]}``."""
        where = Path(path)
        try:
            data = yaml.safe_load(where.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelConfigError(f"cannot read replay script {where}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ModelConfigError(f"replay script {where} is not valid YAML/JSON: {exc}") from None
        if isinstance(data, Mapping):
            data = data.get("replies")
        if not isinstance(data, list):
            raise ModelConfigError(
                f"replay script {where} must be a list of replies (or have a 'replies' list)"
            )
        kwargs.setdefault("label", f"replay:{where.name}")
        return cls(data, **kwargs)

    @property
    def remaining(self) -> int:
        return len(self.script) - len(self.requests)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        index = len(self.requests)
        self.requests.append(request)
        if index >= len(self.script):
            raise ReplayExhaustedError(
                f"{self.label} has no reply left for request #{index + 1} "
                f"(its script has {len(self.script)})"
            )
        entry = self.script[index]
        words = 0
        for word in _WORDS.findall(entry["text"]):
            if self.delay:
                await asyncio.sleep(self.delay)
            else:
                await asyncio.sleep(0)
            words += 1
            yield TextDelta(word)
        for n, call in enumerate(entry["tool_calls"]):
            yield ToolCallRequested(
                ToolCall(
                    id=call.get("id") or f"call_{index + 1}_{n + 1}",
                    name=call["name"],
                    arguments=json.dumps(call.get("arguments", {})),
                )
            )
        prompt = sum(len(m.content.split()) for m in request.messages)
        usage = entry.get("usage") or {}
        yield Usage(usage.get("prompt_tokens", prompt), usage.get("completion_tokens", words))
        yield Finished(entry["finish_reason"])


def _entry(item: str | Mapping[str, Any], index: int) -> dict[str, Any]:
    if isinstance(item, str):
        return {"text": item, "tool_calls": [], "finish_reason": "stop"}
    if not isinstance(item, Mapping):
        raise ModelConfigError(f"replay reply #{index + 1} must be text or a mapping")
    calls = list(item.get("tool_calls") or [])
    for call in calls:
        if not isinstance(call, Mapping) or "name" not in call:
            raise ModelConfigError(f"replay reply #{index + 1}: each tool call needs a 'name'")
    return {
        "text": str(item.get("text") or ""),
        "tool_calls": calls,
        "usage": item.get("usage"),
        "finish_reason": item.get("finish_reason") or ("tool_calls" if calls else "stop"),
    }
