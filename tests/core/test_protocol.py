"""The wire protocol: exact round trips and errors that name the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentroom import Envelope, Message, MessageType, ProtocolError, Role, Session
from agentroom.core.ids import MINTED, MintedIds, id_micros, mint, new_id
from agentroom.store.codec import id_bytes


def test_minimal_envelope_from_dict_gets_defaults():
    env = Envelope.from_dict({"sender": "a", "receiver": "b", "content": "hi", "type": "message"})
    assert (env.sender, env.receiver, env.content, env.type) == (
        "a",
        "b",
        "hi",
        MessageType.MESSAGE,
    )
    assert env.seq is None and env.session_id is None and env.reply_to is None
    assert env.metadata == {}
    assert env.created_at.tzinfo is not None and env.created_at.utcoffset() == timedelta(0)
    assert len(env.id) == 36


def test_envelope_round_trips_exactly_through_json():
    env = Envelope(
        sender="alice",
        receiver="*",
        content="hello\nworld ✓",
        type=MessageType.ACTION,
        seq=7,
        session_id="s-1",
        reply_to="r-1",
        metadata={"tool": "search", "args": {"q": "x", "n": [1, 2.5, None, True]}},
    )
    wire = json.loads(json.dumps(env.to_dict()))
    back = Envelope.from_dict(wire)
    assert back == env
    assert back.to_dict() == env.to_dict()
    assert wire["type"] == "action" and wire["created_at"].endswith("Z")


def test_created_at_is_normalised_to_utc():
    local = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    env = Envelope(sender="a", created_at=local)
    assert env.created_at == local and env.created_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"sender": "a", "receiver": "b", "content": "x", "type": "chat"}, "type"),
        ({"sender": "", "receiver": "b", "content": "x", "type": "message"}, "sender"),
        ({"sender": "   ", "content": "x"}, "sender"),
        ({"receiver": "b", "content": "x"}, "sender"),
        ({"sender": "a", "metadata": {"when": object()}}, "metadata.when"),
        ({"sender": "a", "metadata": {"s": {1, 2}}}, "metadata.s"),
        ({"sender": "a", "seq": -1}, "seq"),
        ({"sender": "a", "colour": "red"}, "colour"),
    ],
)
def test_bad_envelopes_are_rejected_naming_the_field(data, field):
    with pytest.raises(ProtocolError) as info:
        Envelope.from_dict(data)
    assert field in info.value.fields
    assert f"'{field}'" in str(info.value)


def test_envelopes_are_immutable():
    env = Envelope(sender="a")
    with pytest.raises(ValueError):
        env.sender = "b"  # type: ignore[misc]


def test_message_and_session_round_trip():
    msg = Message(
        role=Role.ASSISTANT,
        content="done",
        agent_id="bob",
        recipient_id="alice",
        message_type=MessageType.MESSAGE,
        envelope_id=new_id(),
        seq=3,
        metadata={"k": 1},
    )
    assert Message.from_dict(json.loads(json.dumps(msg.to_dict()))) == msg
    session = Session(session_id="room-1", agent_id="bob", title="critic", metadata={"a": [1]})
    assert Session.from_dict(json.loads(json.dumps(session.to_dict()))) == session
    with pytest.raises(ProtocolError, match="'role'"):
        Message.from_dict({"role": "narrator", "content": "x", "agent_id": "a"})
    with pytest.raises(ProtocolError, match="'agent_id'"):
        Session.from_dict({"session_id": "r"})


def test_ids_are_unique_time_sortable_and_carry_their_time():
    stamps = [mint() for _ in range(5000)]
    ids = [i for i, _ in stamps]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    for id_, when in stamps:
        raw = MINTED.claim(id_, when)
        assert raw is not None and raw == id_bytes(id_)
        assert when == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=id_micros(raw))
    assert MINTED.claim(ids[0], stamps[0][1]) is None  # claimed once


def test_the_minted_ledger_hands_over_bytes_only_for_the_envelope_as_minted():
    ledger = MintedIds(limit=3)
    when = datetime.now(UTC)
    ledger.record("a", b"A" * 16, when)
    assert ledger.claim("a", datetime.fromtimestamp(when.timestamp(), UTC)) is None  # a copy
    assert ledger.claim("a", when) is None  # the claim above took it
    ledger.record("b", b"B" * 16, when)
    assert ledger.claim("b", when) == b"B" * 16
    for name in "cdef":  # nobody claiming: it forgets rather than grows
        ledger.record(name, b"x" * 16, when)
    assert len(ledger) <= 3


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    sender=st.text(min_size=1, max_size=12).filter(str.strip),
    content=st.text(max_size=200),
    kind=st.sampled_from(list(MessageType)),
    metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    seq=st.none() | st.integers(0, 2**40),
)
def test_any_valid_envelope_round_trips(sender, content, kind, metadata, seq):
    env = Envelope(sender=sender, content=content, type=kind, metadata=metadata, seq=seq)
    assert Envelope.from_dict(json.loads(json.dumps(env.to_dict()))) == env


def test_metadata_is_copied_and_normalised_on_the_fast_path_and_the_slow_one():
    from enum import StrEnum

    from agentroom.core.protocol import check_metadata

    class Kind(StrEnum):
        A = "a"

    flat = {"event": "usage", "tokens": 3, "cost": None, "ok": True, "x": 1.5}
    checked = check_metadata(flat)
    flat["tokens"] = 99
    assert checked == {"event": "usage", "tokens": 3, "cost": None, "ok": True, "x": 1.5}
    assert type(check_metadata({"kind": Kind.A})["kind"]) is str  # a str subclass: slow path
    assert check_metadata({"nested": {"a": [1, "b"]}}) == {"nested": {"a": [1, "b"]}}
    with pytest.raises(ProtocolError, match="'bad'"):
        check_metadata({"ok": 1, "bad": (1, 2)})
