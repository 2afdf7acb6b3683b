"""``check_workflow`` (``workflows validate``) finds what ``run`` would hit, and run agrees.

Tools are imported with the workflow file's own folder on the import path,
at validate time and at run time alike; a path written ``module.function``
is asked for its colon; a model file that is not there is named.  Every
problem is one line naming file, line and field.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from agentroom import Engine
from agentroom.agents.tools import load_callable
from agentroom.core.errors import ModelConfigError, WorkflowError
from agentroom.models.replay import ReplayClient
from agentroom.room.workflows import check_workflow, load_workflow


def module_beside(folder: Path, body: str) -> str:
    """A tool module in ``folder`` with a name no other test uses (a module imports once)."""
    name = f"beside_{uuid.uuid4().hex[:10]}"
    (folder / f"{name}.py").write_text(body)
    return name


DOUBLE = '''
def double(n: int) -> int:
    """Twice n."""
    return 2 * n


def only_the_first(participants, recent):
    return [participants[0].id]
'''


def problems(path: Path) -> list[str]:
    with pytest.raises(WorkflowError) as caught:
        check_workflow(path)
    return str(caught.value).splitlines()


async def test_a_tool_beside_the_workflow_is_imported_at_validate_and_at_run(tmp_path, db_path):
    folder = tmp_path / "room"
    folder.mkdir()
    mod = module_beside(folder, DOUBLE)
    path = folder / "doubling.yaml"
    path.write_text(
        f"name: doubling\nagents:\n  - id: a\n    tools: [{mod}:double]\n  - id: b\n"
        f"strategy:\n  name: role-based\n  candidate_func: {mod}:only_the_first\n"
        "termination:\n  tool_called: [double]\n"
    )
    before = list(sys.path)
    assert check_workflow(path).agents[0].tools == [f"{mod}:double"]
    assert sys.path == before  # the folder was on it only while importing
    call = {"tool_calls": [{"name": "double", "arguments": {"n": 21}}]}
    async with Engine.open(db_path) as engine:
        result = await engine.run_workflow(str(path), default_model=ReplayClient([call, "42"]))
    assert result.reason == "a called double"
    (done,) = [e for e in result.envelopes if e.metadata.get("event") == "tool_result"]
    assert done.content == "42" and done.metadata["ok"]
    assert sys.path == before


def test_without_its_folder_the_same_module_is_not_found(tmp_path):
    mod = module_beside(tmp_path, DOUBLE)
    with pytest.raises(ModelConfigError) as caught:
        load_callable(f"{mod}:double")
    assert str(caught.value) == (
        f"tool '{mod}:double': no module named {mod}; put {mod}.py on the import path, "
        "or install it"
    )
    assert load_callable(f"{mod}:double", folder=tmp_path)(4) == 8


def test_every_problem_run_would_hit_is_a_line_with_its_field(tmp_path):
    mod = module_beside(tmp_path, DOUBLE)
    broken = module_beside(tmp_path, "def f(:\n")
    raising = module_beside(tmp_path, "raise RuntimeError('no config file')\n")
    path = tmp_path / "room.yaml"
    path.write_text(
        "name: x\n"
        "model: replay:no-such-script.yaml\n"
        "agents:\n"
        "  - id: a\n"
        "    tools:\n"
        f"      - {mod}:dubble\n"
        "      - tests.tools_for_tests.add\n"
        "      - no_such_module_here:run\n"
        f"      - {broken}:f\n"
        f"      - {raising}:f\n"
        "  - id: b\n"
        f"    model: local:{tmp_path}/missing.gguf\n"
        "strategy:\n"
        "  name: role-based\n"
        "  selector: rule\n"
        f"  rule: {mod}:nobody\n"
    )
    assert problems(path) == [
        f"{path}:6: agents[0].tools[0]: tool '{mod}:dubble': {mod} has no function 'dubble'; "
        "did you mean 'double'?",
        f"{path}:7: agents[0].tools[1]: 'tests.tools_for_tests.add' has a dot where the colon "
        "goes; write `tests.tools_for_tests:add`",
        f"{path}:8: agents[0].tools[2]: tool 'no_such_module_here:run': no module named "
        "no_such_module_here; put no_such_module_here.py beside the workflow, or install it",
        f"{path}:9: agents[0].tools[3]: tool '{broken}:f': importing {broken} failed "
        f"(SyntaxError: invalid syntax ({broken}.py, line 1)); fix that module",
        f"{path}:10: agents[0].tools[4]: tool '{raising}:f': importing {raising} failed "
        "(RuntimeError: no config file); fix that module",
        f"{path}:16: strategy.rule: tool '{mod}:nobody': {mod} has no function 'nobody'",
        f"{path}:2: model: no replay script at no-such-script.yaml: give replay:FILE, a YAML or "
        "JSON list of replies (a relative path is from the folder agentroom runs in: "
        f"{Path.cwd()})",
        f"{path}:12: agents[1].model: no GGUF file at {tmp_path}/missing.gguf: give "
        "local:PATH to a .gguf file, or plain local for the packaged model",
    ]
    # The schema alone has nothing against it: these are what running it would find.
    assert load_workflow(path).strategy.rule == f"{mod}:nobody"


def test_a_module_that_imports_something_missing_says_to_install_it(tmp_path):
    mod = module_beside(tmp_path, "import no_such_dependency_xyz\n\ndef f():\n    pass\n")
    path = tmp_path / "room.yaml"
    path.write_text(f"name: x\nagents:\n  - id: a\n    tools: [{mod}:f]\n")
    assert problems(path) == [
        f"{path}:4: agents[0].tools[0]: tool '{mod}:f': {mod} imports no_such_dependency_xyz, "
        "which is not installed; install it"
    ]


def test_a_function_that_cannot_be_a_tool_is_said_at_validate(tmp_path):
    mod = module_beside(tmp_path, "def f(x: 'NoSuchType') -> str:\n    return ''\n")
    path = tmp_path / "room.yaml"
    path.write_text(f"name: x\nagents:\n  - id: a\n    tools: [{mod}:f]\n")
    (line,) = problems(path)
    assert line.startswith(
        f"{path}:4: agents[0].tools[0]: tool '{mod}:f': its arguments cannot be described "
        "to a model (NameError: "
    )
    assert line.endswith("give each plain types (str, int, float, bool, lists and dicts of them)")


def test_model_files_that_are_there_pass(tmp_path):
    script = tmp_path / "script.yaml"
    script.write_text("- hello\n")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")  # never opened: validate runs no model
    path = tmp_path / "room.yaml"
    path.write_text(
        f"name: x\nmodel: replay:{script}\nagents:\n  - id: a\n    model: local:{gguf}\n"
    )
    assert check_workflow(path).model == f"replay:{script}"
