"""Key bindings by id: the ids a keymap may name, and the keys that press a binding now.

A user remaps keys by binding id in the config file (:mod:`agentroom.tui.config`).
Textual applies the keymap itself, but it ignores an id that no binding has,
so a typo (``room.interupt``) used to leave the key as it was without a word;
:func:`keymap_problem` says so, naming the id, the nearest real one and all
of them.  F1 lists the keys as they are after the remapping
(:func:`shown_keys`), not as the code first wrote them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.dom import DOMNode

KeyRow = tuple[str, str, str]
"""One line of the key help: the keys, the binding's id, what they do."""


def bindings_of(nodes: Iterable[type[DOMNode] | DOMNode]) -> list[Binding]:
    """The bindings with an id that ``nodes`` (classes or instances) declare, each id once."""
    seen: set[str] = set()
    found: list[Binding] = []
    for node in nodes:
        for binding in node.BINDINGS:
            if isinstance(binding, Binding) and binding.id and binding.id not in seen:
                seen.add(binding.id)
                found.append(binding)
    return found


def keymap_from(config: Mapping[str, Any], path: Path) -> tuple[dict[str, str], str]:
    """The ``keymap`` of a config file, and a one-line problem ("" if none) when it is no map."""
    keymap = config.get("keymap")
    if keymap is None:
        return {}, ""
    if not isinstance(keymap, dict):
        return {}, (
            f"the keymap in {path} is not used: it must map binding ids to keys "
            "(keymap: {room.interrupt: ctrl+c}); F1 lists the ids"
        )
    return {str(k): str(v) for k, v in keymap.items()}, ""


def keymap_problem(keymap: Mapping[str, str], known: Iterable[str], path: Path) -> str:
    """One line naming the keymap's ids that no binding has, with what to write instead
    ("" when every id is a binding's)."""
    ids = sorted(set(known))
    unknown = [name for name in keymap if name not in ids]
    if not unknown:
        return ""
    named = []
    for name in unknown:
        near = difflib.get_close_matches(name, ids, n=1)
        named.append(f"{name!r} (did you mean {near[0]}?)" if near else repr(name))
    which = "the id" if len(unknown) == 1 else "the ids"
    return (
        f"keymap in {path}: no binding has {which} {', '.join(named)}, so it remaps nothing; "
        f"the ids are {grouped(ids)}"
    )


def grouped(ids: Iterable[str]) -> str:
    """``app.{help,sessions} room.interrupt``: ids by screen, short enough for one message."""
    screens: dict[str, list[str]] = {}
    for binding_id in sorted(ids):
        screen, dot, name = binding_id.partition(".")
        screens.setdefault(screen if dot else "", []).append(name if dot else binding_id)
    parts = []
    for screen, names in screens.items():
        if not screen:
            parts += names
        elif len(names) == 1:
            parts.append(f"{screen}.{names[0]}")
        else:
            parts.append(f"{screen}.{{{','.join(names)}}}")
    return " ".join(parts)


def shown_keys(
    binding: Binding, keymap: Mapping[str, str], display: Callable[[Binding], str]
) -> str:
    """The keys that press ``binding`` now, written as the footer writes them.

    The keymap's keys when it remaps the binding's id, else the binding's own
    (its ``key_display`` if it has one).  ``display`` is the app's
    ``get_key_display``.
    """
    remapped = keymap.get(binding.id or "")
    if remapped is None and binding.key_display:
        return binding.key_display
    keys = remapped if remapped is not None else binding.key
    return ", ".join(
        display(binding.with_key(key.strip())) for key in keys.split(",") if key.strip()
    )


def key_rows(
    bindings: Iterable[Binding], keymap: Mapping[str, str], display: Callable[[Binding], str]
) -> list[KeyRow]:
    """The key help's lines for ``bindings``: effective keys, id, what each does."""
    return [
        (shown_keys(b, keymap, display), b.id or "", b.tooltip or b.description) for b in bindings
    ]
