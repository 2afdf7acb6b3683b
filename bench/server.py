"""A served room: delivery latency to 50 clients, catch-up of a client far behind, idle memory.

``python -m bench server`` serves one room with ``agentroom serve``'s own
pieces (the :class:`~agentroom.server.served.ServedRoom`, the Starlette app and
uvicorn, on a loopback port) in this process, and drives real ``websockets``
clients from a second process (``bench/server_clients.py``), so the clients'
own work does not share the server's event loop (the machine has 2 cores:
one each, as a server and its clients on other machines would have).

- **delivery**: ``CLIENTS`` connections; the room's human says ``RATE`` lines
  a second for ``SECONDS`` seconds, each line carrying the moment it was
  said (``time.monotonic()``, one clock for every process on the machine).
  A client notes when each line reaches it; the latency is the difference:
  through the bus, the store's group commit (the hub sends a client only
  what is on disk), the fan-out and the socket.  p50 and p99 over every
  (line, client).  Goal: p99 under 50 ms.
- **catch-up**: the room holds ``BEHIND`` envelopes; a client connects with
  ``since=0`` and is timed from opening the socket until the newest
  envelope has reached it (hello, the backlog from SQLite, all of it
  parsed).  Goal: under 1 s.
- **idle memory**: what the server's Python heap holds for ``IDLE`` clients
  connected and greeted (``hello`` read), divided by ``IDLE``: ``tracemalloc``
  before and after, once a first client has warmed every code path.  (The
  process's resident size is reported too, measured the same way in a fresh
  process: in the benchmark's own, memory freed by the earlier steps would be
  reused by the clients and hide them.)
  The kernel's socket buffers are not the process's and are not counted.
  Goal: under 100 KB a client, on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.util import Result, note, report, section, tempdir

if TYPE_CHECKING:
    from agentroom.server.served import ServedRoom

CLIENTS = int(os.environ.get("BENCH_SERVER_CLIENTS", "50"))
RATE = 100
SECONDS = int(os.environ.get("BENCH_SERVER_SECONDS", "10"))
BEHIND = 10_000
IDLE = int(os.environ.get("BENCH_SERVER_IDLE", "200"))
REPEATS = 3

ROOT = Path(__file__).resolve().parent.parent
ROOM = """
name: Bench room
agents:
  - id: ada
humans:
  - id: human
"""


@contextlib.asynccontextmanager
async def _served(db: Path) -> AsyncIterator[tuple[ServedRoom, str, str]]:
    """A room served on loopback port 0, not running (only its human speaks); yields the
    served room, the ws URL and the human's token."""
    from agentroom.models.offline import OfflineModel
    from agentroom.room.live import LiveRoom, RoomOptions
    from agentroom.room.workflows import parse_workflow
    from agentroom.server.app import create_app
    from agentroom.server.running import bind, bound_port, server
    from agentroom.server.served import ServedRoom

    room = LiveRoom(
        RoomOptions(db=db, workflow=parse_workflow(ROOM), default_model=OfflineModel(), feed=False)
    )
    served = ServedRoom(room, run=False)
    sock = bind("127.0.0.1", 0)
    http = server(create_app(served))
    task = asyncio.create_task(http.serve(sockets=[sock]))
    try:
        await _until(lambda: http.started or task.done())
        if task.done():
            task.result()
        assert room.engine is not None
        token = await room.tokens.mint(room.engine.session_id, "human")
        yield served, f"ws://127.0.0.1:{bound_port(sock)}/ws", token
    finally:
        http.should_exit = True
        await task


async def _until(condition: Callable[[], object], guard: float = 120.0) -> None:
    """Return once ``condition()`` holds (the guard only stops a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + guard
    while not condition():
        if loop.time() > deadline:
            raise RuntimeError(f"still not true after {guard:.0f} s: {condition}")
        await asyncio.sleep(0.005)


async def _clients(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.server_clients",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 26,  # the latencies come back as one line
        cwd=ROOT,
    )


async def _line(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    raw = await proc.stdout.readline()
    if not raw:
        raise RuntimeError(f"the clients' process ended (exit {await proc.wait()})")
    answer: dict[str, Any] = json.loads(raw)
    return answer


async def _say(served: ServedRoom, count: int, rate: float, *, stamped: bool) -> None:
    """The room's human says ``count`` lines at ``rate`` a second (0: as fast as it can)."""
    human = served.room.human
    assert human is not None
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(count):
        if rate:
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        await human.say(repr(time.monotonic()) if stamped else f"line {i} " + "x" * 80)


