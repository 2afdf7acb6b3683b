"""``agentroom workflows list`` and ``agentroom workflows validate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from agentroom.cli.console import JsonOption, err, error_text, out
from agentroom.core.errors import AgentroomError
from agentroom.core.text import counted


def workflows_list(as_json: JsonOption = False) -> None:
    """The sample workflows and your own (in the agentroom config folder)."""
    from agentroom.room.workflows import available_workflows, load_workflow, user_workflows_dir

    rows: list[dict[str, Any]] = []
    for path in available_workflows():
        try:
            wf = load_workflow(path)
            rows.append(
                {
                    "name": path.stem,
                    "title": wf.name,
                    "strategy": wf.strategy.name,
                    "agents": [a.id for a in wf.agents],
                    "path": str(path),
                    "error": None,
                }
            )
        except AgentroomError as exc:
            rows.append(
                {
                    "name": path.stem,
                    "title": "",
                    "strategy": "",
                    "agents": [],
                    "path": str(path),
                    "error": str(exc),
                }
            )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"Workflows (yours go in {user_workflows_dir()})", header_style="bold")
    for column in ("name", "title", "strategy", "agents"):
        table.add_column(column)
    for row in rows:
        cells = (
            row["name"],
            row["error"] or row["title"],
            row["strategy"],
            ", ".join(row["agents"]),
        )
        table.add_row(*map(Text, cells))  # Text, not str: a workflow's name is never markup
    out.print(table)


def workflows_validate(file: Annotated[Path, typer.Argument(help="A workflow YAML file.")]) -> None:
    """Check a workflow file; errors name the file, the line and the field."""
    from agentroom.room.workflows import load_workflow

    try:
        wf = load_workflow(file)
    except AgentroomError as exc:
        for problem in str(exc).splitlines():
            err.print(error_text(problem))
        raise typer.Exit(1) from None
    out.print(
        f"{file}: ok ({wf.name}: {counted(len(wf.agents), 'agent')}, "
        f"{counted(len(wf.humans), 'human')}, "
        f"{wf.strategy.name}, stops on {build_termination_text(wf)})"
    )
    if wf.imports:
        allowed = " (allow_unsafe_tools: true)" if wf.allow_unsafe_tools else ""
        out.print(
            f"Python it would import and run with your rights{allowed}; a model chooses "
            "the arguments, so trust each one as you would a program:",
            markup=False,
            highlight=False,
        )
        for who, path in wf.imports:
            out.print(f"  {who}: {path}", markup=False, highlight=False)


def build_termination_text(wf: Any) -> str:
    from agentroom.room.builder import build_termination

    return build_termination(wf.termination, [h.id for h in wf.humans]).describe()
