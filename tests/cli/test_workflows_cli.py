"""``agentroom workflows new`` and ``workflows validate``, through the real command.

A new workflow is written commented, 0600, never over a file that is there;
it validates and runs headless on the offline model as written.  ``validate``
imports tools from the workflow's folder, as ``run`` does, wherever the
command is run from.
"""

from __future__ import annotations

import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentroom.room.workflow_schema import STRATEGIES
from tests.cli import test_run_cli
from tests.cli.test_run_cli import session_of

env = test_run_cli.env  # the subprocess's environment (a fixture)


def agentroom(env: dict[str, str], cwd: Path, *args: str) -> Any:
    """The real command, run from the folder ``cwd``."""
    return test_run_cli.agentroom(env, *args, cwd=cwd)


@pytest.mark.parametrize(
    ("asked", "strategy"),
    [
        (None, "round-robin"),
        ("role based", "role-based"),
        ("Plan_Driven", "plan-driven"),
        ("handoff", "handoff"),
    ],
)
def test_a_new_workflow_is_commented_valid_and_runs(env, tmp_path, asked, strategy):
    more = ["--strategy", asked] if asked else []
    made = agentroom(env, tmp_path, "workflows", "new", "my_room", *more)
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines() == [
        f"Wrote my_room.yaml: a {strategy} workflow to edit.",
        "Check it with: agentroom workflows validate my_room.yaml",
        "Run it with:   agentroom run my_room.yaml",
    ]
    path = tmp_path / "my_room.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith(f"# my_room: an agentroom workflow ({strategy}).\n")
    assert "# Every key, its type, default and unit: docs/workflows.md" in text
    assert "seconds" in text  # the human's timeout says its unit
    data = yaml.safe_load(text)
    assert data["name"] == "my_room" and data["strategy"]["name"] == strategy
    checked = agentroom(env, tmp_path, "workflows", "validate", "my_room.yaml")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("my_room.yaml: ok (my_room: ") and strategy in checked.stdout
    ran = agentroom(env, tmp_path, "run", "my_room.yaml", "--headless", "--model", "offline")
    assert ran.returncode == 0, ran.stderr
    assert session_of(ran.stdout)


def test_new_never_writes_over_a_file(env, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nagents: [a]\n")
    for name in ("mine", "mine.yaml"):
        refused = agentroom(env, tmp_path, "workflows", "new", name, "--strategy", "handoff")
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.splitlines() == [
            "error: mine.yaml already exists; choose another name, or move it away first"
        ]
    assert path.read_text() == "name: mine\nagents: [a]\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.yaml"]  # no temporary file left


def test_new_writes_in_the_folder_given_and_refuses_what_it_cannot_use(env, tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    made = agentroom(env, tmp_path, "workflows", "new", "team", "--to", str(folder))
    assert made.returncode == 0, made.stderr
    assert (folder / "team.yaml").is_file()
    missing = agentroom(env, tmp_path, "workflows", "new", "team", "--to", "nowhere")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        "error: no folder nowhere: create it first, or give another with --to DIR"
    ]
    for bad in ("../up", "a/b", "-x", "\x1b[2Jx"):
        refused = agentroom(env, tmp_path, "workflows", "new", "--", bad)
        assert refused.returncode == 2, refused
        (line,) = refused.stderr.splitlines()
        assert line.startswith("error: ") and "is not a workflow name: use 1-64 letters" in line
        assert "\x1b" not in line
    unknown = agentroom(env, tmp_path, "workflows", "new", "x", "--strategy", "chaos")
    assert unknown.returncode == 2
    assert "unknown strategy 'chaos'; choose one of: " + ", ".join(STRATEGIES) in unknown.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flows"]


TOOL = '''
def stamp(text: str) -> str:
    """Stamp it."""
    return f"[stamped] {text}"
'''


def test_validate_and_run_import_a_tool_from_the_workflows_folder(env, tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    mod = f"stamps_{uuid.uuid4().hex[:8]}"
    (folder / f"{mod}.py").write_text(TOOL)
    (folder / "stamping.yaml").write_text(
        f"name: stamping\nagents:\n  - id: clerk\n    tools: [{mod}:stamp]\n"
        "termination:\n  max_messages: 2\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    checked = agentroom(env, elsewhere, "workflows", "validate", "../flows/stamping.yaml")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[-1] == f"  clerk: {mod}:stamp"
    ran = agentroom(env, elsewhere, "run", "../flows/stamping.yaml", "--headless")
    assert ran.returncode == 0, ran.stderr
    assert "reached 2 messages" in ran.stdout


def test_validate_reports_what_run_would_hit_one_line_each(env, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(
        "name: broken\n"
        "agents:\n"
        "  - id: a\n"
        "    model: local:nowhere/model.gguf\n"
        "    tools: [no_such_tools_module:go, tests.tools_for_tests.add]\n"
    )
    bad = agentroom(env, tmp_path, "workflows", "validate", "broken.yaml")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.splitlines() == [
        "error: broken.yaml:5: agents[0].tools[0]: tool 'no_such_tools_module:go': no module "
        "named no_such_tools_module; put no_such_tools_module.py beside the workflow, or "
        "install it",
        "error: broken.yaml:5: agents[0].tools[1]: 'tests.tools_for_tests.add' has a dot where "
        "the colon goes; write `tests.tools_for_tests:add`",
        "error: broken.yaml:4: agents[0].model: no GGUF file at nowhere/model.gguf: give "
        "local:PATH to a .gguf file, or plain local for the packaged model (a relative path "
        f"is from the folder agentroom runs in: {tmp_path})",
    ]
    path.write_text("name: broken\nagents:\n  - id: a\n    tools: [no_such_tools_module:go]\n")
    ran = agentroom(env, tmp_path, "run", "broken.yaml", "--headless", "--model", "offline")
    assert ran.returncode == 1  # run stops at the same thing, in the same words
    assert ran.stderr.splitlines() == [
        "error: tool 'no_such_tools_module:go': no module named no_such_tools_module; put "
        "no_such_tools_module.py beside the workflow, or install it"
    ]


def test_validate_says_a_near_miss_without_pydantic_words(env, tmp_path):
    path = tmp_path / "near.yaml"
    path.write_text("name: near\nagents: [a]\nstop:\n  max_messages: 3\nstrategy: round robin\n")
    bad = agentroom(env, tmp_path, "workflows", "validate", str(path))
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        f"error: {path}:3: stop: unknown key; did you mean `termination`?"
    ]
    path.write_text(
        "name: near\nagents: [a]\ntermination:\n  max_messages: 3\nstrategy: Round_Robin\n"
    )
    ok = agentroom(env, tmp_path, "workflows", "validate", str(path))
    assert ok.returncode == 0 and "round-robin" in ok.stdout
