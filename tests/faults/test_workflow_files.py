"""Workflow files that are broken or not workflows at all, through ``agentroom workflows validate``.

Each gets one line per problem naming the file, the line and the field; never
a traceback, and never the file's content quoted back (``/etc/shadow``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.hostile import agentroom, assert_inert_bytes, colourless


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return colourless(env)


def refused(env: dict[str, str], path: Path) -> list[str]:
    """The error lines ``workflows validate`` prints for ``path`` (it must fail cleanly)."""
    result = agentroom(env, "workflows", "validate", str(path))
    assert result.returncode == 1, result
    assert result.stdout == b""
    assert_inert_bytes(result.stderr, "validate")
    lines = result.stderr.decode().splitlines()
    assert lines and all(line.startswith(f"error: {path}") for line in lines), lines
    assert "Traceback" not in result.stderr.decode()
    return lines


def test_an_id_ending_in_a_newline_is_refused(env, tmp_path):
    path = tmp_path / "newline.yaml"
    path.write_text('name: x\nagents:\n  - id: "pro\\n"\n')
    (line,) = refused(env, path)
    assert line.startswith(f"error: {path}:3: agents[0].id: use 1-64 letters")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: x\nagents: " + "[" * 5000 + "]" * 5000 + "\n", ":2: agents: nested more than"),
        ("name: x\nagents: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", ":2: agents: nested"),
        ("- " * 5000 + "x\n", ":1: nested more than"),
    ],
    ids=["flow-lists", "flow-mappings", "block-lists"],
)
def test_5000_levels_of_nesting_is_one_line(env, tmp_path, text, where):
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    (line,) = refused(env, path)
    assert f"{path}{where}" in line


def test_a_nul_byte_is_one_line_with_its_line(env, tmp_path):
    path = tmp_path / "nul.yaml"
    path.write_bytes(b"name: x\nagents:\n  - id: a\x00b\n")
    (line,) = refused(env, path)
    assert (
        line
        == f"error: {path}:3: not a workflow: it holds a character YAML does not allow (U+0000)"
    )


SHADOW = "".join(
    f"{user}:$6$Secr3tSalt$Hash{user}Hash:19000:0:99999:7:::\n"
    for user in ("root", "daemon", "bin", "alice")
)


@pytest.mark.parametrize(
    "text",
    [
        SHADOW,
        "password: hunter2-Secr3t\napi_token: sk-Secr3t\n",
        "name: x\nagents: [{id: a}]\n'Secr3t value: hunter2': 1\nroot:$6$Secr3t: 2\n",
    ],
    ids=["shadow", "a-secrets-file", "secrets-as-keys-in-a-workflow"],
)
def test_a_file_that_is_not_a_workflow_is_never_quoted_back(env, tmp_path, text):
    path = tmp_path / "shadow"
    path.write_text(text)
    lines = refused(env, path)
    shown = "\n".join(lines)
    assert "Secr3t" not in shown and "hunter2" not in shown and "root:" not in shown
    assert all(f"{path}:" in line for line in lines)  # file and line, always


def test_a_shadow_file_is_named_as_not_a_workflow(env, tmp_path):
    path = tmp_path / "shadow"
    path.write_text(SHADOW)
    assert refused(env, path) == [
        f"error: {path}:1: not a workflow: it has no name: or agents: "
        "(see the samples: agentroom workflows list)"
    ]


def test_a_huge_file_is_not_read_whole_and_problems_are_capped(env, tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"name: x\n" + b"#" * 2_000_000)
    (line,) = refused(env, huge)
    assert "larger than 1 MB" in line
    many = tmp_path / "many.yaml"
    many.write_text("name: x\nagents: [{id: a}]\n" + "".join(f"k{i}: 1\n" for i in range(500)))
    lines = refused(env, many)
    assert len(lines) == 21 and lines[-1].endswith("... and 480 more problems")
