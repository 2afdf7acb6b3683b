"""The ``agentroom`` command line (typer, Rich output).

Every command takes ``--db`` (before or after the command name); without it
``$AGENTROOM_DB`` and then the platform's data folder decide.  Errors are one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agentroom import __version__
from agentroom.config import resolve_db_path
from agentroom.errors import AgentroomError
from agentroom.export import FORMATS, is_stream_chunk, write_export
from agentroom.protocol import Envelope, MessageType
from agentroom.store import RoomInfo, SqliteStore
from agentroom.usage import UsageLedger

T = TypeVar("T")

app = typer.Typer(
    name="agentroom",
    help="A multi-agent chat room for the terminal.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode="rich",
)
sessions_app = typer.Typer(help="Saved sessions: list them, show one.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Database file (default: $AGENTROOM_DB, else agentroom.db in your data folder).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model spec: openai:MODEL, ollama:MODEL, openai-compat:MODEL@URL, replay:FILE, "
        "offline. Default: see 'agentroom models'.",
        show_default=False,
    ),
]
SessionArg = Annotated[
    str | None, typer.Argument(help="Session id, or a unique prefix of one.", show_default=False)
]


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; agentroom's own errors become one line and exit 1."""
    try:
        return asyncio.run(coro)
    except AgentroomError as exc:
        raise fail(str(exc)) from None


def db_for(ctx: typer.Context, db: Path | None) -> Path | str:
    return resolve_db_path(db if db is not None else (ctx.obj or {}).get("db"))


def need_session(session_id: str | None) -> str:
    if not session_id or not session_id.strip():
        raise fail("missing session id; run 'agentroom sessions list' to see them", code=2)
    return session_id.strip()


