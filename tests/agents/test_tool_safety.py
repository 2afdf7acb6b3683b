"""Tools are code that runs with the user's rights: known-dangerous callables are refused
unless a workflow allows them, and a saved session never imports tools on its own say-so."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agentroom.agents import Tool
from agentroom.core.errors import UnsafeToolError, WorkflowError
from agentroom.models.replay import ReplayClient
from agentroom.room.live import LiveRoom, RoomOptions
from agentroom.room.workflows import load_workflow, parse_workflow
from agentroom.store import SqliteStore

DANGEROUS = [
    "os:system",
    "os.path:exists",
    "posix:system",
    "subprocess:run",
    "subprocess.Popen",
    "shutil:rmtree",
    "sys:exit",
    "builtins:eval",
    "builtins:exec",
    "builtins:compile",
    "builtins:open",
    "builtins:__import__",
    "io:open",
    "importlib:import_module",
    "ctypes:CDLL",
    "pty:spawn",
    "pickle:loads",
    "marshal:loads",
    "shelve:open",
    "runpy:run_path",
    "code:interact",
    "socket:create_connection",
    "multiprocessing:Process",
    "signal:raise_signal",
    "webbrowser:open",
]


@pytest.mark.parametrize("path", DANGEROUS)
def test_a_known_dangerous_callable_is_refused_naming_the_tool_why_and_the_field(path):
    with pytest.raises(UnsafeToolError) as info:
        Tool.load(path)
    message = str(info.value)
    module = path.replace(":", ".").rsplit(".", 1)[0]
    assert message.startswith(f"tool {path!r} is refused: it comes from {module}")
    assert "runs with your rights" in message and "allow_unsafe_tools: true" in message


@pytest.mark.parametrize(
    ("path", "origin"),
    [
        ("tests.unsafe_aliases:tidy", "posix"),
        ("tests.unsafe_aliases:run_shell", "subprocess"),
        ("tests.unsafe_aliases:wrapped", "posix"),
        ("asyncio:create_subprocess_shell", "asyncio.subprocess"),
    ],
)
def test_an_alias_re_exported_elsewhere_is_judged_by_where_it_comes_from(path, origin):
    with pytest.raises(UnsafeToolError, match=f"it comes from {origin}"):
        Tool.load(path)


def test_allowed_explicitly_it_loads_and_ordinary_tools_load_as_before():
    assert Tool.load("os:system", allow_unsafe=True).name == "system"
    assert Tool.load("tests.tools_for_tests:add").name == "add"
    assert Tool.load("json:dumps").name == "dumps"


# -- in a workflow ---------------------------------------------------------------------------

WORKFLOW = """\
name: Tools room
{allow}agents:
  - id: clerk
    tools:
      - {tool}
strategy:
  name: round-robin
termination:
  max_turns: 1
