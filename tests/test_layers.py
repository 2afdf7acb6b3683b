"""The house rules of docs/architecture.md, checked on the import graph drawn from the code.

Each module belongs to a layer (its folder); it may import from its own layer
and the layers below, never above, and no import circle may form, not even
inside a layer.  Interfaces never import the store, and no SQL is written
outside ``store/``.  Imports under ``if TYPE_CHECKING:`` count for the
direction (a type-only upward import still couples a lower layer to a higher
one) but not for circles (they do not run).  A failure names the module, the
import and the rule, so the fix is where the message points.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "agentroom"

LAYERS = (
    "core",
    "bus",
    "store",
    "conversation",
    "models",
    "agents",
    "coordination",
    "room",
    "interfaces",
)
"""Lowest first: a module may import its own layer and any layer before it."""

INTERFACES = ("cli", "tui", "server")

SQL = re.compile(
    r"\b(INSERT\s+(OR\s+\w+\s+)?INTO|SELECT\s+\S.*?\s+FROM|CREATE\s+(TABLE|INDEX)"
    r"|DELETE\s+FROM|UPDATE\s+\w+\s+SET|PRAGMA\s+\w+)\b",
    re.DOTALL,
)
"""Statements as this project writes them (keywords in capitals), so prose never matches."""


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    typing_only: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> str | None:
    """The layer a module of the package sits in (None for the package's own entry points)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None  # agentroom/__init__.py gathers the public names from every layer
    top = parts[1]
    if top == "__main__":
        return None
    return "interfaces" if top in INTERFACES else top


def resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), str(path))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for n in ast.walk(node)}
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, base] if base else here)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            target = resolve(name)
            if target and target != module and target.startswith("agentroom"):
                found.append(Import(module, target, node.lineno, id(node) in typing_only))
    return found


GRAPH = {m: imports_of(m, p) for m, p in MODULES.items()}


def test_every_module_sits_in_a_known_layer() -> None:
    unknown = sorted(m for m in MODULES if layer(m) is not None and layer(m) not in LAYERS)
    assert not unknown, f"modules outside the layers of docs/architecture.md: {unknown}"


def test_imports_only_point_down_the_layers() -> None:
    upward = []
    for module, found in GRAPH.items():
        mine = layer(module)
        if mine is None:
            continue
        for imp in found:
            theirs = layer(imp.target)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
                upward.append(
                    f"{MODULES[module].relative_to(PACKAGE.parent)}:{imp.line}: {module} ({mine}) "
                    f"imports {imp.target} ({theirs}), a layer above it"
                )
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_circle() -> None:
    edges = {
        m: {i.target for i in found if not i.typing_only and not i.target.endswith("__init__")}
        for m, found in GRAPH.items()
    }
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    circles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v] - packages:  # a package's __init__ only gathers names
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(edges.keys() - packages):
        if v not in index:
            visit(v)
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_interfaces_never_import_the_store() -> None:
    reaching = sorted(
        {
            f"{module}:{imp.line} imports {imp.target}"
            for module, found in GRAPH.items()
            if layer(module) == "interfaces"
            for imp in found
            if imp.target == "agentroom.store" or imp.target.startswith("agentroom.store.")
        }
    )
    assert not reaching, "interfaces go through agentroom.room.sessions:\n" + "\n".join(reaching)


def test_no_sql_outside_the_store() -> None:
    found = []
    for module, path in MODULES.items():
        if layer(module) == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and SQL.search(text) and not _is_docstring_like(text):
                found.append(f"{module}:{node.lineno}: {node.value[:60]!r}")
    assert not found, "SQL belongs in agentroom/store/:\n" + "\n".join(found)


def _is_docstring_like(text: str) -> bool:
    """Prose that mentions a statement (a docstring saying why) is not a statement."""
    return len(text.split()) > 12 and text.rstrip().endswith((".", ")", ":"))


def test_the_rules_catch_what_they_forbid() -> None:
    """The checks themselves work: an upward import and SQL in a string are seen."""
    assert layer("agentroom.coordination.strategy") == "coordination"
    assert layer("agentroom.tui.app") == layer("agentroom.cli.main") == "interfaces"
    assert LAYERS.index("core") < LAYERS.index("room")
    assert SQL.search("SELECT seq FROM envelopes WHERE room = ?")
    assert SQL.search("INSERT OR IGNORE INTO rooms (uid) VALUES (?)")
    assert not SQL.search("select a model from the list, then update it")
