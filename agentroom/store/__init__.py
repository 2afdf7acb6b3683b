"""Durable storage: the append-only SQLite log of rooms, envelopes and agent histories."""

from agentroom.core.records import CheckpointRecord, RoomInfo
from agentroom.store.sqlite import SqliteStore

__all__ = ["CheckpointRecord", "RoomInfo", "SqliteStore"]
