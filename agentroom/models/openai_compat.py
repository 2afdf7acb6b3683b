"""One client for every OpenAI-compatible server: OpenAI, Ollama, vLLM, llama.cpp, LM Studio.

Built on the official ``openai`` SDK with its own retries switched off, so
that the policy is ours and tested: 429, 5xx and dropped or refused
connections are retried with exponential back-off and full jitter (a
server's ``Retry-After`` wins when it gives one), but only until the first
token has arrived: a reply broken off half-way is reported, with what arrived
kept, rather than silently started again.  Failures that retrying cannot fix
become errors that say what to do.  The API key is read from the environment
when the client is made and is never stored in a label, a log or the room.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import openai

from agentroom.errors import (
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelServerError,
)
from agentroom.models.http import http
from agentroom.models.types import (
    Finished,
    ModelEvent,
    ModelRequest,
    TextDelta,
    ToolCall,
    ToolCallRequested,
    Usage,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    """Tries in all (the first and four retries)."""
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


class OpenAICompatClient:
    """A streaming chat client for one model on one OpenAI-compatible server."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        provider: str = "openai-compat",
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        http_client: http.AsyncClient | None = None,
        include_usage: bool = True,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.model = model
        self.provider = provider
        self.api_key_env = api_key_env
        self.retry = retry or RetryPolicy()
        self.include_usage = include_usage
        self._sleep = sleep
        self._rng = random.Random()
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            max_retries=0,
            timeout=http.Timeout(timeout, connect=connect_timeout),
            http_client=http_client,
        )
        self.base_url = str(self._client.base_url).rstrip("/")
        self.label = f"{provider}:{model}"

    def __repr__(self) -> str:  # never the key
        return f"OpenAICompatClient({self.label!r}, base_url={self.base_url!r})"

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_openai() for m in request.messages],
            "stream": True,
        }
        if self.include_usage:
            params["stream_options"] = {"include_usage": True}
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            key = "max_completion_tokens" if self.provider == "openai" else "max_tokens"
            params[key] = request.max_tokens
        if request.stop:
            params["stop"] = list(request.stop)
        if request.seed is not None:
            params["seed"] = request.seed
        if request.tools:
            params["tools"] = [tool.to_openai() for tool in request.tools]
        return params

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        params = self._params(request)
        attempt = 0
        while True:
            received = 0
            try:
                # The SDK makes the request (auth, headers, status errors); the event
                # stream is parsed here, with plain json: the SDK's typed chunks cost
                # ~70 µs a token, this ~5 (see bench/stream.py).
                streaming = self._client.chat.completions.with_streaming_response
                async with streaming.create(**params) as response:
                    async for event in _events(response.iter_lines()):
                        if isinstance(event, TextDelta):
                            received += len(event.text)
                        yield event
                return
            except asyncio.CancelledError:
                raise
            except openai.APIStatusError as exc:
                if received or not _retryable_status(exc.status_code):
                    raise await self._explain(exc, received) from None
                retry_after = _retry_after(exc.response.headers)
                error: Exception = exc
            except (openai.APIConnectionError, http.TransportError) as exc:
                if received:
                    raise ModelServerError(
                        f"{self.base_url} broke off the reply after {received} characters "
                        f"({_cause(exc)}); what arrived was kept"
                    ) from None
                retry_after = None
                error = exc
            attempt += 1
            if attempt >= self.retry.attempts:
                raise await self._explain(error, 0, tries=attempt) from None
            wait = self.retry.delay(attempt - 1, retry_after, self._rng)
            log.info("%s: %s; retry %d in %.2fs", self.label, _cause(error), attempt, wait)
            await self._sleep(wait)

    async def _explain(self, exc: Exception, received: int, tries: int = 1) -> ModelError:
        """Turn an SDK/transport error into one that says what to do."""
        where = self.base_url
        after = f" after {tries} tries" if tries > 1 else ""
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in (401, 403):
                var = self.api_key_env or "the server's API key variable"
                return ModelAuthError(
                    f"{where} refused the API key ({status}): set {var} to a valid key"
                )
            if status == 404:
                known = await self.list_models()
                listed = ", ".join(known[:20]) if known else "none it would list"
                return ModelNotFoundError(
                    f"{where} does not serve model {self.model!r}; it lists: {listed}"
                )
            if status == 429:
                return ModelRateLimitError(
                    f"{where} is still rate-limiting ({status}){after}; wait a minute, lower "
                    "the pace, or use another model"
                )
            if status >= 500:
                return ModelServerError(f"{where} kept failing ({status}){after}: {_body(exc)}")
            return ModelError(f"{where} rejected the request ({status}): {_body(exc)}")
        cause = _cause(exc)
        if "refused" in cause.lower() or isinstance(exc.__cause__, http.ConnectError):
            return ModelConnectionError(
                f"no server answered at {where} ({cause}){after}; start it, or point the "
                "model spec at another URL"
            )
        if isinstance(exc, openai.APITimeoutError | http.TimeoutException):
            return ModelConnectionError(f"{where} did not answer in time{after}; is it overloaded?")
        return ModelConnectionError(f"lost the connection to {where} ({cause}){after}")

    async def list_models(self) -> list[str]:
        """The model ids the server lists (empty if it will not say)."""
        try:
            page = await self._client.models.list()
            return sorted(model.id for model in page.data)
        except Exception:  # listing is only a hint for an error message
            return []

    async def aclose(self) -> None:
        await self._client.close()


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[ModelEvent]:
    """Server-sent chat completion chunks to our events; tool calls assembled across chunks."""
    calls: dict[int, dict[str, str]] = {}
    finish = ""
    done = False
    loads = json.loads
    async for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments, "event:" names
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            break
        try:
            chunk = loads(data)
        except ValueError:
            raise ModelServerError(
                f"the server sent something that is not JSON: {data[:80]!r}"
            ) from None
        if not isinstance(chunk, dict):
            continue
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ModelServerError(f"the server reported an error in the reply: {message}")
        usage = chunk.get("usage")
        if usage:
            yield Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                yield TextDelta(content)
            for part in delta.get("tool_calls") or ():
                slot = calls.setdefault(part.get("index") or 0, {"id": "", "name": "", "args": ""})
                if part.get("id"):
                    slot["id"] = part["id"]
                function = part.get("function") or {}
                slot["name"] += function.get("name") or ""
                slot["args"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
    if not done and not finish:
        # The server closed a 200 response without finishing it (llama.cpp's server does
        # this when the prompt overflows its context): an error, never a normal "stop".
        raise ModelServerError(
            "the server ended the reply without finishing it (no finish reason, no [DONE]); "
            "the prompt may be longer than its context window"
        )
    for index in sorted(calls):
        slot = calls[index]
        yield ToolCallRequested(
            ToolCall(slot["id"] or f"call_{index}", slot["name"], slot["args"] or "{}")
        )
    yield Finished(finish or "stop")


def _retryable_status(status: int) -> bool:
    return status == 429 or status == 408 or status >= 500


def _retry_after(headers: http.Headers) -> float | None:
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


def _cause(exc: BaseException) -> str:
    inner = exc.__cause__ or exc.__context__
    text = str(inner or exc) or type(inner or exc).__name__
    return text.splitlines()[0][:200]


def _body(exc: openai.APIStatusError) -> str:
    """The server's own words about the error, without the SDK's "Error code" prefix."""
    body = exc.body
    message = None
    if isinstance(body, dict):
        inner = body.get("error")
        message = body.get("message") or (
            inner.get("message") if isinstance(inner, dict) else inner
        )
    text = str(message or exc.message or "").strip()
    return text.splitlines()[0][:200] if text else "no detail"