def version_callback(value: bool) -> None:
    if value:
        out.print(f"agentroom {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
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
        run_command(ctx, db=db, model=model)


# -- sessions ---------------------------------------------------------------------------


SHORT_ID = 18  # the time part of the id and then some: unique in practice, and any prefix works


def _rooms_table(rooms: list[RoomInfo]) -> Table:
    table = Table(
        title="Saved sessions (any unique id prefix works; --json for full ids)",
        title_justify="left",
        header_style="bold",
    )
    table.add_column("id", no_wrap=True, style="bold", min_width=SHORT_ID)
    table.add_column("title", overflow="ellipsis", no_wrap=True, max_width=36)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("agents", overflow="ellipsis", no_wrap=True, max_width=28)
    table.add_column("messages", justify="right", no_wrap=True, min_width=8)
    table.add_column("state", no_wrap=True, min_width=11)
    for room in rooms:
        table.add_row(
            room.id[:SHORT_ID],
            room.title or "-",
            f"{room.created_at:%m-%d %H:%M}",
            ", ".join(room.agents) or "-",
            str(room.messages),
            room.live_state,
        )
    return table


@sessions_app.command("list")
def sessions_list(
    ctx: typer.Context,
    db: DbOption = None,
    as_json: JsonOption = False,
    limit: Annotated[int | None, typer.Option(help="Show at most this many.")] = None,
) -> None:
    """List saved sessions, most recent first."""

    async def go() -> list[RoomInfo]:
        async with await SqliteStore.open(db_for(ctx, db)) as store:
            return await store.list_rooms(limit)

    rooms = run(go())
    if as_json:
        out.print_json(json.dumps([room.to_dict() for room in rooms]))
    elif not rooms:
        out.print("No saved sessions yet. Run [bold]agentroom[/] to start one.")
    else:
        out.print(_rooms_table(rooms))


def envelope_text(env: Envelope) -> Text:
    """One transcript line, as the terminal shows it."""
    who = env.route
    line = Text()
    line.append(f"#{env.seq:<5} ", style="dim")
    if env.type is MessageType.MESSAGE:
        line.append(who, style="bold cyan")
        line.append(": ")
        line.append(env.content)
    else:
        line.append(f"[{env.type.value}] {who}: {env.content}", style="dim italic")
    return line


@sessions_app.command("show")
def sessions_show(
    ctx: typer.Context,
    session_id: SessionArg = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    limit: Annotated[
        int | None, typer.Option(help="Show only the first N envelopes of the transcript.")
    ] = None,
) -> None:
    """Show one session: its summary and its transcript in seq order."""
    wanted = need_session(session_id)

    async def go() -> tuple[RoomInfo, list[Envelope]]:
        async with await SqliteStore.open(db_for(ctx, db)) as store:
            room = await store.get_room(wanted)
            envs = [e async for e in store.read_envelopes(room.id, limit=limit)]
            return room, envs

    room, envs = run(go())
    usage = UsageLedger.of(envs)
    if as_json:
        doc = room.to_dict() | {"usage": usage.to_dict(), "envelopes": [e.to_dict() for e in envs]}
        out.print_json(json.dumps(doc))
        return
    out.print(_rooms_table([room]))
    for env in envs:
        if not is_stream_chunk(env) and env.metadata.get("event") != "usage":
            out.print(envelope_text(env))  # usage is summed up below
    if usage.total.calls:
        out.print(usage_text(usage))


def usage_text(usage: UsageLedger) -> Text:
    text = Text("usage: ", style="bold")
    parts = [
        f"{name} {t.prompt_tokens} in / {t.completion_tokens} out, {t.cost_text}"
        for name, t in sorted(usage.by_agent.items())
    ]
    total = usage.total
    parts.append(
        f"total {total.prompt_tokens} in / {total.completion_tokens} out, {total.cost_text}"
    )
    text.append("; ".join(parts))
    return text


# -- export -----------------------------------------------------------------------------


@app.command("export")
def export(
    ctx: typer.Context,
    session_id: SessionArg = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="md or jsonl (one envelope per line).")
    ] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export a session as Markdown or JSONL (every field, in seq order)."""
    wanted = need_session(session_id)
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}", code=2)

    async def go() -> int:
        async with await SqliteStore.open(db_for(ctx, db)) as store:
            room = await store.get_room(wanted)
            if output is None:
                return await write_export(
                    room, store.read_envelopes(room.id), fmt, sys.stdout.write
                )
            with output.open("w", encoding="utf-8") as fh:
                return await write_export(room, store.read_envelopes(room.id), fmt, fh.write)

    count = run(go())
    if output is not None:
        err.print(f"wrote {count} envelopes to {output}")


# -- models -----------------------------------------------------------------------------


@app.command("models")
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
        mark = "[bold green]→ used[/]" if step.chosen else ""
        table.add_row(f"{step.source} {mark}", step.outcome)
    out.print(table)
    out.print(f"Model: [bold]{resolution.spec}[/]")


# -- demo -------------------------------------------------------------------------------


workflows_app = typer.Typer(help="Workflow files: list them, validate one.", no_args_is_help=True)
app.add_typer(workflows_app, name="workflows")


@workflows_app.command("list")
def workflows_list(as_json: JsonOption = False) -> None:
    """The sample workflows and your own (in the agentroom config folder)."""
    from agentroom.workflows import available_workflows, load_workflow, user_workflows_dir

    rows = []
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
        table.add_row(
            row["name"], row["error"] or row["title"], row["strategy"], ", ".join(row["agents"])
        )
    out.print(table)


@workflows_app.command("validate")
def workflows_validate(file: Annotated[Path, typer.Argument(help="A workflow YAML file.")]) -> None:
    """Check a workflow file; errors name the file, the line and the field."""
    from agentroom.workflows import load_workflow

    try:
        wf = load_workflow(file)
    except AgentroomError as exc:
        for problem in str(exc).splitlines():
            err.print(f"[bold red]error:[/] {escape(problem)}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    out.print(
        f"{file}: ok ({wf.name}: {len(wf.agents)} agents, {len(wf.humans)} humans, "
        f"{wf.strategy.name}, stops on {build_termination_text(wf)})"
    )


def build_termination_text(wf: Any) -> str:
    from agentroom.runner import build_termination

    return build_termination(wf.termination, [h.id for h in wf.humans]).describe()


HeadlessOption = Annotated[
    bool,
    typer.Option(
        "--headless",
        help="Print the live transcript and read the human's lines from stdin (no screen).",
    ),
]


@app.command("run")
def run_command(
    ctx: typer.Context,
    workflow: Annotated[
        str | None, typer.Argument(help="A workflow file or name (see 'workflows list').")
    ] = None,
    task: Annotated[str | None, typer.Option(help="What the room works on.")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="round-robin, role-based, plan-driven or handoff.")
    ] = None,
    model: ModelOption = None,
    max_messages: Annotated[int | None, typer.Option(help="Stop after N messages.")] = None,
    headless: HeadlessOption = False,
    db: DbOption = None,
) -> None:
    """Run a workflow (the default one if none is named); prints the session id at the end.

    At a terminal it opens the room's UI; with --headless (or when stdin/stdout are not a
    terminal) it prints the live transcript and reads the human's lines from stdin.
    """
    from agentroom.workflows import DEFAULT_WORKFLOW, find_workflow, load_workflow

    if workflow is None and not headless and interactive():
        try:
            find_workflow(DEFAULT_WORKFLOW)
        except AgentroomError:  # no default to open: the picker opens first instead
            from agentroom.tui.app import AgentroomApp

            AgentroomApp(None, db=db_for(ctx, db)).run()
            return
    path = run_sync(lambda: find_workflow(workflow or DEFAULT_WORKFLOW))
    wf = run_sync(lambda: load_workflow(path))
    if strategy is not None and strategy not in STRATEGY_NAMES:
        raise fail(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGY_NAMES)}", 2)
    model = model or (ctx.obj or {}).get("model")
    if not headless and interactive():
        from agentroom.tui.app import AgentroomApp
        from agentroom.tui.live import RoomOptions

        db_path = db_for(ctx, db)
        options = RoomOptions(
            db=db_path,
            workflow=wf,
            source=str(path),
            task=task,
            strategy=strategy,
            model=model,
            max_messages=max_messages,
        )
        AgentroomApp(options, db=db_path).run()
        return
    run(
        play(
            db_for(ctx, db),
            wf,
            str(path),
            task=task,
            strategy=strategy,
            model=model,
            max_messages=max_messages,
        )
    )


@app.command("resume")
def resume_command(
    ctx: typer.Context,
    session_id: SessionArg = None,
    model: ModelOption = None,
    max_messages: Annotated[int | None, typer.Option(help="Stop after N more messages.")] = None,
    headless: HeadlessOption = False,
    db: DbOption = None,
) -> None:
    """Continue a stopped or crashed session exactly where it was."""
    wanted = need_session(session_id)
    if not headless and interactive():
        from agentroom.tui.app import AgentroomApp
        from agentroom.tui.live import RoomOptions

        db_path = db_for(ctx, db)
        options = RoomOptions(
            db=db_path,
            session_id=wanted,
            max_messages=max_messages,
            model=model or (ctx.obj or {}).get("model"),
        )
        AgentroomApp(options, db=db_path).run()
        return
    run(
        play(
            db_for(ctx, db),
            None,
            "",
            model=model or (ctx.obj or {}).get("model"),
            max_messages=max_messages,
            session_id=wanted,
        )
    )


STRATEGY_NAMES = ("round-robin", "role-based", "plan-driven", "handoff")


def interactive() -> bool:
    """A person at a terminal (else the room runs headless: pipes, CI, scripts)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def run_sync(make: Any) -> Any:
    """Call ``make``; an error of several lines (a workflow's problems) prints them all."""
    try:
        return make()
    except AgentroomError as exc:
        first, *rest = str(exc).splitlines() or [""]
        err.print(f"[bold red]error:[/] {escape(first)}", markup=True, highlight=False)
        for problem in rest:
            err.print(f"       {escape(problem)}", highlight=False)
        raise typer.Exit(1) from None


