"""``python -m bench.peers``: agentroom against AutoGen, LangGraph and the OpenAI Agents SDK.

Runs in the separate peers venv (``make bench-peers``).  Every measured run is
its own subprocess (``bench.peers.worker``), which imports only the framework
it measures, warms up, times itself and reports JSON back.  The frameworks
are run in rotation within each repeat (the starting one rotates too), so a
noisy moment of the machine lands on all of them alike and the ratios hold.
The figures are medians over the repeats; a ratio is always "agentroom's
advantage": above 1 agentroom is better, below 1 the peer is.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RAW_TEXT = 100  # characters of content per message in every workload

ROOM_SIZES = {1_000: 5, 10_000: 3}  # N: repeats
ROOM_DEADLINE = 25.0  # seconds a peer may spend on one room run before it is capped
APPEND_N = 2_000
APPEND_REPEATS = 5
APPEND_DEADLINE = 15.0
RELOAD_N = 100_000
RELOAD_REPEATS = 5

PEERS = ("autogen", "langgraph", "openai-agents")
NAMES = {
    "agentroom": "agentroom",
    "agentroom-each": "agentroom (a flush per append)",
    "autogen": "AutoGen",
    "langgraph": "LangGraph",
    "openai-agents": "OpenAI Agents",
}
PACKAGES = (
    "agentroom",
    "autogen-agentchat",
    "autogen-core",
    "autogen-ext",
    "langgraph",
    "langgraph-checkpoint",
    "langgraph-checkpoint-sqlite",
    "openai-agents",
    "aiosqlite",
)

GOAL_AUTOGEN = 50.0
GOAL_LANGGRAPH = 100.0
GOAL_SCALE = 1.2
GOAL_OPENAI = 20.0
GOAL_BYTES = 2.0


def work(job: dict[str, Any]) -> dict[str, Any]:
    """One subprocess run; its JSON result, or ``{"error": ...}``."""
    timeout = (job.get("deadline") or 0) + 300
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.peers.worker", json.dumps(job)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def rotated(names: tuple[str, ...], i: int) -> list[str]:
    k = i % len(names)
    return list(names[k:] + names[:k])


class Figure:
    """The runs of one framework on one workload; medians of what they measured."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.errors: list[str] = []

    def add(self, result: dict[str, Any]) -> None:
        if "error" in result:
            self.errors.append(result["error"])
        else:
            self.runs.append(result)

    @property
    def ok(self) -> bool:
        return bool(self.runs)

    def rate(self) -> float:
        return statistics.median(r["count"] / r["seconds"] for r in self.runs)

    def us(self) -> float:
        return statistics.median(r["seconds"] * 1e6 / r["count"] for r in self.runs)

    def bytes_per(self) -> float:
        return statistics.median(r["bytes"] / r["count"] for r in self.runs)

    def capped(self) -> bool:
        return any(r.get("capped") for r in self.runs)

    def count(self) -> int:
        return int(statistics.median(r["count"] for r in self.runs))


def fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


