"""StreamWorker: a body runs on the worker's own thread and loop; what it delivers arrives
on the caller's loop in batches (at most one per frame), all of it, in order; a job
cancelled before or while it runs ends; close() ends the thread."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from tray.services.stream_worker import Job, StreamWorker


async def test_items_arrive_in_order_in_few_batches_from_another_thread() -> None:
    worker = StreamWorker(httpx.AsyncClient, batch_seconds=0.012)
    threads: set[str] = set()

    async def body(job: Job[int]) -> None:
        threads.add(threading.current_thread().name)
        for i in range(2000):
            job.deliver([i])
            if i % 50 == 0:
                await asyncio.sleep(0.001)  # a socket read's worth of waiting

    job = worker.start(body)
    batches = [batch async for batch in job.batches()]
    await job.wait()
    await worker.close()
    assert threads == {"stream-worker"}
    assert [i for batch in batches for i in batch] == list(range(2000))
    assert len(batches) < 200, len(batches)  # batched, not one wake-up per item
    assert not [t for t in threading.enumerate() if t.name == "stream-worker"]


async def test_a_cancelled_job_ends_and_its_failure_is_raised_by_wait() -> None:
    worker = StreamWorker(httpx.AsyncClient)
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def forever(job: Job[int]) -> None:
        loop.call_soon_threadsafe(started.set)
        await asyncio.sleep(3600)

    job = worker.start(forever)
    await asyncio.wait_for(started.wait(), 5)
    job.cancel()
    assert [b async for b in job.batches()] == []
    await asyncio.wait_for(job.wait(), 5)

    async def broken(job: Job[int]) -> None:
        job.deliver([1], now=True)
        raise ValueError("a bug")

    job = worker.start(broken)
    assert [b async for b in job.batches()] == [[1]]
    with pytest.raises(ValueError, match="a bug"):
        await job.wait()
    await worker.close()