async def play(
    db: Path | str,
    workflow: Any,
    source: str,
    *,
    task: str | None = None,
    strategy: str | None = None,
    model: str | None = None,
    max_messages: int | None = None,
    session_id: str | None = None,
) -> None:
    """Run (or resume) a workflow headless: live transcript out, human lines in."""
    from agentroom.headless import TranscriptPrinter, human_input
    from agentroom.runner import LiveRoom, RoomOptions

    def write(text: str = "", end: str = "\n") -> None:
        out.print(text, end=end, markup=False, highlight=False)

    room = LiveRoom(
        RoomOptions(
            db=db,
            workflow=workflow,
            source=source,
            task=task,
            strategy=strategy,
            model=model,
            max_messages=max_messages,
            session_id=session_id,
            feed=False,
        )
    )
    try:
        await room.open()
        engine, coordinator = room.engine, room.coordinator
        assert engine is not None and coordinator is not None and room.workflow is not None
        assert room.model is not None and room.resolution is not None
        printer = engine.bus.subscribe(TranscriptPrinter(write, envelope_text))
        await engine.bus.announce(
            f"{room.workflow.name}: {', '.join(a.id for a in room.workflow.agents)} on "
            f"{room.model.label} ({room.resolution.reason}); {coordinator.strategy.name}",
            metadata={"event": "room_opened", "model": room.model.label},
        )
        if session_id is not None:
            await engine.bus.announce(
                f"resumed after {coordinator.turns} turns", metadata={"event": "resumed_session"}
            )
        async with human_input(coordinator, room.humans):
            result = await room.run()
        await engine.flush()
        await printer.aclose()  # everything published is on screen before the last word
        write()
        out.print(f"Session: [bold]{result.session_id}[/] ({result.reason})")
        out.print(f"Show it with: agentroom sessions show {result.session_id[:SHORT_ID]}")
    finally:
        await room.close()


def main() -> None:
    from agentroom.runtime import tune_gc

    tune_gc()
    app()


if __name__ == "__main__":
    main()
