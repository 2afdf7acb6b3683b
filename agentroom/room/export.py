"""Saved sessions as text: JSONL (one envelope per line, every field), Markdown, and JSON.

Markdown is for reading: the dialogue in full, the room's routine status
lines (who speaks next: :func:`~agentroom.room.formatting.is_routine`, what
the TUI folds too) folded away by default (``ROUTINE_CHOICES``), and the
token usage summed once at the end.

Every form is written as the envelopes are read, a chunk at a time, so a
session of any length is written in the same, small, memory.  A file gets the
text exactly as it was said, written whole or not at all and readable by you
only (:func:`export_to_file`); stdout (a terminal, a pager) gets it with
control characters made inert (:func:`inert_writer`).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any

from agentroom.core.files import replacing
from agentroom.core.protocol import Envelope
from agentroom.core.records import RoomInfo
from agentroom.core.text import counted, for_terminal, json_for_terminal
from agentroom.room.formatting import describe, is_quiet, is_routine
from agentroom.room.usage import UsageLedger

FORMATS = ("md", "jsonl")
ROUTINE_CHOICES = ("fold", "show", "hide")
"""What a Markdown export does with the room's routine status lines (who speaks next,
before every turn): fold each run of them into a collapsed ``<details>`` block (the
default, so the dialogue reads on), show them inline, or leave them out.  Other status
lines (an error, a pause, a stop) are always shown; JSONL always has every envelope."""

Write = Callable[[str], object]


def jsonl_line(env: Envelope) -> str:
    return json.dumps(env.to_dict(), ensure_ascii=False, separators=(",", ":"))


def markdown_header(room: RoomInfo) -> str:
    title = room.title or "agentroom session"
    agents = ", ".join(room.agents) or "no agents"
    return (
        f"# {title}\n\n"
        f"- session: `{room.id}`\n"
        f"- started: {room.created_at:%Y-%m-%d %H:%M:%S} UTC\n"
        f"- agents: {agents}\n"
        f"- messages: {room.messages} (envelopes: {room.last_seq})\n"
        f"- state: {room.live_state}\n"
    )


def markdown_entry(env: Envelope) -> str:
    """One envelope in Markdown: a message under a heading, anything else one quoted line."""
    entry = describe(env, "file")
    who = entry.who
    stamp = f"{entry.created_at:%H:%M:%S}"
    if entry.said:
        body = entry.text.rstrip() or "*(empty)*"
        return f"\n### {who}\n<sub>#{entry.seq} · {stamp}</sub>\n\n{body}\n"
    text = " ".join(entry.text.split()) or "(empty)"
    return f"\n> *{entry.kind.value}* · {who} · #{entry.seq} · {stamp}: {text}\n"


def markdown_fold(routine: list[Envelope]) -> str:
    """A run of routine lines folded into one collapsed block that says how many it holds.

    Inside it a line's ``&`` and ``<`` are written as HTML entities: a ``</details>``
    said in one must not end the block early (the page shows the text as it was said).
    """
    lines = "".join(
        markdown_entry(env).replace("&", "&amp;").replace("<", "&lt;") for env in routine
    )
    return (
        f"\n<details><summary>{counted(len(routine), 'routine line')}</summary>\n"
        f"{lines}\n</details>\n"
    )


def markdown_footer(usage: UsageLedger) -> str:
    """What the model calls cost, said once at the end (their usage reports are quiet)."""
    return f"\n---\n\nusage: {usage.summary()}\n" if usage.total.calls else ""


def inert_writer(fmt: str, write: Write) -> Write:
    """``write`` for a terminal: no escape sequence reaches it; JSONL stays the same JSON."""
    inert = json_for_terminal if fmt == "jsonl" else for_terminal
    return lambda text: write(inert(text))


async def write_export(
    room: RoomInfo,
    envelopes: AsyncIterator[Envelope],
    fmt: str,
    write: Write,
    routine: str = "fold",
) -> int:
    """Stream a session out in ``fmt``; returns how many envelopes were written.

    ``routine`` (one of :data:`ROUTINE_CHOICES`) says what Markdown does with
    routine status lines; a folded run is held until the next line that is not
    one (a run is a line or two between two messages, however long the session).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if routine not in ROUTINE_CHOICES:
        raise ValueError(
            f"unknown routine choice {routine!r}; use one of: {', '.join(ROUTINE_CHOICES)}"
        )
    count = 0
    usage = UsageLedger()
    held: list[Envelope] = []
    if fmt == "md":
        write(markdown_header(room))
    async for env in envelopes:
        count += 1
        if fmt == "jsonl":
            write(jsonl_line(env) + "\n")
        elif is_quiet(env):
            usage.offer(env)
        elif routine == "show" or not is_routine(env):
            if held:
                write(markdown_fold(held))
                held = []
            write(markdown_entry(env))
        elif routine == "fold":
            held.append(env)
    if fmt == "md":
        if held:
            write(markdown_fold(held))
        write(markdown_footer(usage))
    return count


async def export_to_file(
    room: RoomInfo,
    envelopes: AsyncIterator[Envelope],
    fmt: str,
    path: str | os.PathLike[str],
    routine: str = "fold",
) -> int:
    """Write a session to ``path``: atomically (an old file stays whole until the new one is
    complete, even after a SIGKILL) and 0600; returns how many envelopes were written."""
    with replacing(path) as fh:
        return await write_export(room, envelopes, fmt, fh.write, routine)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def write_json_document(
    head: dict[str, Any],
    key: str,
    items: AsyncIterable[Any] | Iterable[Any],
    write: Callable[[str], object],
) -> int:
    """Write ``head | {key: [items...]}`` as JSON, one item per line, as the items come.

    The document is the one ``json.dumps`` would make of it (indented
    differently), but it is never held whole: a session's envelopes are
    written as they are read.  Items are ``to_dict``-able or JSON data.
    Returns how many items were written.
    """
    write("{\n")
    for name, value in head.items():
        write(f"  {_json(name)}: {_json(value)},\n")
    write(f"  {_json(key)}: ")
    count = await write_json_list(items, write, indent="  ")
    write("}\n")
    return count


async def write_json_list(
    items: AsyncIterable[Any] | Iterable[Any],
    write: Callable[[str], object],
    *,
    indent: str = "",
) -> int:
    """Write ``[items...]`` as JSON, one item per line, as the items come."""
    write("[")
    count = 0
    async for item in _aiter(items):
        data = item.to_dict() if hasattr(item, "to_dict") else item
        write(f"{',' if count else ''}\n{indent}  {_json(data)}")
        count += 1
    write(f"\n{indent}]\n" if count else "]\n")
    return count


async def _aiter(items: AsyncIterable[Any] | Iterable[Any]) -> AsyncIterator[Any]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
