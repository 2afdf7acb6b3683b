"""One client for every OpenAI-compatible server: OpenAI, Ollama, vLLM, llama.cpp, LM Studio.

Built on the official ``openai`` SDK with its own retries switched off, so
that the policy is ours and tested: 429, 5xx and dropped or refused
connections are retried with exponential back-off and full jitter (a
server's ``Retry-After`` wins when it gives one, up to a cap), but only until
the first token has arrived: a reply broken off half-way is reported, with
what arrived kept, rather than silently started again.  Before each wait a
:class:`~agentroom.models.types.Waiting` event says what it waits for, so the
room never waits in silence.  Failures that retrying cannot fix become errors
that say what to do.

A request that asks for a structured answer sends it as ``response_format``
(``json_schema``, strict).  A server that rejects the request with a 400 is
asked once more without it, and if that works, this client never sends the
field to that server again: the caller reads an answer in words instead.

Whatever the server sends is untrusted: a line longer than :data:`LINE_LIMIT`
or tool calls past :data:`TOOL_TEXT_LIMIT` end the reply with an error (memory
stays bounded), a chunk of the wrong shape is reported as such (never a
Python ``TypeError``), and every error is redacted (this client's key, the
environment's secrets, anything shaped like a credential) before it becomes an
exception's message, because servers echo headers back.  The API key is read
from the environment when the client is made and is never stored in a label,
a log or the room.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import openai

from agentroom.core.errors import (
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelRequestError,
    ModelServerError,
)
from agentroom.core.text import one_line, redact
from agentroom.models.http import http
from agentroom.models.types import (
    Finished,
    ModelEvent,
    ModelRequest,
    TextDelta,
    ToolCall,
    ToolCallRequested,
    Usage,
    Waiting,
)

log = logging.getLogger(__name__)

LINE_LIMIT = 1 << 20
"""Bytes in one server-sent line (a chunk is a few hundred); a longer line is an error."""

TOOL_TEXT_LIMIT = 1_000_000
"""Characters of tool calls (names and arguments) in one reply; more is an error."""

TOOL_CALLS_LIMIT = 1_000
"""Tool calls in one reply; more is an error (the agent runs only a few of them anyway)."""

ERROR_BODY_LIMIT = 64 * 1024
"""Bytes of an error response read (the SDK reads an error's body whole); the rest is not."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    """Tries in all (the first and four retries)."""
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 30.0
    """The longest wait a server's ``Retry-After`` gets (an hour would look like a hang)."""

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
        client = http_client or openai.DefaultAsyncHttpxClient()
        hooks = client.event_hooks
        hooks["response"] = [*hooks.get("response", ()), _cap_error_body]
        client.event_hooks = hooks
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            max_retries=0,
            timeout=http.Timeout(timeout, connect=connect_timeout),
            http_client=client,
        )
        self.base_url = str(self._client.base_url).rstrip("/")
        self.label = f"{provider}:{model}"
        self._secrets = (api_key,) if api_key else ()
        self.structured = True
        """Whether the server takes ``response_format``; False once it has refused it."""

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
        shape = request.response_format
        if shape is not None and self.structured:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": shape.name,
                    "schema": _portable(shape.schema),
                    "strict": True,
                },
            }
        return params

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        params = self._params(request)
        refused = False
        attempt = 0
        while True:
            received = 0
            try:
                # The SDK makes the request (auth, headers, status errors); the event
                # stream is parsed here, with plain json: the SDK's typed chunks cost
                # ~70 µs a token, this ~5 (see bench/stream.py).
                streaming = self._client.chat.completions.with_streaming_response
                async with streaming.create(**params) as response:
                    self._check_event_stream(response.headers)
                    lines = _lines(response.http_response.aiter_bytes())
                    if refused:  # and without it, the server answers
                        log.info("%s refused response_format; not sent again", self.base_url)
                        self.structured = False
                        refused = False
                    async for event in _events(lines):
                        if isinstance(event, TextDelta):
                            received += len(event.text)
                        yield event
                return
            except asyncio.CancelledError:
                raise
            except ModelError as exc:  # the stream's own complaints, in the server's words
                raise self._redacted(exc) from None
            except openai.APIStatusError as exc:
                if exc.status_code == 400 and "response_format" in params:
                    # Perhaps the server does not do structured answers: ask without.
                    params = {k: v for k, v in params.items() if k != "response_format"}
                    refused = True
                    continue
                if received or not _retryable_status(exc.status_code):
                    raise await self._explain(exc) from None
                retry_after = _retry_after(exc.response.headers)
                error: Exception = exc
            except (openai.APIConnectionError, http.TransportError) as exc:
                if received:
                    raise self._redacted(
                        ModelServerError(
                            f"{self.base_url} broke off the reply after {received} characters "
                            f"({_cause(exc)}); what arrived was kept"
                        )
                    ) from None
                retry_after = None
                error = exc
            except (openai.OpenAIError, http.HTTPError) as exc:  # e.g. a body that will not decode
                unreadable = f"{self.base_url} sent a reply that cannot be read ({_cause(exc)})"
                raise self._redacted(ModelServerError(unreadable)) from None
            attempt += 1
            if attempt >= self.retry.attempts:
                raise await self._explain(error, tries=attempt) from None
            wait = self.retry.delay(attempt - 1, retry_after, self._rng)
            reason = self._redact(
                f"{self._trouble(error, retry_after)}; retry {attempt} of {self.retry.attempts - 1}"
            )
            log.info("%s: %s; waiting %.2fs", self.label, reason, wait)
            yield Waiting(wait, reason)
            await self._sleep(wait)

    def _check_event_stream(self, headers: http.Headers) -> None:
        """A 200 that is not an event stream (a web page, a proxy's login form) is the wrong URL."""
        kind = headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind and kind != "text/event-stream":
            raise ModelServerError(
                f"the server at {self.base_url} answered with {one_line(kind, 60)}, not an event "
                "stream; is the URL an OpenAI-compatible API (ending in /v1)?"
            )

    def _trouble(self, exc: Exception, retry_after: float | None) -> str:
        """What a retry waits out, in a few words (for the room's status line)."""
        where = self.base_url
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code == 429:
                asked = ""
                if retry_after is not None and retry_after > self.retry.max_retry_after:
                    asked = f"; it asked for {retry_after:.0f} s, the most agentroom waits is "
                    asked += f"{self.retry.max_retry_after:.0f} s"
                return f"the server at {where} is rate-limiting (429{asked})"
            return f"the server at {where} failed ({exc.status_code})"
        return f"no answer from the server at {where} ({_cause(exc)})"

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _redacted(self, error: ModelError) -> ModelError:
        """``error`` again, with every secret cut out of its message."""
        return type(error)(self._redact(str(error)))

    async def _explain(self, exc: Exception, tries: int = 1) -> ModelError:
        """Turn an SDK/transport error into one that says what to do (and holds no secret)."""
        return self._redacted(await self._describe(exc, tries))

    async def _describe(self, exc: Exception, tries: int) -> ModelError:
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
            return ModelRequestError(f"{where} rejected the request ({status}): {_body(exc)}")
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


