"""Role-based: the next speaker is picked for their role.

Who may speak: the candidates, less the last speaker (unless the workflow
allows a repeat), narrowed each turn by an optional candidate function (like
AutoGen's ``candidate_func``).  When that leaves one, they speak: nobody is
asked.  Else, in order: an explicit ``@name`` in the last message wins; else
a rule function from the workflow; else a selector model reads the roles and
the recent history and names one.  It is asked for ``{"speaker": ID}`` with
the eligible ids as the only values allowed, which a backend that enforces
structured answers (llama.cpp, most OpenAI-compatible servers) holds it to:
a small model's pick is then always usable.  Elsewhere an unusable answer
(no name, several, or one nobody here has) is retried up to ``retries``
times, each retry telling it what was wrong and sampled afresh (a new seed,
a temperature above 0); an answer that comes back the same ends the retries
at once, since asking a deterministic model again would only repeat it.
Then the stated default speaks; so does it when the selector or the rule
fails (a model error, an exception), which the room is told as a status.  A
human's line to one agent gives it the turn before this strategy is asked at
all (:mod:`agentroom.coordination.floor`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from agentroom.coordination.strategy import Participant, RoomView, Speak, Strategy, mentions
from agentroom.core.events import Event
from agentroom.core.protocol import Envelope, MessageType
from agentroom.core.text import one_line, redact
from agentroom.models.collect import collect
from agentroom.models.pricing import cost_of
from agentroom.models.structured import one_of, picked
from agentroom.models.types import ChatMessage, Hints, Member, ModelClient, ModelRequest, Usage

Rule = Callable[[list[Participant], list[Envelope]], str | None]
Candidates = Callable[[list[Participant], list[Envelope]], Iterable[str] | str]
"""Who may speak this turn: given the eligible participants and the recent messages."""

SPEAKER_KEY = "speaker"
"""The selector answers ``{"speaker": ID}``, where the backend can hold it to that."""
RETRY_TEMPERATURE = 0.7

SELECTOR_PROMPT = (
    "You choose who speaks next in a group chat. The participants:\n{roster}\n"
    "Read the conversation, then answer with the id of the one participant who should "
    "speak next, and nothing else."
)


class RoleBased(Strategy):
    name = "role-based"

    def __init__(
        self,
        *,
        candidates: Sequence[str] | None = None,
        selector: ModelClient | None = None,
        rule: Rule | None = None,
        default: str | None = None,
        allow_repeat: bool = False,
        retries: int = 3,
        history: int = 10,
        candidate_func: Candidates | None = None,
    ) -> None:
        self.candidates = list(candidates) if candidates else None
        self.candidate_func = candidate_func
        self.selector = selector
        self.rule = rule
        self.default = default
        self.allow_repeat = allow_repeat
        self.retries = retries
        self.history = history

    def _eligible(self, room: RoomView) -> list[Participant]:
        pool = [
            p
            for p in room.participants.values()
            if self.candidates is None or p.id in self.candidates
        ]
        if self.allow_repeat or len(pool) < 2:
            return pool
        return [p for p in pool if p.id != room.last_speaker]

    async def next_speaker(self, room: RoomView) -> Speak | None:
        eligible = self._eligible(room)
        if self.candidate_func is not None and eligible:
            eligible = await self._narrowed(room, eligible)
        if not eligible:
            return None
        if len(eligible) == 1:
            return Speak(eligible[0].id, by="the only one who may speak now")
        ids = {p.id: p for p in eligible}
        last = room.last_message
        if last is not None:
            named = [n for n in mentions(last.content, ids) if n != last.sender]
            if named:
                return Speak(named[0], by=f"@{named[0]} in {last.sender}'s message")
        if self.rule is not None:
            try:
                picked = self.rule(eligible, list(room.recent))
            except Exception as exc:  # a broken rule must not end the run
                await _failed(room, "the workflow's rule", exc, "the default speaks")
                picked = None
            if picked in ids:
                return Speak(picked, by="the workflow's rule")
        if self.selector is not None:
            picked = await self._ask_selector(room, eligible)
            if picked is not None:
                return Speak(picked, by=f"the selector ({self.selector.label})")
        fallback = self.default if self.default in ids else eligible[0].id
        return Speak(fallback, by="the default")

    async def _narrowed(self, room: RoomView, eligible: list[Participant]) -> list[Participant]:
        """The eligible whom the candidate function names (all of them if it names none)."""
        assert self.candidate_func is not None
        try:
            named = self.candidate_func(eligible, list(room.recent))
            allowed = {named} if isinstance(named, str) else {str(n) for n in named}
        except Exception as exc:
            await _failed(room, "the candidate function", exc, "anyone eligible may speak")
            return eligible
        narrowed = [p for p in eligible if p.id in allowed]
        if not narrowed:
            await room.say(
                f"the candidate function named nobody who may speak now "
                f"({', '.join(sorted(allowed)) or 'nobody'}); anyone eligible may speak",
                type=MessageType.STATUS,
                metadata={"event": Event.CANDIDATES_IGNORED, "named": sorted(allowed)},
            )
            return eligible
        return narrowed

    async def _ask_selector(self, room: RoomView, eligible: list[Participant]) -> str | None:
        assert self.selector is not None
        roster = "\n".join(
            f"- {p.id}: {p.role or 'participant'}"
            + (f" ({p.description})" if p.description else "")
            for p in eligible
        )
        recent = list(room.recent)[-self.history :]
        conversation = "\n".join(f"{e.sender}: {e.content}" for e in recent) or "(nothing yet)"
        messages = [
            ChatMessage("system", SELECTOR_PROMPT.format(roster=roster)),
            ChatMessage("user", conversation),
        ]
        ids = [p.id for p in eligible]
        hints = Hints(
            agent="selector",
            choose_from=tuple(ids),
            candidates=tuple(Member(p.id, p.role, p.description) for p in eligible),
            task=room.task,
        )
        shape = one_of("speaker", SPEAKER_KEY, ids)
        seed = room.sampling_seed()
        unusable: list[str] = []
        for attempt in range(1 + self.retries):
            request = ModelRequest(
                tuple(messages),
                # A retry is sampled afresh: the same prompt at temperature 0 would only
                # bring the same answer back.
                temperature=0.0 if attempt == 0 else RETRY_TEMPERATURE,
                max_tokens=max(20, shape.max_tokens),
                seed=None if seed is None else seed + attempt,
                hints=hints,
                response_format=shape,
            )
            try:
                reply = await collect(self.selector.stream(request))
            except Exception as exc:  # the model is down, refuses the key, ...: not the end
                await _failed(
                    room, f"the selector ({self.selector.label})", exc, "the default speaks"
                )
                return None
            await self._report_usage(room, reply.usage, reply.text, messages)
            answer = reply.text.strip()
            structured = picked(answer, SPEAKER_KEY, ids)
            if structured is not None:
                return structured
            found, problem = pick_name(answer, ids, set(room.participants))
            if found is not None:
                return found
            again = answer in unusable  # it will not say anything else: stop asking
            unusable.append(answer)
            last = again or attempt >= self.retries
            if again:
                problem += ", the same answer again"
            await room.say(
                f"selector answer unusable ({problem}): {answer[:80]!r}; "
                + (
                    "the default speaks" if last else f"asking again ({attempt + 1}/{self.retries})"
                ),
                type=MessageType.STATUS,
                metadata={
                    "event": Event.SELECTOR_RETRY,
                    "attempt": attempt + 1,
                    "problem": problem,
                },
            )
            if last:
                return None
            messages.append(ChatMessage("assistant", reply.text))
            messages.append(
                ChatMessage(
                    "user",
                    f"That was not usable ({problem}). "
                    f"Answer with exactly one of: {', '.join(ids)}.",
                )
            )
        return None

    async def _report_usage(
        self, room: RoomView, usage: Usage | None, text: str, messages: list[ChatMessage]
    ) -> None:
        assert self.selector is not None
        estimated = usage is None
        if usage is None:
            usage = Usage(sum(len(m.content) for m in messages) // 4, len(text) // 4)
        cost = cost_of(self.selector.label, usage)
        await room.say(
            f"selector {self.selector.label}: {usage.prompt_tokens} in, "
            f"{usage.completion_tokens} out",
            type=MessageType.STATUS,
            metadata={
                "event": Event.USAGE,
                "agent": "selector",
                "model": self.selector.label,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cost_usd": cost,
                "estimated": estimated,
            },
        )


async def _failed(room: RoomView, who: str, exc: Exception, then: str) -> None:
    """Tell the room that part of the choice failed, and what happens instead."""
    error = one_line(redact(str(exc))) or type(exc).__name__
    await room.say(
        f"{who} failed: {error}; {then}",
        type=MessageType.STATUS,
        metadata={"event": Event.SELECTOR_FAILED, "by": who, "error": type(exc).__name__},
    )


def pick_name(answer: str, eligible: list[str], everyone: set[str]) -> tuple[str | None, str]:
    """The one eligible id an answer names, or (None, what was wrong with it)."""
    text = answer.strip()
    if not text:
        return None, "empty answer"
    found = [
        name
        for name in eligible
        if re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE)
    ]
    if len(found) == 1:
        return found[0], ""
    if len(found) > 1:
        return None, f"several names: {', '.join(found)}"
    others = [n for n in everyone if re.search(rf"\b{re.escape(n)}\b", text, re.IGNORECASE)]
    if others:
        return None, f"{others[0]} cannot speak now"
    return None, "no participant named"
