"""Holding an envelope to its event's declared payload (``agentroom.core.events.PAYLOADS``).

The payloads are declarations the producers do not run through; tests that
run real rooms use :func:`problems` to keep them true.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from agentroom.core.events import PAYLOADS, Event
from agentroom.core.protocol import Envelope

_ADAPTERS: dict[Event, TypeAdapter[Any]] = {}


def problems(envelope: Envelope) -> list[str]:
    """What is wrong with ``envelope``'s metadata against its event's payload (nothing: []).

    Exactly the declared keys, of the declared types (strictly: no coercion),
    and the name a plain string that is a member of :class:`Event`.
    """
    meta = envelope.metadata
    name = meta.get("event")
    if name is None:
        return []
    where = f"#{envelope.seq} {envelope.type.value} {name!r} from {envelope.sender}"
    if type(name) is not str or name not in Event.__members__.values():
        return [f"{where}: not a member of Event, or not a plain string"]
    event = Event(name)
    payload = PAYLOADS[event]
    keys = payload.__required_keys__ | payload.__optional_keys__
    found = [f"{where}: undeclared key {k!r}" for k in sorted(set(meta) - keys)]
    found += [f"{where}: missing key {k!r}" for k in sorted(payload.__required_keys__ - set(meta))]
    adapter = _ADAPTERS.setdefault(event, TypeAdapter(payload))
    try:
        adapter.validate_python(meta, strict=True)
    except ValidationError as exc:
        found.append(f"{where}: {exc}")
    return found
