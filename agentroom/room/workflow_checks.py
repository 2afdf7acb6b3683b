"""What running a workflow would hit that its schema cannot see: tools, model files.

The schema (:mod:`agentroom.room.workflow_schema`) judges a workflow by
what it says; ``workflows validate`` also asks what ``run`` would find:
every tool, rule and candidate function imports (from the workflow's own
folder too, exactly as the builder imports them) and is a callable a model
can be told about; an import path has its colon (``module:function``); every
model file a spec names (``local:PATH.gguf``, ``replay:FILE``) is there.

Nothing is run but the tool modules' own top-level code, which ``run``
would run too: no room, no model, no network.
"""

from __future__ import annotations

from pathlib import Path

from agentroom.agents.tools import Tool, load_callable
from agentroom.core.errors import AgentroomError
from agentroom.models.spec import ModelSpec, missing_file
from agentroom.room.workflow_schema import Workflow


def run_problems(workflow: Workflow, folder: Path | None) -> list[tuple[str, str]]:
    """What ``run`` would hit, as ``(field, what to do)``: one for each field in trouble."""
    found = [*_import_problems(workflow, folder)]
    for field, spec in workflow.spec_fields:
        problem = missing_file(ModelSpec.parse(spec))
        if problem is not None:
            found.append((field, problem))
    return found


def _import_problems(workflow: Workflow, folder: Path | None) -> list[tuple[str, str]]:
    found = []
    unsafe = workflow.allow_unsafe_tools
    for field, path in workflow.import_fields:
        if ":" not in path:  # read as module.function at run time, but which dot is a guess
            module, _, function = path.rpartition(".")
            found.append(
                (field, f"{path!r} has a dot where the colon goes; write `{module}:{function}`")
            )
            continue
        try:
            if field.startswith("agents"):  # a tool: the model is told its arguments
                Tool.load(path, allow_unsafe=unsafe, folder=folder)
            else:
                load_callable(path, allow_unsafe=unsafe, folder=folder)
        except AgentroomError as exc:
            found.append((field, str(exc)))
    return found
