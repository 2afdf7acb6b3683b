"""``agentroom workflows list``, ``workflows validate`` and ``workflows new``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from agentroom.cli.console import (
    JsonOption,
    StrategyOption,
    err,
    error_text,
    fail,
    out,
    strategy_named,
)
from agentroom.core.errors import AgentroomError
from agentroom.core.text import counted, one_line


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
    """Check a workflow file as run would: its keys, tools and model files (no model is run)."""
    from agentroom.room.workflows import check_workflow

    try:
        wf = check_workflow(file)
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


FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")


def workflows_new(
    name: Annotated[
        str, typer.Argument(help="The workflow's name: NAME.yaml is written.", show_default=False)
    ],
    strategy: StrategyOption = None,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to", help="The folder to write it in (default: this one).", show_default=False
        ),
    ] = None,
) -> None:
    """Write a commented, working workflow to start from (never over an existing file)."""
    from agentroom.core.files import creating
    from agentroom.room.workflow_template import starter_workflow

    stem = name.removesuffix(".yaml").removesuffix(".yml")
    if not FILE_NAME.match(stem):
        raise fail(
            f"{shown(name)} is not a workflow name: use 1-64 letters, digits, '_', '-' or '.' "
            "(no folder: give that with --to DIR)",
            2,
        )
    chosen = strategy_named(strategy) or "round-robin"
    folder = to if to is not None else Path()
    if not folder.is_dir():
        raise fail(f"no folder {folder}: create it first, or give another with --to DIR")
    path = folder / f"{stem}.yaml"
    try:
        with creating(path) as fh:
            fh.write(starter_workflow(stem, chosen, str(path)))
    except AgentroomError as exc:
        raise fail(str(exc)) from None
    out.print(f"Wrote {path}: a {chosen} workflow to edit.", markup=False, highlight=False)
    out.print(
        f"Check it with: agentroom workflows validate {path}\nRun it with:   agentroom run {path}",
        markup=False,
        highlight=False,
    )


def shown(text: str) -> str:
    """A name as an error may quote it: made inert, and short."""
    return repr(one_line(text, 60))


def build_termination_text(wf: Any) -> str:
    from agentroom.room.builder import build_termination

    return build_termination(wf.termination, [h.id for h in wf.humans]).describe()
