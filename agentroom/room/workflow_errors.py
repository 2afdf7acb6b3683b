"""What a workflow error says: pydantic's complaint made one plain line a person can act on.

pydantic words its errors for programmers ("Extra inputs are not permitted",
"Input should be a valid integer"); a workflow is written by people who may
never have seen Python.  So every error the schema raises is said again here
from what it is about: an unknown key gets the key that was meant (a typo by
:mod:`difflib`, a synonym such as ``stop`` for ``termination``, a key that
belongs one level down), a wrong choice lists the allowed ones, a wrong type
says what the field takes and in which unit.  pydantic's own message is
never shown: a case not handled below still gets a sentence of ours.

Keys and values from the file are shown only when they are plain words: an
error never quotes a file back (``workflows validate /etc/shadow``).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, get_origin

from pydantic_core import ErrorDetails

from agentroom.core.text import counted
from agentroom.room.workflow_schema import (
    VALUE_SYNONYMS,
    FieldError,
    choices_of,
    kinds_of,
    part_at,
    part_of,
    parts_in,
    unit_of,
)

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}\Z")
_PLAIN_VALUE = re.compile(r"[\w .:/@+&|\-]{1,40}\Z")


def shown_key(key: Any) -> str:
    """A key as an error may show it: a plain word, else not quoted (it may be anything)."""
    return key if isinstance(key, str) and _PLAIN_KEY.match(key) else "(a key)"


def shown_value(value: Any) -> str:
    """A value as an error may show it (short and plain), else what kind of value it is."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return repr(value) if _PLAIN_VALUE.match(value) else "this text"
    return _kind_of_value(value)


def format_loc(loc: list[Any]) -> str:
    """``["agents", 1, "model"]`` as ``agents[1].model``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{shown_key(part)}" if out else shown_key(part)
    return out


def parse_path(path: str) -> list[Any]:
    """``agents[1].model`` as ``["agents", 1, "model"]``."""
    parts: list[Any] = []
    for piece in path.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes)
    return parts


def located(err: ErrorDetails) -> tuple[list[Any], str, str]:
    """One pydantic error about a workflow: where (as a path to look up and as shown) and what."""
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, FieldError):  # a check across fields, about one of them
        return parse_path(ctx_error.path), ctx_error.path, ctx_error.message
    loc = _loc(err)
    return loc, format_loc(loc) or "(workflow)", explain(err)


def _loc(err: ErrorDetails) -> list[Any]:
    """Where an error is, without pydantic's own steps (``function-after[...]``)."""
    return [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]


