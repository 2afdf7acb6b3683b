"""Text from outside made safe: valid Unicode, inert on a terminal, free of secrets."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from agentroom.core.text import (
    HIDDEN,
    for_terminal,
    json_for_terminal,
    one_line,
    redact,
    split_surrogate,
    valid_data,
    valid_text,
)
from agentroom.models.collect import collect
from agentroom.models.types import Finished, TextDelta


def test_valid_text_keeps_good_text_and_repairs_surrogates():
    assert valid_text("plain") == "plain"
    assert valid_text("héllo 😀") == "héllo 😀"
    assert valid_text("\ud83d\ude00") == "😀"  # a pair as two code points: the emoji
    assert valid_text("a\ud83db") == "a\ufffdb"  # a lone half
    assert valid_text("name-\udce9.txt") == "name-\ufffd.txt"  # surrogateescape'd Latin-1


@given(st.text(alphabet=st.characters(codec=None, categories=None)))
def test_valid_text_always_encodes(text):
    valid_text(text).encode("utf-8")


def test_valid_data_cleans_keys_and_nested_values():
    data = {"k\ud800": ["ok", {"x": "\udfff"}], "n": 3}
    cleaned = valid_data(data)
    assert cleaned == {"k\ufffd": ["ok", {"x": "\ufffd"}], "n": 3}


def test_split_surrogate_holds_back_a_first_half():
    assert split_surrogate("ab\ud83d") == ("ab", "\ud83d")
    assert split_surrogate("ab") == ("ab", "")


async def test_collect_joins_an_emoji_split_across_deltas():
    async def stream():
        yield TextDelta("smile \ud83d")
        yield TextDelta("\ude00!")
        yield TextDelta(" and half \ud83d")
        yield Finished("stop")

    shown: list[str] = []
    reply = await collect(stream(), on_text=shown.append)
    assert reply.text == "smile 😀! and half \ufffd"
    assert "".join(shown) == reply.text
    reply.text.encode("utf-8")


def test_for_terminal_neutralises_escapes_but_keeps_newlines_and_tabs():
    hostile = "title\x1b]0;pwned\x07 clear\x1b[2J\x1b[6n csi\x9b1m\r back\u202e"
    shown = for_terminal(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert "\r" not in shown and "\u202e" not in shown
    assert "␛]0;pwned" in shown
    assert for_terminal("a\n\tb") == "a\n\tb"
    assert for_terminal("café 😀") == "café 😀"


def test_one_line_flattens_and_bounds():
    assert one_line("a\nb\x1b[2J", limit=50) == "a b␛[2J"
    assert len(one_line("x" * 500, limit=20)) == 20


def test_redact_cuts_keys_from_environment_headers_and_shapes():
    env = {"OPENAI_API_KEY": "sk-live-abcdefghijklmnop", "HOME": "/root"}
    text = (
        "401: echo Authorization: Bearer sk-live-abcdefghijklmnop; "
        'body {"api_key": "secret-value-123"} token sk-proj-ZZZZZZZZZZZZZZZZ home /root'
    )
    clean = redact(text, env=env)
    assert "sk-live" not in clean and "secret-value-123" not in clean
    assert "sk-proj" not in clean
    assert "/root" in clean  # not a secret
    assert HIDDEN in clean
    assert redact("key abcdefgh123 here", ["abcdefgh123"], env={}) == f"key {HIDDEN} here"


async def test_a_poisoned_string_on_the_bus_is_saved_repaired_and_saving_goes_on(db_path):
    from agentroom import Engine, HumanAgent
    from agentroom.store import SqliteStore

    async with Engine.open(db_path) as engine:
        human = engine.register_agent(HumanAgent("human"))
        await human.say("half an emoji \ud83d", metadata={"file": "caf\udce9.txt", "n": [1]})
        await human.say("and the next line")
        await engine.flush()
        sid = engine.session_id
    async with await SqliteStore.open(db_path) as store:
        said = [e async for e in store.read_envelopes(sid)]
    assert [e.content for e in said] == ["half an emoji \ufffd", "and the next line"]
    assert said[0].metadata["file"] == "caf\ufffd.txt"


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_json_for_terminal_is_the_same_json_and_inert(text):
    document = json_for_terminal(json.dumps({"k": text}, ensure_ascii=False))
    assert json.loads(document) == {"k": text}
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", document)
