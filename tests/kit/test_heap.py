"""``tronrent.kit.heap``: the startup heap frozen out of the collector's scans."""

from __future__ import annotations

import gc

from tronrent.kit.heap import YOUNG_THRESHOLD, freeze_startup_heap, frozen_heap_lifespan


async def test_the_startup_objects_are_frozen_while_serving_and_unfrozen_after() -> None:
    startup = {"built": [[] for _ in range(100)]}  # containers the collector tracks
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    async with frozen_heap_lifespan(None):
        # the young generation collected less often, the older ones as before
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 100
        # out of every generation's scans: a full collection no longer sees them
        assert not any(o is startup for o in gc.get_objects())
        made_later = {"after": []}
        assert any(o is made_later for o in gc.get_objects())
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    assert any(o is startup for o in gc.get_objects())


def test_freeze_reports_how_many_objects() -> None:
    before = gc.get_threshold()
    try:
        frozen = freeze_startup_heap()
        # not equal to a later count: a frozen object freed by reference counting leaves
        # the permanent generation (another thread of a test worker frees some in between)
        assert frozen > 100 and gc.get_freeze_count() > 100
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert gc.get_freeze_count() == 0
