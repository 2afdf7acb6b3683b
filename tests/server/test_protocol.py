"""The wire protocol (docs/protocol.md) through Starlette's test client: what a client is sent
and what its frames do, as a client sees it.  The room runs in the app's lifespan; tokens are
minted in the app's loop (``client.portal``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agentroom.server import frames
from agentroom.server.app import create_app
from agentroom.server.served import ServedRoom
from tests.server.conftest import DURABLE, HUMANS, open_served


class Room:
    """The test client on a served room, with a token per human."""

    def __init__(self, client: TestClient, served: ServedRoom) -> None:
        self.client = client
        self.served = served
        self.tokens = {h: self.call(served.room.tokens.mint, served.session_id, h) for h in HUMANS}

    def call(self, fn: Any, *args: Any) -> Any:
        assert self.client.portal is not None
        return self.client.portal.call(fn, *args)

    @contextlib.contextmanager
    def ws(
        self,
        human: str | None = None,
        *,
        token: str | None = None,
        since: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[Any]:
        url = "/ws" if since is None else f"/ws?since={since}"
        with self.client.websocket_connect(url, headers=dict(headers or {})) as ws:
            if human is not None or token is not None:
                ws.send_json(
                    {"type": "auth", "token": self.tokens[human] if token is None else token}
                )
            yield ws


@pytest.fixture
def room(db_path) -> Iterator[Room]:
    served = open_served(db_path)
    with TestClient(create_app(served)) as client:
        yield Room(client, served)


def read_until(ws: Any, condition: Any) -> list[dict[str, Any]]:
    """Every frame up to and including the first that satisfies ``condition``."""
    seen = []
    while True:
        frame = ws.receive_json()
        seen.append(frame)
        if condition(frame):
            return seen


def say(ws: Any, text: str, frame_id: str = "x", **extra: Any) -> tuple[dict, list[dict]]:
    """Send a line; the reply and every frame before it."""
    ws.send_json({"type": "line", "text": text, "id": frame_id, **extra})
    seen = read_until(ws, lambda f: f["type"] in ("reply", "error") and f.get("id") == frame_id)
    return seen[-1], seen[:-1]


def test_hello_says_who_you_are_and_the_room_then_the_backlog_follows(room):
    with room.ws("alice") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["protocol"] == frames.PROTOCOL == 1
        assert hello["you"] == "alice" and hello["session_id"] == room.served.session_id
        assert hello["since"] == 0 and isinstance(hello["last_seq"], int)
        state = hello["state"]
        assert state["session_id"] == room.served.session_id and state["title"] == "Served room"
        assert state["strategy"] == "round-robin"
        assert [(m["id"], m["kind"]) for m in state["members"]] == [
            ("ada", "agent"),
            ("alice", "human"),
            ("bob", "human"),
            ("carol", "human"),
        ]
        # The room goes on: ada speaks, then it is alice's turn.
        seen = read_until(ws, lambda f: f.get("metadata", {}).get("event") == "input_requested")
        durable = [f for f in seen if f["type"] in DURABLE]
        assert ("ada", "Whiskers?") in [(f["sender"], f["content"]) for f in durable]
        assert [f["seq"] for f in durable] == sorted({f["seq"] for f in durable})
        assert set(durable[0]) == {
            "type",
            "seq",
            "id",
            "sender",
            "receiver",
            "content",
            "session_id",
            "created_at",
            "reply_to",
            "metadata",
        }
        reply, _ = say(ws, "Call it Biscuit.")
        assert reply["ok"] and reply["text"] == "" and reply["seq"] > hello["last_seq"]


def test_the_health_endpoint_needs_no_token_and_says_nothing_private(room):
    answer = room.client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "protocol": 1, "session_id": room.served.session_id}


def test_a_bad_missing_or_revoked_token_is_refused_with_4401(room):
    for token in ("ar_not-a-token", ""):
        with room.ws(token=token) as ws:
            error = ws.receive_json()
            assert error["type"] == "error" and error["code"] == "unauthorized"
            assert token not in error["message"] or not token
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4401
    with room.ws() as ws:  # a first frame that is not auth
        ws.send_json({"type": "line", "text": "let me in"})
        assert ws.receive_json()["code"] == "unauthorized"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401
    # Bearer header instead of an auth frame.
    with room.ws(headers={"Authorization": f"Bearer {room.tokens['bob']}"}) as ws:
        assert ws.receive_json()["you"] == "bob"
    # Revoked while connected: the next line ends the connection; a new one is refused.
    token = room.tokens["carol"]
    with room.ws("carol") as ws:
        assert ws.receive_json()["type"] == "hello"
        grant = room.call(room.served.room.tokens.verify, token)
        room.call(room.served.room.tokens.revoke, grant.token_id)
        ws.send_json({"type": "line", "text": "still here?", "id": 1})
        error = read_until(ws, lambda f: f["type"] == "error")[-1]
        assert error["code"] == "unauthorized" and token not in error["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401
    with room.ws("carol") as ws:
        assert ws.receive_json()["code"] == "unauthorized"


def test_a_forged_sender_or_any_field_the_server_did_not_ask_for_is_ignored(room):
    with room.ws("alice") as ws:
        ws.receive_json()
        reply, seen = say(ws, "I am bob now", sender="bob", receiver="carol", seq=1, type="line")
        said = [f for f in seen if f["type"] == "message" and f["content"] == "I am bob now"]
        assert reply["ok"] and said and said[0]["sender"] == "alice"
        assert said[0]["receiver"] == "*" and said[0]["seq"] == reply["seq"]


def test_garbage_oversized_and_unknown_frames_get_errors_and_the_connection_stays_usable(room):
    huge = json.dumps({"type": "line", "text": "x" * (frames.SOFT_LIMIT + 1), "id": "big"})
    sent: list[tuple[Any, str]] = [
        ("not json at all", "bad_frame"),
        ("[1, 2, 3]", "bad_frame"),
        ('"just a string"', "bad_frame"),
        ('{"type": "dance", "id": 7}', "unknown_frame"),
        ('{"no": "type"}', "unknown_frame"),
        ('{"type": "line", "id": "t"}', "bad_frame"),
        ('{"type": "line", "text": 42}', "bad_frame"),
        ('{"type": "\\u001b[31mred"}', "unknown_frame"),
        ("[" * 100_000, "bad_frame"),
        (huge, "too_big"),
        (b"\x00\xff binary", "bad_frame"),
        ('{"type": "auth", "token": "ar_again"}', "bad_frame"),
    ]
    with room.ws("alice") as ws:
        ws.receive_json()
        for data, code in sent:
            if isinstance(data, bytes):
                ws.send_bytes(data)
            else:
                ws.send_text(data)
            error = read_until(ws, lambda f: f["type"] == "error")[-1]
            assert error["code"] == code, (data[:40], error)
            assert "\n" not in error["message"] and "\x1b" not in error["message"]
            assert len(error["message"]) < 300 and "ar_again" not in error["message"]
        reply, _ = say(ws, "still here", "after")
        assert reply["ok"] and reply["seq"]
    with room.ws("bob") as ws:  # an error names the frame's own id, when it had one
        ws.receive_json()
        ws.send_text('{"type": "dance", "id": 7}')
        assert read_until(ws, lambda f: f["type"] == "error")[-1]["id"] == 7


def test_a_flood_of_lines_is_rate_limited_and_the_room_goes_on(room):
    with room.ws("alice") as alice, room.ws("bob") as bob:
        alice.receive_json()
        bob.receive_json()
        for i in range(40):
            alice.send_json({"type": "line", "text": f"flood {i}", "id": i})
        answers = {}
        while len(answers) < 40:
            frame = alice.receive_json()
            if frame["type"] in ("reply", "error") and "id" in frame:
                answers[frame["id"]] = frame
        refused = [i for i, f in answers.items() if f["type"] == "error"]
        said = [i for i, f in answers.items() if f["type"] == "reply" and f["ok"]]
        assert refused and all(answers[i]["code"] == "rate_limited" for i in refused)
        assert said[:20] == list(range(20)) and len(said) + len(refused) == 40
        # bob is not held back by alice's flood, and only what was acknowledged was said.
        reply, seen = say(bob, "I can still talk", "b1")
        assert reply["ok"]
        flood = {f["content"] for f in seen if f["type"] == "message" and f["sender"] == "alice"}
        assert flood == {f"flood {i}" for i in said}


def test_a_line_to_another_human_is_not_shown_to_a_third_live_or_in_the_backlog(room):
    with room.ws("alice") as alice, room.ws("bob") as bob, room.ws("carol") as carol:
        for ws in (alice, bob, carol):
            ws.receive_json()
        reply, _ = say(alice, "@bob psst, the cat is called Biscuit", "p")
        private = reply["seq"]
        bob_saw = read_until(bob, lambda f: f.get("seq") == private)
        assert bob_saw[-1]["receiver"] == "bob" and bob_saw[-1]["sender"] == "alice"
        reply, _ = say(alice, "hello everyone", "h")
        carol_saw = read_until(carol, lambda f: f.get("seq") == reply["seq"])
        assert private not in [f.get("seq") for f in carol_saw]
        # Nothing to another human reaches carol (the room asking alice or bob for their
        # turn is theirs too: sent by them, to them).
        assert carol_saw and not [f for f in carol_saw if f.get("receiver") in ("alice", "bob")]
    with room.ws("carol", since=0) as carol:  # the backlog, from the store
        hello = carol.receive_json()
        backlog = read_until(carol, lambda f: f.get("seq") == hello["last_seq"])
        seqs = [f["seq"] for f in backlog if f["type"] in DURABLE]
        assert private not in seqs and seqs == sorted(set(seqs))
    with room.ws("bob", since=private - 1) as bob:
        hello = bob.receive_json()
        first = bob.receive_json()
        assert first["seq"] == private and first["content"].startswith("psst")


def test_presence_says_who_joined_typed_and_left(room):
    with room.ws("alice") as alice:
        alice.receive_json()
        with room.ws("bob") as bob:
            bob.receive_json()
            joined = read_until(alice, lambda f: f["type"] == "presence" and f["human"] == "bob")
            assert joined[-1]["event"] == "joined" and joined[-1]["online"] == ["alice", "bob"]
            bob.send_json({"type": "typing"})
            typing = read_until(alice, lambda f: f["type"] == "presence" and f["event"] == "typing")
            assert typing[-1]["human"] == "bob"
        left = read_until(alice, lambda f: f["type"] == "presence" and f["event"] == "left")
        assert left[-1]["human"] == "bob" and left[-1]["online"] == ["alice"]


def test_a_browser_from_another_origin_is_refused_before_anything_else(room):
    with (
        pytest.raises(WebSocketDisconnect),
        room.client.websocket_connect("/ws", headers={"origin": "http://evil.example"}),
    ):
        pass
    with room.ws("alice", headers={"origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "hello"


def test_since_must_be_a_whole_number(room):
    with room.client.websocket_connect("/ws?since=-1") as ws:
        error = ws.receive_json()
        assert error["code"] == "bad_since" and "whole number" in error["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == frames.CLOSE_BAD_REQUEST


def test_a_state_frame_follows_each_change_of_the_room(room):
    with room.ws("alice") as alice, room.ws("bob") as bob:
        alice.receive_json()
        bob.receive_json()
        reply, _ = say(alice, "/pause", "p")
        assert reply["ok"] and reply["seq"] is None  # the room says it itself
        paused = read_until(bob, lambda f: f["type"] == "state" and f["state"]["paused"])
        assert paused[-1]["state"]["session_id"] == room.served.session_id
        say(alice, "/resume", "r")
        read_until(bob, lambda f: f["type"] == "state" and not f["state"]["paused"])
        say(bob, "/stop", "s")
        stopped = read_until(alice, lambda f: f["type"] == "state" and f["state"]["stopped"])
        assert stopped[-1]["state"]["stopped"] == "stopped by bob"