"""


def workflow_text(tool: str = "tests.tools_for_tests:add", allow: bool = False) -> str:
    return WORKFLOW.format(tool=tool, allow="allow_unsafe_tools: true\n" if allow else "")


def test_a_workflow_naming_a_dangerous_tool_is_refused_at_its_line():
    with pytest.raises(WorkflowError) as info:
        parse_workflow(workflow_text("os:system"), "tools.yaml")
    assert str(info.value).startswith(
        "tools.yaml:5: agents[0].tools[0]: tool 'os:system' is refused: it comes from os, "
        "which runs programs"
    )
    assert "allow_unsafe_tools: true" in str(info.value)


def test_a_dangerous_strategy_rule_is_refused_too():
    text = workflow_text().replace(
        "  name: round-robin", "  name: role-based\n  selector: rule\n  rule: builtins:eval"
    )
    with pytest.raises(WorkflowError, match=r"strategy\.rule: tool 'builtins:eval' is refused"):
        parse_workflow(text, "tools.yaml")


def test_a_workflow_that_allows_unsafe_tools_lists_what_it_imports():
    workflow = parse_workflow(workflow_text("os:system", allow=True))
    assert workflow.allow_unsafe_tools
    assert workflow.imports == [("clerk", "os:system")]


async def test_an_alias_passes_the_file_check_but_the_room_refuses_to_load_it(tmp_path):
    workflow = parse_workflow(workflow_text("tests.unsafe_aliases:tidy"))
    room = LiveRoom(
        RoomOptions(db=tmp_path / "r.db", workflow=workflow, default_model=ReplayClient([]))
    )
    try:
        with pytest.raises(UnsafeToolError, match=r"'tests\.unsafe_aliases:tidy' is refused"):
            await room.open()
    finally:
        await room.close()


# -- resuming a session whose agents have tools ------------------------------------------------


async def run_once(db: Path, workflow_file: Path) -> str:
    room = LiveRoom(
        RoomOptions(
            db=db,
            workflow=load_workflow(workflow_file),
            source=str(workflow_file),
            default_model=ReplayClient(["first words"]),
            feed=False,
        )
    )
    try:
        await room.open()
        await room.run()
        assert room.engine is not None
        return room.engine.session_id
    finally:
        await room.close()


async def resume(db: Path, sid: str, workflow_file: Path | None = None) -> LiveRoom:
    """Open (and close) a resumed room; returns it for its agents, or raises."""
    room = LiveRoom(
        RoomOptions(
            db=db,
            session_id=sid,
            workflow=load_workflow(workflow_file) if workflow_file else None,
            source=str(workflow_file or ""),
            default_model=ReplayClient(["again"]),
            max_messages=1,
            feed=False,
        )
    )
    try:
        await room.open()
    finally:
        await room.close()
    return room


@pytest.fixture
def started(tmp_path: Path):
    async def start(text: str = workflow_text()) -> tuple[Path, Path, str]:
        file = tmp_path / "tools.yaml"
        file.write_text(text)
        db = tmp_path / "room.db"
        return db, file, await run_once(db, file)

    return start


async def room_row(db: Path, sid: str) -> tuple[str, dict]:
    async with await SqliteStore.open(db) as store:
        room = await store.get_room(sid)
    return room.state, room.metadata


async def test_resume_takes_the_tools_from_the_file_it_was_started_from(started, tmp_path):
    db, file, sid = await started()
    _, metadata = await room_row(db, sid)
    assert metadata["workflow_path"] == str(file.resolve())
    room = await resume(db, sid)
    assert room.engine is not None and "add" in room.engine.get_agent("clerk").toolbox.tools


async def test_resume_without_the_workflow_file_is_refused_and_changes_nothing(started):
    db, file, sid = await started()
    before = await room_row(db, sid)
    file.unlink()
    with pytest.raises(WorkflowError) as info:
        await resume(db, sid)
    assert str(info.value) == (
        f"session {sid} runs tools named by its workflow file, which cannot be used "
        f"({file.resolve()}: cannot read it (No such file or directory)); pass the workflow "
        f"that started it: agentroom resume {sid} --workflow FILE"
    )
    assert await room_row(db, sid) == before


async def test_resume_with_the_workflow_passed_explicitly(started, tmp_path):
    db, file, sid = await started()
    moved = file.rename(tmp_path / "moved.yaml")
    room = await resume(db, sid, moved)
    assert room.engine is not None and "add" in room.engine.get_agent("clerk").toolbox.tools


async def test_a_workflow_file_naming_other_tools_is_refused(started, tmp_path):
    db, file, sid = await started()
    other = tmp_path / "other.yaml"
    other.write_text(workflow_text("tests.tools_for_tests:shout"))
    with pytest.raises(WorkflowError, match=f"{other} names other tools than session {sid}"):
        await resume(db, sid, other)
    file.write_text(workflow_text("tests.tools_for_tests:shout"))  # the file changed since
    with pytest.raises(WorkflowError, match=r"names other tools .*\(clerk: tests.tools_for_t"):
        await resume(db, sid)


async def test_tools_written_into_the_database_are_never_imported(started):
    db, _, sid = await started()
    with sqlite3.connect(db) as conn:
        (raw,) = conn.execute("SELECT metadata FROM rooms WHERE uid = ?", (sid,)).fetchone()
        metadata = json.loads(raw)
        metadata["workflow"]["agents"][0]["tools"] = ["tests.unsafe_aliases:tidy"]
        metadata["workflow"]["allow_unsafe_tools"] = True
        conn.execute("UPDATE rooms SET metadata = ? WHERE uid = ?", (json.dumps(metadata), sid))
    with pytest.raises(WorkflowError, match="names other tools"):
        await resume(db, sid)


async def test_a_session_without_tools_resumes_without_its_file(started):
    no_tools = workflow_text().replace("    tools:\n      - tests.tools_for_tests:add\n", "")
    db, file, sid = await started(no_tools)
    file.unlink()
    room = await resume(db, sid)
    assert room.engine is not None and not room.engine.get_agent("clerk").toolbox


async def test_the_apps_resume_is_refused_the_same_way(started, monkeypatch, tmp_path):
    """The session browser's resume opens RoomOptions(session_id=...): same rule, shown."""
    from agentroom.tui.app import AgentroomApp

    monkeypatch.setenv("AGENTROOM_CONFIG", str(tmp_path / "config.yaml"))
    db, file, sid = await started()
    file.unlink()
    options = RoomOptions(db=db, session_id=sid, default_model=ReplayClient([]))
    app = AgentroomApp(options, db=db)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        for _ in range(600):  # until the room screen has tried to open (30 s at most)
            if list(app._notifications):
                break
            await pilot.pause(0.05)
        (note,) = list(app._notifications)
    assert note.title == "cannot open the room"
    assert note.message.startswith(f"session {sid} runs tools named by its workflow file")
    assert note.message.endswith(f"agentroom resume {sid} --workflow FILE")


async def test_engine_run_workflow_keeps_the_file_a_resume_will_need(tmp_path):
    from agentroom import Engine

    file = tmp_path / "tools.yaml"
    file.write_text(workflow_text())
    async with Engine.open(tmp_path / "room.db") as engine:
        await engine.run_workflow(file, default_model=ReplayClient(["done"]))
        sid = engine.session_id
    _, metadata = await room_row(tmp_path / "room.db", sid)
    assert metadata["workflow_path"] == str(file.resolve())
    room = await resume(tmp_path / "room.db", sid)
    assert room.engine is not None and "add" in room.engine.get_agent("clerk").toolbox.tools
