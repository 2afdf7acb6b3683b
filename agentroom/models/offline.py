"""The offline demo model: no network, no key, no weights; deterministic per seed.

Its seed is its own (``OfflineModel(seed=)``), not the request's: the room
varies the sampling seed per session so that a real model does not say the
same words every run, but the demo model's replies are a function of the
prompt, which the tests and the demo rely on.

It is not a language model.  It composes short, role-shaped replies from the
agent's role and description, the task, and the last messages, so a room has
something sensible to show on a machine with nothing configured.  When the
system prompt asks for a closing word (``say TERMINATE when done``), it says
it after a few turns, so workflows that wait for that word come to an end.
It streams word by word at a readable pace, and says what it is wherever a
model name is shown.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
from collections.abc import AsyncIterator

from agentroom.models.types import (
    ChatMessage,
    Finished,
    Hints,
    Member,
    ModelEvent,
    ModelRequest,
    TextDelta,
    ToolCall,
    ToolCallRequested,
    Usage,
)

LABEL = "offline demo model"
PACE_ENV = "AGENTROOM_OFFLINE_WPS"

_STOP_WORDS = """
a an and are as at be but by can could do does for from has have how i if in into is it its
let me my no not of on or our should so than that the their them then there these this those
to up us was we what when where which who why will with would you your about after again all
also any because been before being both each few more most other over same some such through
under until very just only own too out off once here make made need want decide show still
think agree first good start next step steps lay take look looks like well sure really much
many thing things something anything nothing everyone someone people work working kind way
"""
_NO_SEED = None
"""Where the request's seed stood in the seed text before the room passed one: still there,
so every reply is the one it always was (see the module docstring)."""
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_END_WORD = re.compile(
    r"\b(?i:say|reply|respond|write|answer|end|finish|conclude)\w*\s+(?i:with\s+)?"
    r"(?i:the\s+word\s+)?['\"“]?([A-Z][A-Z_]{3,})\b"
)

ARCHETYPES: dict[str, tuple[str, ...]] = {
    "plan": ("plan", "lead", "coordinat", "manager", "architect", "organis", "organiz"),
    "critic": ("critic", "review", "skeptic", "judge", "qa", "test", "audit", "devil"),
    "build": ("build", "coder", "engineer", "develop", "program", "implement", "maker", "book"),
    "research": ("research", "analys", "scien", "investigat", "search", "scout", "budget"),
    "write": ("writ", "summar", "editor", "report", "scribe", "document"),
    "support": ("support", "help", "desk", "service", "triage", "agent", "assist"),
    "debate": ("debat", "pro", "con", "advocate", "oppos", "proponent"),
}

TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # (openers, bodies): {topic}, {point}, {last}, {n} are filled in.
    "plan": (
        ("Here is a plan for {topic}.", "Let me lay out the next steps.", "Building on {last}:"),
        (
            "1. Pin down what {point} must achieve. 2. Draft the simplest version. "
            "3. Check it against the goal and adjust.",
            "First settle {point}, then split the work so each step can be checked on its own.",
            "We should agree on {point} before anything else; the rest follows from it.",
        ),
    ),
    "critic": (
        ("One concern.", "I am not convinced yet.", "Good start, {last}, but"),
        (
            "what happens to {point} when the input is larger than we expect?",
            "the part about {point} has no clear test; how would we know it worked?",
            "{point} looks fine, yet the cost of getting it wrong is not stated.",
        ),
    ),
    "build": (
        ("I can build that.", "Implementation note:", "Picking up from {last}:"),
        (
            "I would start with {point} as a small function and grow it behind tests.",
            "The cheapest working version of {point} takes a few lines; I will sketch it.",
            "{point} fits in one module; the interface stays small so we can swap it later.",
        ),
    ),
    "research": (
        ("What I found:", "From what we know so far,", "Adding some context:"),
        (
            "{point} comes up in most comparable cases, and it usually decides the outcome.",
            "the sources agree on {point}; they disagree on how much it matters for {topic}.",
            "there are three angles on {point}: cost, risk, and time; cost dominates here.",
        ),
    ),
    "write": (
        ("Summary so far:", "To pull this together:", "In short:"),
        (
            "we are working on {topic}; the open question is {point}.",
            "{last} raised {point}, and the group leans towards a simple first version.",
            "the plan covers {point}; what remains is to confirm it and write it down.",
        ),
    ),
    "support": (
        ("Thanks for reaching out.", "I can help with that.", "Understood."),
        (
            "Let us look at {point} first; could you tell me what you tried so far?",
            "For {point}, the usual fix is to restart the step that failed and check the log.",
            "I have noted {point}; I will hand this to the right person if it persists.",
        ),
    ),
    "debate": (
        ("I see it differently.", "Consider the other side.", "Respectfully, {last},"),
        (
            "{point} is exactly why {topic} deserves a closer look before we commit.",
            "the strongest case for {topic} rests on {point}, and that case holds.",
            "if {point} is true, the argument against {topic} loses most of its force.",
        ),
    ),
    "general": (
        ("Noted.", "Good point, {last}.", "Thinking about {topic},"),
        (
            "{point} seems to be the heart of it; I suggest we focus there.",
            "I agree on {point}, with one change: keep the first version small.",
            "let us take {point} one step at a time and check each step.",
        ),
    ),
}

CLOSERS = (
    "I think we have what we need.",
    "That settles it from my side.",
    "We can wrap up here.",
)


# Words the templates themselves use never count as what a message is about, so
# the agents keep talking about the task rather than echoing each other's filler.
_STOP = (
    frozenset(_STOP_WORDS.split())
    | frozenset(
        word.lower()
        for openers, bodies in TEMPLATES.values()
        for text in (*openers, *bodies)
        for word in _WORD.findall(text)
    )
    | frozenset(word.lower() for text in CLOSERS for word in _WORD.findall(text))
)


def archetype(role: str, description: str) -> str:
    text = f"{role} {description}".lower()
    for name, keys in ARCHETYPES.items():
        if any(key in text for key in keys):
            return name
    return "general"


def keywords(text: str, limit: int = 3, skip: frozenset[str] = frozenset()) -> list[str]:
    """The phrase of ``text`` most worth repeating: its best run of content words.

    Consecutive content words ("private cars") read better than the longest
    words picked from all over the sentence; a capitalised word inside a
    sentence (a name: "Lisbon") counts double.
    """
    runs: list[list[str]] = [[]]
    scores: list[int] = [0]
    for index, token in enumerate(re.findall(r"[A-Za-z][A-Za-z'-]*|[^A-Za-z\s]+", text)):
        low = token.lower().strip("'-")
        if len(low) >= 4 and low not in _STOP and low not in skip and low.isalpha():
            if len(runs[-1]) < limit:
                runs[-1].append(token if index and token[0].isupper() else low)
                scores[-1] += len(low) * (2 if index and token[0].isupper() else 1)
        elif runs[-1]:
            runs.append([])
            scores.append(0)
    best = max(range(len(runs)), key=lambda i: (scores[i], -i))
    return runs[best]


def end_word(request: ModelRequest) -> str | None:
    if request.hints.end_word:
        return request.hints.end_word
    for message in request.messages:
        if message.role == "system":
            found = _END_WORD.search(message.content)
            if found:
                return found.group(1)
    return None


class OfflineModel:
    """The built-in demo model; see the module docstring."""

    label = LABEL

    def __init__(self, *, seed: int = 0, words_per_second: float | None = None) -> None:
        self.seed = seed
        if words_per_second is None:
            words_per_second = float(os.environ.get(PACE_ENV, "12") or 0)
        self.words_per_second = words_per_second

    def compose(self, request: ModelRequest) -> str:
        """The whole reply for ``request`` (deterministic for a given seed and request)."""
        return self.respond(request)[0]

    def respond(self, request: ModelRequest) -> tuple[str, list[ToolCall]]:
        """Text and tool calls for ``request``: hints first (a choice, a plan, a step)."""
        hints = request.hints
        dialogue = [m for m in request.messages if m.role != "system"]
        # An unnamed agent seeds as "None", as it always has: the same request, the same reply.
        rng = random.Random(f"{self.seed}|{_NO_SEED}|{hints.agent or None}|{len(dialogue)}")
        if hints.choose_from:
            return choose(hints, dialogue, rng), []
        if hints.expect == "plan" and hints.team:
            return plan(hints, rng), []
        calls = tool_calls(request, dialogue, rng)
        if calls:
            return "", calls
        return self._talk(request), []

    def _talk(self, request: ModelRequest) -> str:
        hints = request.hints
        agent = hints.agent or "assistant"
        kind = archetype(hints.role, hints.description)
        dialogue = [m for m in request.messages if m.role != "system"]
        last = dialogue[-1] if dialogue else None
        last_text = _strip_name(last.content) if last else ""
        last_name = (last.name or _speaker(last.content)) if last else "everyone"
        task = hints.task or (dialogue[0].content if dialogue else "")
        names = frozenset(
            n.lower() for m in dialogue for n in (m.name, _speaker(m.content)) if n
        ) | {agent.lower()}
        topic_words = keywords(task, 2, names) or ["the task"]
        point_words = keywords(last_text, 2, names) or topic_words
        seed_text = f"{self.seed}|{_NO_SEED}|{agent}|{len(dialogue)}|{last_text}"
        rng = random.Random(seed_text)
        openers, bodies = TEMPLATES[kind]
        fill = {
            "topic": " ".join(topic_words[:2]),
            "point": " ".join(point_words),
            "last": last_name,
        }
        opener = rng.choice(openers).format(**fill)
        body = rng.choice(bodies).format(**fill)
        if opener.endswith((".", "?", "!")):
            body = body[0].upper() + body[1:]
        reply = f"{opener} {body}"
        reply = reply[0].upper() + reply[1:]
        if hints.expect == "step":
            reply = f"Done: {hints.step.rstrip('.')}. {reply}"
        tool_result = next(
            (m.content for m in reversed(request.messages) if m.role == "tool"), None
        )
        if tool_result is not None:
            reply = f"Based on what came back ({_clip(tool_result, 90)}): {reply}"
        target = handoff_target(hints, last_text)
        if target is not None:
            reply = f"{reply} This one is for {target}. HANDOFF: {target}"
        word = end_word(request)
        own_turns = sum(1 for m in dialogue if m.role == "assistant")
        if word and own_turns >= 2 + rng.randrange(2):
            reply = f"{rng.choice(CLOSERS)} {word}"
        return reply

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        text, calls = self.respond(request)
        delay = 1.0 / self.words_per_second if self.words_per_second > 0 else 0.0
        words = re.findall(r"\S+\s*", text)
        for i, word in enumerate(words):
            await asyncio.sleep(delay if i else 0)
            yield TextDelta(word)
        for call in calls:
            yield ToolCallRequested(call)
        prompt = sum(len(m.content.split()) for m in request.messages)
        yield Usage(prompt_tokens=prompt, completion_tokens=len(words) + 8 * len(calls))
        yield Finished("tool_calls" if calls else "stop")


VERBS = {
    "plan": "outline the approach to",
    "critic": "check the risks of",
    "build": "put together a first version of",
    "research": "find out what matters for",
    "write": "write up",
    "support": "handle the questions about",
    "debate": "weigh the case for",
    "general": "work on",
}


def _words_of(text: str) -> set[str]:
    return {w.lower().rstrip("s") for w in _WORD.findall(text) if w.lower() not in _STOP}


def choose(hints: Hints, dialogue: list[ChatMessage], rng: random.Random) -> str:
    """Pick one option: the candidate whose role fits the last message best, or a value."""
    options = list(hints.choose_from)
    last = _strip_name(dialogue[-1].content) if dialogue else ""
    said = _words_of(last)
    candidates = {c.id: c for c in hints.candidates}
    if candidates:
        scored = [
            (len(said & _words_of(f"{c.role} {c.description}")), o)
            for o in options
            for c in [candidates.get(o, Member(o))]
        ]
        best = max(score for score, _ in scored)
        picked = rng.choice([o for score, o in scored if score == best])
        return picked
    numbered = [(len(said & _words_of(o)), i) for i, o in enumerate(options)]
    top = max(score for score, _ in numbered)
    index = rng.choice([i for score, i in numbered if score == top])
    return f"I pick {index + 1}: {options[index]}"


def plan(hints: Hints, rng: random.Random) -> str:
    """A numbered plan with one step per team member, each naming who does it."""
    topic = " ".join(keywords(hints.task, 3)) or "the task"
    lines = []
    for n, member in enumerate(hints.team, 1):
        kind = archetype(member.role, "")
        lines.append(f"{n}. {member.id}: {VERBS[kind]} {topic}.")
    return "Here is the plan:\n" + "\n".join(lines)


def handoff_target(hints: Hints, last_text: str) -> str | None:
    """Someone else whose role fits the last message better than this agent's does."""
    targets = hints.handoff_targets
    if not targets or not last_text:
        return None
    said = _words_of(last_text)
    mine = len(said & _words_of(f"{hints.role} {hints.description}"))
    scored = [
        (len(said & _words_of(f"{t.role} {t.description}")), t.id)
        for t in targets
        if t.id and t.role != "human"
    ]
    if not scored:
        return None
    best, target = max(scored)
    return target if best > mine else None


