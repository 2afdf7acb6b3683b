"""What a workflow says: who is in the room, how turns are given, when to stop.

The pydantic models of a workflow, with the checks that need more than one
field (a strategy's agents exist, the vote policy has voters).  A
cross-field error is a :class:`FieldError`, so the loader
(:mod:`agentroom.room.workflows`) can point at the line of the field it is
about.  A session keeps its workflow as this schema's JSON.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentroom.agents.tools import refusal, unsafe_reason
from agentroom.bus import PARTICIPANT_ID
from agentroom.core.errors import ModelConfigError
from agentroom.models.spec import ModelSpec

StrategyName = Literal["round-robin", "role-based", "plan-driven", "handoff"]
STRATEGIES: tuple[str, ...] = get_args(StrategyName)
WhileSpeaking = Literal["enqueue", "interrupt", "reject"]
"""What a human's line does while an agent is mid-turn (``room.while_speaking``)."""


class _Strict(BaseModel):
    """A part of a workflow: unknown keys are refused; the obvious shorthands are read.

    Shorthands, so that a person can write what they mean: a lone value for a
    part that has one main key (``strategy: handoff``, ``memory: true``, an
    agent given as just its id), one item for a list (``stop: END``), and any
    spelling of a choice that differs only in case, spaces, ``_`` or ``-``
    (``Round_Robin``, ``role based``).  What is stored is the canonical form.
    """

    model_config = ConfigDict(extra="forbid")

    shorthand: ClassVar[str | None] = None
    """The key a lone value stands for (``strategy: handoff`` is ``strategy: {name: handoff}``)."""
    synonyms: ClassVar[dict[str, str]] = {}
    """Keys people write for one of this part's keys (``stop`` for ``termination``), so that an
    unknown key can be answered with the one meant; never accepted silently."""

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if cls.shorthand is not None and _stands_for(data, cls.model_fields[cls.shorthand]):
            data = {cls.shorthand: data}
        if not isinstance(data, dict):
            return data
        fixed = dict(data)
        for key, value in data.items():
            field = cls.model_fields.get(key) if isinstance(key, str) else None
            if field is not None:
                fixed[key] = _spelled_out(value, field.annotation)
        return fixed


def _stands_for(value: Any, field: Any) -> bool:
    """Whether a lone ``value`` can be the main key's (a bool for ``enabled``, text otherwise)."""
    if field.annotation is bool:
        return isinstance(value, bool)
    return isinstance(value, str)


def _spelled_out(value: Any, annotation: Any) -> Any:
    """``value`` with a shorthand made canonical: a choice's spelling, one item for a list."""
    kinds = kinds_of(annotation)
    if isinstance(value, str):
        choices = choices_of(annotation)
        if choices:
            return canonical_choice(value, choices) or value
        if any(get_origin(kind) is list for kind in kinds):
            return [value]
    return value


def kinds_of(annotation: Any) -> tuple[Any, ...]:
    """The types a field's annotation allows, but ``None`` (``int | None`` is ``(int,)``)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(a for a in get_args(annotation) if a is not type(None))
    return (annotation,)


def choices_of(annotation: Any) -> tuple[str, ...]:
    """The values a ``Literal`` field allows (none for any other field)."""
    for kind in kinds_of(annotation):
        if get_origin(kind) is Literal:
            return tuple(str(a) for a in get_args(kind))
    return ()


def _squashed(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).lower()


def canonical_choice(value: str, choices: Sequence[str]) -> str | None:
    """The choice ``value`` spells, ignoring case, spaces, ``_`` and ``-``; None if none."""
    wanted = _squashed(value)
    return next((choice for choice in choices if _squashed(choice) == wanted), None)


IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::|\.)[A-Za-z_]\w*\Z")
"""``package.module:function`` (or ``package.module.function``)."""

ROOM_TOOLS = {
    "delegate": "delegation",
    "spawn_subagent": "subagents",
    "remember": "memory",
    "recall": "memory",
}
"""The room's own tools, by the workflow section that gives them (``handoff`` always may)."""


def _check_import_path(value: str | None) -> str | None:
    if value is not None and not IMPORT_PATH.match(value):
        raise ValueError(f"{value!r} is not an import path; write package.module:function")
    return value


def _tool_name(path: str) -> str:
    """The name a tool given as ``package.module:function`` is called by."""
    return path.rpartition(":")[2] if ":" in path else path.rpartition(".")[2]


def _check_spec(value: str | None) -> str | None:
    if value is not None:
        try:
            ModelSpec.parse(value)
        except ModelConfigError as exc:
            raise ValueError(str(exc)) from None
    return value


