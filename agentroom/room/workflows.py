"""Workflow files: who is in the room, how turns are given, when to stop.

A workflow is YAML, validated with pydantic.  Every error names the file,
the line and the field (``debate.yaml:12: agents[1].model: unknown model
spec ...``), so a typo is a one-line fix.  Sample workflows ship in
``sample_workflows/``; a user's own live in ``~/.config/agentroom/workflows``.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from yaml.reader import ReaderError

from agentroom.agents.tools import refusal, unsafe_reason
from agentroom.bus import PARTICIPANT_ID
from agentroom.core.errors import ModelConfigError, WorkflowError
from agentroom.core.paths import config_dir
from agentroom.core.text import one_line
from agentroom.models.spec import ModelSpec

StrategyName = Literal["round-robin", "role-based", "plan-driven", "handoff"]
STRATEGIES: tuple[str, ...] = ("round-robin", "role-based", "plan-driven", "handoff")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    id: str
    role: str = ""
    description: str = ""
    model: str | None = None
    system_prompt: str | None = None
    tools: list[str] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
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
    id: str = "human"
    description: str = "the person in the room"
    timeout: float | None = Field(default=120, gt=0)


class StrategySpec(_Strict):
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
    retries: int = Field(default=3, ge=0, le=10)
    planner: str | None = None
    workers: list[str] | None = None
    replan_after: int = Field(default=3, ge=1)
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
    max_messages: int | None = Field(default=None, ge=1)
    max_turns: int | None = Field(default=None, ge=1)
    text: str | None = None
    text_from: list[str] | None = None
    timeout: float | None = Field(default=None, gt=0)
    token_budget: int | None = Field(default=None, ge=1)
    agent_answered: str | None = None
    tool_called: list[str] | None = None
    """Stop once an agent has called one of these tools (by name)."""
    handoff_to_human: bool = False
    combine: Literal["any", "all"] = "any"
    """``any``: stop at the first condition (``|``); ``all``: when every one has fired (``&``)."""
    max_agent_failures: int = Field(default=3, ge=1)
    """Failed turns in a row by one agent that end the room, whatever ``combine`` says."""
    max_room_failures: int = Field(default=5, ge=1)
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
    enabled: bool = False
    policy: Literal["last-writer", "vote", "arbiter"] = "last-writer"
    voters: list[str] = Field(default_factory=list)
    arbiter: str | None = None
    tie_break: str = "earliest"
    """``earliest`` or ``latest`` write, or an agent id who settles ties."""


class DelegationSpec(_Strict):
    enabled: bool = False
    agents: list[str] | None = None
    """Who gets the ``delegate`` tool (default: every agent)."""


class SubagentSpec(_Strict):
    enabled: bool = False
    agents: list[str] | None = None
    """Who gets the ``spawn_subagent`` tool (default: every agent)."""
    max_depth: int = Field(default=2, ge=1, le=5)
    budget: int = Field(default=8, ge=1)


class Workflow(_Strict):
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

    def _imports(self) -> list[tuple[str, str, str]]:
        found = [
            (f"agents[{i}].tools[{j}]", agent.id, path)
            for i, agent in enumerate(self.agents)
            for j, path in enumerate(agent.tools)
        ]
        if self.strategy.selector == "rule" and self.strategy.rule:
            found.append(("strategy.rule", "strategy rule", self.strategy.rule))
        return found

    @model_validator(mode="after")
    def _known_dangers_are_allowed(self) -> Workflow:
        """Refuse ``os:system`` and its kind here already, from the names alone (nothing is
        imported); the room checks the functions themselves again when it loads them."""
        for field, _, path in self._imports():
            try:
                why = unsafe_reason(path)
            except ModelConfigError as exc:
                raise _FieldError(field, str(exc)) from None
            if why is not None and not self.allow_unsafe_tools:
                raise _FieldError(field, refusal(path, why))
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
                raise _FieldError(f"{where}.id", f"{pid!r} is used twice")
            seen.add(pid)
        known = ", ".join(ids)
        agents = [a.id for a in self.agents]

        def check(path: str, value: str | None, pool: list[str] = ids) -> None:
            if value is not None and value not in pool:
                raise _FieldError(path, f"unknown participant {value!r}; known: {', '.join(pool)}")

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
            raise _FieldError("strategy.planner", f"plan-driven needs a planner (one of: {known})")
        if s.name == "role-based" and s.selector == "rule" and not s.rule:
            raise _FieldError(
                "strategy.rule", "selector: rule needs a rule (package.module:function)"
            )
        check("termination.agent_answered", self.termination.agent_answered)
        t = self.termination
        only_handoff = t.handoff_to_human and not t.conditions()
        if only_handoff and not self.humans:
            raise _FieldError(
                "termination.handoff_to_human", "there is no human to hand off to; add humans:"
            )
        for i, name in enumerate(self.termination.text_from or []):
            check(f"termination.text_from[{i}]", name)
        tools = {_tool_name(path) for a in self.agents for path in a.tools} | {"handoff"}
        tools |= {name for name, part in ROOM_TOOLS.items() if getattr(self, part).enabled}
        for i, name in enumerate(t.tool_called or []):
            if name not in tools:
                raise _FieldError(
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
            raise _FieldError("memory.voters", "the vote policy needs voters")
        if self.memory.policy == "arbiter" and self.memory.enabled and not self.memory.arbiter:
            raise _FieldError("memory.arbiter", "the arbiter policy needs an arbiter")
        return self


class _FieldError(ValueError):
    """A cross-field error that knows which field it is about (for the line number)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


