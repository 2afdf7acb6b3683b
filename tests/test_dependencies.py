"""Every runtime dependency stops below its next major version, so a fresh install gets what
was tested: a new major may break an API, or an internal that agentroom/core/pydantic_fast.py
or agentroom/store/aiosqlite_queue.py relies on."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
RUNTIME = [
    Requirement(spec) for spec in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
]


@pytest.mark.parametrize("requirement", RUNTIME, ids=lambda r: r.name)
def test_a_runtime_dependency_stops_below_the_next_major_of_the_tested_version(requirement):
    installed = Version(version(requirement.name))
    uppers = [Version(s.version) for s in requirement.specifier if s.operator in ("<", "<=")]
    assert uppers, f"{requirement} has no upper bound (tested with {installed})"
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{requirement} does not admit the tested {requirement.name} {installed}"
    )
    next_major = Version(f"{installed.major + 1}")
    assert min(uppers) <= next_major, (
        f"{requirement} admits {requirement.name} {next_major} and later, "
        f"but {installed} is what was tested"
    )
