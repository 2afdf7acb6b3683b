"""Model spec strings, and which model a room uses when nobody names one.

Specs: ``openai:MODEL``, ``ollama:MODEL``, ``openai-compat:MODEL@BASE_URL``,
``local`` (the packaged SmolLM2), ``local:PATH.gguf``, ``replay:FILE``,
``offline``.  When an agent names none, the first of these that applies wins:
the workflow's setting, ``--model``, ``$AGENTROOM_MODEL``, ``$OPENAI_API_KEY``
(OpenAI), an Ollama server answering on localhost, the packaged local model
when it is installed, then the offline demo model.  :func:`resolve` reports every step, so
``agentroom models`` can say what was chosen and why.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agentroom.core.errors import ModelConfigError
from agentroom.models.types import ModelClient

Kind = Literal["openai", "ollama", "openai-compat", "local", "replay", "offline"]
KINDS: tuple[Kind, ...] = ("openai", "ollama", "openai-compat", "local", "replay", "offline")

MODEL_ENV = "AGENTROOM_MODEL"
OPENAI_KEY_ENV = "OPENAI_API_KEY"
OPENAI_MODEL_ENV = "AGENTROOM_OPENAI_MODEL"
COMPAT_KEY_ENV = "AGENTROOM_API_KEY"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
OLLAMA_URL = "http://localhost:11434"

USAGE = (
    "use openai:MODEL, ollama:MODEL, openai-compat:MODEL@BASE_URL, local, local:PATH.gguf, "
    "replay:FILE or offline "
    "(for example ollama:llama3.2 or openai-compat:qwen@http://localhost:8000/v1)"
)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    kind: Kind
    model: str = ""
    base_url: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        raw = (text or "").strip()
        kind, _, rest = raw.partition(":")
        kind = kind.lower()
        if kind in ("offline", "local") and not rest:
            return cls(kind)  # type: ignore[arg-type]
        if kind not in KINDS or kind == "offline":
            raise ModelConfigError(f"unknown model spec {raw!r}: {USAGE}")
        if not rest.strip():
            raise ModelConfigError(f"model spec {raw!r} names no model: {USAGE}")
        if kind == "openai-compat":
            model, at, url = rest.partition("@")
            if not at or not model or not url.startswith(("http://", "https://")):
                raise ModelConfigError(
                    f"model spec {raw!r} needs MODEL@BASE_URL with an http(s) URL: {USAGE}"
                )
            return cls("openai-compat", model, url)
        if kind == "replay":
            return cls("replay", rest)
        return cls(kind, rest)

    def __str__(self) -> str:
        if self.kind in ("offline", "local") and not self.model:
            return self.kind
        if self.kind == "openai-compat":
            return f"openai-compat:{self.model}@{self.base_url}"
        return f"{self.kind}:{self.model}"


def missing_file(spec: ModelSpec) -> str | None:
    """What is wrong with the file a ``local:PATH`` or ``replay:FILE`` spec names, or None.

    Found without reading the file or loading any model (``workflows
    validate`` runs none).  A relative path is from the current folder, as
    when :func:`make_client` opens it; the message says which folder that is.
    """
    if spec.kind not in ("local", "replay") or not spec.model:
        return None
    path = Path(spec.model).expanduser()
    if spec.kind == "local":
        from agentroom.models.local import no_gguf_file

        problem = no_gguf_file(path)
    elif path.is_file():
        problem = None
    else:
        problem = f"no replay script at {path}: give replay:FILE, a YAML or JSON list of replies"
    if problem is not None and not path.is_absolute():
        problem += f" (a relative path is from the folder agentroom runs in: {Path.cwd()})"
    return problem


def make_client(spec: ModelSpec | str, env: Mapping[str, str] | None = None) -> ModelClient:
    """A client for ``spec``; credentials come from the environment, never from the spec."""
    from agentroom.models.offline import OfflineModel
    from agentroom.models.openai_compat import OpenAICompatClient
    from agentroom.models.replay import ReplayClient

    spec = ModelSpec.parse(spec) if isinstance(spec, str) else spec
    env = os.environ if env is None else env
    if spec.kind == "offline":
        return OfflineModel()
    if spec.kind == "local":
        from agentroom.models.local import LocalClient

        return LocalClient(spec.model or None)
    if spec.kind == "replay":
        return ReplayClient.from_file(spec.model)
    if spec.kind == "openai":
        key = env.get(OPENAI_KEY_ENV, "").strip()
        if not key:
            raise ModelConfigError(f"{spec} needs an API key: set {OPENAI_KEY_ENV}")
        return OpenAICompatClient(
            spec.model,
            base_url=env.get("OPENAI_BASE_URL") or None,
            api_key=key,
            api_key_env=OPENAI_KEY_ENV,
            provider="openai",
        )
    if spec.kind == "ollama":
        return OpenAICompatClient(
            spec.model,
            base_url=f"{ollama_url(env)}/v1",
            api_key="ollama",
            provider="ollama",
        )
    return OpenAICompatClient(
        spec.model,
        base_url=spec.base_url,
        api_key=env.get(COMPAT_KEY_ENV, "").strip() or None,
        api_key_env=COMPAT_KEY_ENV,
        provider="openai-compat",
    )


def ollama_url(env: Mapping[str, str]) -> str:
    host = env.get("OLLAMA_HOST", "").strip() or OLLAMA_URL
    if not host.startswith(("http://", "https://")):
        host = f"http://{host}"
    return host.rstrip("/")


async def probe_ollama(url: str, timeout: float = 0.4) -> list[str] | None:
    """The models an Ollama server at ``url`` lists, or None if nothing answers there."""
    from agentroom.models.http import http

    try:
        async with http.AsyncClient(timeout=timeout) as client:
            response = await client.get(f"{url}/api/tags")
            response.raise_for_status()
            return [m["name"] for m in response.json().get("models", []) if "name" in m]
    except (http.HTTPError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class Step:
    source: str
    outcome: str
    chosen: bool = False


@dataclass(frozen=True, slots=True)
class Resolution:
    spec: ModelSpec
    source: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str:
        return next(step.outcome for step in self.steps if step.chosen)


Probe = Callable[[str], Awaitable[list[str] | None]]


async def resolve(
    *,
    workflow: str | None = None,
    cli: str | None = None,
    env: Mapping[str, str] | None = None,
    probe: Probe = probe_ollama,
    local_missing: Callable[[], str | None] | None = None,
) -> Resolution:
    """Which model a room uses when an agent names none; see the module docstring."""
    env = os.environ if env is None else env
    steps: list[Step] = []

    def chosen(source: str, spec: ModelSpec, outcome: str) -> Resolution:
        steps.append(Step(source, outcome, chosen=True))
        return Resolution(spec, source, tuple(steps))

    for source, value in (
        ("workflow", workflow),
        ("--model", cli),
        (f"${MODEL_ENV}", env.get(MODEL_ENV, "").strip() or None),
    ):
        if value:
            return chosen(source, ModelSpec.parse(value), f"set to {value}")
        steps.append(Step(source, "not set"))
    if env.get(OPENAI_KEY_ENV, "").strip():
        model = env.get(OPENAI_MODEL_ENV, "").strip() or DEFAULT_OPENAI_MODEL
        return chosen(
            f"${OPENAI_KEY_ENV}",
            ModelSpec("openai", model),
            f"a key is set: OpenAI's {model} (change with ${OPENAI_MODEL_ENV})",
        )
    steps.append(Step(f"${OPENAI_KEY_ENV}", "not set"))
    url = ollama_url(env)
    models = await probe(url)
    if models:
        return chosen("ollama", ModelSpec("ollama", models[0]), f"{url} serves {models[0]}")
    steps.append(
        Step("ollama", f"no server at {url}" if models is None else f"{url} serves no models")
    )
    from agentroom.models.local import PACKAGED_NAME, missing

    absent = local_missing() if local_missing is not None else missing()
    if absent is None:
        return chosen("local", ModelSpec("local"), f"{PACKAGED_NAME} is installed; it runs here")
    steps.append(Step("local", absent))
    return chosen(
        "offline",
        ModelSpec("offline"),
        "nothing else is configured (for a real model install the local one, set "
        "AGENTROOM_MODEL or OPENAI_API_KEY, or start Ollama)",
    )