async def _delivery(db: Path) -> tuple[list[float], int]:
    """Latencies in seconds (every line at every client) and the clients that kept up."""
    async with _served(db) as (served, url, token):
        proc = await _clients("latency", url, token, str(CLIENTS), str(RATE * SECONDS))
        try:
            assert (await _line(proc))["ready"] == CLIENTS
            await _say(served, RATE * SECONDS, RATE, stamped=True)
            result = await _line(proc)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    return [float(x) for x in result["latencies"]], int(result["complete"])


async def _catch_up(db: Path) -> float:
    async with _served(db) as (served, url, token):
        await _say(served, BEHIND, 0, stamped=False)
        engine = served.room.engine
        assert engine is not None
        await engine.flush()
        last = engine.bus.last_seq
        proc = await _clients("catchup", url, token, str(last))
        try:
            result = await _line(proc)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    return float(result["seconds"])


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def _idle_memory(db: Path) -> tuple[float, float]:
    """KB of server memory per idle client: its Python heap, and its resident size."""
    async with _served(db) as (served, url, token):
        # Warm every code path once (a first client), so its imports are not counted.
        warm = await _clients("idle", url, token, "1")
        assert (await _line(warm))["ready"] == 1
        assert warm.stdin is not None
        warm.stdin.close()
        await warm.wait()
        hub = served.hub
        assert hub is not None
        await _until(lambda: not hub.connections)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        rss = _rss_kb()
        proc = await _clients("idle", url, token, str(IDLE))
        try:
            assert (await _line(proc))["ready"] == IDLE
            await _until(lambda: len(hub.connections) >= IDLE)
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
            grew = _rss_kb() - rss
            tracemalloc.stop()
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            await proc.wait()
    return (after - before) / 1024 / IDLE, grew / IDLE


async def _idle_memory_apart(db: Path) -> tuple[float, float]:
    """:func:`_idle_memory` in a fresh process: memory the earlier steps freed would be
    reused by the clients and hide them from the resident size."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.server",
        "idle",
        str(db),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    answer = await _line(proc)
    await proc.wait()
    return float(answer["heap"]), float(answer["rss"])


def _lowest(label: str, values: list[float], unit: str, goal: float | None = None) -> Result:
    """The median over the repeats, for a figure where lower is better."""
    return report(
        label, statistics.median(values), unit, best=min(values), goal=goal, higher_is_better=False
    )


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run() -> list[Result]:
    section(
        f"served room: {CLIENTS} clients at {RATE} lines/s for {SECONDS} s, "
        f"a client {BEHIND:,} behind, {IDLE} idle clients (median of {REPEATS})"
    )
    p50s, p99s, worst, catch, heap, rss = [], [], [], [], [], []
    for _ in range(REPEATS):
        with tempdir() as tmp:
            latencies, complete = await _delivery(Path(tmp) / "delivery.db")
            if complete != CLIENTS:
                note(f"only {complete} of {CLIENTS} clients got every line")
            p50s.append(_percentile(latencies, 50) * 1000)
            p99s.append(_percentile(latencies, 99) * 1000)
            worst.append(max(latencies) * 1000)
            catch.append(await _catch_up(Path(tmp) / "catchup.db"))
            kb_heap, kb_rss = await _idle_memory_apart(Path(tmp) / "idle.db")
            heap.append(kb_heap)
            rss.append(kb_rss)
    delivery = f"delivery to {CLIENTS} clients at {RATE}/s"
    results = [
        _lowest(f"{delivery}, p50", p50s, "ms"),
        _lowest(f"{delivery}, p99", p99s, "ms", goal=50),
        _lowest(f"catch-up of a client {BEHIND:,} envelopes behind", catch, "s", goal=1.0),
        _lowest("server memory per idle client (Python heap)", heap, "KB", goal=100),
        _lowest("server memory per idle client (resident size)", rss, "KB", goal=100),
    ]
    note(f"worst single delivery: {statistics.median(worst):.1f} ms (median over repeats)")
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["idle"]:
        heap_kb, rss_kb = asyncio.run(_idle_memory(Path(sys.argv[2])))
        print(json.dumps({"heap": heap_kb, "rss": rss_kb}), flush=True)
    else:
        asyncio.run(run())