def tool_calls(
    request: ModelRequest, dialogue: list[ChatMessage], rng: random.Random
) -> list[ToolCall]:
    """Call one of the room's tools once per turn, early in the conversation."""
    if not request.tools or any(m.role == "tool" for m in dialogue[-3:]):
        return []
    own_turns = sum(1 for m in dialogue if m.role == "assistant" and not m.tool_calls)
    if own_turns >= 2 or request.hints.expect in ("step", "answer"):
        return []
    topic = " ".join(keywords(request.hints.task, 3)) or "the question"
    tools = {tool.name: tool for tool in request.tools}
    for name in ("spawn_subagent", "delegate", "remember"):
        tool = tools.get(name)
        if tool is None:
            continue
        if name == "spawn_subagent":
            args = {
                "role": f"{topic.split()[0]} analyst",
                "instructions": "Answer one narrow question in two sentences.",
                "task": f"What is the single most important fact about {topic}?",
            }
        elif name == "delegate":
            choices = tool.parameters.get("properties", {}).get("to", {}).get("enum") or []
            if not choices:
                continue
            args = {"to": rng.choice(choices), "task": f"Look into {topic} and report back."}
        else:
            args = {
                "key": topic.replace(" ", "-"),
                "value": f"{request.hints.agent or None} notes {topic}",
            }
        call_id = f"call_{request.hints.agent or None}_{len(dialogue)}"
        return [ToolCall(call_id, name, json.dumps(args))]
    return []


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _speaker(content: str) -> str:
    head, sep, _ = content.partition(": ")
    return head if sep and " " not in head and len(head) <= 64 else "everyone"


def _strip_name(content: str) -> str:
    head, sep, rest = content.partition(": ")
    return rest if sep and " " not in head and len(head) <= 64 else content


__all__ = ["LABEL", "OfflineModel"]
