"""Workflow files: read one safely, say exactly where it is wrong, find them by name.

A workflow is YAML, validated by :mod:`agentroom.room.workflow_schema`.
Every error names the file, the line and the field (``debate.yaml:12:
agents[1].model: unknown model spec ...``), so a typo is a one-line fix; a
file that is not a workflow (huge, deeply nested, binary) is refused in one
line.  Sample workflows ship in ``sample_workflows/``; a user's own live in
``~/.config/agentroom/workflows``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.reader import ReaderError

from agentroom.core.errors import WorkflowError
from agentroom.core.paths import config_dir
from agentroom.core.text import one_line
from agentroom.room.workflow_checks import run_problems
from agentroom.room.workflow_errors import located, parse_path, shown_key
from agentroom.room.workflow_schema import (
    STRATEGIES,
    AgentSpec,
    HumanSpec,
    StrategySpec,
    TerminationSpec,
    WhileSpeaking,
    Workflow,
)

__all__ = [
    "DEFAULT_WORKFLOW",
    "STRATEGIES",
    "AgentSpec",
    "HumanSpec",
    "StrategySpec",
    "TerminationSpec",
    "WhileSpeaking",
    "Workflow",
    "available_workflows",
    "check_workflow",
    "find_workflow",
    "load_workflow",
    "parse_workflow",
    "samples_dir",
    "user_workflows_dir",
]

MAX_BYTES = 1_000_000
"""A workflow is a few kilobytes; a bigger file (or ``/dev/zero``) is not read whole."""
MAX_DEPTH = 32
"""Nesting a workflow never needs; deeper YAML would exhaust the parser's recursion."""
MAX_PROBLEMS = 20
"""Problems listed for one file (a file that is not a workflow could yield thousands)."""
MAX_PROBLEM_CHARS = 300

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
    return parse_workflow(_read(Path(path)), str(path))


def check_workflow(path: str | Path) -> Workflow:
    """:func:`load_workflow`, and what ``run`` would hit besides (``workflows validate``).

    Every tool, rule and candidate function is imported, with the workflow's
    folder on the import path as at run time; ``module.function`` is asked
    for its colon; every model file named must be there.  That runs the tool
    modules' top-level code, as ``run`` would, and nothing else: no room, no
    model (:mod:`agentroom.room.workflow_checks`).
    """
    text = _read(Path(path))
    workflow = parse_workflow(text, str(path))
    found = run_problems(workflow, workflow_folder(path))
    if found:
        node = yaml.compose(text)
        raise _problems(
            str(path), node, [(parse_path(field), field, what) for field, what in found]
        )
    return workflow


def _read(where: Path) -> str:
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
    return text


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
        raise _problems(source, node, [located(err) for err in exc.errors()]) from None


def _problems(
    source: str, node: yaml.Node | None, found: list[tuple[list[Any], str, str]]
) -> WorkflowError:
    """One error of a line per problem, ``file:line: field: what``, at most :data:`MAX_PROBLEMS`."""
    lines = [
        one_line(f"{source}:{_line_of(node, loc)}: {path}: {message}", MAX_PROBLEM_CHARS)
        for loc, path, message in found
    ]
    if len(lines) > MAX_PROBLEMS:
        more = len(lines) - MAX_PROBLEMS
        lines = [*lines[:MAX_PROBLEMS], f"{source}: ... and {more} more problems"]
    return WorkflowError("\n".join(lines))


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
                field = shown_key(key.value)
            elif key is not None and isinstance(key, _OPEN):
                depth += 1


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


def workflow_folder(source: str | Path) -> Path | None:
    """The folder of a workflow's file: on the import path while its tools are imported, at
    ``workflows validate`` and at run time alike (None: the workflow came from no file)."""
    return Path(source).resolve().parent if str(source) else None


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
