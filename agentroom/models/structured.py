"""Structured answers: the shapes the room asks a model for, and reading them back.

A decision the room takes from a model (who speaks next, a vote, a plan) is
asked for as JSON of a declared shape (a :class:`ResponseFormat` on the
request), so a backend that can enforce the shape makes an unusable answer
impossible: a small model can then only name someone who may speak.  Not
every backend can (the offline demo model answers in words; a server may
refuse the field), so :func:`json_object` reads an answer that is JSON, and
says None for one that is not, for the caller to read the words instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from agentroom.models.types import ResponseFormat

TEXT_LIMIT = 200
"""Characters in a free-text field of a structured answer: a small model that rambles
inside a string would otherwise spend the whole token budget there and never close it."""

_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


def one_of(name: str, key: str, options: Sequence[str]) -> ResponseFormat:
    """``{key: one of options}``: a choice that can only be one of the options."""
    longest = max((len(o) for o in options), default=0)
    return ResponseFormat(
        name,
        strict_object({key: {"type": "string", "enum": list(options)}}),
        max_tokens=16 + longest // 2,
    )


def strict_object(properties: dict[str, Any]) -> dict[str, Any]:
    """An object schema with exactly these properties, all of them required.

    OpenAI's strict mode insists on both, and a grammar built from it leaves
    the model no room for a field nobody reads.
    """
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def text_field(limit: int = TEXT_LIMIT) -> dict[str, Any]:
    """A free-text field of a structured answer, at most ``limit`` characters."""
    return {"type": "string", "minLength": 1, "maxLength": limit}


def json_object(answer: str) -> dict[str, Any] | None:
    """The JSON object ``answer`` is (inside a Markdown fence, if a model added one), or None.

    Lenient about control characters inside strings (a small model writes a raw
    newline in a string now and then, which strict JSON forbids); anything that
    is not one whole object is None, for the caller to read as words.
    """
    text = _FENCE.sub("", answer).strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text, strict=False)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def picked(answer: str, key: str, options: Sequence[str]) -> str | None:
    """The option a structured answer (``{key: option}``) picks, or None if it is not one."""
    value = json_object(answer)
    if value is None:
        return None
    choice = value.get(key)
    return choice if isinstance(choice, str) and choice in options else None
