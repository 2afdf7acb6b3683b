"""Process-wide settings the agentroom application chooses for itself.

A room keeps every agent's history in memory as it grows, so the objects
alive climb into the hundreds of thousands; CPython's default collector then
spends more and more time in full (generation 2) collections, and a long
room gets slower per message.  Full collections one tenth as often keep the
per-message cost flat (measured in ``bench/room.py``: 1.21x at 10,000
messages with the defaults, 1.0x with this).  Only the application (the CLI)
calls this; the library never changes a host program's collector.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (700, 10, 100)


def tune_gc() -> None:
    """Fewer full collections, and the start-up objects out of the collector's way."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()
