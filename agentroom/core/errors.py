"""The errors agentroom raises, each saying what went wrong and what to do.

One module so that callers (the CLI, the UI, tests) can catch by kind without
importing the layer that raised it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class AgentroomError(Exception):
    """Base of every error agentroom raises on purpose."""


class ProtocolError(AgentroomError, ValueError):
    """A record (envelope, message, session) failed validation; names the field."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields

    @classmethod
    def from_validation(cls, kind: str, exc: ValidationError) -> ProtocolError:
        parts, fields = [], []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(record)"
            fields.append(field)
            got = err.get("input")
            shown = f" (got {got!r})" if err["type"] != "missing" else ""
            parts.append(f"field '{field}': {err['msg']}{shown}")
        return cls(f"invalid {kind}: " + "; ".join(parts), tuple(fields))


def _known(names: Iterable[str]) -> str:
    names = sorted(names)
    return ", ".join(names) if names else "(none)"


class UnknownAgentError(AgentroomError, KeyError):
    """An agent id that nothing is registered under; lists the ids that are."""

    def __init__(self, agent_id: str, known: Iterable[str]) -> None:
        self.agent_id = agent_id
        self.known = sorted(known)
        super().__init__(f"unknown agent {agent_id!r}; known agents: {_known(self.known)}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class DuplicateAgentError(AgentroomError, ValueError):
    """A second agent registered under an id already taken."""


class InvalidParticipantError(AgentroomError, ValueError):
    """A participant id that cannot be used (reserved, blank, or with spaces)."""


class ForeignHandleError(AgentroomError, PermissionError):
    """A handle from another bus, or one already revoked, was used to publish."""


class BusClosedError(AgentroomError, RuntimeError):
    """Publishing on a bus that has been closed."""


class AgentTurnError(AgentroomError, RuntimeError):
    """An agent failed to take its turn; the room was told with a status envelope."""


class StoreError(AgentroomError):
    """Base of storage errors."""


class NotAnAgentroomDatabase(StoreError):
    """The file exists but is not an agentroom database; it was left untouched."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer agentroom; it was left untouched."""


class StoreWriteError(StoreError):
    """The writer could not make appended records durable."""


class SessionBusyError(StoreError):
    """The session is open in another running agentroom; two writers would clash."""


class SessionNotFoundError(StoreError, LookupError):
    """No saved session has that id (or the prefix matches none or several)."""


class NoDatabaseError(SessionNotFoundError):
    """There is no database file where saved sessions were looked for (none was ever saved)."""


class TokenNotFoundError(StoreError, LookupError):
    """No token has that id (or the prefix matches several); never quotes a secret token."""


class ScriptExhaustedError(AgentroomError, RuntimeError):
    """A scripted agent (or replay model) was asked for more replies than it was given."""


class SpawnLimitError(AgentroomError, RuntimeError):
    """A sub-agent spawn past the depth limit or the session's budget."""


class FileWriteError(AgentroomError, OSError):
    """A file (an export, the UI settings) could not be written; an old one is left whole."""


class WorkflowError(AgentroomError, ValueError):
    """A workflow file that cannot be used; the message names file, line and field."""


class UnsafeToolError(WorkflowError):
    """A workflow names a tool known to be dangerous (a shell, ``eval``, any file, the network)
    without ``allow_unsafe_tools: true``; says which tool, why, and that field."""


class HumanTimeoutError(AgentroomError, TimeoutError):
    """The human did not answer in time."""


class HumanLeftError(HumanTimeoutError):
    """The human can no longer answer (their input ended); their turns are skipped."""


class RunInProgressError(AgentroomError, RuntimeError):
    """A room was asked to run (or start over) while a run of it is still going."""


class ModelError(AgentroomError):
    """A model backend failed in a way retrying did not fix; says what to do."""


class ModelConfigError(ModelError, ValueError):
    """A model spec, script or setting is wrong before any request is made."""


class ModelAuthError(ModelError):
    """The server refused the credentials (401/403)."""


class ModelConnectionError(ModelError):
    """No server answered (refused, unreachable, timed out, dropped)."""


class ModelNotFoundError(ModelError):
    """The server does not serve the model asked for."""


class ModelRateLimitError(ModelError):
    """Still rate-limited (429) after the retries."""


class ModelServerError(ModelError):
    """The server kept failing (5xx), broke off a reply, or sent something that is not a
    chat completion stream (a web page, a chunk of the wrong shape, an endless line)."""


class ModelRequestError(ModelError):
    """The server rejected the request itself (a 4xx other than the key, the model or the
    rate); its own words say why."""


class ReplayExhaustedError(ModelError, ScriptExhaustedError):
    """A replay model was asked for more replies than its script holds.

    A :class:`ModelError` like any other model failure, so a room reports
    and counts it the same way; still a :class:`ScriptExhaustedError`.
    """
