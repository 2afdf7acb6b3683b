"""Python functions as tools an agent's model may call.

A tool's JSON schema comes from the function's signature (through pydantic),
its description from the docstring.  Whatever goes wrong inside a call (bad
arguments, an exception, a timeout) becomes the call's *result*, which the
model sees and can react to; it never crashes the room.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError, create_model

from agentroom.errors import ModelConfigError
from agentroom.models.types import ToolCall, ToolSpec
from agentroom.text import valid_text

RESULT_LIMIT = 8_000
"""Characters of a result the model is shown; the rest is cut (and says so)."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    call: ToolCall
    content: str
    ok: bool


class Tool:
    """One callable with the schema a model needs to call it."""

    def __init__(self, function: Callable[..., Any], *, name: str | None = None) -> None:
        self.function = function
        self.name = name or function.__name__
        self.description = inspect.cleandoc(function.__doc__ or "") or f"The {self.name} tool."
        self._model = _arguments_model(function, self.name)
        schema = self._model.model_json_schema()
        schema.pop("title", None)
        self.spec = ToolSpec(self.name, self.description, schema)

    @classmethod
    def load(cls, path: str) -> Tool:
        """A tool from an import path, ``package.module:function`` (or dotted)."""
        module_name, sep, attr = path.partition(":")
        if not sep:
            module_name, _, attr = path.rpartition(".")
        if not module_name or not attr:
            raise ModelConfigError(
                f"tool {path!r} is not an import path; write package.module:function"
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ModelConfigError(f"tool {path!r}: cannot import {module_name} ({exc})") from None
        function = getattr(module, attr, None)
        if not callable(function):
            raise ModelConfigError(f"tool {path!r}: {module_name} has no function {attr!r}")
        return cls(function)

    async def run(self, call: ToolCall, timeout: float | None = 30.0) -> ToolResult:
        """Call the tool; its result (or what went wrong) as valid text for the model.

        Valid Unicode because a result goes back to the model server as JSON: a
        tool listing a file whose name is not UTF-8 returns a lone surrogate,
        which no server would accept.
        """
        content, ok = await self._call(call, timeout)
        return ToolResult(call, valid_text(content), ok)

    async def _call(self, call: ToolCall, timeout: float | None) -> tuple[str, bool]:
        try:
            raw = json.loads(call.arguments or "{}")
            if not isinstance(raw, dict):
                raise ValueError("arguments must be a JSON object")
            args = self._model.model_validate(raw)
        except (ValueError, ValidationError) as exc:
            return f"error: bad arguments for {self.name}: {_short(exc)}", False
        kwargs = {name: getattr(args, name) for name in type(args).model_fields}
        try:
            if inspect.iscoroutinefunction(self.function):
                value = await asyncio.wait_for(self.function(**kwargs), timeout)
            else:  # a blocking function must not stall the room
                value = await asyncio.wait_for(asyncio.to_thread(self.function, **kwargs), timeout)
        except TimeoutError:
            return f"error: {self.name} took longer than {timeout:g}s", False
        except Exception as exc:
            return f"error: {self.name} failed: {type(exc).__name__}: {exc}", False
        return _as_text(value), True


class Toolbox:
    """An agent's tools by name."""

    def __init__(self, tools: Iterable[Tool | Callable[..., Any] | str] = ()) -> None:
        self.tools: dict[str, Tool] = {}
        for item in tools:
            tool = (
                item
                if isinstance(item, Tool)
                else (Tool.load(item) if isinstance(item, str) else Tool(item))
            )
            self.tools[tool.name] = tool

    def __bool__(self) -> bool:
        return bool(self.tools)

    def add(self, tool: Tool) -> None:
        self.tools[tool.name] = tool

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(tool.spec for tool in self.tools.values())

    async def run(self, call: ToolCall) -> ToolResult:
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return ToolResult(call, f"error: no tool named {call.name!r}; tools: {known}", False)
        return await tool.run(call)


def _arguments_model(function: Callable[..., Any], name: str) -> Any:
    fields: dict[str, Any] = {}
    hints = inspect.get_annotations(function, eval_str=True)
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    return create_model(f"{name}_arguments", **fields)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > RESULT_LIMIT:
        text = text[:RESULT_LIMIT] + f"… [cut: {len(text) - RESULT_LIMIT} more characters]"
    return text


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in exc.errors()
        )
    return str(exc)
