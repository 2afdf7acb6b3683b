"""Text from outside made safe: valid Unicode at the edge, inert on a terminal, free of secrets.

Text reaches a room from models, tools, files, humans and the network, and any
of it may be hostile or broken.  Three rules, each one function, applied where
text enters or leaves:

- :func:`valid_text` when text *enters* the room (the bus, a model stream, a
  line on stdin, a tool's result): a lone UTF-16 surrogate (half an emoji from
  a split stream, a non-UTF-8 byte smuggled in by ``surrogateescape``) cannot
  be encoded as UTF-8, so one such string would stop SQLite, JSON and the
  terminal alike.  Surrogate *pairs* become the character they stand for; a
  lone one becomes U+FFFD.
- :func:`for_terminal` when text *leaves* for a terminal: escape sequences
  (ESC/CSI/OSC), other C0/C1 controls and bidirectional overrides are shown as
  visible stand-ins, never written raw, so a reply cannot retitle the window,
  clear the screen or type into the user's shell.  Files keep the text exactly.
- :func:`redact` before an error is stored or shown: API keys (from the
  environment, ``Authorization`` headers, ``Bearer`` tokens, ``sk-`` keys)
  are cut out of any text, whoever echoed them.

No I/O, no imports from the rest of agentroom: every layer may use this.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REPLACEMENT = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` as valid Unicode (UTF-8 encodable); unchanged, and fast, when it already is."""
    if text.isascii():
        return text
    if _SURROGATE.search(text) is None:
        return text
    # UTF-16 with surrogatepass joins a pair of surrogates into the character they make;
    # whatever is left alone cannot be decoded and becomes U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def valid_data(value: Any) -> Any:
    """JSON-like data with every string (keys included) made :func:`valid_text`."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, Mapping):
        return {valid_data(k): valid_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [valid_data(v) for v in value]
    return value


def split_surrogate(text: str) -> tuple[str, str]:
    """Split off a trailing high surrogate (the first half of a pair cut by a stream).

    Returns ``(ready, held)``: ``ready`` can be shown now, ``held`` (empty or one
    character) goes in front of the next piece, where its other half will be.
    """
    if text and "\ud800" <= text[-1] <= "\udbff":
        return text[:-1], text[-1]
    return text, ""


def decode_line(raw: bytes) -> str:
    """Bytes from a pipe or a file as text: UTF-8, with anything else replaced (U+FFFD)."""
    return raw.decode("utf-8", "replace")


# -- terminals -------------------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␛ for ESC, ␍ for CR, ...
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


def for_terminal(text: str) -> str:
    """``text`` safe to write to a terminal: only newline and tab stay as controls."""
    if text.isascii() and text.isprintable():
        return text
    return _CONTROL.sub(_visible, valid_text(text))


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one terminal-safe line of at most ``limit`` characters (for errors)."""
    flat = " ".join(for_terminal(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_JSON_CONTROL = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def json_for_terminal(document: str) -> str:
    """JSON text safe to write to a terminal, and still the same JSON.

    ``json.dumps`` escapes C0 controls (ESC among them) but, with
    ``ensure_ascii=False``, writes DEL, the C1 controls (``\\x9b`` is CSI) and
    bidirectional overrides raw.  Outside strings JSON has no such characters,
    so each can become a ``\\uXXXX`` escape: a parser reads the same value, a
    terminal sees only ASCII.  (:func:`for_terminal` would break the JSON.)
    """
    if document.isascii() and "\x7f" not in document:
        return document
    return _JSON_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


# -- secrets ---------------------------------------------------------------------------------

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)S?$|^AUTH", re.IGNORECASE)
"""Environment variables whose values are secrets (``OPENAI_API_KEY``, ``HF_TOKEN``, ...)."""

_PATTERNS = (
    re.compile(
        r"(?i)(authorization|x-api-key|api[-_]?key)(\"?\s*[:=]\s*\"?)"
        r"[^\s\"',;}]+(?:[ \t]+[^\s\"',;}]+)?"
    ),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_-]{12,}"),
)
HIDDEN = "[redacted]"


def secrets_from_env(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of the environment's secret-looking variables, long enough to be real keys."""
    env = os.environ if env is None else env
    return [
        value for name, value in env.items() if SECRET_NAME.search(name) and len(value.strip()) >= 8
    ]


def redact(text: str, secrets: Iterable[str] = (), *, env: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret cut out: the values given, the environment's, and
    anything shaped like a credential (``Authorization: ...``, ``Bearer ...``, ``sk-...``)."""
    for secret in {*secrets, *secrets_from_env(env)}:
        secret = secret.strip()
        if len(secret) >= 8 and secret in text:
            text = text.replace(secret, HIDDEN)
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)} {HIDDEN}", text)
    return _PATTERNS[2].sub(HIDDEN, text)


def counted(n: int, noun: str) -> str:
    """``1 message``, ``4 messages``: a count and its noun (given singular, as English adds -s)."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
