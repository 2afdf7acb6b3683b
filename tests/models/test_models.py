"""Replay client, offline model, spec strings and resolution order, prices."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from agentroom.core.errors import ModelConfigError, ScriptExhaustedError
from agentroom.models.collect import collect
from agentroom.models.offline import LABEL, OfflineModel, archetype, end_word
from agentroom.models.pricing import cost_of, price_of
from agentroom.models.replay import ReplayClient
from agentroom.models.spec import ModelSpec, make_client, resolve
from agentroom.models.types import (
    NO_HINTS,
    ChatMessage,
    Hints,
    Member,
    ModelReply,
    ModelRequest,
    TextDelta,
    Usage,
)


def request(*texts: str, system: str = "", **hints) -> ModelRequest:
    messages = [ChatMessage("system", system)] if system else []
    messages += [ChatMessage("user", t) for t in texts]
    return ModelRequest(tuple(messages), hints=Hints(**hints))


# -- replay ---------------------------------------------------------------------------------


async def test_replay_streams_word_by_word_and_records_requests():
    client = ReplayClient(["Hello there, friend.", {"text": "", "tool_calls": [{"name": "t"}]}])
    events = [e async for e in client.stream(request("hi"))]
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == ["Hello ", "there, ", "friend."]
    reply = await collect(client.stream(request("again")))
    assert reply.tool_calls[0].name == "t" and reply.finish_reason == "tool_calls"
    assert [r.messages[-1].content for r in client.requests] == ["hi", "again"]
    with pytest.raises(
        ScriptExhaustedError, match=r"no reply left for request #3 \(its script has 2\)"
    ):
        await collect(client.stream(request("more")))


async def test_replay_from_yaml_file(tmp_path):
    script = tmp_path / "script.yaml"
    script.write_text(
        """
replies:
  - first reply
  - text: second
    usage: {prompt_tokens: 5, completion_tokens: 1}
