"""A join URL as ``agentroom serve`` prints it, read into where to connect and as whom.

The token is the URL fragment's (``#token=ar_…``: a browser never sends a
fragment to a server, and no proxy logs it), else ``--token``, else
``AGENTROOM_TOKEN``.  It is never shown: :class:`JoinTarget` names the URL
without its fragment, and every :class:`JoinError` says what to do in one line
and carries the exit code ``agentroom join`` ends with.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from agentroom.core.errors import AgentroomError
from agentroom.core.text import one_line

TOKEN_ENV = "AGENTROOM_TOKEN"
"""Where a join URL without a ``#token=`` finds the token (``--token`` comes first)."""


class JoinError(AgentroomError):
    """The room cannot be joined; the message is one line that says what to do.

    ``exit_code`` is what ``agentroom join`` exits with, so a script can tell
    the cases apart.
    """

    exit_code = 1


class Unreachable(JoinError):
    """Nothing answers at the URL (not running, wrong port, not an agentroom server)."""

    exit_code = 3


class Refused(JoinError):
    """The server refused the token (unknown or revoked): trying again will not help."""

    exit_code = 4


class VersionMismatch(JoinError):
    """The server speaks another version of the protocol."""

    exit_code = 5


@dataclass(frozen=True, slots=True)
class JoinTarget:
    """Where to connect and as whom.  ``shown`` is the URL without its fragment (the only
    form an error or a log line names); ``token`` is never shown."""

    shown: str
    ws_url: str
    token: str

    def __repr__(self) -> str:  # a traceback or a debugger shows no token
        return f"JoinTarget({self.shown!r})"


def join_target(
    url: str, token: str | None = None, env: Mapping[str, str] | None = None
) -> JoinTarget:
    """Read a join URL as ``agentroom serve`` prints it (``http://HOST:PORT/#token=ar_…``).

    The token is the fragment's, else ``token`` (``--token``), else
    ``AGENTROOM_TOKEN`` in ``env``; a URL that is not one, or no token, raises
    :class:`JoinError`.
    """
    environ = os.environ if env is None else env
    raw = url.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        parts, port = None, None
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    if parts is None or parts.scheme.lower() not in schemes or not parts.hostname:
        shown = one_line(raw.split("#", 1)[0], 80)
        raise JoinError(
            f"{shown!r} is not a join URL; use the one agentroom serve prints "
            "(http://HOST:PORT/#token=…)"
        )
    scheme = parts.scheme.lower()
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    where = f"{host}:{port}" if port is not None else host
    path = parts.path.rstrip("/")
    shown = f"{scheme}://{where}{path}/"
    found = parse_qs(parts.fragment).get("token", [""])[0] or token or environ.get(TOKEN_ENV, "")
    if not found:
        raise JoinError(
            f"no token to join {shown} with; use the whole URL agentroom serve printed "
            f"(…/#token=…), or give --token or {TOKEN_ENV}"
        )
    if len(found) > 512 or not found.isascii() or not found.isprintable() or " " in found:
        raise JoinError(
            f"the token for {shown} is not one agentroom serve prints; copy the join URL whole"
        )
    return JoinTarget(shown, f"{schemes[scheme]}://{where}{path}/ws", found)
