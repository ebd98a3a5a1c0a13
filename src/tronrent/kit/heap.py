"""The Python heap of a long-running process: what is built at startup left out of the
garbage collector's scans, and the young generation collected less often.

A serving process holds ~500,000 objects once started (the modules, classes, SQLAlchemy's
mappings, pydantic's models, the app's routes), nearly all alive until it exits. CPython's
cyclic collector scans every tracked object at each full collection: measured in a ``serve
--role api`` process taking 100 signed orders/s, 13 full collections in 30 s at ~0.21 s of CPU
each - ~15 % of the process's CPU. ``gc.freeze()`` moves the objects alive at that moment to a
permanent generation the collector never scans (the technique of the CPython docs' ``freeze``
note); objects made later are collected as before.

The youngest generation is collected every `YOUNG_THRESHOLD` net allocations instead of
CPython's 700: a request allocates thousands of objects, nearly all freed by reference
counting, so at 700 the collector ran ~2,000 times in the same 30 s and kept promoting the
objects of requests still in flight to older generations, scanned again there (~1.1 s of CPU
in all; ~0.36 s at 10,000). The memory it lets wait is cyclic garbage of at most that many
allocations. docs/performance.md.

What freezing costs: a frozen object freed by reference counting is freed as before; only a
reference cycle among frozen objects that is dropped later (a bot replaced at reload, a pooled
connection recycled) is never collected. Only objects alive at the freeze can be kept that way,
each once: the cost is bounded by the startup heap and never grows with the time served.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

#: net allocations between two collections of the youngest generation (CPython: 700)
YOUNG_THRESHOLD: Final = 10_000


def freeze_startup_heap() -> int:
    """Collect once, then keep every object alive now out of later collections, and collect
    the youngest generation every `YOUNG_THRESHOLD` allocations (the older generations'
    thresholds kept); how many objects were frozen (``gc.get_freeze_count``)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    return gc.get_freeze_count()


@asynccontextmanager
async def frozen_heap_lifespan(_state: Any) -> AsyncIterator[None]:
    """Lifespan hook, entered last: the process's startup objects frozen and the young
    generation's threshold raised; both undone on shutdown (a process that serves again -
    tests - starts from a plain heap)."""
    thresholds = gc.get_threshold()
    freeze_startup_heap()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