async def _lines(chunks: AsyncIterator[bytes], limit: int = LINE_LIMIT) -> AsyncIterator[str]:
    """The body's lines as text, none longer than ``limit`` bytes (then an error).

    httpx's own line reader keeps a line whole however long it grows: one
    endless line from a broken (or hostile) server would take all the memory.
    Each chunk is cut at its last newline (a newline byte is never inside a
    UTF-8 character), the complete part decoded at once (anything not UTF-8
    replaced) and split; the rest waits for the next chunk, up to ``limit``.
    """
    pending = b""
    async for chunk in chunks:
        end = chunk.rfind(b"\n")
        if end < 0:
            if len(pending) + len(chunk) > limit:
                raise _too_long(limit)
            pending += chunk
            continue
        complete = pending + chunk[:end] if pending else chunk[:end]
        pending = chunk[end + 1 :]
        lines = complete.decode("utf-8", "replace").split("\n")
        if len(complete) > limit and max(map(len, lines)) > limit:
            raise _too_long(limit)  # counted in characters here: at most 4 bytes each
        if len(pending) > limit:
            raise _too_long(limit)
        for line in lines:
            yield line
    if pending:
        yield pending.decode("utf-8", "replace")


async def _cap_error_body(response: http.Response) -> None:
    """An httpx response hook: an error's body is read only to :data:`ERROR_BODY_LIMIT`.

    The SDK reads the body of a 4xx/5xx whole to build its exception, and a
    server may send any amount; the first bytes hold the message if there is
    one.  An event stream is read by :func:`_lines`, which has its own limit.
    """
    if response.status_code >= 400:
        response.stream = _Capped(response.stream, ERROR_BODY_LIMIT)  # type: ignore[arg-type]