class AgentSpec(_Strict):
    shorthand = "id"
    synonyms = {
        "name": "id",
        "prompt": "system_prompt",
        "system": "system_prompt",
        "system_message": "system_prompt",
        "instructions": "system_prompt",
        "persona": "system_prompt",
        "llm": "model",
        "functions": "tools",
        "temp": "temperature",
        "max_length": "max_tokens",
        "max_new_tokens": "max_tokens",
        "max_output_tokens": "max_tokens",
        "stop_sequences": "stop",
        "stop_words": "stop",
        "about": "description",
    }

    id: str
    role: str = ""
    description: str = ""
    model: str | None = None
    system_prompt: str | None = None
    tools: list[str] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, json_schema_extra={"unit": "tokens"})
    stop: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not PARTICIPANT_ID.match(value) or value in ("room", "*"):
            raise ValueError("use 1-64 letters, digits, '_', '-' or '.', not 'room' or '*'")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str | None) -> str | None:
        return _check_spec(value)


class HumanSpec(_Strict):
    shorthand = "id"
    synonyms = {
        "name": "id",
        "wait": "timeout",
        "patience": "timeout",
        "turn_timeout": "timeout",
        "about": "description",
    }

    id: str = "human"
    description: str = "the person in the room"
    timeout: float | None = Field(default=120, gt=0, json_schema_extra={"unit": "seconds"})


class StrategySpec(_Strict):
    shorthand = "name"
    synonyms = {
        "type": "name",
        "kind": "name",
        "strategy": "name",
        "mode": "name",
        "speakers": "order",
        "sequence": "order",
        "model": "selector_model",
        "plan": "planner",
        "first": "start",
        "initial": "start",
    }

    name: StrategyName = "round-robin"
    order: list[str] | None = None
    """round-robin: who speaks, in order (default: agents then humans as listed)."""
    candidates: list[str] | None = None
    """role-based: who may be picked (default: everyone)."""
    selector: Literal["model", "rule"] = "model"
    selector_model: str | None = None
    rule: str | None = None
    """role-based: ``package.module:function(participants, recent) -> id``."""
    candidate_func: str | None = None
    """role-based: ``package.module:function(participants, recent) -> ids`` who may speak
    this turn (the eligible participants, the recent messages), like AutoGen's."""
    default: str | None = None
    allow_repeat: bool = False
    retries: int = Field(default=3, ge=0, le=10, json_schema_extra={"unit": "tries"})
    planner: str | None = None
    workers: list[str] | None = None
    replan_after: int = Field(default=3, ge=1, json_schema_extra={"unit": "stalled steps"})
    start: str | None = None
    """handoff: who is active first (default: the first agent)."""
    partner: str | None = None
    """handoff: who answers between the active agent's turns (a human or a persona)."""

    @field_validator("selector_model")
    @classmethod
    def _model(cls, value: str | None) -> str | None:
        return _check_spec(value)

    @field_validator("rule", "candidate_func")
    @classmethod
    def _function(cls, value: str | None) -> str | None:
        return _check_import_path(value)


class TerminationSpec(_Strict):
    synonyms = {
        "messages": "max_messages",
        "rounds": "max_turns",
        "max_rounds": "max_turns",
        "turns": "max_turns",
        "keyword": "text",
        "contains": "text",
        "stop_text": "text",
        "stop_word": "text",
        "word": "text",
        "phrase": "text",
        "from": "text_from",
        "seconds": "timeout",
        "time_limit": "timeout",
        "max_time": "timeout",
        "duration": "timeout",
        "tokens": "token_budget",
        "max_tokens": "token_budget",
        "budget": "token_budget",
        "mode": "combine",
        "operator": "combine",
    }

    max_messages: int | None = Field(default=None, ge=1, json_schema_extra={"unit": "messages"})
    max_turns: int | None = Field(default=None, ge=1, json_schema_extra={"unit": "turns"})
    text: str | None = None
    text_from: list[str] | None = None
    timeout: float | None = Field(default=None, gt=0, json_schema_extra={"unit": "seconds"})
    token_budget: int | None = Field(default=None, ge=1, json_schema_extra={"unit": "tokens"})
    agent_answered: str | None = None
    tool_called: list[str] | None = None
    """Stop once an agent has called one of these tools (by name)."""
    handoff_to_human: bool = False
    combine: Literal["any", "all"] = "any"
    """``any``: stop at the first condition (``|``); ``all``: when every one has fired (``&``)."""
    max_agent_failures: int = Field(default=3, ge=1, json_schema_extra={"unit": "failed turns"})
    """Failed turns in a row by one agent that end the room, whatever ``combine`` says."""
    max_room_failures: int = Field(default=5, ge=1, json_schema_extra={"unit": "failed turns"})
    """Failed turns in a row in the room (any agents) that end it, whatever ``combine`` says."""

    @model_validator(mode="after")
    def _something(self) -> TerminationSpec:
        if not self.conditions() and not self.handoff_to_human:
            raise ValueError(
                "give at least one condition (max_messages, max_turns, text, timeout, "
                "token_budget, agent_answered, tool_called, handoff_to_human), or a run never ends"
            )
        return self

    def conditions(self) -> list[str]:
        """The conditions set, but ``handoff_to_human`` (which needs a human to fire)."""
        fields = (
            "max_messages",
            "max_turns",
            "text",
            "timeout",
            "token_budget",
            "agent_answered",
            "tool_called",
        )
        return [f for f in fields if getattr(self, f)]


