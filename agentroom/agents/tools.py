"""Python functions as tools an agent's model may call.

A tool's JSON schema comes from the function's signature (through pydantic),
its description from the docstring.  Whatever goes wrong inside a call (bad
arguments, an exception, a timeout) becomes the call's *result*, which the
model sees and can react to; it never crashes the room.

A tool runs with the rights of whoever runs agentroom, and a model chooses
its arguments: a workflow naming ``os:system`` hands a shell to whatever
writes the model's replies.  So :meth:`Tool.load` refuses callables from
modules known to run programs, run code given as text, import code, touch
any file, open connections, load native code or unpickle data
(:data:`UNSAFE_MODULES`), judged by the module the path names *and* by the
module the function really comes from (an alias re-exported elsewhere is
caught too), unless the caller allows it (a workflow's
``allow_unsafe_tools: true``).  The list catches the obvious; a tool of your
own can still do anything you can.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import importlib
import inspect
import json
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError, create_model

from agentroom.core.errors import ModelConfigError, UnsafeToolError
from agentroom.core.text import one_line, valid_text
from agentroom.models.types import ToolCall, ToolSpec

RESULT_LIMIT = 8_000
"""Characters of a result the model is shown; the rest is cut (and says so)."""

ALLOW_FIELD = "allow_unsafe_tools"
"""The workflow field that lets a workflow use a callable from :data:`UNSAFE_MODULES`."""

_UNSAFE: dict[str, tuple[str, ...]] = {
    "runs programs or signals processes": (
        "os",
        "posix",
        "nt",
        "subprocess",
        "_posixsubprocess",
        "asyncio.subprocess",
        "pty",
        "signal",
        "multiprocessing",
        "_thread",
        "webbrowser",
        "pydoc",
        "_winapi",
        "msvcrt",
        "winreg",
    ),
    "runs code given as text or imports code": (
        "builtins",
        "sys",
        "importlib",
        "_imp",
        "pkgutil",
        "zipimport",
        "runpy",
        "code",
        "codeop",
        "timeit",
        "pdb",
        "bdb",
        "profile",
        "cProfile",
        "trace",
        "doctest",
        "logging.config",
        "gc",
        "ctypes",
        "_ctypes",
        "cffi",
    ),
    "turns data into code (unpickling)": ("pickle", "_pickle", "marshal", "shelve", "copyreg"),
    "reads or writes any file": (
        "io",
        "_io",
        "codecs",
        "shutil",
        "tempfile",
        "fileinput",
        "dbm",
        "sqlite3",
        "tarfile",
        "zipfile",
    ),
    "opens network connections": (
        "socket",
        "_socket",
        "ssl",
        "socketserver",
        "urllib.request",
        "http.client",
        "http.server",
        "ftplib",
        "smtplib",
        "poplib",
        "imaplib",
        "telnetlib",
        "xmlrpc",
    ),
    "installs packages": ("pip", "ensurepip", "venv", "setuptools"),
}
UNSAFE_MODULES: dict[str, str] = {
    module: why for why, modules in _UNSAFE.items() for module in modules
}
"""Modules (and their submodules) whose callables are refused as tools, and why."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    call: ToolCall
    content: str
    ok: bool


TIMEOUT = 30.0
"""Seconds a tool may take before its call is answered with an error."""


