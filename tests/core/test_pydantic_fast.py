"""pydantic's private layout, which the fast path writes by hand, is still what it was.

If a pydantic upgrade fails here, read agentroom/core/pydantic_fast.py: either
the layout moved (teach the fast path the new one, or let it fall back to
``model_construct``), or the fast path no longer builds what pydantic builds.
"""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime

import pydantic
import pydantic_core
import pytest
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from agentroom.core import pydantic_fast
from agentroom.core.protocol import (
    Envelope,
    Message,
    MessageType,
    Role,
    stored_envelope,
    trusted_envelope,
)
from agentroom.core.pydantic_fast import trusted

UPGRADE = (
    f"pydantic {pydantic.VERSION} (pydantic-core {pydantic_core.__version__}) broke an "
    "assumption of agentroom/core/pydantic_fast.py"
)


def _envelope_values() -> dict[str, object]:
    return {
        "sender": "alice",
        "receiver": "bob",
        "content": "hello",
        "type": MessageType.ACTION,
        "id": "0190a0b1-c2d3-7e4f-8a5b-6c7d8e9f0a1b",
        "seq": 7,
        "session_id": "room-1",
        "created_at": datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
        "reply_to": None,
        "metadata": {"event": "tool", "n": 2},
    }


def test_basemodel_instances_are_still_the_four_slots_the_fast_path_writes():
    assert tuple(BaseModel.__slots__) == pydantic_fast.EXPECTED_SLOTS, (
        f"{UPGRADE}: BaseModel.__slots__ is now {BaseModel.__slots__!r}"
    )
    assert pydantic_fast.FAST, f"{UPGRADE}: the fast path is off (model_construct instead)"


@pytest.mark.parametrize("cls", [Envelope, Message])
def test_our_models_have_none_of_the_hooks_the_fast_path_leaves_out(cls):
    assert not cls.__private_attributes__
    assert cls.__pydantic_post_init__ is None
    assert cls.model_config.get("extra") == "forbid"


def _same(fast: BaseModel, public: BaseModel) -> None:
    """``fast`` is indistinguishable from ``public`` through pydantic's public API."""
    assert type(fast) is type(public)
    assert fast == public and public == fast, UPGRADE
    assert fast.model_fields_set == public.model_fields_set, UPGRADE
    assert fast.model_extra == public.model_extra, UPGRADE
    assert fast.__pydantic_private__ == public.__pydantic_private__, UPGRADE
    assert fast.model_dump() == public.model_dump(), UPGRADE
    assert fast.model_dump_json() == public.model_dump_json(), UPGRADE
    assert repr(fast) == repr(public), UPGRADE
    assert pickle.loads(pickle.dumps(fast)) == public, UPGRADE
    assert copy.deepcopy(fast) == public, UPGRADE
    assert fast.model_copy(update={"content": "changed"}) == public.model_copy(
        update={"content": "changed"}
    ), UPGRADE
    with pytest.raises(ValidationError):  # still frozen
        fast.content = "x"  # type: ignore[misc]


def test_a_trusted_envelope_equals_the_public_ways_of_building_it():
    values = _envelope_values()
    fast = trusted(Envelope, dict(values))
    _same(fast, Envelope.model_construct(**values))
    _same(fast, Envelope.model_validate(values))
    assert Envelope.from_dict(fast.to_dict()) == fast, UPGRADE


def test_the_protocol_fast_paths_round_trip_through_the_public_path():
    env = trusted_envelope(
        "alice", "*", "hi", MessageType.MESSAGE, 3, "room-1", None, {"event": "x"}
    )
    _same(env, Envelope.model_validate(env.model_dump()))
    _same(stored_envelope(env.model_dump()), env)
    msg = Message.from_envelope(env, Role.USER)
    _same(msg, Message.model_validate(msg.model_dump()))
    assert msg.agent_id == "alice" and msg.seq == 3 and msg.role is Role.USER


def test_the_public_fallback_builds_the_same_model(monkeypatch):
    values = _envelope_values()
    monkeypatch.setattr(pydantic_fast, "FAST", False)
    _same(trusted(Envelope, dict(values)), Envelope.model_validate(values))


def test_a_model_with_hooks_the_fast_path_would_skip_is_refused():
    class WithPrivate(BaseModel):
        model_config = ConfigDict(frozen=True)
        name: str
        _cache: int = PrivateAttr(default=0)

    with pytest.raises(TypeError, match="private attributes"):
        trusted(WithPrivate, {"name": "x"})