class MemorySpec(_Strict):
    shorthand = "enabled"
    synonyms = {
        "enable": "enabled",
        "on": "enabled",
        "active": "enabled",
        "mode": "policy",
        "strategy": "policy",
        "resolution": "policy",
        "judge": "arbiter",
    }

    enabled: bool = False
    policy: Literal["last-writer", "vote", "arbiter"] = "last-writer"
    voters: list[str] = Field(default_factory=list)
    arbiter: str | None = None
    tie_break: str = "earliest"
    """``earliest`` or ``latest`` write, or an agent id who settles ties."""


class DelegationSpec(_Strict):
    shorthand = "enabled"
    synonyms = {"enable": "enabled", "on": "enabled", "who": "agents"}

    enabled: bool = False
    agents: list[str] | None = None
    """Who gets the ``delegate`` tool (default: every agent)."""


class SubagentSpec(_Strict):
    shorthand = "enabled"
    synonyms = {
        "enable": "enabled",
        "on": "enabled",
        "who": "agents",
        "depth": "max_depth",
        "max_spawns": "budget",
        "limit": "budget",
    }

    enabled: bool = False
    agents: list[str] | None = None
    """Who gets the ``spawn_subagent`` tool (default: every agent)."""
    max_depth: int = Field(default=2, ge=1, le=5, json_schema_extra={"unit": "levels"})
    budget: int = Field(default=8, ge=1, json_schema_extra={"unit": "sub-agents"})


class RoomSpec(_Strict):
    """How the room treats its humans' lines: who may answer a human's turn, and what a line
    said while an agent is speaking does (LangGraph calls that double-texting)."""

    synonyms = {
        "anyone_answers": "any_human",
        "any_human_answers": "any_human",
        "double_texting": "while_speaking",
        "multitask_strategy": "while_speaking",
        "on_interrupt": "while_speaking",
        "while_agent_speaks": "while_speaking",
    }

    any_human: bool = False
    """A line from any human (to everyone, or to the one asked) answers a human's turn."""
    while_speaking: WhileSpeaking = "enqueue"
    """A human's line while an agent is mid-turn: said at once (the next speaker reads it),
    said once the speaker is interrupted, or refused with a reply saying why."""


