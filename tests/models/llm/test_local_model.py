"""The packaged local model (SmolLM2-135M-Instruct on llama-cpp-python), for real.

These run where ``agentroom[local]`` and the model package are installed
(``make test-llm`` and ``.ci/run`` install them); elsewhere they are skipped
and say why.  They check the plumbing, never what a 135M model says.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from agentroom import Engine, Envelope, MessageType
from agentroom.agents import AgentSettings, LLMAgent
from agentroom.coordination.tools import handoff_tool
from agentroom.core.chunk import StreamChunk
from agentroom.core.errors import ModelConfigError
from agentroom.models.collect import collect
from agentroom.models.local import LocalClient, missing
from agentroom.models.spec import make_client
from agentroom.models.structured import one_of, picked
from agentroom.models.types import ChatMessage, Finished, ModelRequest, TextDelta, Usage
from agentroom.store import SqliteStore

WHY = missing()
pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(WHY is not None, reason=f"the local model cannot run here: {WHY}"),
]

SETTINGS = AgentSettings(max_tokens=40, temperature=0.3)


def test_the_spec_finds_the_packaged_file_and_names_it():
    client = make_client("local")
    assert isinstance(client, LocalClient)
    assert client.label == "local:SmolLM2-135M-Instruct"
    assert client.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert client.path.stat().st_size > 50_000_000
    with pytest.raises(ModelConfigError, match="no GGUF file at"):
        make_client("local:/nowhere/model.gguf")


def question(system: str, user: str, **options: Any) -> ModelRequest:
    """A request of a system prompt and one user message."""
    messages = (ChatMessage("system", system), ChatMessage("user", user))
    return ModelRequest(messages=messages, **options)


async def test_a_stream_is_tokens_then_usage_then_a_finish():
    client = make_client("local")
    request = question(
        "You answer in one short sentence.",
        "What colour is the sky on a clear day?",
        max_tokens=24,
        temperature=0.0,
    )
    events = [event async for event in client.stream(request)]
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    (usage,) = [e for e in events if isinstance(e, Usage)]
    assert len(texts) > 1 and "".join(texts).strip()
    assert usage.completion_tokens == len(texts) and usage.prompt_tokens > 10
    assert isinstance(events[-1], Finished) and events[-1].reason in ("stop", "length")


async def test_two_agents_take_four_turns_streamed_and_persisted(db_path):
    model = make_client("local")
    async with Engine.open(db_path) as engine:
        engine.task = "Plan a day trip to the sea."
        for name, role in (("ana", "planner"), ("ben", "critic")):
            engine.register_agent(
                LLMAgent(name, model, role=role, settings=SETTINGS, stream_interval=0)
            )
        watch = engine.bus.subscribe_live()
        replies = []
        for name in ("ana", "ben", "ana", "ben"):
            replies.append(await engine.run_agent_turn(name))
        seen = await watch.get_batch()
        session = engine.session_id
    for reply in replies:
        assert reply.type is MessageType.MESSAGE and reply.content.strip()
        assert reply.metadata["model"] == "local:SmolLM2-135M-Instruct"
        chunks = [
            c for c in seen if isinstance(c, StreamChunk) and c.turn == reply.metadata["turn"]
        ]
        assert len(chunks) > 1 and "".join(c.text for c in chunks) == reply.content
    usage = [e for e in seen if isinstance(e, Envelope) and e.metadata.get("event") == "usage"]
    assert len(usage) == 4 and all(u.metadata["completion_tokens"] > 0 for u in usage)
    store = await SqliteStore.open(db_path)
    try:
        saved = [e async for e in store.read_envelopes(session, type=MessageType.MESSAGE)]
    finally:
        await store.close()
    assert [e.content for e in saved] == [r.content for r in replies]


async def test_an_interrupt_mid_reply_keeps_the_partial_text_and_the_model_goes_on(db_path):
    model = make_client("local")
    settings = AgentSettings(max_tokens=200, temperature=0.7)
    async with Engine.open(db_path) as engine:
        engine.register_agent(LLMAgent("ana", model, settings=settings, stream_interval=0))
        # The first streamed chunk tells us the reply is under way.
        chunks = engine.bus.subscribe_live()
        engine.task = "Describe, at length, everything you would pack for a week by the sea."
        turn = asyncio.ensure_future(engine.run_agent_turn("ana"))
        async for item in chunks:
            if isinstance(item, StreamChunk):
                break
        assert engine.interrupt("ana")
        partial = await turn
        assert partial.metadata.get("interrupted") is True and partial.content.strip()
        assert partial.metadata["finish_reason"] == "interrupted"
        # The model is free again and whole: the next turn is an ordinary reply.
        engine.task = "Say hello."
        nxt = await engine.run_agent_turn("ana")
        assert nxt.content.strip() and not nxt.metadata.get("interrupted")


async def test_a_structured_answer_is_always_of_its_shape_whatever_the_seed():
    client = make_client("local")
    ids = ["author", "reviewer", "security", "lead"]
    request = question(
        "You choose who speaks next: author, reviewer, security, lead.",
        "reviewer: the file name comes from the query string.",
        temperature=1.0,  # sampled widely: the grammar, not luck, keeps the answer usable
        response_format=one_of("speaker", "speaker", ids),
    )
    for seed in (1, 2, 3):
        reply = await collect(client.stream(replace(request, seed=seed)))
        assert picked(reply.text, "speaker", ids) is not None, reply.text


async def test_a_tool_its_instructions_name_is_offered_as_a_choice_and_called_well_formed():
    client = make_client("local")
    tool = handoff_tool(["billing", "tech", "human"]).spec
    system = "You are the front desk. Greet the customer and hand off to billing or tech."
    asked = ChatMessage("user", "customer: I was charged twice and want a refund.")
    request = ModelRequest(
        messages=(ChatMessage("system", system), asked), tools=(tool,), seed=4, max_tokens=30
    )
    reply = await collect(client.stream(request))
    if reply.tool_calls:  # the model may still answer "none" and speak instead
        (call,) = reply.tool_calls
        assert call.name == "handoff"
        assert json.loads(call.arguments)["to"] in ("billing", "tech", "human")
        result = ChatMessage("tool", "handing off", tool_call_id=call.id)
        request = replace(
            request,
            messages=(
                *request.messages,
                ChatMessage("assistant", "", tool_calls=(call,)),
                result,
            ),
        )
        reply = await collect(client.stream(request))  # each named tool once a reply
    assert not reply.tool_calls and reply.text.strip()
    # A tool its instructions do not name is not offered: the model speaks.
    plain = replace(request, messages=(ChatMessage("system", "You answer briefly."), asked))
    assert not (await collect(client.stream(plain))).tool_calls


async def test_the_seed_decides_the_sampling_so_two_sessions_do_not_say_the_same_words():
    """The issue: every run of the default debate was word for word the same."""
    client = make_client("local")
    request = question(
        "You argue for a motion in one sentence.",
        "Motion: cities should ban private cars from their centres.",
        max_tokens=24,
        temperature=0.8,
    )

    async def said(seed: int) -> str:
        return (await collect(client.stream(replace(request, seed=seed)))).text

    # (The same seed need not say the same words again in this process: a prompt read
    # from llama.cpp's cache the second time gives slightly other numbers.  A run started
    # afresh with --seed reads its prompts in the same order, and does.)
    assert len({await said(11), await said(12), await said(13)}) > 1
