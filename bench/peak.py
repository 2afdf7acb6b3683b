"""``python -S bench/peak.py RESULT CAP_MB COMMAND...``: run COMMAND, write its peak memory.

A process's ``ru_maxrss`` counts the memory of whoever spawned it (Linux
keeps the parent's high-water mark across the spawn), so a measured step is
started by this small process rather than by the benchmark itself: what
``getrusage(RUSAGE_CHILDREN)`` says here is the step's own peak (above this
process's few MB).  Stdlib only, run without ``site``, so it stays small.
The step is killed if its resident memory passes ``CAP_MB``.  RESULT gets
``{"peak_mb", "seconds", "returncode", "over_cap"}`` as JSON.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def main(result: str, cap_mb: str, *command: str) -> int:
    started = time.perf_counter()
    proc = subprocess.Popen(command)
    over = False
    while proc.poll() is None:
        if _rss_mb(proc.pid) > float(cap_mb):
            over = True
            proc.kill()
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = {"peak_mb": peak, "seconds": seconds, "returncode": proc.returncode, "over_cap": over}
    with open(result, "w") as fh:
        json.dump(report, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
