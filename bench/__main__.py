"""``python -m bench [name ...]``: run every benchmark, or only the named ones."""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import platform
import sqlite3
import sys
import time

from agentroom.cli.runtime import tune_gc
from bench.util import LABEL_WIDTH, line

BENCHMARKS = ("bus", "store", "size", "stream", "room", "tui", "memory", "local", "server")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    print(
        f"agentroom benchmarks: python {platform.python_version()}, "
        f"sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPU(s), {platform.machine()}"
    )
    tune_gc()  # as the agentroom command does (agentroom/runtime.py says why)
    print(f"gc thresholds {gc.get_threshold()} (as the agentroom command sets them)")
    started = time.perf_counter()
    results = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        results.extend(asyncio.run(module.run()))
    elapsed = time.perf_counter() - started
    goals = [r for r in results if r.goal is not None]
    if goals:
        print(f"\n== summary: {sum(bool(r.goal_met) for r in goals)}/{len(goals)} goals met ==")
        for result in goals:
            print(line(result))
    print(f"\n{'total time':<{LABEL_WIDTH}} {elapsed:>12.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