class Tool:
    """One callable with the schema a model needs to call it."""

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        timeout: float | None = TIMEOUT,
    ) -> None:
        """``timeout``: None for a tool that runs another agent's turn (a delegation takes
        as long as that turn, on a small local model minutes; the room's stop still stops
        it)."""
        self.function = function
        self.timeout = timeout
        self.name = name or function.__name__
        self.description = inspect.cleandoc(function.__doc__ or "") or f"The {self.name} tool."
        self._model = _arguments_model(function, self.name)
        schema = self._model.model_json_schema()
        schema.pop("title", None)
        self.spec = ToolSpec(self.name, self.description, schema)

    @classmethod
    def load(cls, path: str, *, allow_unsafe: bool = False, folder: Path | None = None) -> Tool:
        """A tool from an import path, ``package.module:function`` (or dotted), importable
        from ``folder`` too (a workflow's own folder: see :func:`load_callable`).

        A callable from :data:`UNSAFE_MODULES` is refused (:class:`UnsafeToolError`)
        unless ``allow_unsafe``: the module named is judged before anything is
        imported, the function's own module once it is found.
        """
        function = load_callable(path, allow_unsafe=allow_unsafe, folder=folder)
        try:
            return cls(function)
        except Exception as exc:  # an annotation that names nothing, a type no schema has
            raise ModelConfigError(
                f"tool {path!r}: its arguments cannot be described to a model "
                f"({type(exc).__name__}: {one_line(str(exc), 160)}); give each plain types "
                "(str, int, float, bool, lists and dicts of them)"
            ) from None

    async def run(self, call: ToolCall) -> ToolResult:
        """Call the tool; its result (or what went wrong) as valid text for the model.

        Valid Unicode because a result goes back to the model server as JSON: a
        tool listing a file whose name is not UTF-8 returns a lone surrogate,
        which no server would accept.
        """
        content, ok = await self._call(call, self.timeout)
        return ToolResult(call, valid_text(content), ok)

    async def _call(self, call: ToolCall, timeout: float | None) -> tuple[str, bool]:
        try:
            raw = json.loads(call.arguments or "{}")
            if not isinstance(raw, dict):
                raise ValueError("arguments must be a JSON object")
            args = self._model.model_validate(raw)
        except (ValueError, ValidationError) as exc:
            return f"error: bad arguments for {self.name}: {_short(exc)}", False
        kwargs = {name: getattr(args, name) for name in type(args).model_fields}
        try:
            if inspect.iscoroutinefunction(self.function):
                value = await asyncio.wait_for(self.function(**kwargs), timeout)
            else:  # a blocking function must not stall the room
                value = await asyncio.wait_for(asyncio.to_thread(self.function, **kwargs), timeout)
        except TimeoutError:
            return f"error: {self.name} took longer than {timeout:g}s", False
        except Exception as exc:
            return f"error: {self.name} failed: {type(exc).__name__}: {exc}", False
        return _as_text(value), True