def explain(err: ErrorDetails) -> str:
    """One pydantic error about a workflow, said as what is wrong and what to do."""
    loc = _loc(err)
    kind, value = err["type"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden" and loc:
        return unknown_key(loc[:-1], loc[-1])
    if kind == "value_error":  # our own words, from a validator
        return str(ctx.get("error") or "not valid here")
    name = loc[-1] if loc and isinstance(loc[-1], str) else ""
    parent = part_at(loc[:-1]) if name else None
    field = parent.model_fields.get(name) if parent is not None else None
    if kind == "missing":
        return f"missing; add `{shown_key(name)}:` here" if name else "missing"
    if kind == "literal_error":
        return wrong_choice(loc, value)
    if kind == "greater_than_equal":
        return f"{shown_value(value)} is too small; use {_number(ctx['ge'])} or more"
    if kind == "greater_than":
        return f"{shown_value(value)} is too small; use a number above {_number(ctx['gt'])}"
    if kind == "less_than_equal":
        return f"{shown_value(value)} is too big; use {_number(ctx['le'])} or less"
    if kind == "too_short":
        least = int(ctx.get("min_length", 1))
        noun = name[:-1] if name.endswith("s") else "item"
        return f"needs at least {counted(least, noun)}; add one under `{shown_key(name)}:`"
    if field is not None:
        wanted = expects(field)
    elif (part := part_at(loc)) is not None:  # a whole part of the wrong kind: `strategy: [a]`
        wanted = _mapping(part)
    elif len(loc) > 1 and isinstance(loc[-1], int):  # an item of a list of words: `tools: [5]`
        wanted = "text"
    else:
        return "not valid here; see the keys in docs/workflows.md"
    if value is None:
        return f"is empty; give {wanted}"
    if isinstance(value, str) and re.search(r"\d", value) and kind.endswith("_parsing"):
        return f"takes {wanted}; write the number alone (no quotes, no unit)"
    return f"takes {wanted}, not {_kind_of_value(value)}"


def unknown_key(where: list[Any], key: Any) -> str:
    """An unknown key: the one meant if it is clear, else the keys that are allowed here."""
    part = part_at(where)
    if part is None:
        return "unknown key; remove it"
    known = list(part.model_fields)
    meant = _meant_key(part.synonyms, known, key) if isinstance(key, str) else None
    if meant is not None:
        return f"unknown key; did you mean `{meant}`?"
    below = [name for name, child, _ in parts_in(part) if key in child.model_fields]
    if below:
        return f"`{shown_key(key)}` goes under `{below[0]}:`"
    return f"unknown key; the keys here are: {', '.join(known)}"


def _meant_key(synonyms: dict[str, str], known: list[str], key: str) -> str | None:
    squashed = re.sub(r"[\s\-]+", "_", key.strip()).lower()
    if squashed in known:
        return squashed
    if squashed in synonyms:
        return synonyms[squashed]
    close = difflib.get_close_matches(squashed, known, n=1, cutoff=0.75)
    return close[0] if close else None


def wrong_choice(loc: list[Any], value: Any) -> str:
    parent = part_at(loc[:-1])
    field = parent.model_fields.get(loc[-1]) if parent is not None else None
    choices = choices_of(field.annotation) if field is not None else ()
    allowed = ", ".join(choices)
    if not isinstance(value, str):
        return f"takes one of: {allowed}"
    synonyms = VALUE_SYNONYMS.get(_field_path(loc), {})
    meant = synonyms.get(value.strip().lower())
    if meant is None:
        close = difflib.get_close_matches(value.strip().lower(), choices, n=1, cutoff=0.6)
        meant = close[0] if close else None
    hint = f"; did you mean `{meant}`?" if meant else ""
    return f"{shown_value(value)} is not one of: {allowed}{hint}"


def expects(field: Any) -> str:
    """What a field takes, in words (``a number of seconds above 0, or null``)."""
    choices = choices_of(field.annotation)
    (kind, *_) = kinds_of(field.annotation)
    part, many = part_of(field.annotation)
    if part is not None:
        words = f"a list, each item {_mapping(part)}" if many else _mapping(part)
    elif choices:
        words = f"one of: {', '.join(choices)}"
    elif get_origin(kind) is list:
        words = "a list ([a, b], or one `- item` a line)"
    elif kind is bool:
        words = "true or false"
    elif kind in (int, float):
        unit = unit_of(field)
        words = "a whole number" if kind is int else "a number"
        words = (f"{words} of {unit}" if unit else words) + _range(field)
    else:
        words = "text (in quotes if it looks like a number or holds `: `)"
    if field.annotation is not kind and field.default is not None:  # null means something
        words += ", or null"
    return words


def _range(field: Any) -> str:
    low = high = None
    above = False
    for rule in field.metadata:
        if getattr(rule, "ge", None) is not None:
            low = rule.ge
        if getattr(rule, "gt", None) is not None:
            low, above = rule.gt, True
        if getattr(rule, "le", None) is not None:
            high = rule.le
    if low is not None and high is not None:
        return f" from {_number(low)} to {_number(high)}"
    if low is not None:
        return f" above {_number(low)}" if above else f", at least {_number(low)}"
    return ""


def _mapping(part: Any) -> str:
    """A part in words: ``a mapping (`name:`, `order:`, ...) or just its `name```."""
    keys = ", ".join(f"`{k}:`" for k in list(part.model_fields)[:3])
    if part.shorthand is None:
        return f"a mapping ({keys}, ...)"
    main = part.model_fields[part.shorthand]
    what = "" if main.annotation is str else f" ({expects(main)})"
    return f"a mapping ({keys}, ...) or just its `{part.shorthand}`{what}"


def _kind_of_value(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else "this value"


def _field_path(loc: list[Any]) -> str:
    return ".".join(p for p in loc if isinstance(p, str))


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
