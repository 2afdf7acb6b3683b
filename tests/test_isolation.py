"""No test touches the user's data: every process a test starts is given its whole environment.

Two checks hold it for the future.  This file reads the tests' source: every
call that starts a process (``subprocess``, ``asyncio``'s, ``os``'s,
``pexpect``'s) passes ``env=``, and only :mod:`tests.environment` reads this
process's environment, so an environment can only come from
:func:`tests.environment.child_env`.  (``tests/child.py`` and
``tests/terminal.py`` take ``env`` as a required argument.)  At run time,
:mod:`tests.user_data_guard` fails the run if the user's folders or database
changed anyway; the last test here runs a small pytest session that leaks on
purpose and sees it fail.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.environment import child_env
from tests.terminal import Terminal
from tests.waiting import until

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

NEEDS_ENV = {
    "subprocess.run",
    "subprocess.Popen",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell",
    "pexpect.spawn",
    "pexpect.run",
}
"""Calls that start a process and can be given its environment: they must be."""
NO_ENV = ("os.system", "os.popen", "os.spawn", "os.exec", "os.posix_spawn", "pty.spawn")
"""Calls (by prefix) that start a process with this one's environment: never in a test."""
NOT_RUN = {"unsafe_aliases.py"}
"""Dangerous callables the tool loader must refuse (tests/agents/test_tool_safety.py); never run."""
ENVIRONMENT = ("os.environ", "os.environb", "os.getenv", "os.putenv", "os.unsetenv")
"""This process's environment; only tests/environment.py reads it."""


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted name, for ``import x as y`` and ``from x import y as z``."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                names[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, names: dict[str, str]) -> str | None:
    """``subprocess.run`` for ``subprocess.run``, ``sp.run`` or a ``run`` imported from it."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([names.get(node.id, node.id), *reversed(parts)])


def problems(source: str, where: str) -> tuple[list[str], int]:
    """What in ``source`` could start a process with the user's environment, by line; and how
    many process-starting calls it makes that are given ``env=``."""
    tree = ast.parse(source)
    names = _imported_names(tree)
    found: list[tuple[int, str]] = []
    checked = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)) and where != "environment.py":
            name = _dotted(node, names)
            if name in ENVIRONMENT:
                found.append((node.lineno, f"reads {name}; use tests.environment"))
        if not isinstance(node, ast.Call) or (called := _dotted(node.func, names)) is None:
            continue
        if called.startswith(NO_ENV):
            found.append((node.lineno, f"{called} runs with this process's environment"))
        elif called in NEEDS_ENV:
            env = next((k.value for k in node.keywords if k.arg == "env"), None)
            if env is None or (isinstance(env, ast.Constant) and env.value is None):
                found.append((node.lineno, f"{called} without env=; give it child_env(...)"))
            else:
                checked += 1
    return [f"{where}:{line}: {what}" for line, what in sorted(found)], checked


def test_every_process_a_test_starts_is_given_its_environment():
    found: list[str] = []
    checked = 0
    for path in sorted(TESTS.rglob("*.py")):
        if path.name in NOT_RUN:
            continue
        more, calls = problems(path.read_text(), str(path.relative_to(TESTS)))
        found += more
        checked += calls
    assert found == []
    assert checked >= 15  # the check saw the tests' subprocesses (it would pass on none)


def test_the_check_finds_each_way_round_it():
    source = textwrap.dedent(
        """
        import os, subprocess as sp
        from asyncio import create_subprocess_exec
        from subprocess import Popen
        sp.run(["agentroom"])
        Popen(["agentroom"], env=None)
        create_subprocess_exec("agentroom")
        os.system("agentroom")
        env = {**os.environ}
        sp.run(["agentroom"], env=env)
        """
    )
    found, checked = problems(source, "leaky.py")
    assert [line.split(": ", 1)[1] for line in found] == [
        "subprocess.run without env=; give it child_env(...)",
        "subprocess.Popen without env=; give it child_env(...)",
        "asyncio.create_subprocess_exec without env=; give it child_env(...)",
        "os.system runs with this process's environment",
        "reads os.environ; use tests.environment",
    ]
    assert checked == 1


def test_a_child_gets_only_its_own_folders_and_none_of_the_machines_settings(tmp_path, monkeypatch):
    for name, value in (("OPENAI_API_KEY", "sk-machine"), ("AGENTROOM_MODEL", "ollama:x")):
        monkeypatch.setenv(name, value)  # as a developer's shell might have them
    given = child_env(tmp_path, COLUMNS="200", AGENTROOM_DB=None)
    printed = subprocess.run(
        [sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
        capture_output=True,
        text=True,
        env=given,
        timeout=60,
    )
    seen = json.loads(printed.stdout)
    assert {name: seen[name] for name in given} == given
    assert "OPENAI_API_KEY" not in seen and "AGENTROOM_MODEL" not in seen
    assert "AGENTROOM_DB" not in seen and seen["COLUMNS"] == "200"
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        assert Path(seen[name]).is_relative_to(tmp_path), name
    assert seen["AGENTROOM_NO_LOCAL"] == "1" and seen["OLLAMA_HOST"] == "127.0.0.1:9"
    assert "AGENTROOM_NO_LOCAL" not in child_env(tmp_path, local=True)


LEAKS_IN_A_FIXTURE = """\
import sqlite3