# -- loading ---------------------------------------------------------------------------------

MAX_BYTES = 1_000_000
"""A workflow is a few kilobytes; a bigger file (or ``/dev/zero``) is not read whole."""
MAX_DEPTH = 32
"""Nesting a workflow never needs; deeper YAML would exhaust the parser's recursion."""
MAX_PROBLEMS = 20
"""Problems listed for one file (a file that is not a workflow could yield thousands)."""
MAX_PROBLEM_CHARS = 300

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}\Z")
_OPEN = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def load_workflow(path: str | Path) -> Workflow:
    """Read and validate a workflow file; errors name the file, line and field.

    Errors never quote the file's lines: ``workflows validate /etc/shadow``
    must not print the file back.
    """
    where = Path(path)
    try:
        with where.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise WorkflowError(f"{where}: cannot read it ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise WorkflowError(
            f"{where}:1: not a workflow: larger than {MAX_BYTES // 1_000_000} MB "
            "(a workflow is a few KB)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise WorkflowError(f"{where}:{line}: not UTF-8 text ({exc.reason})") from None
    return parse_workflow(text, str(where))


def parse_workflow(text: str, source: str = "<workflow>") -> Workflow:
    try:
        _check_depth(text, source)
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except ReaderError as exc:  # a NUL or another character YAML refuses
        line = text.count("\n", 0, exc.position) + 1
        raise WorkflowError(
            f"{source}:{line}: not a workflow: it holds a character YAML does not allow "
            f"(U+{exc.character:04X})"
        ) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        problem = one_line(exc.problem or exc.context or "syntax error", MAX_PROBLEM_CHARS)
        raise WorkflowError(f"{source}:{line}: not valid YAML: {problem}") from None
    except (yaml.YAMLError, RecursionError):
        raise WorkflowError(f"{source}:1: not valid YAML") from None
    if not isinstance(data, dict):
        raise WorkflowError(f"{source}:1: a workflow is a mapping (name:, agents:, ...)")
    if "name" not in data and "agents" not in data:  # /etc/shadow, a random config file
        raise WorkflowError(
            f"{source}:1: not a workflow: it has no name: or agents: (see the samples: "
            "agentroom workflows list)"
        )
    try:
        return Workflow.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, _FieldError):
                path, message = ctx_error.path, ctx_error.message
                loc = _parse_path(path)
            else:
                path, message = _format_loc(loc), err["msg"].removeprefix("Value error, ")
            line = _line_of(node, loc)
            problem = f"{source}:{line}: {path or '(workflow)'}: {message}"
            problems.append(one_line(problem, MAX_PROBLEM_CHARS))
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], f"{source}: ... and {more} more problems"]
        raise WorkflowError("\n".join(problems)) from None


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, naming its line and top-level field.

    The tokenizer is a loop, not a recursion, so this is safe on any input;
    composing such a document would raise ``RecursionError``.
    """
    depth, field = 0, None
    tokens = yaml.scan(text)
    for token in tokens:
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                where = f"{field}: " if field else ""
                raise WorkflowError(
                    f"{source}:{token.start_mark.line + 1}: {where}nested more than "
                    f"{MAX_DEPTH} levels deep (a workflow needs a few)"
                )
        elif isinstance(token, _CLOSE):
            depth -= 1
        elif isinstance(token, yaml.KeyToken) and depth == 1:
            key = next(tokens, None)
            if isinstance(key, yaml.ScalarToken):
                field = _shown_key(key.value)
            elif key is not None and isinstance(key, _OPEN):
                depth += 1


def _shown_key(key: Any) -> str:
    """A key as an error may show it: a plain word, else not quoted (it may be anything)."""
    return key if isinstance(key, str) and _PLAIN_KEY.match(key) else "(a key)"


def _format_loc(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{_shown_key(part)}" if out else _shown_key(part)
    return out


def _parse_path(path: str) -> list[Any]:
    parts: list[Any] = []
    for piece in path.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes)
    return parts


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int:
    """The line of the deepest node ``loc`` reaches (keys for mappings, items for lists)."""
    line = 1 if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            # The last of repeated keys, as the loader keeps the last one's value.
            found = [(key, value) for key, value in node.value if key.value == part]
            if not found:
                return line
            key, node = found[-1]
            line = key.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


# -- finding workflows -------------------------------------------------------------------------


def user_workflows_dir() -> Path:
    return config_dir() / "workflows"


def samples_dir() -> Path:
    """The sample workflows: packaged with agentroom, or beside it in a source checkout."""
    packaged = importlib.resources.files("agentroom") / "sample_workflows"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "sample_workflows"


def available_workflows() -> list[Path]:
    """Sample workflows, then the user's own, sorted by name within each."""
    found = []
    for folder in (samples_dir(), user_workflows_dir()):
        if folder.is_dir():
            found.extend(sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")))
    return found


def find_workflow(name: str) -> Path:
    """A workflow by path, or by name (file stem) among the known ones."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    known = available_workflows()
    for candidate in known:
        if candidate.stem == name:
            return candidate
    names = ", ".join(p.stem for p in known) or "none"
    raise WorkflowError(f"no workflow named {name!r}: give a file, or one of: {names}")


DEFAULT_WORKFLOW = "debate"