class _Capped(http.AsyncByteStream):
    """The first ``limit`` bytes of a response stream (which is then closed)."""

    def __init__(self, stream: http.AsyncByteStream, limit: int) -> None:
        self._stream = stream
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        left = self._limit
        async for part in self._stream:
            yield part[:left]
            left -= len(part)
            if left <= 0:
                return

    async def aclose(self) -> None:
        await self._stream.aclose()


def _too_long(limit: int) -> ModelServerError:
    return ModelServerError(
        f"the server sent a line longer than {limit:,} bytes; it is not a chat completion "
        "stream, or the server is broken"
    )


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[ModelEvent]:
    """Server-sent chat completion chunks to our events; tool calls assembled across chunks.

    Every field is checked for its type on the way (a chunk of the wrong shape
    is the server's fault, reported with where it is wrong); the checks are a
    few identity tests a token, so a token still costs a few microseconds.
    """
    calls: dict[int, dict[str, str]] = {}
    tool_text = 0
    finish = ""
    done = False
    seen = False
    loads = json.loads
    async for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments, "event:" names
        seen = True
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
        try:
            error = chunk.get("error")
            if error:
                message = error.get("message") if isinstance(error, dict) else error
                raise ModelServerError(
                    f"the server reported an error in the reply: {one_line(str(message))}"
                )
            usage = chunk.get("usage")
            if usage:
                yield _usage(usage)
            choices = chunk.get("choices")
            if not choices:
                continue
            if type(choices) is not list:
                raise TypeError
            for choice in choices:
                delta = choice.get("delta")
                if delta:
                    content = delta.get("content")
                    if content:
                        if type(content) is not str:
                            raise TypeError
                        yield TextDelta(content)
                    parts = delta.get("tool_calls")
                    if parts:
                        tool_text += _add_calls(calls, parts)
                        if tool_text > TOOL_TEXT_LIMIT or len(calls) > TOOL_CALLS_LIMIT:
                            raise ModelServerError(
                                f"the server sent more than {TOOL_CALLS_LIMIT:,} tool calls or "
                                f"{TOOL_TEXT_LIMIT:,} characters of them in one reply"
                            )
                reason = choice.get("finish_reason")
                if reason:
                    if type(reason) is not str:
                        raise TypeError
                    finish = reason
        except (AttributeError, TypeError):
            raise ModelServerError(
                f"the server sent a chunk of an unexpected shape ({_misshapen(chunk)}): "
                f"{data[:80]!r}"
            ) from None
    if not seen:
        raise ModelServerError(
            "the server answered without any server-sent events; is the URL an "
            "OpenAI-compatible API (ending in /v1)?"
        )
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