def load_callable(
    path: str, *, allow_unsafe: bool = False, folder: Path | None = None
) -> Callable[..., Any]:
    """The callable at ``path`` (``package.module:function`` or dotted), judged by
    :func:`unsafe_reason` unless ``allow_unsafe`` (a strategy's rule is loaded this way too).

    ``folder`` (a workflow's own) comes first on ``sys.path`` while the module
    is imported, as ``python script.py`` puts the script's folder first: a
    ``my_tools.py`` beside the workflow file is found wherever agentroom runs.
    It is taken off again afterwards, so a tool should import what it needs
    at the top of its module.  A module is imported once per process.
    """
    module_name, attr = _split(path)
    if not allow_unsafe:
        _refuse_if_unsafe(path, unsafe_reason(path))
    try:
        with _importable_from(folder):
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ModelConfigError(f"tool {path!r}: {_not_found(module_name, exc, folder)}") from None
    except Exception as exc:  # its own code failed: a SyntaxError, an exception at the top
        raise ModelConfigError(
            f"tool {path!r}: importing {module_name} failed "
            f"({type(exc).__name__}: {one_line(str(exc), 160)}); fix that module"
        ) from None
    function = getattr(module, attr, None)
    if not callable(function):
        there = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        close = difflib.get_close_matches(attr, there, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ModelConfigError(f"tool {path!r}: {module_name} has no function {attr!r}{hint}")
    if not allow_unsafe:
        _refuse_if_unsafe(path, unsafe_reason(path, function))
    return function  # type: ignore[no-any-return]


@contextlib.contextmanager
def _importable_from(folder: Path | None) -> Iterator[None]:
    if folder is None:
        yield
        return
    entry = str(folder)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()  # a module written a moment ago is found
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _not_found(module_name: str, exc: ModuleNotFoundError, folder: Path | None) -> str:
    """Why ``module_name`` is not there, and what to do: the module itself, or one it imports."""
    missing = exc.name or module_name
    if module_name != missing and not module_name.startswith(f"{missing}."):
        return f"{module_name} imports {missing}, which is not installed; install it"
    top = missing.partition(".")[0]
    where = "beside the workflow" if folder is not None else "on the import path"
    return f"no module named {missing}; put {top}.py {where}, or install it"


def unsafe_reason(path: str, function: Any = None) -> str | None:
    """Why the callable at ``path`` is known to be dangerous as a tool, or None.

    Without ``function`` only the module the path names is judged (no import
    needed: ``workflows validate`` uses this); with it, every module the
    function comes from too: its ``__module__``, the module a built-in belongs
    to, and what a ``functools.partial`` or a decorator wraps.
    """
    module_name, _ = _split(path)
    for module in (module_name, *(_origins(function) if function is not None else ())):
        parts = module.split(".")
        for end in range(len(parts), 0, -1):
            family = ".".join(parts[:end])
            why = UNSAFE_MODULES.get(family)
            if why is not None:
                part_of = f" (part of {family})" if family != module else ""
                return f"it comes from {module}{part_of}, which {why}"
    return None


def _split(path: str) -> tuple[str, str]:
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ModelConfigError(
            f"tool {path!r} is not an import path; write package.module:function"
        )
    return module_name, attr


def _origins(function: Any) -> list[str]:
    """The modules ``function`` comes from, through aliases, partials and wrappers."""
    found: list[str] = []
    todo: list[Any] = [function]
    seen: set[int] = set()
    while todo and len(seen) < 32:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        module = getattr(item, "__module__", None)
        if isinstance(module, str):
            found.append(module)
        owner = getattr(item, "__self__", None)
        if isinstance(owner, types.ModuleType):  # a built-in function: posix.system
            found.append(owner.__name__)
        elif owner is not None:  # a bound method: its object's class decides
            todo.append(type(owner))
        for name in ("__wrapped__", "func"):  # functools.wraps, functools.partial
            inner = getattr(item, name, None)
            if callable(inner):
                todo.append(inner)
        if not isinstance(item, _FUNCTION_TYPES):
            todo.append(type(item))  # a callable object: its class's module
    return found


_FUNCTION_TYPES = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
)
"""What is itself a function (its class, a built-in type, says nothing of where it comes from)."""


def refusal(path: str, why: str) -> str:
    """The one message for a refused tool: which one, why, and the field that allows it."""
    return (
        f"tool {path!r} is refused: {why}; a tool runs with your rights and a model chooses "
        f"its arguments (add {ALLOW_FIELD}: true to the workflow if it really needs it)"
    )


def _refuse_if_unsafe(path: str, why: str | None) -> None:
    if why is not None:
        raise UnsafeToolError(refusal(path, why))


class Toolbox:
    """An agent's tools by name."""

    def __init__(self, tools: Iterable[Tool | Callable[..., Any] | str] = ()) -> None:
        """``tools`` as :class:`Tool` objects, functions, or import paths (loaded with
        :meth:`Tool.load`, so a known-dangerous one is refused)."""
        self.tools: dict[str, Tool] = {}
        for item in tools:
            tool = (
                item
                if isinstance(item, Tool)
                else (Tool.load(item) if isinstance(item, str) else Tool(item))
            )
            self.tools[tool.name] = tool

    def __bool__(self) -> bool:
        return bool(self.tools)

    def add(self, tool: Tool) -> None:
        self.tools[tool.name] = tool

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(tool.spec for tool in self.tools.values())

    async def run(self, call: ToolCall) -> ToolResult:
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return ToolResult(call, f"error: no tool named {call.name!r}; tools: {known}", False)
        return await tool.run(call)


def _arguments_model(function: Callable[..., Any], name: str) -> Any:
    fields: dict[str, Any] = {}
    hints = inspect.get_annotations(function, eval_str=True)
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    return create_model(f"{name}_arguments", **fields)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > RESULT_LIMIT:
        text = text[:RESULT_LIMIT] + f"… [cut: {len(text) - RESULT_LIMIT} more characters]"
    return text


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in exc.errors()
        )
    return str(exc)
