"""The TUI uses only Textual's public API, so a Textual upgrade cannot break it silently.

Textual's private modules and methods change without notice.  The TUI imports
none of them, and none of its widgets overrides (or, by a chance name clash,
replaces) a private method of a Textual class it derives from.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import FunctionType

import textual

import agentroom.tui

UPGRADE = f"(textual {textual.__version__})"


def _modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(agentroom.tui.__path__, prefix="agentroom.tui.")
        if not info.ispkg
    ]


def test_no_tui_module_imports_a_private_textual_module():
    private = []
    for name in _modules():
        module = importlib.import_module(name)
        tree = ast.parse(Path(inspect.getfile(module)).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found = [node.module]
            elif isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            else:
                continue
            private += [
                f"{name}: {m}"
                for m in found
                if m.startswith("textual") and any(p.startswith("_") for p in m.split("."))
            ]
    assert not private, f"private Textual modules imported {UPGRADE}: {private}"


def test_no_tui_widget_overrides_a_private_textual_method():
    overrides = []
    for name in _modules():
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            if cls.__module__ != name:
                continue
            textual_bases = [b for b in cls.__mro__ if b.__module__.startswith("textual")]
            for attr, value in vars(cls).items():
                if not attr.startswith("_") or attr.startswith("__"):
                    continue
                if not isinstance(value, FunctionType | property | classmethod | staticmethod):
                    continue  # what Textual's metaclass puts on every class (_reactives, ...)
                clash = [b.__qualname__ for b in textual_bases if attr in vars(b)]
                if clash:
                    overrides.append(f"{cls.__qualname__}.{attr} (Textual's {clash[0]})")
    assert not overrides, f"private Textual methods overridden {UPGRADE}: {overrides}"
