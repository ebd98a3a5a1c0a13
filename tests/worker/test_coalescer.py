"""`Coalescer`: concurrent job calls merged into shared batches; failures not shared."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from tronrent.worker import Coalescer, Retry


class Recorder:
    """``work`` records its batch and waits for its gate (``gates[n]`` for the n-th run, or
    ``gate`` for all)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gates: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.poison: set[str] = set()
        self.retry = False

    async def work(self, ids: list[str]) -> None:
        self.batches.append(ids)
        mine = self.gates[len(self.batches) - 1]
        await asyncio.wait(
            [asyncio.ensure_future(self.gate.wait()), asyncio.ensure_future(mine.wait())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self.retry:
            raise Retry("later")
        if self.poison & set(ids):
            raise ValueError(f"poison in {ids}")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class TestCoalescer:
    async def test_a_lone_call_runs_at_once_with_its_ids(self) -> None:
        rec, c = Recorder(), Coalescer(slots=1)
        rec.gate.set()
        await c.run(["a", "b"], rec.work)
        assert rec.batches == [["a", "b"]]

    async def test_calls_waiting_for_a_slot_share_one_batch(self) -> None:
        rec, c = Recorder(), Coalescer(slots=1)
        first = asyncio.create_task(c.run(["0"], rec.work))
        await settle()
        rest = [asyncio.create_task(c.run([str(i)], rec.work)) for i in range(1, 11)]
        await settle()
        assert rec.batches == [["0"]]  # the others wait for the slot
        rec.gate.set()
        await asyncio.gather(first, *rest)
        assert rec.batches == [["0"], [str(i) for i in range(1, 11)]]

    async def test_a_full_batch_is_closed_to_newcomers(self) -> None:
        rec, c = Recorder(), Coalescer(slots=1, max_ids=3)
        tasks = [asyncio.create_task(c.run([str(i)], rec.work)) for i in range(8)]
        await settle()
        rec.gate.set()
        await asyncio.gather(*tasks)
        # "0" finds the slot free and runs alone; the rest wait, three at most per batch
        assert rec.batches == [["0"], ["1", "2", "3"], ["4", "5", "6"], ["7"]]

    async def test_a_poison_id_holds_back_no_other(self) -> None:
        rec, c = Recorder(), Coalescer(slots=1)
        rec.poison = {"bad"}
        blocker = asyncio.create_task(c.run(["x"], rec.work))
        await settle()
        tasks = {i: asyncio.create_task(c.run([i], rec.work)) for i in ("a", "bad", "b")}
        await settle()
        rec.gate.set()
        await blocker
        results = await asyncio.gather(*tasks.values(), return_exceptions=True)
        outcome = dict(zip(tasks, results, strict=True))
        assert outcome["a"] is None and outcome["b"] is None
        assert isinstance(outcome["bad"], ValueError)
        assert ["a", "bad", "b"] in rec.batches and ["a"] in rec.batches and ["b"] in rec.batches

    async def test_retry_is_raised_to_every_member(self) -> None:
        rec, c = Recorder(), Coalescer(slots=1)
        blocker = asyncio.create_task(c.run(["x"], rec.work))
        await settle()
        tasks = [asyncio.create_task(c.run([i], rec.work)) for i in ("a", "b")]
        await settle()
        rec.retry = True
        rec.gate.set()
        for task in (blocker, *tasks):
            with pytest.raises(Retry):
                await task
        assert rec.batches == [["x"], ["a", "b"]]

    async def test_a_cancelled_runner_leaves_the_members_to_run_alone(self) -> None:
        rec, c = Recorder(), Coalescer(slots=1)
        blocker = asyncio.create_task(c.run(["x"], rec.work))
        await settle()
        runner = asyncio.create_task(c.run(["a"], rec.work))
        member = asyncio.create_task(c.run(["b"], rec.work))
        await settle()
        rec.gates[0].set()
        await blocker
        await settle()
        assert rec.batches[-1] == ["a", "b"]  # merged, run by the first member, held
        runner.cancel()  # e.g. shutdown
        with pytest.raises(asyncio.CancelledError):
            await runner
        rec.gates[2].set()
        await member  # ran its own id alone
        assert rec.batches == [["x"], ["a", "b"], ["b"]]
