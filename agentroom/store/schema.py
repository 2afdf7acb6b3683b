"""The database schema and its forward migrations.

Rows are small on purpose (the design goal is a database no larger than twice
the text it holds): envelopes live in a ``WITHOUT ROWID`` table keyed by
(room, seq), senders and receivers are per-room small integers, a bus-minted
id is 16 bytes whose UUIDv7 timestamp *is* the creation time, and an agent's
history row is a reference, not a copy: positions ``pos .. pos+n-1`` of one
agent's history are envelopes ``seq .. seq+n-1`` (``n`` NULL means 1), with
``role`` NULL when it is the usual one (its own words ``assistant``, anyone
else's ``user``).  A row with ``role`` 9 is a restore marker whose ``prev``
is the node the history continues from.

An envelope's id is stored but not indexed (V3 drops V1's ``envelopes_uid``):
nothing looks an envelope up by its id (ids are looked up only in ``rooms``
and ``agent_sessions``), (room, seq) already refuses a second write, and the
index cost ~22 bytes and a b-tree insert per envelope.

A room's owner (V4) is one row in ``owners``: the process that may write to
the room.  Claiming it is a compare-and-set in one IMMEDIATE transaction:
``epoch`` goes up by one per claim and every batch the owner writes checks it
in the same transaction (fencing), so a displaced owner's next write fails
instead of mixing two runs.  ``lease_until`` (microseconds, wall clock) is
renewed by the owner's commits and, when idle, by a timer; ``locked`` says the
owner also holds an OS lock on the room (see ``ownership.py``), which the
kernel drops when the process dies.  ``token`` is NULL once released; the row
stays, so the epoch only ever grows.  ``pid`` and ``host`` are for display.

The coordinator's checkpoint is one row per room in ``room_state`` (V2),
replaced after every turn: what a resume needs.  A fork at an earlier seq
needs the checkpoint as it was there, so every checkpoint also leaves a row
in ``room_state_changes`` (V5): the top-level keys that changed since the
room's row before it (all of them in the first row a process writes), but
the termination counters and the stop reason, which a fork starts afresh.
The state at any seq is those rows up to it, merged in order; most turns
change a few small keys (the turn count, the last speaker, a cursor), so a
row is tens of bytes.

A person joining a served room proves who they are with a token (V6): one
row in ``tokens`` per token, bound to one room and one human.  Only the
token's SHA-256 (hex) is kept, never the token; ``id`` is its short public
name (shown in lists, used to revoke).  ``revoked_at`` and ``last_used_at``
are microseconds, NULL while it was never revoked or used.  A room's tokens
go with the room when it is deleted; a fork is a new room and gets none.

A file is recognised as ours by ``PRAGMA application_id``; its schema version
lives in ``schema_version`` (and ``PRAGMA user_version`` for a cheap check).
Migrations only ever move forward, each in one transaction.
"""

from __future__ import annotations

APPLICATION_ID = 0x41524F4D  # "AROM"

V1 = """
CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
);
CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY,
    uid        TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    state      TEXT NOT NULL DEFAULT 'running',
    last_seq   INTEGER NOT NULL DEFAULT 0,
    messages   INTEGER NOT NULL DEFAULT 0,
    metadata   TEXT
);
CREATE TABLE participants (
    room INTEGER NOT NULL,
    idx  INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (room, idx)
) WITHOUT ROWID;
CREATE TABLE envelopes (
    room     INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    uid      BLOB NOT NULL,
    sender   INTEGER NOT NULL,
    receiver INTEGER NOT NULL,
    type     INTEGER NOT NULL,
    content  TEXT NOT NULL,
    created  INTEGER NOT NULL,
    reply_to BLOB,
    metadata TEXT,
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX envelopes_uid ON envelopes (uid);
CREATE TABLE agent_sessions (
    id         INTEGER PRIMARY KEY,
    uid        TEXT NOT NULL UNIQUE,
    room       INTEGER NOT NULL,
    agent      TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    metadata   TEXT,
    UNIQUE (room, agent)
);
CREATE TABLE history (
    agent_session INTEGER NOT NULL,
    pos           INTEGER NOT NULL,
    seq           INTEGER,
    n             INTEGER,
    role          INTEGER,
    prev          INTEGER,
    PRIMARY KEY (agent_session, pos)
) WITHOUT ROWID;
CREATE TABLE checkpoints (
    agent_session INTEGER NOT NULL,
    name          TEXT NOT NULL,
    pos           INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    state         TEXT,
    PRIMARY KEY (agent_session, name)
) WITHOUT ROWID;
"""

V2 = """
CREATE TABLE room_state (
    room       INTEGER PRIMARY KEY,
    seq        INTEGER NOT NULL,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
"""
"""The coordinator's checkpoint: one small row per room, replaced after every turn."""

V3 = """
DROP INDEX IF EXISTS envelopes_uid;
"""
"""Envelope ids are no longer indexed (see the module docstring)."""

V4 = """
CREATE TABLE owners (
    room        INTEGER PRIMARY KEY,
    token       TEXT,
    epoch       INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    locked      INTEGER NOT NULL DEFAULT 0,
    pid         INTEGER,
    host        TEXT,
    claimed_at  INTEGER NOT NULL
);
"""
"""Who owns each room (one writer at a time, fenced by ``epoch``); see the module docstring."""

V5 = """
CREATE TABLE room_state_changes (
    room  INTEGER NOT NULL,
    seq   INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
"""
"""The coordinator's checkpoints over time, as changes (see the module docstring)."""

V6 = """
CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    digest       TEXT NOT NULL UNIQUE,
    room         INTEGER NOT NULL,
    human        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX tokens_room ON tokens (room);
"""
"""The tokens people join served rooms with, as hashes (see the module docstring)."""

# Index i holds the SQL that takes a database from version i to version i + 1.
# A released step is never edited: a new database runs them all (V1 makes the
# index V3 drops, on an empty table), so every file at version n has one schema.
MIGRATIONS: tuple[str, ...] = (V1, V2, V3, V4, V5, V6)
SCHEMA_VERSION = len(MIGRATIONS)
