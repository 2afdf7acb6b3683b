"""Tools for a model that has no tool calling of its own: a structured choice before it speaks.

A small local model (SmolLM2-135M) has no tool-calling template, so its
tools were never offered at all: it was told in words to write ``HANDOFF:
billing`` and did not.  Here a tool call is a structured answer instead:
before the model speaks, it is shown the tools and asked for
``{"tool": "none"}`` or ``{"tool": NAME, "arguments": {...}}``, a shape the
backend enforces, so whatever it answers is a well-formed call with valid
arguments (a handoff can only name someone in the room).

What was found on SmolLM2: shown a tool and asked whether to call it, it
calls it nearly every time, whatever the conversation; it cannot judge from
a description when a tool helps.  Its instructions can: so it is offered
only the tools its system prompt names (``hand off to billing`` names
``handoff``; ``use spawn_subagent ... and delegate`` names both), each at
most once a reply, and it speaks in words once they are used or it answers
``none``.  A support desk's triage then hands off and its billing agent does
not; a research lead spawns a helper and delegates, then answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from agentroom.models.structured import TEXT_LIMIT, json_object, strict_object
from agentroom.models.types import ChatMessage, ResponseFormat, ToolCall, ToolSpec

NONE = "none"
ARGUMENTS_TOKENS = 160
"""Tokens for a choice: the tool's name and its arguments (short texts, enums)."""

_LETTERS = re.compile(r"[^a-z]+")


def _letters(text: str) -> str:
    return _LETTERS.sub("", text.lower())


def offered(messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]) -> list[ToolSpec]:
    """The tools to offer now: those the system prompt names, less those called this reply.

    A reply's earlier calls are the assistant messages with tool calls (and their
    results) at the end of the prompt.
    """
    system = next((m.content for m in messages if m.role == "system"), "")
    named = _letters(system)
    called: set[str] = set()
    for message in reversed(messages):
        if message.role == "tool":
            continue
        if message.role == "assistant" and message.tool_calls:
            called.update(call.name for call in message.tool_calls)
            continue
        break
    return [t for t in tools if _letters(t.name) in named and t.name not in called]


def prompt(tools: Sequence[ToolSpec]) -> ChatMessage:
    """The question that follows the conversation: which tool now, if any."""
    lines = [f"- {t.name}({', '.join(_properties(t))}): {t.description}" for t in tools]
    listed = "\n".join(lines)
    question = "Which tool do you call now, if any?"
    return ChatMessage("user", f"Tools you may call now:\n{listed}\n{question}")


def response_format(tools: Sequence[ToolSpec]) -> ResponseFormat:
    """``{"tool": "none"}``, or one of the tools with arguments its schema allows."""
    choices: list[dict[str, Any]] = [strict_object({"tool": {"const": NONE}})]
    for tool in tools:
        choices.append(
            strict_object({"tool": {"const": tool.name}, "arguments": _arguments(tool.parameters)})
        )
    return ResponseFormat("tool_choice", {"anyOf": choices}, max_tokens=ARGUMENTS_TOKENS)


def call(answer: str, tools: Sequence[ToolSpec], call_id: str) -> ToolCall | None:
    """The tool call a choice names, or None (``none``, or an answer that is not a choice)."""
    value = json_object(answer)
    if value is None:
        return None
    name = value.get("tool")
    if not any(t.name == name for t in tools):
        return None
    arguments = value.get("arguments")
    text = json.dumps(arguments if isinstance(arguments, dict) else {}, ensure_ascii=False)
    return ToolCall(call_id, str(name), text)


def _properties(tool: ToolSpec) -> list[str]:
    properties = tool.parameters.get("properties")
    return list(properties) if isinstance(properties, dict) else []


def _arguments(parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool's parameters made strict: every property required and written, no other,
    free text bounded (a grammar then leaves the model nothing to wander into)."""
    properties = parameters.get("properties")
    if not isinstance(properties, dict):
        return strict_object({})
    strict: dict[str, Any] = {}
    for name, schema in properties.items():
        field = {k: v for k, v in schema.items() if k not in ("title", "default")}
        if field.get("type") == "string" and "enum" not in field:
            field.setdefault("maxLength", TEXT_LIMIT)
        strict[name] = field
    shape = strict_object(strict)
    if "$defs" in parameters:
        shape["$defs"] = parameters["$defs"]
    return shape
