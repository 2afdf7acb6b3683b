"""What rooms really publish matches the declared event payloads, live and read back.

The payloads in :mod:`agentroom.core.events` are declarations, not code the
producers run through; this holds them to the truth.  Every sample workflow
runs on the offline model (plans, votes, handoffs, spawns, tool calls, the
selector), and every envelope that names an event must carry exactly the keys
its payload declares, of the declared types, as a plain JSON string name.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from agentroom import Engine
from agentroom.core.events import PAYLOADS, Event
from agentroom.core.protocol import Envelope
from agentroom.models.offline import OfflineModel
from agentroom.room.workflows import load_workflow, samples_dir

SAMPLES = sorted(samples_dir().glob("*.yaml"))
_ADAPTERS: dict[Event, TypeAdapter[Any]] = {}


def problems(envelope: Envelope) -> list[str]:
    """What is wrong with ``envelope``'s metadata against its event's payload (nothing: [])."""
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


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
async def test_every_event_a_sample_room_publishes_matches_its_payload(path, db_path):
    workflow = load_workflow(path)
    for human in workflow.humans:
        human.timeout = 0.01
    async with Engine.open(db_path) as engine:
        result = await engine.run_workflow(workflow, default_model=OfflineModel(words_per_second=0))
        stored = [e async for e in engine.store.read_envelopes(engine.session_id)]
    live = [p for e in result.envelopes for p in problems(e)]
    assert not live, "\n".join(live)
    saved = [p for e in stored for p in problems(e)]
    assert not saved, "\n".join(saved)
    assert {e.metadata.get("event") for e in result.envelopes} >= {Event.SPEAKER_SELECTED}


def test_the_check_finds_what_does_not_match():
    def envelope(**metadata: Any) -> Envelope:
        return Envelope(sender="a", receiver="*", content="x", seq=1, metadata=metadata)

    usage = {"agent": "a", "model": "m", "prompt_tokens": 1, "completion_tokens": 2}
    assert problems(envelope(event="usage", **usage, cost_usd=None, estimated=False)) == []
    assert problems(envelope(note="no event")) == []
    assert problems(envelope(event="paused", extra=1)) == [
        "#1 message 'paused' from a: undeclared key 'extra'"
    ]
    assert "missing key 'agent'" in problems(envelope(event="skipped"))[0]
    (wrong,) = problems(envelope(event="step_done", step="three"))
    assert "step\n  Input should be a valid integer" in wrong
    assert "not a member of Event" in problems(envelope(event="no_such_event"))[0]