import pytest

from agentroom.core.paths import default_db_path


@pytest.fixture(scope="module")
def room():
    db = default_db_path()  # nothing isolated this process: the user's database
    db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE rooms (uid TEXT)")


def test_clean():
    pass


def test_in_a_room(room):
    pass
"""
LEAKS_AT_IMPORT = """\
from agentroom.core.paths import config_dir

config_dir().mkdir(parents=True)
(config_dir() / "config.yaml").write_text("theme: mine")


def test_nothing():
    pass
"""


def test_a_run_that_writes_the_users_data_fails_naming_the_test_and_the_file(tmp_path):
    """A pytest run with the guard, as the user ``tmp_path/user`` runs it, on tests that leak."""
    (tmp_path / "test_fixture_leak.py").write_text(LEAKS_IN_A_FIXTURE)
    (tmp_path / "test_import_leak.py").write_text(LEAKS_AT_IMPORT)
    user = tmp_path / "user"
    (user / "config").mkdir(parents=True)
    (user / "config" / "kept.txt").write_text("the user's, untouched")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.user_data_guard", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=child_env(user, AGENTROOM_DB=None, PYTHONPATH=str(REPO)),
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    data = user / "data" / "agentroom"
    assert (data / "agentroom.db").exists()  # the leak happened (in the pretend user's home)
    assert "3 passed, 1 error" in done.stdout, done.stdout
    lines = done.stdout.splitlines()
    failed = (line.split(" Failed: ", 1) for line in lines if line.startswith("E "))
    (blamed,) = [parts[1] for parts in failed if len(parts) == 2]
    assert blamed.startswith("test_fixture_leak.py::test_in_a_room touched the user's data: ")
    assert f"created {data}; created {data / 'agentroom.db'}; " in blamed
    assert "child_env(tmp_path) from tests/environment.py" in blamed
    (outside,) = [line for line in lines if line.startswith("ERROR: the tests touched")]
    config = user / "config" / "agentroom"
    assert f"created {config}; created {config / 'config.yaml'}; " in outside
    assert "kept.txt" not in done.stdout and "test_clean" not in done.stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_a_program_in_tmux_gets_the_tests_environment_not_the_servers(tmp_path):
    """A tmux server that already runs with the user's settings hands them to no test program."""
    out = tmp_path / "env.txt"
    with Terminal(tmp_path) as term:
        term.env = term.env | {"AGENTROOM_DB": "/home/someone/agentroom.db", "LEAKED": "yes"}
        term.tmux("new-session", "-d", "-s", "users", "sleep 600")  # the server, holding those
        given = child_env(tmp_path, COLUMNS="120")
        term.start(f"env > {out}.part && mv {out}.part {out}; sleep 600", given)
        await until(out.exists)
    seen = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert seen["AGENTROOM_DB"] == given["AGENTROOM_DB"] and "LEAKED" not in seen
    assert {name: seen[name] for name in given} == given
    assert set(seen) - set(given) <= {"TERM", "PWD", "SHLVL", "_", "OLDPWD"}, seen
