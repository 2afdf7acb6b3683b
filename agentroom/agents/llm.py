"""An agent whose words come from a model, streamed into the room as they arrive.

A turn: build the prompt from the agent's own bounded view, stream the
model's reply (shown to live viewers as ephemeral chunks about 20 times a
second; they are never stored and take no ``seq``), run any tools the model
asks for (each call and result an ``action`` envelope), then publish the reply
as one ``message``, the turn's durable record.  Token usage and cost go out
as a ``status`` after every model call, and so does every wait before a retry.
An interrupted turn publishes what it had as its durable reply, marked
interrupted (or a ``status`` if it had nothing), after the usage of the call
it cut short (as far as it got: those tokens were spent too);
a model failure publishes what it had, then raises so the room can report it.

A turn the room wants a structured answer from (a plan, a vote: the hints'
``response_format``) asks the model for exactly that, with no tools and no
stop sequence, and enough tokens for the whole shape.

A turn is bounded whatever the model does: at most ``max_tool_calls`` calls
run (the rest are answered "not run" so every call has its answer), the
request after the limit offers no tools, and a model that still asks for
tools ends its turn there.  So a turn makes at most ``max_tool_calls + 1``
model requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from typing import Any

from agentroom.agents.base import Agent, AgentSettings, Turn
from agentroom.agents.tools import Tool, Toolbox
from agentroom.conversation import ContextWindow
from agentroom.core.errors import ModelError
from agentroom.core.events import Event
from agentroom.core.ids import new_id
from agentroom.core.protocol import BROADCAST, Envelope, Message, MessageType, Role
from agentroom.models.collect import REPLY_LIMIT, collect
from agentroom.models.pricing import cost_of
from agentroom.models.spec import make_client, resolve
from agentroom.models.types import (
    ChatMessage,
    ModelClient,
    ModelReply,
    ModelRequest,
    ToolCall,
    Usage,
    Waiting,
)

STREAM_INTERVAL = 0.05
"""Seconds between streamed chunks on the bus (20 Hz)."""


class StreamPublisher:
    """Coalesces a model's text deltas into stream chunks at a bounded rate."""

    def __init__(self, agent: Agent, turn_id: str, model: str, interval: float) -> None:
        self._agent = agent
        self._turn_id = turn_id
        self._model = model
        self._interval = interval
        self._parts: list[str] = []
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self.chunks = 0

    async def add(self, text: str) -> None:
        self._parts.append(text)
        if self._loop.time() - self._last >= self._interval:
            await self.flush()

    async def flush(self, *, final: bool = False) -> None:
        """Publish what is pending; at the end only if the reply was already being shown.

        A reply that arrived whole within one interval (a fast model) is not
        streamed at all: the message that follows at once carries it.
        """
        if not self._parts or (final and not self.chunks):
            self._parts.clear()
            return
        text = "".join(self._parts)
        self._parts.clear()
        self._last = self._loop.time()
        self.chunks += 1
        await self._agent.handle.publish_chunk(text, turn=self._turn_id, model=self._model)


