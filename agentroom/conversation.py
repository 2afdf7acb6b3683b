"""Each agent's own view of the room, and the manager that keeps them apart.

An agent's history is a chain of nodes, each a reference to an envelope it saw
together with the role that envelope plays for it (its own words are
``assistant``, everyone else's ``user``).  Nodes are only ever appended, in
memory and in SQLite alike.  ``restore`` does not delete anything: it appends
a marker pointing back at the checkpoint's node, and the visible history is
the chain walked back from the newest node.  So any checkpoint can be
restored, even one taken on a branch that a later restore left.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any, overload

from agentroom.errors import DuplicateAgentError, UnknownAgentError
from agentroom.ids import micros_to_datetime, next_micros
from agentroom.protocol import BROADCAST, ROOM, Envelope, Message, MessageType, Role, Session
from agentroom.store import CheckpointRecord, SqliteStore
from agentroom.store.codec import CODE_ROLE, RESTORE_MARKER, ROLE_CODE


def usual_role(agent_id: str, envelope: Envelope) -> Role:
    """The role an envelope plays for an agent unless said otherwise: its own words or not."""
    return Role.ASSISTANT if envelope.sender == agent_id else Role.USER


Lazy = tuple[Role, Envelope]
"""A history entry loaded from SQLite but not yet needed as a :class:`Message`."""


def _materialize(entries: list[Message | Lazy], start: int, stop: int) -> list[Message]:
    """The entries in ``start:stop`` as Messages, made (once) from what was loaded."""
    out = []
    for i in range(start, stop):
        entry = entries[i]
        if entry.__class__ is tuple:
            role, env = entry  # type: ignore[misc]
            entry = entries[i] = Message.from_envelope(env, role)
        out.append(entry)  # type: ignore[arg-type]
    return out


_GENERATIONS = itertools.count(1)


class ContextWindow(list[Message]):
    """A model's context: a plain list of messages that also says where it sits.

    ``start`` is the first message's position in the visible history and
    ``generation`` changes whenever that history is replaced (a restore), so
    a prompt builder can convert each position once and reuse it turn after
    turn while the window slides, instead of redoing the whole window.
    """

    __slots__ = ("generation", "start")

    def __init__(self, messages: list[Message], start: int, generation: int) -> None:
        super().__init__(messages)
        self.start = start
        self.generation = generation


class MessageView(Sequence[Message]):
    """A read-only, live view of an agent's visible history."""

    __slots__ = ("_messages",)

    def __init__(self, messages: list[Message | Lazy]) -> None:
        self._messages = messages

    def __len__(self) -> int:
        return len(self._messages)

    @overload
    def __getitem__(self, index: int) -> Message: ...
    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...
    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        size = len(self._messages)
        if isinstance(index, slice):
            start, stop, step = index.indices(size)
            if step == 1:
                return _materialize(self._messages, start, max(start, stop))
            return [self[i] for i in range(start, stop, step)]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(index)
        return _materialize(self._messages, index, index + 1)[0]

    def __iter__(self) -> Iterator[Message]:
        for i in range(len(self._messages)):
            yield _materialize(self._messages, i, i + 1)[0]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"MessageView({len(self)} messages)"


class ConversationSystem:
    """One agent's history in one room, with checkpoints and a bounded context view."""

    def __init__(self, session: Session, store: SqliteStore | None = None) -> None:
        self.session = session
        self._store = store
        self._nodes: list[Message | Lazy | None] = []
        self._marker_targets: dict[int, int] = {}
        self._visible: list[Message | Lazy] = []
        self._sums: list[int] = []  # running character totals of _visible, for context()
        self._settled = 0  # _visible[i] for every i >= _settled is a Message (not Lazy)
        self._generation = next(_GENERATIONS)
        self._checkpoints: dict[str, CheckpointRecord] = {}

    @property
    def agent_id(self) -> str:
        return self.session.agent_id

    @property
    def messages(self) -> MessageView:
        return MessageView(self._visible)

    def __len__(self) -> int:
        return len(self._visible)

    def record(self, envelope: Envelope, role: Role | None = None) -> Message:
        """Append a published envelope this agent saw (the bus calls this, in seq order)."""
        usual = usual_role(self.session.agent_id, envelope)
        message = Message.from_envelope(envelope, role or usual)
        code = None if role is None or role is usual else ROLE_CODE[role]
        self._append(message, code)
        return message

    def _append(self, message: Message, code: int | None) -> None:
        pos = len(self._nodes)
        self._nodes.append(message)
        self._visible.append(message)
        sums = self._sums
        sums.append((sums[-1] if sums else 0) + len(message.content))
        if self._store is not None:
            self._store.add_history(self.session.id, pos, code, message.seq, None)

    # -- checkpoints ---------------------------------------------------------------------

    @property
    def checkpoints(self) -> dict[str, CheckpointRecord]:
        return dict(self._checkpoints)

    def checkpoint(self, name: str, state: dict[str, Any] | None = None) -> CheckpointRecord:
        """Remember where the history stands now (a small record, not a copy)."""
        if not name:
            raise ValueError("a checkpoint needs a name")
        record = CheckpointRecord(
            name, len(self._nodes) - 1, micros_to_datetime(next_micros()), dict(state or {})
        )
        self._checkpoints[name] = record
        if self._store is not None:
            self._store.save_checkpoint(self.session.id, name, record.pos, record.state)
        return record

    def restore(self, name: str) -> CheckpointRecord:
        """Make the history what it was at checkpoint ``name``; nothing is deleted."""
        record = self._checkpoints.get(name)
        if record is None:
            known = ", ".join(sorted(self._checkpoints)) or "(none)"
            raise KeyError(f"no checkpoint named {name!r} for {self.agent_id}; known: {known}")
        pos = len(self._nodes)
        self._nodes.append(None)
        self._marker_targets[pos] = record.pos
        if self._store is not None:
            self._store.add_history(self.session.id, pos, RESTORE_MARKER, None, record.pos)
        self._show(self._walk())
        return record

    def _show(self, visible: list[Message | Lazy]) -> None:
        self._visible = visible
        self._generation = next(_GENERATIONS)
        settled = len(visible)
        while settled and visible[settled - 1].__class__ is not tuple:
            settled -= 1
        self._settled = settled
        self._sums = list(
            accumulate(
                len(e[1].content) if e.__class__ is tuple else len(e.content)  # type: ignore[union-attr]
                for e in visible
            )
        )

    def _walk(self) -> list[Message | Lazy]:
        out: list[Message | Lazy] = []
        node = len(self._nodes) - 1
        while node >= 0:
            entry = self._nodes[node]
            if entry is None:
                node = self._marker_targets[node]
                continue
            out.append(entry)
            node -= 1
        out.reverse()
        return out

    # -- the model's view ----------------------------------------------------------------

    def context(
        self, max_messages: int | None = None, max_chars: int | None = None
    ) -> ContextWindow:
        """The newest messages that fit both bounds, oldest first (for a model prompt).

        The newest message is always included.  Costs O(log n) plus a copy of
        the window, whatever the length of the history (prefix sums of sizes).
        """
        visible, sums = self._visible, self._sums
        end = len(visible)
        start = 0 if max_messages is None else max(0, end - max_messages)
        if max_chars is not None and end:
            need = sums[-1] - max_chars  # characters that must be left out, from the front
            if need > 0:
                fits = bisect_left(sums, need) + 1  # sums[i]: chars of visible[0..i]
                start = max(start, min(fits, end - 1))
        if start < self._settled:  # entries loaded from SQLite become Messages once
            _materialize(visible, start, self._settled)
            self._settled = start
        return ContextWindow(visible[start:end], start, self._generation)  # type: ignore[arg-type]

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def rebuild(
        cls,
        session: Session,
        store: SqliteStore,
        refs: list[tuple[int, int | None, int, int | None, int | None]],
        envelopes: dict[int, Envelope],
        checkpoints: dict[str, CheckpointRecord],
    ) -> ConversationSystem:
        """An agent's conversation from its stored references and the room's envelopes."""
        conv = cls(session, store)
        nodes, targets, agent = conv._nodes, conv._marker_targets, session.agent_id
        for pos, seq, count, role_code, prev in refs:
            while len(nodes) < pos:  # a gap in positions: keep them aligned
                targets[len(nodes)] = len(nodes) - 1
                nodes.append(None)
            if role_code == RESTORE_MARKER:
                targets[pos] = prev if prev is not None else -1
                nodes.append(None)
                continue
            for offset in range(count):
                env = envelopes.get(seq + offset) if seq is not None else None
                if env is None:  # the envelope is missing: show nothing there
                    targets[len(nodes)] = len(nodes) - 1
                    nodes.append(None)
                    continue
                role = CODE_ROLE[role_code] if role_code is not None else usual_role(agent, env)
                nodes.append((role, env))  # made into a Message only when someone reads it
        conv._checkpoints = checkpoints
        conv._show(conv._walk())
        return conv


class ConversationManager:
    """Every agent's conversation in one room, fed from the bus, saved to SQLite.

    Attached to the bus as an inline sink, it records each envelope in the
    conversation of every agent it was addressed to (or sent by) before the
    publisher's call returns, so a turn that returns is already recorded.
    ``status`` envelopes are not recorded (no model is fed them), but for the
    room's bounce of a message nobody could receive: the sender is told, so a
    model learns that its message went nowhere.
    """

    def __init__(self, session_id: str, store: SqliteStore | None = None) -> None:
        self.session_id = session_id
        self._store = store
        self.agent_sessions: dict[str, ConversationSystem] = {}
        self._listening: dict[str, ConversationSystem] = {}

    def create_agent_conversation(
        self, agent_id: str, *, title: str = "", metadata: dict[str, Any] | None = None
    ) -> ConversationSystem:
        if agent_id in self.agent_sessions:
            raise DuplicateAgentError(f"agent {agent_id!r} already has a conversation here")
        session = Session(
            session_id=self.session_id, agent_id=agent_id, title=title, metadata=metadata or {}
        )
        conv = ConversationSystem(session, self._store)
        self.agent_sessions[agent_id] = conv
        self._listening[agent_id] = conv
        if self._store is not None:
            self._store.add_agent_session(session)
        return conv

    def get_agent_conversation(self, agent_id: str) -> ConversationSystem:
        try:
            return self.agent_sessions[agent_id]
        except KeyError:
            raise UnknownAgentError(agent_id, self.agent_sessions) from None

    def ensure_agent_conversation(self, agent_id: str, **kwargs: Any) -> ConversationSystem:
        """The agent's conversation, created if this room has none for it yet (resume)."""
        existing = self.agent_sessions.get(agent_id)
        if existing is None:
            return self.create_agent_conversation(agent_id, **kwargs)
        self._listening[agent_id] = existing
        return existing

    def retire(self, agent_id: str) -> None:
        """The agent has left: keep its conversation as it is, record nothing more in it."""
        self._listening.pop(agent_id, None)

    async def save_all(self) -> None:
        """Make every agent's history durable (it is appended as it happens)."""
        if self._store is not None:
            await self._store.flush()

    @classmethod
    async def load(cls, store: SqliteStore, session_id: str) -> ConversationManager:
        """Every agent's conversation of a saved room, as it was left."""
        manager = cls(session_id, store)
        sessions = await store.agent_sessions(session_id)
        refs = {s.id: await store.history_refs(s) for s in sessions}
        # Each envelope is decoded once, however many agents saw it; a status only when
        # someone saw it (a bounce), read by its seq.
        envelopes: dict[int, Envelope] = {}
        for kind in (MessageType.MESSAGE, MessageType.ACTION):
            async for env in store.read_envelopes(session_id, type=kind):
                envelopes[env.seq or 0] = env
        missing = {
            seq + offset
            for rows in refs.values()
            for _, seq, count, _, _ in rows
            if seq is not None
            for offset in range(count)
            if seq + offset not in envelopes
        }
        for seq in sorted(missing):
            async for env in store.read_envelopes(session_id, after_seq=seq - 1, limit=1):
                envelopes[env.seq or 0] = env
        for session in sessions:
            manager.agent_sessions[session.agent_id] = ConversationSystem.rebuild(
                session, store, refs[session.id], envelopes, await store.checkpoints(session)
            )
        # Nobody listens until registered again: a resumed room records only for the
        # agents that are back in it.
        return manager

    # -- the bus sink ---------------------------------------------------------------------

    def offer(self, envelope: Envelope) -> bool:
        if envelope.type is MessageType.STATUS:
            if envelope.sender == ROOM and envelope.metadata.get("event") == "undelivered":
                bounced = self._listening.get(envelope.receiver)
                if bounced is not None:
                    bounced._append(Message.from_envelope(envelope, Role.USER), None)
            return True
        sender, receiver = envelope.sender, envelope.receiver
        # Messages are immutable: everyone who hears it in the same role shares one.
        own = heard = None
        for agent_id, conv in self._listening.items():
            if agent_id == sender:
                if own is None:
                    own = Message.from_envelope(envelope, Role.ASSISTANT)
                conv._append(own, None)
            elif receiver in (BROADCAST, agent_id):
                if heard is None:
                    heard = Message.from_envelope(envelope, Role.USER)
                conv._append(heard, None)
        return True

    async def put(self, envelope: Envelope) -> None:
        self.offer(envelope)