def _usage(usage: Any) -> Usage:
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    if type(prompt) is not int or type(completion) is not int:
        raise TypeError
    return Usage(prompt, completion)


def _add_calls(calls: dict[int, dict[str, str]], parts: Any) -> int:
    """Add a chunk's pieces of tool calls to ``calls``; returns the characters added."""
    if type(parts) is not list:
        raise TypeError
    added = 0
    for part in parts:
        index = part.get("index") or 0
        if type(index) is not int:
            raise TypeError
        slot = calls.get(index)
        if slot is None:
            slot = calls[index] = {"id": "", "name": "", "args": ""}
        call_id = part.get("id")
        if call_id:
            if type(call_id) is not str:
                raise TypeError
            slot["id"] = call_id
        function = part.get("function") or {}
        name = function.get("name") or ""
        arguments = function.get("arguments") or ""
        slot["name"] += name  # a TypeError unless both are text
        slot["args"] += arguments
        added += len(name) + len(arguments)
    return added


def _misshapen(chunk: Any) -> str:
    """Where ``chunk`` departs from the shape of a chat completion chunk, in a few words.

    Only called once a chunk has failed, so it may take its time.
    """

    def text(value: Any) -> bool:
        return isinstance(value or "", str)

    def number(value: Any) -> bool:
        return type(value or 0) is int

    if not isinstance(chunk, dict):
        return "it is not an object"
    usage = chunk.get("usage")
    if usage:
        if not isinstance(usage, dict):
            return "usage is not an object"
        for key in ("prompt_tokens", "completion_tokens"):
            if not number(usage.get(key)):
                return f"usage.{key} is not a whole number"
    choices = chunk.get("choices")
    if choices and not isinstance(choices, list):
        return "choices is not a list"
    for i, choice in enumerate(choices or ()):
        at = f"choices[{i}]"
        if not isinstance(choice, dict):
            return f"{at} is not an object"
        delta = choice.get("delta")
        if delta and not isinstance(delta, dict):
            return f"{at}.delta is not an object"
        delta = delta or {}
        if not text(delta.get("content")):
            return f"{at}.delta.content is not text"
        parts = delta.get("tool_calls")
        if parts and not isinstance(parts, list):
            return f"{at}.delta.tool_calls is not a list"
        for j, part in enumerate(parts or ()):
            call = f"{at}.delta.tool_calls[{j}]"
            if not isinstance(part, dict):
                return f"{call} is not an object"
            if not number(part.get("index")):
                return f"{call}.index is not a whole number"
            if not text(part.get("id")):
                return f"{call}.id is not text"
            function = part.get("function")
            if function and not isinstance(function, dict):
                return f"{call}.function is not an object"
            for key in ("name", "arguments"):
                if not text((function or {}).get(key)):
                    return f"{call}.function.{key} is not text"
        if not text(choice.get("finish_reason")):
            return f"{at}.finish_reason is not text"
    return "a field of the wrong type"


UNPORTABLE = frozenset({"minLength", "maxLength"})
"""Schema keywords OpenAI's strict mode rejects: the lengths that keep a small local model
from rambling inside a string are left out for a server."""


def _portable(schema: Any) -> Any:
    """``schema`` without the keywords in :data:`UNPORTABLE`, at every depth (a property
    that happens to be called ``maxLength`` stays)."""
    if isinstance(schema, list):
        return [_portable(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in UNPORTABLE:
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: _portable(sub) for name, sub in value.items()}
        else:
            out[key] = _portable(value)
    return out


def _retryable_status(status: int) -> bool:
    return status == 429 or status == 408 or status >= 500


def _retry_after(headers: http.Headers) -> float | None:
    """The seconds a server asks to wait, or None when it says nothing usable.

    ``Retry-After-Ms``, or ``Retry-After`` as seconds or an HTTP date; anything
    else (a word, a negative or endless number) is ignored and the usual
    back-off applies.
    """
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": a date in UTC without a zone
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


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