class LLMAgent(Agent):
    """A participant backed by a :class:`~agentroom.models.types.ModelClient`."""

    kind = "llm"

    def __init__(
        self,
        id: str,
        model: ModelClient | str | None = None,
        *,
        role: str = "",
        description: str = "",
        settings: AgentSettings | None = None,
        tools: Iterable[Tool | str | Any] = (),
        max_tool_calls: int = 8,
        stop: Sequence[str] = (),
        stream_interval: float = STREAM_INTERVAL,
        tool_audience: str = "*",
        reply_limit: int = REPLY_LIMIT,
        humans: Sequence[str] | None = None,
    ) -> None:
        super().__init__(id, role=role, description=description, settings=settings)
        self.humans = None if humans is None else tuple(humans)
        """The people in the room, for the prompt made when none is given (None: not known,
        the prompt says "a human")."""
        if isinstance(model, str):
            model = make_client(model)
        elif model is None and self.settings.model:
            model = make_client(self.settings.model)
        self._model = model
        self.toolbox = Toolbox(tools)
        self.max_tool_calls = max_tool_calls
        self.stop = tuple(stop)
        self.stream_interval = stream_interval
        self.tool_audience = tool_audience
        self.reply_limit = reply_limit
        self._prompt_cache: list[ChatMessage] = []  # converted history, from _prompt_base on
        self._prompt_base = 0
        self._prompt_generation = 0

    async def model(self) -> ModelClient:
        """The agent's model; if none was named, the room's default (see ``spec.resolve``)."""
        if self._model is None:
            self._model = make_client((await resolve()).spec)
        return self._model

    @property
    def client(self) -> ModelClient | None:
        """The model this agent was given (None: the room's default, resolved at its first turn).

        A sub-agent it spawns speaks through the same one.
        """
        return self._model

    @property
    def model_label(self) -> str:
        return self._model.label if self._model is not None else "(default model)"

    # -- the prompt -----------------------------------------------------------------------

    def system_prompt(self, turn: Turn) -> str:
        """The agent's own prompt (``{task}`` in it stands for the room's task), or one made
        from its id, role, description and the task."""
        if self.settings.system_prompt:
            return self.settings.system_prompt.replace("{task}", turn.task or "the task at hand")
        who = f"You are {self.id}" + (f", the {self.role}" if self.role else "")
        parts = [f"{who}, in a group chat with other agents{self._company()}."]
        if self.description:
            parts.append(self.description)
        if turn.task:
            parts.append(f"The task: {turn.task}")
        parts.append("Reply briefly, in your own voice; do not write other speakers' lines.")
        return " ".join(parts)

    def _company(self) -> str:
        """Who besides agents is in the room, as the made prompt says it."""
        if self.humans is None or len(self.humans) == 1:
            return " and a human"
        if not self.humans:
            return ""
        return f" and {len(self.humans)} people ({', '.join(self.humans)})"

    def prompt(self, turn: Turn) -> list[ChatMessage]:
        """The chat messages for this turn: system prompt, then this agent's own view.

        The view is a window sliding along the agent's history by a message or
        two per turn, so each position is converted once and kept (in a list
        that follows the window) rather than the whole window every turn.
        """
        messages = [ChatMessage("system", self.system_prompt(turn))]
        window = turn.messages
        if not isinstance(window, ContextWindow):  # a hand-made turn: nothing to reuse
            messages.extend(self._chat_message(m) for m in window)
            return messages
        start, generation = window.start, window.generation
        cache = self._prompt_cache
        base = self._prompt_base
        if generation != self._prompt_generation or not base <= start <= base + len(cache):
            cache.clear()
            base = self._prompt_base = start
            self._prompt_generation = generation
        elif start - base > len(window):  # forget what slid out of the window long ago
            del cache[: start - base]
            base = self._prompt_base = start
        offset = start - base
        chat = self._chat_message
        for i in range(len(cache) - offset, len(window)):
            cache.append(chat(window[i]))
        messages.extend(cache[offset : offset + len(window)])
        return messages

    def _chat_message(self, message: Message) -> ChatMessage:
        action = message.message_type is MessageType.ACTION
        if message.role is Role.ASSISTANT:
            return ChatMessage(
                "assistant", f"[action] {message.content}" if action else message.content
            )
        if message.role is Role.TOOL:
            return ChatMessage("user", f"[tool result] {message.content}")
        to = " (to you)" if message.recipient_id == self.id else ""
        kind = " [action]" if action else ""
        return ChatMessage("user", f"{message.agent_id}{to}{kind}: {message.content}")

    # -- the turn --------------------------------------------------------------------------

    async def take_turn(self, turn: Turn) -> Envelope:
        client = await self.model()
        label = client.label
        messages = self.prompt(turn)
        turn_id = new_id()
        stream = StreamPublisher(self, turn_id, label, self.stream_interval)
        reply = ModelReply()
        reported = True  # whether the request ``reply`` answers has had its usage published
        calls_left = self.max_tool_calls

        async def waiting(event: Waiting) -> None:
            text = f"waiting {_duration(event.seconds)}: {event.reason}"
            await self._status(text, Event.WAITING, turn_id, model=label, seconds=event.seconds)

        hints = turn.hints.speaking_as(self.id, self.role, self.description, turn.task)
        shape = hints.response_format
        max_tokens, stop = self.settings.max_tokens, self.stop
        if shape is not None:  # an answer cut short is no answer; a stop is for prose
            max_tokens, stop = max(max_tokens or 0, shape.max_tokens), ()
            calls_left = 0  # a structured answer is the whole turn: no tools
        try:
            while True:
                reply, reported = ModelReply(), False
                request = ModelRequest(
                    messages=tuple(messages),
                    temperature=self.settings.temperature,
                    max_tokens=max_tokens,
                    stop=stop,
                    tools=self.toolbox.specs if calls_left > 0 else (),
                    seed=turn.seed,
                    hints=hints,
                    response_format=shape,
                )
                await collect(
                    client.stream(request),
                    into=reply,
                    on_text=stream.add,
                    on_wait=waiting,
                    limit=self.reply_limit,
                )
                reported = True
                await self._report_usage(label, reply, messages)
                if not reply.tool_calls or reply.cut:
                    break
                if calls_left <= 0:  # asked again, though offered none: the turn ends here
                    await stream.flush(final=True)
                    if reply.text.strip():
                        return await self._publish(turn, reply, turn_id, label, interrupted=False)
                    return await self._status(
                        f"{self.id} asked for more tools after this turn's limit of "
                        f"{self.max_tool_calls} tool calls; its turn ends without a reply",
                        Event.TOOL_LIMIT,
                        turn_id,
                        model=label,
                    )
                messages.extend(await self._run_tools(reply, turn_id, calls_left))
                calls_left = max(0, calls_left - len(reply.tool_calls))
                if not calls_left:
                    messages.append(
                        ChatMessage(
                            "user",
                            f"You have used your {self.max_tool_calls} tool calls for this turn. "
                            "Answer now without tools.",
                        )
                    )
        except asyncio.CancelledError:
            await asyncio.shield(stream.flush())
            if not reported:  # what streamed before the interrupt is spent all the same
                await asyncio.shield(self._report_usage(label, reply, messages, interrupted=True))
            if reply.text:
                envelope = await asyncio.shield(
                    self._publish(turn, reply, turn_id, label, interrupted=True)
                )
            else:  # nothing said: a status, never an empty message
                said = f"{self.id} was interrupted before saying anything"
                envelope = await asyncio.shield(
                    self._status(said, Event.INTERRUPTED, turn_id, agent=self.id)
                )
            if turn.control.absorb_interrupt():  # the room asked for it: the turn ends here
                return envelope
            raise
        except ModelError:
            await stream.flush()
            if reply.text:
                if not reported:
                    await self._report_usage(label, reply, messages, interrupted=True)
                await self._publish(turn, reply, turn_id, label, interrupted=True)
            raise
        await stream.flush(final=True)
        if not reply.text.strip():
            return await self._status(
                f"{label} returned an empty reply", Event.EMPTY_REPLY, turn_id, model=label
            )
        return await self._publish(turn, reply, turn_id, label, interrupted=False)

    async def _status(
        self, text: str, event: Event, turn_id: str, *, to: str = BROADCAST, **metadata: Any
    ) -> Envelope:
        """Tell the room something about this turn (a status: shown, never fed to a model)."""
        return await self.handle.publish(
            text,
            to=to,
            type=MessageType.STATUS,
            metadata={"event": event, "turn": turn_id, **metadata},
        )

    async def _publish(
        self, turn: Turn, reply: ModelReply, turn_id: str, label: str, *, interrupted: bool
    ) -> Envelope:
        metadata: dict[str, Any] = {
            "turn": turn_id,
            "model": label,
            "finish_reason": reply.finish_reason or ("interrupted" if interrupted else ""),
        }
        if interrupted:
            metadata["interrupted"] = True
        if reply.cut:
            metadata["cut"] = True
        return await self.publish_reply(turn, reply.text, metadata=metadata)

    async def _report_usage(
        self,
        label: str,
        reply: ModelReply,
        messages: list[ChatMessage],
        *,
        interrupted: bool = False,
    ) -> None:
        """Publish a model call's usage: as the model reported it, else as counted.

        A call cut short (an interrupt, a failure mid-stream) is counted too,
        as far as it got, and says so: its tokens were spent all the same.
        """
        usage = reply.usage
        estimated = usage is None
        if usage is None:  # the server did not say: about four characters a token
            prompt_chars = sum(len(m.content) for m in messages)
            usage = Usage(prompt_chars // 4, len(reply.text) // 4)
        cost = cost_of(label, usage)
        shown = "cost unknown" if cost is None else f"${cost:.4f}"
        approx = "~" if estimated else ""
        await self.handle.publish(
            f"{label}: {approx}{usage.prompt_tokens} in, {approx}{usage.completion_tokens} out, "
            f"{shown}",
            type=MessageType.STATUS,
            metadata={
                "event": Event.USAGE,
                "agent": self.id,
                "model": label,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cost_usd": cost,
                "estimated": estimated,
                **({"interrupted": True} if interrupted else {}),
            },
        )

    async def _run_tools(self, reply: ModelReply, turn_id: str, allowed: int) -> list[ChatMessage]:
        """Run the first ``allowed`` calls, each call and result published as actions; answer
        the rest "not run" (one status says how many).  Returns them all as prompt messages."""
        out = [ChatMessage("assistant", reply.text, tool_calls=tuple(reply.tool_calls))]
        for call in reply.tool_calls[:allowed]:
            await self.handle.publish(
                f"{call.name}({call.arguments})",
                to=self.tool_audience,
                type=MessageType.ACTION,
                metadata={
                    "event": Event.TOOL_CALL,
                    "turn": turn_id,
                    "call_id": call.id,
                    "tool": call.name,
                    "arguments": _json_or_text(call.arguments),
                },
            )
            result = await self.toolbox.run(call)
            await self.handle.publish(
                result.content,
                to=self.tool_audience,
                type=MessageType.ACTION,
                metadata={
                    "event": Event.TOOL_RESULT,
                    "turn": turn_id,
                    "call_id": call.id,
                    "tool": call.name,
                    "ok": result.ok,
                },
            )
            out.append(ChatMessage("tool", result.content, tool_call_id=call.id))
        refused: list[ToolCall] = reply.tool_calls[allowed:]
        if refused:
            limit = f"this turn's limit of {self.max_tool_calls} tool calls is used"
            await self._status(
                f"{len(refused)} of {self.id}'s tool calls not run: {limit}",
                Event.TOOL_LIMIT,
                turn_id,
                to=self.tool_audience,
                refused=len(refused),
            )
            out.extend(ChatMessage("tool", f"not run: {limit}", tool_call_id=c.id) for c in refused)
        return out


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def _json_or_text(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments
