"""Each agent's own view of the room, and the manager that keeps them apart.

An agent's history is a chain of nodes, each a reference to an envelope it saw
together with the role that envelope plays for it (its own words are
``assistant``, everyone else's ``user``).  Nodes are only ever appended, in
memory and in SQLite alike.  ``restore`` does not delete anything: it appends
a marker pointing back at the checkpoint's node, and the visible history is
the chain walked back from the newest node.  So any checkpoint can be
restored, even one taken on a branch that a later restore left.

Memory holds a window, SQLite the rest: a conversation backed by a store keeps
only its newest nodes and visible messages (at least ``keep`` of each, at most
twice that), which is more than a model's context needs.  What lies before the
window is read back when it is needed: :meth:`ConversationSystem.load_window`
(the engine calls it before a turn whose context would reach further back, as
after a restore to an old checkpoint or a resume) and
:meth:`ConversationSystem.history` (the whole visible history, in order, a
chunk at a time).
"""

from __future__ import annotations

import itertools
import sys
from bisect import bisect_left
from collections.abc import AsyncIterator, Iterator, Sequence
from itertools import accumulate
from typing import Any, overload

from agentroom.core.errors import DuplicateAgentError, UnknownAgentError
from agentroom.core.events import Event
from agentroom.core.ids import micros_to_datetime, next_micros
from agentroom.core.protocol import BROADCAST, ROOM, Envelope, Message, MessageType, Role, Session
from agentroom.store import CheckpointRecord, SqliteStore
from agentroom.store.codec import CODE_ROLE, RESTORE_MARKER, ROLE_CODE
from agentroom.store.history import Node, Ref


def usual_role(agent_id: str, envelope: Envelope) -> Role:
    """The role an envelope plays for an agent unless said otherwise: its own words or not."""
    return Role.ASSISTANT if envelope.sender == agent_id else Role.USER


Lazy = tuple[Role, Envelope]
"""A history entry loaded from SQLite but not yet needed as a :class:`Message`."""


def _materialize(entries: list[Message | Lazy], start: int, stop: int) -> list[Message]:
    """The entries in ``start:stop`` as Messages, made (once) from what was loaded."""
    out: list[Message] = []
    for i in range(start, stop):
        entry = entries[i]
        if isinstance(entry, tuple):
            role, env = entry
            entry = entries[i] = Message.from_envelope(env, role)
        out.append(entry)
    return out


_GENERATIONS = itertools.count(1)


class ContextWindow(list[Message]):
    """A model's context: a plain list of messages that also says where it sits.

    ``start`` is the first message's position in the visible history and
    ``generation`` changes whenever that history is replaced (a restore, or
    older messages read back into memory), so
    a prompt builder can convert each position once and reuse it turn after
    turn while the window slides, instead of redoing the whole window.

    It is what :meth:`ConversationSystem.context` returns and what a turn the
    engine makes carries in ``Turn.messages``.  It stays a ``list`` so that an
    agent (or a test) may use it, or hand-make a turn, as one; code that uses
    its position asks ``isinstance(messages, ContextWindow)`` and treats any
    other list as having none (a copy or a slice of the window is a plain list).
    """

    __slots__ = ("generation", "start")

    def __init__(self, messages: list[Message], start: int, generation: int) -> None:
        super().__init__(messages)
        self.start = start
        self.generation = generation


class MessageView(Sequence[Message]):
    """A read-only, live view of the newest part of an agent's visible history.

    ``start`` is its first message's position in the whole visible history,
    and ``generation`` changes when that history is replaced (a restore) or
    older messages are read back in front of it; otherwise it only grows.
    """

    __slots__ = ("_messages", "generation", "start")

    def __init__(self, messages: list[Message | Lazy], start: int = 0, generation: int = 0) -> None:
        self._messages = messages
        self.start = start
        self.generation = generation

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
        return f"MessageView({len(self)} messages from #{self.start})"


KEEP = 200
"""How many of its newest messages (and nodes) an agent's conversation keeps in memory, at
least; it drops back to this many when it has twice as many.  Four times the default
context (``AgentSettings.max_context_messages``); the engine raises it for an agent whose
context is larger."""

Entry = Message | Lazy


class ConversationSystem:
    """One agent's history in one room, with checkpoints and a bounded context view.

    ``messages`` is the newest part of the visible history that is in memory
    (all of it for a short history, or one without a store); ``len()`` is the
    whole visible history's length.  See the module docstring.
    """

    def __init__(
        self, session: Session, store: SqliteStore | None = None, *, keep: int = KEEP
    ) -> None:
        self.session = session
        self._store = store
        self._keep = keep
        self._limit = 2 * keep if store is not None else sys.maxsize
        self._next = 0  # the position the next node takes
        # The newest nodes, positions _node_base.. _next - 1; None is a restore marker
        # (or an envelope that is gone), whose chain goes on at _marker_targets[pos].
        self._nodes: list[Entry | None] = []
        self._node_base = 0
        self._marker_targets: dict[int, int] = {}
        # The newest visible entries (positions len(self) - len(_visible) .. len(self) - 1
        # of the visible history) and the node each one is.
        self._visible: list[Entry] = []
        self._vpos: list[int] = []
        self._sums: list[int] = []  # running character totals of _visible, for context()
        self._chars_before = 0  # the running total just before _visible[0]
        self._length = 0
        self._complete = True  # memory holds the visible chain back to its beginning
        self._settled = 0  # _visible[i] for every i >= _settled is a Message (not Lazy)
        self._generation = next(_GENERATIONS)
        self._checkpoints: dict[str, CheckpointRecord] = {}
        self._depths: dict[str, int] = {}  # the visible history's length at each checkpoint

    @property
    def agent_id(self) -> str:
        return self.session.agent_id

    @property
    def keep(self) -> int:
        return self._keep

    @keep.setter
    def keep(self, value: int) -> None:
        self._keep = max(1, value)
        if self._store is not None:
            self._limit = 2 * self._keep

    @property
    def messages(self) -> MessageView:
        """The newest messages of the visible history that are in memory, oldest first."""
        return MessageView(self._visible, self._length - len(self._visible), self._generation)

    def __len__(self) -> int:
        return self._length

    def record(self, envelope: Envelope, role: Role | None = None) -> Message:
        """Append a published envelope this agent saw (the bus calls this, in seq order)."""
        usual = usual_role(self.session.agent_id, envelope)
        message = Message.from_envelope(envelope, role or usual)
        code = None if role is None or role is usual else ROLE_CODE[role]
        self._append(message, code)
        return message

    def _append(self, message: Message, code: int | None) -> None:
        pos = self._next
        self._next = pos + 1
        self._nodes.append(message)
        self._visible.append(message)
        self._vpos.append(pos)
        sums = self._sums
        sums.append((sums[-1] if sums else self._chars_before) + len(message.content))
        self._length += 1
        if self._store is not None:
            self._store.add_history(self.session.id, pos, code, message.seq, None)
            if len(self._nodes) > self._limit:
                self._trim()

    def _trim(self) -> None:
        """Let memory go back to ``keep`` nodes and messages (they are all in SQLite)."""
        keep = self._keep
        drop = len(self._nodes) - keep
        if drop > 0:
            del self._nodes[:drop]
            self._node_base += drop
            if self._marker_targets:
                base = self._node_base
                self._marker_targets = {p: t for p, t in self._marker_targets.items() if p >= base}
        drop = len(self._visible) - keep
        if drop > 0:
            self._chars_before = self._sums[drop - 1]
            del self._visible[:drop], self._vpos[:drop], self._sums[:drop]
            self._settled = max(0, self._settled - drop)
            self._complete = False

    # -- checkpoints ---------------------------------------------------------------------

    @property
    def checkpoints(self) -> dict[str, CheckpointRecord]:
        return dict(self._checkpoints)

    def checkpoint(self, name: str, state: dict[str, Any] | None = None) -> CheckpointRecord:
        """Remember where the history stands now (a small record, not a copy)."""
        if not name:
            raise ValueError("a checkpoint needs a name")
        record = CheckpointRecord(
            name, self._next - 1, micros_to_datetime(next_micros()), dict(state or {})
        )
        self._checkpoints[name] = record
        self._depths[name] = self._length
        if self._store is not None:
            self._store.save_checkpoint(self.session.id, name, record.pos, record.state)
        return record

    def restore(self, name: str) -> CheckpointRecord:
        """Make the history what it was at checkpoint ``name``; nothing is deleted.

        What the window needs is walked in memory; if the checkpoint lies
        before the window, the rest is read from SQLite by :meth:`load_window`
        (which the engine calls before the agent's next turn).
        """
        record = self._checkpoints.get(name)
        if record is None:
            known = ", ".join(sorted(self._checkpoints)) or "(none)"
            raise KeyError(f"no checkpoint named {name!r} for {self.agent_id}; known: {known}")
        pos = self._next
        self._next = pos + 1
        self._nodes.append(None)
        self._marker_targets[pos] = record.pos
        if self._store is not None:
            self._store.add_history(self.session.id, pos, RESTORE_MARKER, None, record.pos)
        entries, positions, complete = self._walk(record.pos, self._keep)
        self._show(entries, positions, self._depths.get(name, len(entries)), complete)
        if self._store is not None and len(self._nodes) > self._limit:
            self._trim()
        return record

    def _walk(self, node: int, want: int) -> tuple[list[Entry], list[int], bool]:
        """Up to ``want`` entries of the chain ending at ``node``, from the nodes in memory.

        Also says whether the chain's beginning was reached (else the rest is in SQLite).
        """
        entries: list[Entry] = []
        positions: list[int] = []
        nodes, base, targets = self._nodes, self._node_base, self._marker_targets
        while len(entries) < want and node >= base:
            entry = nodes[node - base]
            if entry is None:
                target = targets.get(node, node - 1)
                node = target if target < node else -1
                continue
            entries.append(entry)
            positions.append(node)
            node -= 1
        entries.reverse()
        positions.reverse()
        return entries, positions, node < 0

    def _show(
        self, visible: list[Entry], positions: list[int], length: int, complete: bool
    ) -> None:
        """Replace the visible history (a restore, or a load): a new generation."""
        self._visible = visible
        self._vpos = positions
        self._length = max(length, len(visible))
        self._complete = complete or len(visible) >= self._length
        self._generation = next(_GENERATIONS)
        settled = len(visible)
        while settled and visible[settled - 1].__class__ is not tuple:
            settled -= 1
        self._settled = settled
        self._chars_before = 0
        self._sums = list(accumulate(_size(e) for e in visible))

    # -- the window ----------------------------------------------------------------------

    def holds(self, count: int) -> bool:
        """Whether memory has the newest ``count`` messages (or the whole history)."""
        return self._complete or len(self._visible) >= min(count, self._length)

    async def load_window(self, count: int | None = None) -> None:
        """Make memory hold the newest ``count`` messages (``keep`` by default).

        They are read from SQLite when the window holds fewer: after a resume,
        or a restore to a checkpoint older than the window.  ``keep`` grows to
        ``count``, so the window stays that large.
        """
        want = self._keep if count is None else count
        self.keep = max(self._keep, want)
        store = self._store
        while store is not None and not self.holds(want):
            generation = self._generation
            front = self._vpos[0] if self._vpos else None
            cursor = (self._next if front is None else front) - 1
            while (need := min(want, self._length) - len(self._visible)) > 0:
                refs, reached = await store.history_chain(self.session.id, cursor, need)
                envelopes = await store.envelopes_by_seq(
                    self.session.session_id, {seq for _, seq, _ in refs}
                )
                now = self._vpos[0] if self._vpos else None
                if generation != self._generation or now != front:
                    break  # restored or trimmed meanwhile: look again
                self._prepend(refs, envelopes, reached)
                front = self._vpos[0] if self._vpos else None
                if reached or not refs:
                    self._complete = True
                    break
                cursor = refs[-1][0] - 1  # on past references to envelopes that are gone

    def _prepend(self, refs: list[Ref], envelopes: dict[int, Envelope], complete: bool) -> None:
        """Older entries (``refs`` newest first) go in front of the window."""
        agent = self.session.agent_id
        entries: list[Entry] = []
        positions: list[int] = []
        for pos, seq, code in reversed(refs):
            env = envelopes.get(seq)
            if env is None:  # the envelope is gone: nothing to show there
                continue
            role = CODE_ROLE[code] if code is not None else usual_role(agent, env)
            entries.append((role, env))  # made into a Message only when someone reads it
            positions.append(pos)
        sizes = [_size(e) for e in entries]
        first = self._chars_before - sum(sizes)
        self._sums[:0] = list(accumulate(sizes, initial=first))[1:]
        self._chars_before = first
        self._visible[:0] = entries
        self._vpos[:0] = positions
        self._settled += len(entries)
        self._complete = complete
        self._generation = next(_GENERATIONS)  # whoever shows the window shows it again

    async def history(self) -> AsyncIterator[Message]:
        """The whole visible history, oldest first, read from SQLite a chunk at a time.

        Memory holds only the newest part of a long history (``messages``);
        this reads all of it without holding it all.
        """
        store = self._store
        if store is None:
            for i in range(len(self._visible)):
                yield _materialize(self._visible, i, i + 1)[0]
            return
        agent, room = self.session.agent_id, self.session.session_id
        for first, last, _ in await store.history_segments(self.session.id, self._next - 1):
            async for refs in store.history_range(self.session.id, first, last):
                envelopes = await store.envelopes_by_seq(room, {seq for _, seq, _ in refs})
                for _, seq, code in refs:
                    env = envelopes.get(seq)
                    if env is not None:
                        role = CODE_ROLE[code] if code is not None else usual_role(agent, env)
                        yield Message.from_envelope(env, role)

    # -- the model's view ----------------------------------------------------------------

    def context(
        self, max_messages: int | None = None, max_chars: int | None = None
    ) -> ContextWindow:
        """The newest messages that fit both bounds, oldest first (for a model prompt).

        The newest message is always included.  Costs O(log n) plus a copy of
        the window, whatever the length of the history (prefix sums of sizes).
        Only what memory holds is looked at (see :meth:`load_window`).
        """
        visible, sums = self._visible, self._sums
        end = len(visible)
        start = 0 if max_messages is None else max(0, end - max_messages)
        if max_chars is not None and end:
            need = sums[-1] - self._chars_before - max_chars  # characters left out, from the front
            if need > 0:
                fits = bisect_left(sums, self._chars_before + need) + 1
                start = max(start, min(fits, end - 1))
        if start < self._settled:  # entries loaded from SQLite become Messages once
            _materialize(visible, start, self._settled)
            self._settled = start
        return ContextWindow(
            visible[start:end],  # type: ignore[arg-type]
            self._length - end + start,
            self._generation,
        )

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def _loaded(
        cls,
        session: Session,
        store: SqliteStore,
        keep: int,
        plan: _Plan,
        envelopes: dict[int, Envelope],
    ) -> ConversationSystem:
        """An agent's conversation as saved: its newest nodes, its length, its checkpoints."""
        conv = cls(session, store, keep=keep)
        agent = session.agent_id
        nodes, targets = conv._nodes, conv._marker_targets
        conv._node_base = plan.start
        conv._next = plan.end
        for pos, seq, role_code, prev in plan.nodes:
            while plan.start + len(nodes) < pos:  # a gap in positions: keep them aligned
                targets[plan.start + len(nodes)] = plan.start + len(nodes) - 1
                nodes.append(None)
            if role_code == RESTORE_MARKER:
                targets[pos] = prev if prev is not None else -1
                nodes.append(None)
                continue
            env = envelopes.get(seq) if seq is not None else None
            if env is None:  # the envelope is gone: show nothing there
                targets[pos] = pos - 1
                nodes.append(None)
                continue
            role = CODE_ROLE[role_code] if role_code is not None else usual_role(agent, env)
            nodes.append((role, env))  # made into a Message only when someone reads it
        conv._checkpoints = plan.checkpoints
        conv._depths = plan.depths
        entries, positions, complete = conv._walk(plan.end - 1, keep)
        conv._show(entries, positions, plan.length, complete)
        return conv


class _Plan:
    """What loading one agent's conversation reads before its envelopes are fetched."""

    __slots__ = ("checkpoints", "depths", "end", "length", "nodes", "start")

    def __init__(
        self,
        start: int,
        end: int,
        nodes: list[Node],
        length: int,
        checkpoints: dict[str, CheckpointRecord],
        depths: dict[str, int],
    ) -> None:
        self.start, self.end, self.nodes, self.length = start, end, nodes, length
        self.checkpoints, self.depths = checkpoints, depths

    @classmethod
    async def read(cls, store: SqliteStore, session: Session, keep: int) -> _Plan:
        end = await store.history_end(session.id)
        start = max(0, end - keep)
        checkpoints = await store.checkpoints(session)
        depths = {
            name: await store.history_length(session.id, record.pos)
            for name, record in checkpoints.items()
        }
        # Without a checkpoint there was never a restore, so every position is a
        # reference on the one chain: its length is its end, with no scan of its rows.
        length = await store.history_length(session.id, end - 1) if checkpoints else end
        return cls(
            start, end, await store.history_nodes(session.id, start), length, checkpoints, depths
        )


def _size(entry: Entry) -> int:
    return len(entry[1].content) if entry.__class__ is tuple else len(entry.content)  # type: ignore[union-attr]


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
    async def load(
        cls, store: SqliteStore, session_id: str, *, keep: int = KEEP
    ) -> ConversationManager:
        """Every agent's conversation of a saved room, as it was left: its newest ``keep``.

        Each agent's newest nodes, its length and its checkpoints are read;
        then the envelopes they name, once each however many agents saw them
        (a status only if someone saw it: a bounce).  The rest stays in SQLite.
        """
        manager = cls(session_id, store)
        sessions = await store.agent_sessions(session_id)
        plans = [await _Plan.read(store, session, keep) for session in sessions]
        seqs = {node[1] for plan in plans for node in plan.nodes if node[1] is not None}
        envelopes = await store.envelopes_by_seq(session_id, seqs)
        for session, plan in zip(sessions, plans, strict=True):
            conv = ConversationSystem._loaded(session, store, keep, plan, envelopes)
            await conv.load_window()  # only if a restore sent its chain back past those nodes
            manager.agent_sessions[session.agent_id] = conv
        # Nobody listens until registered again: a resumed room records only for the
        # agents that are back in it.
        return manager

    # -- the bus sink ---------------------------------------------------------------------

    def offer(self, envelope: Envelope) -> bool:
        if envelope.type is MessageType.STATUS:
            if envelope.sender == ROOM and envelope.metadata.get("event") == Event.UNDELIVERED:
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
