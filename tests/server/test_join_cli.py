"""``agentroom join URL --headless`` as a person runs it: a real process, its stdin and stdout,
joined to a room served by a real uvicorn on port 0."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.environment import child_env
from tests.server.conftest import GUARD, mint, open_served, serving

SECRET = "ar_" + "n0tvalid" * 5


class Joined:
    """A running ``agentroom join --headless`` and everything it printed."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def until(self, text: str) -> str:
        """Read stdout until a line holds ``text``; returns that line."""
        assert self.process.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), GUARD)
            assert raw, f"the client ended before printing {text!r}: {self.lines}"
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if text in line:
                return line

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()


async def join(folder: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentroom",
        "join",
        *args,
        "--headless",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(folder, COLUMNS="200"),
    )


async def test_join_headless_sends_stdin_lines_and_prints_the_room_live(db_path, tmp_path):
    served = open_served(db_path, limit=12)
    async with serving(served) as base:
        token = await mint(served, "alice")
        client = Joined(await join(tmp_path, f"{base}/#token={token}"))
        await client.until("your turn, alice")
        await client.type("Call it Miso.")
        await client.until("alice: Call it Miso.")
        await client.type("@nobody hi")  # the server's grammar answers, after »
        await client.until("» nobody named 'nobody' is in the room")
        assert client.process.stdin is not None
        client.process.stdin.close()  # alice leaves; the room goes on
        assert await asyncio.wait_for(client.process.wait(), GUARD) == 0
        assert client.process.stderr is not None
        errors = (await client.process.stderr.read()).decode()
        said = [(e.sender, e.content) async for e in served.room.sessions.read(served.session_id)]
    assert ("alice", "Call it Miso.") in said
    assert token not in "\n".join(client.lines) + errors
    # What was said is printed in the room's order (bob's turn comes next: he is not here).
    shown = [line for line in client.lines if line.startswith(("ada:", "alice:"))]
    assert shown == ["ada: Whiskers?", "alice: Call it Miso."]


async def test_join_says_in_one_line_when_the_server_is_gone_or_refuses_the_token(
    db_path, tmp_path
):
    served = open_served(db_path)
    async with serving(served) as base:
        refused = await join(tmp_path, f"{base}/#token={SECRET}")
        _, refusal = await asyncio.wait_for(refused.communicate(), GUARD)
        assert refused.returncode == 4
    gone = await join(tmp_path, f"{base}/#token={SECRET}")
    _, unreachable = await asyncio.wait_for(gone.communicate(), GUARD)
    assert gone.returncode == 3
    for said in (refusal.decode(), unreachable.decode()):
        assert said.count("\n") == 1 and said.startswith("error: ") and SECRET not in said
        assert base in said
    assert "refused the token" in refusal.decode()
    assert "cannot reach" in unreachable.decode()


async def test_a_token_revoked_while_joined_ends_the_client_as_a_refusal_does(db_path, tmp_path):
    served = open_served(db_path, recheck=0.05)
    async with serving(served) as base:
        token = await mint(served, "alice")
        client = Joined(await join(tmp_path, f"{base}/#token={token}"))
        await client.until("your turn, alice")
        grant = await served.room.tokens.verify(token)
        assert grant is not None
        await served.room.tokens.revoke(grant.token_id)
        # Closed 4401 by the server, the client does not reconnect for ever: it exits as a
        # refused token does (4), saying so in one line.
        assert await asyncio.wait_for(client.process.wait(), GUARD) == 4
        assert client.process.stderr is not None
        said = (await client.process.stderr.read()).decode()
    assert "error: " in said and token not in said