class Table:
    """A Markdown table: one row per figure, one column per framework, then the ratios."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.footnotes: list[str] = []

    def row(
        self,
        workload: str,
        metric: str,
        figures: dict[str, Figure],
        value: str,
        higher_is_better: bool,
        base: str = "agentroom",
    ) -> None:
        cells = [workload, metric]
        values: dict[str, float] = {}
        for fw in ("agentroom", *PEERS):
            fig = figures.get(fw)
            if fig is None:
                cells.append("-")
                continue
            if not fig.ok:
                cells.append("failed")
                self.footnotes.append(f"{NAMES[fw]}, {workload}: {'; '.join(fig.errors)}")
                continue
            values[fw] = getattr(fig, value)()
            text = fmt(values[fw])
            if fig.capped():
                text += f" (N={fig.count():,}†)"
            cells.append(text)
        for fw in PEERS:
            if fw not in values or base not in values:
                cells.append("-")
                continue
            a, p = values[base], values[fw]
            ratio = a / p if higher_is_better else p / a
            cells.append(f"{ratio:,.1f}x" if ratio >= 10 else f"{ratio:,.2f}x")
        self.rows.append(cells)

    def render(self) -> str:
        head = ["workload", "figure", *(NAMES[f] for f in ("agentroom", *PEERS))]
        head += [f"agentroom ÷ {NAMES[f]}" for f in PEERS]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def room(table: Table) -> dict[int, dict[str, Figure]]:
    frameworks = ("agentroom", "autogen", "langgraph")
    out: dict[int, dict[str, Figure]] = {}
    for n, repeats in ROOM_SIZES.items():
        figures = {fw: Figure() for fw in frameworks}
        for i in range(repeats):
            for fw in rotated(frameworks, i):
                deadline = None if fw == "agentroom" else ROOM_DEADLINE
                result = work({"fw": fw, "wl": "room", "n": n, "deadline": deadline})
                progress(f"room N={n:,} #{i + 1} {fw}: {result}")
                figures[fw].add(result)
        out[n] = figures
        label = f"1. room, 3 agents round-robin, N={n:,} (median of {repeats})"
        table.row(label, "messages/s", figures, "rate", True)
        table.row(label, "µs per message", figures, "us", False)
    return out


def append(table: Table) -> dict[str, Figure]:
    frameworks = ("agentroom", "openai-agents", "langgraph", "agentroom-each")
    figures = {fw: Figure() for fw in frameworks}
    for i in range(APPEND_REPEATS):
        for fw in rotated(frameworks, i):
            deadline = None if fw.startswith("agentroom") else APPEND_DEADLINE
            result = work({"fw": fw, "wl": "append", "n": APPEND_N, "deadline": deadline})
            progress(f"append #{i + 1} {fw}: {result}")
            figures[fw].add(result)
    label = (
        f"2. durable append, 1 at a time as a live room does (agentroom: group commit), "
        f"N={APPEND_N:,} (median of {APPEND_REPEATS})"
    )
    table.row(label, "appends/s", figures, "rate", True)
    table.row(label, "DB bytes per message", figures, "bytes_per", False)
    each = {"agentroom": figures["agentroom-each"]}
    each.update({fw: figures[fw] for fw in ("openai-agents", "langgraph")})
    label_b = "2b. same, but agentroom commits (and syncs) each append before the next"
    table.row(label_b, "appends/s", each, "rate", True)
    return figures


def reload(table: Table) -> dict[str, Figure]:
    frameworks = ("agentroom", "openai-agents", "langgraph")
    figures = {fw: Figure() for fw in frameworks}
    with tempfile.TemporaryDirectory(
        prefix="agentroom-peers-", dir=os.environ.get("BENCH_TMPDIR")
    ) as folder:
        paths = {fw: os.path.join(folder, f"{fw}.db") for fw in frameworks}
        built = {fw: Figure() for fw in frameworks}
        for fw in frameworks:
            result = work({"fw": fw, "wl": "build", "n": RELOAD_N, "path": paths[fw]})
            progress(f"reload: built {fw}: {result}")
            built[fw].add(result)
            if "error" in result:
                figures[fw].errors.append("build " + result["error"])
        for i in range(RELOAD_REPEATS):
            for fw in rotated(frameworks, i):
                if figures[fw].errors:
                    continue
                result = work({"fw": fw, "wl": "reload", "path": paths[fw]})
                progress(f"reload #{i + 1} {fw}: {result}")
                figures[fw].add(result)
    label = f"3. reload a saved session of {RELOAD_N:,} messages (median of {RELOAD_REPEATS})"
    table.row(label, "messages/s", figures, "rate", True)
    table.row(
        f"3b. that saved session's database ({RELOAD_N:,} messages)",
        "DB bytes per message",
        built,
        "bytes_per",
        False,
    )
    return figures


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def goals(rooms: dict[int, dict[str, Figure]], appends: dict[str, Figure]) -> list[str]:
    lines = []
    small, big = rooms[1_000], rooms[10_000]
    a = small["agentroom"]
    for fw, goal in (("autogen", GOAL_AUTOGEN), ("langgraph", GOAL_LANGGRAPH)):
        p = small[fw]
        if a.ok and p.ok:
            ratio = a.rate() / p.rate()
            lines.append(
                f"- room N=1,000: agentroom {ratio:,.1f}x {NAMES[fw]}'s messages/s "
                f"(goal >= {goal:.0f}x): {verdict(ratio >= goal)}"
            )
    if a.ok and big["agentroom"].ok:
        ratio = big["agentroom"].us() / a.us()
        lines.append(
            f"- room: agentroom µs/message at N=10,000 is {ratio:.2f}x that at N=1,000 "
            f"(goal <= {GOAL_SCALE}x): {verdict(ratio <= GOAL_SCALE)}"
        )
    live, peer = appends["agentroom"], appends["openai-agents"]
    if live.ok and peer.ok:
        ratio = live.rate() / peer.rate()
        lines.append(
            f"- durable append, 1 at a time as a live room: agentroom {ratio:,.2f}x "
            "OpenAI Agents' appends/s "
            f"(goal >= {GOAL_OPENAI:.0f}x): {verdict(ratio >= GOAL_OPENAI)}"
        )
        each = appends["agentroom-each"]
        if each.ok:
            lines.append(
                f"  (with a commit and sync per append, as the SDK does: "
                f"{each.rate() / peer.rate():,.2f}x)"
            )
    if live.ok:
        ratio = live.bytes_per() / RAW_TEXT
        lines.append(
            f"- durable append: agentroom database {live.bytes_per():,.0f} bytes/message = "
            f"{ratio:.2f}x the {RAW_TEXT} bytes of raw text (goal <= {GOAL_BYTES:.0f}x): "
            f"{verdict(ratio <= GOAL_BYTES)}"
        )
    return lines


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def main() -> int:
    started = time.perf_counter()
    print(
        f"agentroom vs peers: python {platform.python_version()}, "
        f"sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPU(s), {platform.machine()}, "
        f"{datetime.date.today().isoformat()}"
    )
    print(f"packages: {versions()}", flush=True)
    table = Table()
    rooms = room(table)
    appends = append(table)
    reload(table)
    print()
    print(table.render())
    print()
    print(
        "Ratios are agentroom's advantage (rates: agentroom ÷ peer; costs: peer ÷ agentroom); "
        "below 1 the peer is better. - = not measured for that framework."
    )
    print(
        f"† capped: the run hit its time limit ({ROOM_DEADLINE:.0f} s for the room, "
        f"{APPEND_DEADLINE:.0f} s for appends) and is reported at the N it reached (median)."
    )
    for note in table.footnotes:
        print(f"! {note}")
    print("\nGoals:")
    for line in goals(rooms, appends):
        print(line)
    print(f"\ntotal time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