class Workflow(_Strict):
    synonyms = {
        "title": "name",
        "goal": "task",
        "objective": "task",
        "prompt": "task",
        "topic": "task",
        "participants": "agents",
        "bots": "agents",
        "members": "agents",
        "people": "humans",
        "users": "humans",
        "turns": "strategy",
        "turn_taking": "strategy",
        "selection": "strategy",
        "speaker_selection": "strategy",
        "orchestration": "strategy",
        "mode": "strategy",
        "stop": "termination",
        "end": "termination",
        "until": "termination",
        "stop_when": "termination",
        "finish": "termination",
        "terminate": "termination",
        "llm": "model",
        "default_model": "model",
        "blackboard": "memory",
        "shared_memory": "memory",
        "delegate": "delegation",
        "sub_agents": "subagents",
        "spawn": "subagents",
        "unsafe_tools": "allow_unsafe_tools",
        "allow_unsafe": "allow_unsafe_tools",
        "settings": "room",
        "options": "room",
    }

    name: str
    description: str = ""
    task: str = ""
    model: str | None = None
    agents: list[AgentSpec] = Field(min_length=1)
    humans: list[HumanSpec] = Field(default_factory=list)
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    termination: TerminationSpec = Field(default_factory=lambda: TerminationSpec(max_messages=20))
    memory: MemorySpec = Field(default_factory=MemorySpec)
    delegation: DelegationSpec = Field(default_factory=DelegationSpec)
    """Give agents a ``delegate`` tool to hand sub-tasks to the others."""
    subagents: SubagentSpec = Field(default_factory=SubagentSpec)
    room: RoomSpec = Field(
        default_factory=lambda: RoomSpec(any_human=False, while_speaking="enqueue")
    )
    """How the humans' lines are taken (several humans, lines while an agent speaks)."""
    allow_unsafe_tools: bool = False
    """Let tools (and a strategy rule) come from modules known to be dangerous: a shell,
    ``eval``, any file, the network (see ``agentroom.agents.tools.UNSAFE_MODULES``)."""

    @field_validator("model")
    @classmethod
    def _model(cls, value: str | None) -> str | None:
        return _check_spec(value)

    @property
    def participant_ids(self) -> list[str]:
        return [a.id for a in self.agents] + [h.id for h in self.humans]

    @property
    def imports(self) -> list[tuple[str, str]]:
        """Every Python callable this workflow would import and run, as ``(who, path)``:
        each agent's tools, then the strategy's rule.  They run with the user's rights."""
        return [(who, path) for _, who, path in self._imports()]

    @property
    def import_fields(self) -> list[tuple[str, str]]:
        """The same callables as :attr:`imports`, as ``(field, path)``: ``agents[0].tools[1]``."""
        return [(field, path) for field, _, path in self._imports()]

    def _imports(self) -> list[tuple[str, str, str]]:
        found = [
            (f"agents[{i}].tools[{j}]", agent.id, path)
            for i, agent in enumerate(self.agents)
            for j, path in enumerate(agent.tools)
        ]
        if self.strategy.selector == "rule" and self.strategy.rule:
            found.append(("strategy.rule", "strategy rule", self.strategy.rule))
        if self.strategy.candidate_func:
            path = self.strategy.candidate_func
            found.append(("strategy.candidate_func", "strategy candidate_func", path))
        return found

    @property
    def spec_fields(self) -> list[tuple[str, str]]:
        """Every model spec this workflow names, as ``(field, spec)``."""
        found = [("model", self.model)] + [
            (f"agents[{i}].model", agent.model) for i, agent in enumerate(self.agents)
        ]
        found.append(("strategy.selector_model", self.strategy.selector_model))
        return [(field, spec) for field, spec in found if spec]

    @model_validator(mode="after")
    def _known_dangers_are_allowed(self) -> Workflow:
        """Refuse ``os:system`` and its kind here already, from the names alone (nothing is
        imported); the room checks the functions themselves again when it loads them."""
        for field, _, path in self._imports():
            try:
                why = unsafe_reason(path)
            except ModelConfigError as exc:
                raise FieldError(field, str(exc)) from None
            if why is not None and not self.allow_unsafe_tools:
                raise FieldError(field, refusal(path, why))
        return self

    @model_validator(mode="after")
    def _names_refer_to_participants(self) -> Workflow:
        ids = self.participant_ids
        seen: set[str] = set()
        for i, pid in enumerate(ids):
            if pid in seen:
                where = (
                    f"agents[{i}]" if i < len(self.agents) else f"humans[{i - len(self.agents)}]"
                )
                raise FieldError(f"{where}.id", f"{pid!r} is used twice")
            seen.add(pid)
        known = ", ".join(ids)
        agents = [a.id for a in self.agents]

        def check(path: str, value: str | None, pool: list[str] = ids) -> None:
            if value is not None and value not in pool:
                raise FieldError(path, f"unknown participant {value!r}; known: {', '.join(pool)}")

        s = self.strategy
        for i, name in enumerate(s.order or []):
            check(f"strategy.order[{i}]", name)
        for i, name in enumerate(s.candidates or []):
            check(f"strategy.candidates[{i}]", name)
        for i, name in enumerate(s.workers or []):
            check(f"strategy.workers[{i}]", name, agents)
        check("strategy.default", s.default)
        check("strategy.planner", s.planner, agents)
        check("strategy.start", s.start, agents)
        check("strategy.partner", s.partner)
        if s.name == "plan-driven" and s.planner is None:
            raise FieldError("strategy.planner", f"plan-driven needs a planner (one of: {known})")
        if s.name == "role-based" and s.selector == "rule" and not s.rule:
            raise FieldError(
                "strategy.rule", "selector: rule needs a rule (package.module:function)"
            )
        check("termination.agent_answered", self.termination.agent_answered)
        t = self.termination
        only_handoff = t.handoff_to_human and not t.conditions()
        if only_handoff and not self.humans:
            raise FieldError(
                "termination.handoff_to_human", "there is no human to hand off to; add humans:"
            )
        for i, name in enumerate(self.termination.text_from or []):
            check(f"termination.text_from[{i}]", name)
        tools = {_tool_name(path) for a in self.agents for path in a.tools} | {"handoff"}
        tools |= {name for name, part in ROOM_TOOLS.items() if getattr(self, part).enabled}
        for i, name in enumerate(t.tool_called or []):
            if name not in tools:
                raise FieldError(
                    f"termination.tool_called[{i}]",
                    f"no agent has a tool named {name!r}; tools: {', '.join(sorted(tools))}",
                )
        for i, name in enumerate(self.memory.voters):
            check(f"memory.voters[{i}]", name, agents)
        check("memory.arbiter", self.memory.arbiter, agents)
        for i, name in enumerate(self.delegation.agents or []):
            check(f"delegation.agents[{i}]", name, agents)
        for i, name in enumerate(self.subagents.agents or []):
            check(f"subagents.agents[{i}]", name, agents)
        if self.memory.policy == "vote" and self.memory.enabled and not self.memory.voters:
            raise FieldError("memory.voters", "the vote policy needs voters")
        if self.memory.policy == "arbiter" and self.memory.enabled and not self.memory.arbiter:
            raise FieldError("memory.arbiter", "the arbiter policy needs an arbiter")
        return self


