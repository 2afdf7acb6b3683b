"""A database file deleted (or replaced) while its room runs is noticed, said, and put back.

Deleting an open file on POSIX only unlinks its name: SQLite would go on
committing into a file nobody can reach, and everything would vanish when the
room closed.
"""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from agentroom import Engine, ScriptedAgent
from agentroom.core.errors import StoreWriteError


def rows(db_path) -> list[tuple[int, str]]:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return db.execute("SELECT seq, content FROM envelopes ORDER BY seq").fetchall()


@pytest.mark.parametrize("side_files", ["kept", "deleted"])
async def test_a_deleted_database_is_put_back_from_the_open_connection(db_path, side_files):
    said = []
    async with Engine.open(db_path, title="deleted") as engine:
        engine.store.watch_health(said.append)
        engine.register_agent(ScriptedAgent("a", [f"line {i}" for i in range(6)]))
        for _ in range(3):
            await engine.run_agent_turn("a")
        await engine.flush()
        os.unlink(db_path)  # mid-run, as `rm room.db` would
        if side_files == "deleted":  # as `rm room.db*` would
            os.unlink(f"{db_path}-wal")
            os.unlink(f"{db_path}-shm")
        for _ in range(3):
            await engine.run_agent_turn("a")
        await engine.flush()
        assert db_path.exists()
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
        assert [c for _, c in rows(db_path)] == [f"line {i}" for i in range(6)]
        assert engine.store.health.ok
        assert len(said) == 1 and said[0].ok
        note = said[0].describe()
        assert note.startswith(f"the database file {db_path} was deleted while the room ran")
        assert "nothing was lost" in note
        sid = engine.session_id
    async with Engine.open(db_path, session_id=sid) as engine:  # and it resumes as ever
        assert engine.bus.last_seq == 6


async def test_a_database_replaced_by_another_file_stops_the_room_and_keeps_a_copy(db_path):
    said = []
    with pytest.raises(StoreWriteError, match="could not be written") as caught:
        async with Engine.open(db_path, title="replaced") as engine:
            engine.store.watch_health(said.append)
            engine.register_agent(ScriptedAgent("a", [f"line {i}" for i in range(6)]))
            for _ in range(3):
                await engine.run_agent_turn("a")
            await engine.flush()
            os.unlink(db_path)
            db_path.write_text("somebody else's file")
            await engine.run_agent_turn("a")
            with pytest.raises(StoreWriteError, match="replaced by another file"):
                await engine.flush()
            assert engine.store.health.permanent
    assert db_path.read_text() == "somebody else's file"  # left alone
    message = said[-1].describe()
    assert "was replaced by another file while the room ran" in message
    copy = message.split("saved to ")[1].split(",")[0]
    assert [c for _, c in rows(copy)] == ["line 0", "line 1", "line 2"]
    assert "replaced by another file" in str(caught.value)
