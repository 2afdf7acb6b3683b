"""The clients of ``bench/server.py``, in a process of their own; one JSON line per answer.

- ``latency URL TOKEN N LINES``: N clients connect and authenticate (prints
  ``{"ready": N}``), then each reads until it has LINES messages; every message's
  content is the ``time.monotonic()`` it was said at, so its latency is the moment
  it arrived minus that.  Prints ``{"latencies": [...], "complete": K}``.
- ``catchup URL TOKEN LAST``: one client connects with ``since=0`` and reads until
  envelope LAST; prints ``{"seconds": S}`` from opening the socket.
- ``idle URL TOKEN N``: N clients connect and read their ``hello``; prints
  ``{"ready": N}`` and holds them open until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import websockets

LIMIT = 64 * 1024 * 1024


async def _connect(url: str, token: str) -> Any:
    ws = await websockets.connect(url, max_size=LIMIT, compression=None)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    while json.loads(await ws.recv())["type"] != "hello":
        pass
    return ws


def _say(answer: dict[str, Any]) -> None:
    print(json.dumps(answer), flush=True)


async def latency(url: str, token: str, count: int, lines: int) -> None:
    clients = [await _connect(url, token) for _ in range(count)]
    samples: list[float] = []
    complete = 0

    async def read(ws: Any) -> None:
        nonlocal complete
        seen = 0
        while seen < lines:
            frame = json.loads(await ws.recv())
            if frame["type"] == "message":
                samples.append(time.monotonic() - float(frame["content"]))
                seen += 1
        complete += 1

    readers = [asyncio.create_task(read(ws)) for ws in clients]
    _say({"ready": count})
    await asyncio.wait(readers, timeout=lines / 10 + 60)
    _say({"latencies": samples, "complete": complete})


async def catchup(url: str, token: str, last: int) -> None:
    start = time.perf_counter()
    ws = await websockets.connect(url + "?since=0", max_size=LIMIT, compression=None)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    while True:
        frame = json.loads(await ws.recv())
        if frame.get("seq", 0) >= last:
            break
    _say({"seconds": time.perf_counter() - start})
    await ws.close()


async def _drain(ws: Any) -> None:
    """Read whatever comes (the others' presence), as a real client does: a client that
    reads nothing fills its queue and can no longer even hear the server close."""
    async for _ in ws:
        pass


async def idle(url: str, token: str, count: int) -> None:
    clients = [await _connect(url, token) for _ in range(count)]
    readers = [asyncio.create_task(_drain(ws)) for ws in clients]
    _say({"ready": count})
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for ws in clients:
        await ws.close()
    await asyncio.gather(*readers, return_exceptions=True)


def main(argv: list[str]) -> None:
    mode, url, token, *rest = argv
    numbers = [int(x) for x in rest]
    if mode == "latency":
        asyncio.run(latency(url, token, *numbers))
    elif mode == "catchup":
        asyncio.run(catchup(url, token, *numbers))
    else:
        asyncio.run(idle(url, token, *numbers))


if __name__ == "__main__":
    main(sys.argv[1:])