class FieldError(ValueError):
    """A cross-field error that knows which field it is about (for the line number)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


# -- the parts of a workflow, for error messages and the reference page -------------------------


def part_of(annotation: Any) -> tuple[type[_Strict] | None, bool]:
    """The part (a model) a field of this annotation holds, and whether a list of them."""
    for kind in kinds_of(annotation):
        if get_origin(kind) is list:
            (item,) = get_args(kind)
            if isinstance(item, type) and issubclass(item, _Strict):
                return item, True
        elif isinstance(kind, type) and issubclass(kind, _Strict):
            return kind, False
    return None, False


def parts_in(model: type[_Strict]) -> Iterator[tuple[str, type[_Strict], bool]]:
    """The parts directly inside ``model``: (key, part, whether the key holds a list of them)."""
    for name, field in model.model_fields.items():
        part, many = part_of(field.annotation)
        if part is not None:
            yield name, part, many


def sections() -> Iterator[tuple[str, type[_Strict]]]:
    """Every part of a workflow and where it sits: ``""`` (the top), ``agents[]``, ``memory``..."""
    todo: list[tuple[str, type[_Strict]]] = [("", Workflow)]
    while todo:
        where, model = todo.pop(0)
        yield where, model
        for name, part, many in parts_in(model):
            todo.append(((f"{where}.{name}" if where else name) + ("[]" if many else ""), part))


def part_at(loc: Sequence[str | int]) -> type[_Strict] | None:
    """The part of a workflow ``loc`` (``("agents", 1)``) points into, if it is one."""
    model: type[_Strict] | None = Workflow
    many = False
    for key in loc:
        if model is None:
            return None
        if isinstance(key, int):
            if not many:
                return None
            many = False
            continue
        field = model.model_fields.get(key)
        if field is None or many:
            return None
        model, many = part_of(field.annotation)
    return None if many else model


VALUE_SYNONYMS: dict[str, dict[str, str]] = {
    "strategy.name": {
        "selector": "role-based",
        "roles": "role-based",
        "swarm": "handoff",
        "plan": "plan-driven",
        "planner": "plan-driven",
        "sequential": "round-robin",
        "rotation": "round-robin",
        "turns": "round-robin",
    },
    "strategy.selector": {"llm": "model", "function": "rule", "code": "rule"},
    "termination.combine": {
        "or": "any",
        "|": "any",
        "either": "any",
        "and": "all",
        "&": "all",
        "both": "all",
        "every": "all",
    },
    "room.while_speaking": {
        "queue": "enqueue",
        "wait": "enqueue",
        "cancel": "interrupt",
        "stop": "interrupt",
        "refuse": "reject",
        "deny": "reject",
    },
    "memory.policy": {
        "last": "last-writer",
        "latest": "last-writer",
        "overwrite": "last-writer",
        "majority": "vote",
        "judge": "arbiter",
    },
}
"""Words people write for a choice, by field (``section.key``): an error suggests the choice
meant (``combine: or`` → did you mean ``any``?); they are never accepted silently."""


def unit_of(field: Any) -> str | None:
    """The unit a number field counts in (``seconds``, ``tokens``), as its ``Field`` says."""
    extra = field.json_schema_extra
    unit = extra.get("unit") if isinstance(extra, dict) else None
    return unit if isinstance(unit, str) else None
