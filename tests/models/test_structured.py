"""Structured answers: the shapes asked for, reading them back, and tools offered as a choice."""

from __future__ import annotations

import json

from agentroom.agents.tools import Tool
from agentroom.coordination.tools import handoff_tool
from agentroom.models import tool_choice
from agentroom.models.structured import json_object, one_of, picked
from agentroom.models.types import ChatMessage, ToolCall


def test_a_choice_allows_only_its_options_and_every_field_is_required():
    shape = one_of("speaker", "speaker", ["ana", "bo"])
    assert shape.name == "speaker"
    assert shape.schema == {
        "type": "object",
        "properties": {"speaker": {"type": "string", "enum": ["ana", "bo"]}},
        "required": ["speaker"],
        "additionalProperties": False,
    }
    assert shape.max_tokens >= 16


def test_an_answer_is_read_as_json_when_it_is_json_and_as_nothing_otherwise():
    assert json_object('{"speaker": "ana"}') == {"speaker": "ana"}
    assert json_object('```json\n{"speaker": "ana"}\n```') == {"speaker": "ana"}
    # A small model writes a raw newline inside a string now and then.
    assert json_object('{"task": "book\nthe hotel"}') == {"task": "book\nthe hotel"}
    for words in ("ana", "I pick ana.", '["ana"]', '{"speaker": "ana"', "", "{not json}"):
        assert json_object(words) is None
    assert picked('{"speaker": "ana"}', "speaker", ["ana", "bo"]) == "ana"
    assert picked('{"speaker": "carol"}', "speaker", ["ana", "bo"]) is None  # not an option
    assert picked('{"who": "ana"}', "speaker", ["ana", "bo"]) is None
    assert picked("ana", "speaker", ["ana", "bo"]) is None  # words: the caller reads them


def _tools() -> list[Tool]:
    async def delegate(to: str, task: str) -> str:
        """Hand a sub-task to another agent."""
        return ""

    async def recall(key: str) -> str:
        """Read a key from the room's shared memory."""
        return ""

    return [handoff_tool(["billing", "tech"]), Tool(delegate), Tool(recall)]


def test_only_the_tools_the_instructions_name_are_offered_each_once_a_reply():
    specs = [t.spec for t in _tools()]
    system = ChatMessage("system", "Greet the customer, then hand off to billing. Delegate it.")
    asked = ChatMessage("user", "customer: I was charged twice")
    offered = tool_choice.offered([system, asked], specs)
    assert [t.name for t in offered] == ["handoff", "delegate"]  # "hand off" names handoff
    call = ToolCall("c1", "handoff", '{"to": "billing"}')
    after = [
        system,
        asked,
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "handing off to billing", tool_call_id="c1"),
    ]
    assert [t.name for t in tool_choice.offered(after, specs)] == ["delegate"]
    # An earlier reply's calls are history: this reply may call the tool again.
    later = [*after, ChatMessage("assistant", "Billing will help."), asked]
    assert [t.name for t in tool_choice.offered(later, specs)] == ["handoff", "delegate"]
    assert tool_choice.offered([ChatMessage("system", "Be brief."), asked], specs) == []


def test_a_tool_choice_is_none_or_a_named_tool_with_strict_arguments():
    specs = [t.spec for t in _tools()][:1]
    shape = tool_choice.response_format(specs)
    nothing, handoff = shape.schema["anyOf"]
    assert nothing["properties"] == {"tool": {"const": "none"}}
    arguments = handoff["properties"]["arguments"]
    assert handoff["properties"]["tool"] == {"const": "handoff"}
    assert arguments["required"] == ["to", "reason"] and not arguments["additionalProperties"]
    assert arguments["properties"]["to"]["enum"] == ["billing", "tech"]
    assert arguments["properties"]["reason"]["maxLength"] > 0  # free text is bounded
    question = tool_choice.prompt(specs)
    assert question.role == "user" and "- handoff(to, reason): Hand the conversation" in (
        question.content
    )


def test_a_tool_choice_answer_becomes_a_call_and_none_or_words_become_nothing():
    specs = [t.spec for t in _tools()]
    answer = '{"tool": "handoff", "arguments": {"to": "billing", "reason": "a refund"}}'
    call = tool_choice.call(answer, specs, "call_1")
    assert call is not None and (call.id, call.name) == ("call_1", "handoff")
    assert json.loads(call.arguments) == {"to": "billing", "reason": "a refund"}
    for nothing in ('{"tool": "none"}', '{"tool": "os.system"}', "I will hand off.", ""):
        assert tool_choice.call(nothing, specs, "call_2") is None