"""
    )
    client = ReplayClient.from_file(script)
    assert client.label == "replay:script.yaml"
    assert (await collect(client.stream(request("x")))).text == "first reply"
    second = await collect(client.stream(request("y")))
    assert second.usage == Usage(5, 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("just a string")
    with pytest.raises(ModelConfigError, match="must be a list of replies"):
        ReplayClient.from_file(bad)
    with pytest.raises(ModelConfigError, match="cannot read replay script"):
        ReplayClient.from_file(tmp_path / "missing.yaml")


# -- offline ---------------------------------------------------------------------------------


async def test_offline_is_deterministic_for_a_seed_and_labels_itself():
    req = request(
        "bob: we should cache the parser output", task="speed up the build", role="critic"
    )
    a = await collect(OfflineModel(seed=1, words_per_second=0).stream(req))
    b = await collect(OfflineModel(seed=1, words_per_second=0).stream(req))
    others = {OfflineModel(seed=s, words_per_second=0).compose(req) for s in range(2, 12)}
    assert a.text == b.text and a.text
    assert len(others) > 1  # the seed matters
    assert a.usage is not None and a.usage.completion_tokens == len(a.text.split())
    assert OfflineModel().label == LABEL == "offline demo model"
    # The room's sampling seed (new each session) is not the demo model's: the same prompt
    # gets the same reply in every session, which the tests and the demo rely on.
    sampled = {OfflineModel(seed=1).compose(replace(req, seed=s)) for s in (None, 7, 1 << 30)}
    assert sampled == {a.text}


def test_offline_replies_fit_the_role_and_the_conversation():
    assert archetype("planner", "") == "plan"
    assert archetype("", "reviews code for bugs") == "critic"
    assert archetype("mystery", "") == "general"
    model = OfflineModel(seed=3, words_per_second=0)
    reply = model.compose(
        request("alice: the database migration worries me", role="critic", task="ship the release")
    )
    assert "database" in reply or "migration" in reply


def test_offline_ends_with_the_word_the_system_prompt_asks_for():
    system = "You review the plan. Say TERMINATE when the plan is complete."
    assert end_word(request(system=system)) == "TERMINATE"
    model = OfflineModel(seed=0, words_per_second=0)
    early = ModelRequest((ChatMessage("system", system), ChatMessage("user", "a: start")))
    assert "TERMINATE" not in model.compose(early)
    late = ModelRequest(
        (
            ChatMessage("system", system),
            *(ChatMessage("assistant" if i % 2 else "user", f"turn {i}") for i in range(10)),
        )
    )
    assert model.compose(late).endswith("TERMINATE")


def test_hints_speaking_as_fills_in_only_who_is_speaking_and_keeps_every_other_field():
    said = {name: f"set {name}" for name in Hints._fields}
    said |= {"expect": "step", "team": (Member("a"),), "candidates": (Member("b"),)}
    said |= {"choose_from": ("x",), "handoff_targets": (Member("c"),)}
    everything = Hints(**said)
    assert everything.speaking_as("me", "my role", "my description", "my task") == everything
    blank = Hints(expect="answer").speaking_as("me", "my role", "my description", "my task")
    assert blank == Hints("me", "my role", "my description", "my task", expect="answer")
    assert Hints() == NO_HINTS and NO_HINTS.speaking_as("me", "", "", "") == Hints(agent="me")


def test_offline_shapes_its_reply_from_each_declared_hint():
    model = OfflineModel(seed=0, words_per_second=0)
    team = (Member("ana", "researcher"), Member("bo", "writer"))
    assert model.compose(request("go", expect="plan", team=team, task="a trip to Porto")) == (
        "Here is the plan:\n1. ana: find out what matters for Porto.\n2. bo: write up Porto."
    )
    picked = model.compose(
        request("x: the report needs writing", choose_from=("ana", "bo"), candidates=team)
    )
    assert picked == "bo"  # the candidate whose role fits the last message
    assert model.compose(request("x: Lisbon or Porto?", choose_from=("Lisbon", "Porto"))) in (
        "I pick 1: Lisbon",
        "I pick 2: Porto",
    )
    assert model.compose(request("go", expect="step", step="Book the train.")).startswith(
        "Done: Book the train. "
    )
    handed = model.compose(
        request(
            "x: my invoice is wrong",
            role="triage",
            handoff_targets=(Member("bill", "invoice billing"),),
        )
    )
    assert handed.endswith("HANDOFF: bill")
    assert end_word(request(end_word="FIN")) == "FIN"


async def test_offline_streams_at_a_readable_pace_and_stops_at_once_when_cancelled():
    model = OfflineModel(seed=0, words_per_second=20)
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await collect(model.stream(request("hello there")))
    words = len(reply.text.split())
    assert loop.time() - started >= (words - 1) / 20 * 0.9
    # Cancelled after its first word, a reply keeps what came and not one word more.
    partial, first = ModelReply(), asyncio.Event()
    task = asyncio.create_task(
        collect(model.stream(request("x")), into=partial, on_text=lambda _: first.set())
    )
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert partial.interrupted and len(partial.text.split()) == 1


# -- specs and resolution ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "model", "url"),
    [
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", None),
        ("ollama:llama3.2:1b", "ollama", "llama3.2:1b", None),
        (
            "openai-compat:qwen@http://localhost:8000/v1",
            "openai-compat",
            "qwen",
            "http://localhost:8000/v1",
        ),
        ("replay:tests/script.yaml", "replay", "tests/script.yaml", None),
        ("offline", "offline", "", None),
        (" OFFLINE ", "offline", "", None),
        ("local", "local", "", None),
        ("local:~/models/qwen.gguf", "local", "~/models/qwen.gguf", None),
    ],
)
def test_spec_parsing_round_trips(text, kind, model, url):
    spec = ModelSpec.parse(text)
    assert (spec.kind, spec.model, spec.base_url) == (kind, model, url)
    assert ModelSpec.parse(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gpt-4", "unknown model spec"),
        ("openai:", "names no model"),
        ("openai-compat:qwen", "MODEL@BASE_URL"),
        ("openai-compat:qwen@localhost:8000", "http"),
        ("offline:fast", "unknown model spec"),
    ],
)
def test_bad_specs_say_what_is_accepted(text, message):
    with pytest.raises(ModelConfigError, match=message) as info:
        ModelSpec.parse(text)
    assert "openai:MODEL" in str(info.value)


def test_openai_without_a_key_says_which_variable():
    with pytest.raises(ModelConfigError, match="set OPENAI_API_KEY"):
        make_client("openai:gpt-4o-mini", env={})
    client = make_client("openai:gpt-4o-mini", env={"OPENAI_API_KEY": "sk-test"})
    assert client.label == "openai:gpt-4o-mini" and "sk-test" not in repr(client)
    assert make_client("ollama:llama3.2", env={}).base_url == "http://localhost:11434/v1"
    assert (
        make_client("ollama:x", env={"OLLAMA_HOST": "10.0.0.5:11434"}).base_url
        == "http://10.0.0.5:11434/v1"
    )


async def _no_ollama(url):
    return None


async def _ollama_with(url):
    return ["qwen2.5:0.5b", "llama3.2"]


async def test_resolution_order():
    env = {"AGENTROOM_MODEL": "ollama:from-env", "OPENAI_API_KEY": "sk-x"}
    first = await resolve(workflow="ollama:wf", cli="ollama:cli", env=env, probe=_ollama_with)
    assert (str(first.spec), first.source) == ("ollama:wf", "workflow")
    assert str((await resolve(cli="ollama:cli", env=env, probe=_no_ollama)).spec) == "ollama:cli"
    assert str((await resolve(env=env, probe=_no_ollama)).spec) == "ollama:from-env"
    keyed = await resolve(env={"OPENAI_API_KEY": "sk-x"}, probe=_ollama_with)
    assert str(keyed.spec) == "openai:gpt-4o-mini" and keyed.source == "$OPENAI_API_KEY"
    chosen = await resolve(
        env={"OPENAI_API_KEY": "sk", "AGENTROOM_OPENAI_MODEL": "gpt-4.1"}, probe=_no_ollama
    )
    assert str(chosen.spec) == "openai:gpt-4.1"
    local = await resolve(env={}, probe=_ollama_with)
    assert (str(local.spec), local.source) == ("ollama:qwen2.5:0.5b", "ollama")
    packaged = await resolve(env={}, probe=_no_ollama, local_missing=lambda: None)
    assert (str(packaged.spec), packaged.source) == ("local", "local")
    assert "SmolLM2-135M-Instruct is installed" in packaged.reason
    fallback = await resolve(
        env={}, probe=_no_ollama, local_missing=lambda: "llama-cpp-python is not installed"
    )
    assert fallback.spec.kind == "offline"
    assert [s.source for s in fallback.steps] == [
        "workflow",
        "--model",
        "$AGENTROOM_MODEL",
        "$OPENAI_API_KEY",
        "ollama",
        "local",
        "offline",
    ]
    assert "no server at http://localhost:11434" in fallback.steps[4].outcome
    assert fallback.steps[5].outcome == "llama-cpp-python is not installed"
    assert "for a real model install the local one" in fallback.reason


# -- prices ------------------------------------------------------------------------------------


def test_costs_known_free_and_unknown():
    assert cost_of("openai:gpt-4o-mini", Usage(1_000_000, 1_000_000)) == pytest.approx(0.75)
    assert cost_of("ollama:llama3.2", Usage(5000, 5000)) == 0.0
    assert cost_of(LABEL, Usage(10, 10)) == 0.0
    assert price_of("openai-compat:mystery") is None
    assert cost_of("openai-compat:mystery", Usage(1, 1)) is None


def test_user_prices_override(tmp_path, monkeypatch):
    from agentroom.models import pricing

    table = tmp_path / "prices.yaml"
    table.write_text("openai-compat:mine: {input: 1.0, output: 2.0}\n")
    monkeypatch.setattr(pricing, "prices_file", lambda: table)
    assert cost_of("openai-compat:mine", Usage(1_000_000, 500_000)) == pytest.approx(2.0)
