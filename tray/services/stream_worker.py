"""Reading answer streams off the Qt thread (issue 20).

On the tray's qasync loop every socket read of a 2,000 tok/s stream is a round trip
through Qt (a socket notifier made and dropped, timers started and killed) before httpx,
httpx-sse and the event parser run: about 0.9 of a core, all on the thread that paints.
`StreamWorker` runs that part on one thread of its own with a plain asyncio loop and its
own `httpx.AsyncClient`, and hands the caller's loop what it produced in batches — at most
one wake-up per `batch_seconds` (a frame), the last batch at once — so the Qt thread only
renders.

The worker thread is started at the first stream and lives until `close()`; a stream's
coroutine gets a `deliver(items)` to call and is cancelled with `Job.cancel()`. Token
providers keep running on the caller's loop (`OnLoopToken`): they hold futures and
caches of that loop, and may prompt through it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

import httpx
from pydantic import SecretStr

from tray.core.tokens import TokenProvider, WaitsToBeAsked

__all__ = ["BATCH_SECONDS", "Job", "OnLoopToken", "StreamWorker"]

log = logging.getLogger(__name__)

T = TypeVar("T")

BATCH_SECONDS = 0.012  # under a 16 ms frame: the popup renders what came each frame


class OnLoopToken:
    """A token provider for the worker's loop that asks `provider` on `loop` (the app's)."""

    def __init__(self, provider: TokenProvider, loop: asyncio.AbstractEventLoop) -> None:
        self._provider = provider
        self._loop = loop

    def __repr__(self) -> str:
        return f"OnLoopToken({self._provider!r})"

    async def get_token(self) -> SecretStr | None:
        future = asyncio.run_coroutine_threadsafe(self._provider.get_token(), self._loop)
        return await asyncio.wrap_future(future)

    def server_asked(self) -> None:
        """Forwarded to a provider that waits to be asked (see `WhenAsked`)."""
        if isinstance(self._provider, WaitsToBeAsked):
            # A flag, set at once: the retry that follows must see it.
            self._provider.server_asked()


class Job(Generic[T]):
    """One stream running on the worker: its items arrive through `batches()` on the
    caller's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, batch_seconds: float) -> None:
        self._loop = loop  # the caller's
        self._batch_seconds = batch_seconds
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._ended = False
        self._wake = asyncio.Event()
        self._finished = asyncio.Event()
        self._flush_pending = False  # a flush is scheduled on the worker's loop
        self.started = False  # the body began on the worker's loop
        self.error: Exception | None = None  # what the body raised, kept before it ends
        self.future: concurrent.futures.Future[None] | None = None

    # --- the worker's side --------------------------------------------------------------

    def deliver(self, items: list[T], *, now: bool = False) -> None:
        """Called on the worker's loop: keep `items`; the caller hears of them within a
        frame (`now`: at once)."""
        with self._lock:
            self._items.extend(items)
        if now:
            self._flush()
        elif not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_later(self._batch_seconds, self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self._loop.call_soon_threadsafe(self._wake.set)

    def _end(self) -> None:
        """The body is over (or was cancelled before it began): called once, from
        whichever thread knows."""
        with self._lock:
            if self._ended:
                return
            self._ended = True

        def finish() -> None:
            self._wake.set()
            self._finished.set()

        with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody waits
            self._loop.call_soon_threadsafe(finish)

    # --- the caller's side --------------------------------------------------------------

    async def batches(self) -> AsyncIterator[list[T]]:
        """Async iterator of item lists, until the stream's coroutine has ended."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                items, self._items = self._items, []
                ended = self._ended
            if items:
                yield items
            if ended:
                return

    def cancel(self) -> None:
        """Stop the stream (its connection closes on the worker's loop)."""
        if self.future is not None:
            self.future.cancel()

    def done(self) -> bool:
        return self.future is not None and self.future.done()

    async def wait(self) -> None:
        """Until the stream's body has really ended (not merely been asked to); raises
        what it raised."""
        await self._finished.wait()
        if self.error is not None:
            raise self.error


class StreamWorker:
    """One thread, one asyncio loop, one HTTP client for streams; see the module doc."""

    def __init__(
        self,
        make_http: Callable[[], httpx.AsyncClient],
        *,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        """`make_http()` is called on the worker's loop (an httpx client belongs to the
        loop it is used on)."""
        self._make_http = make_http
        self._batch_seconds = batch_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._http: httpx.AsyncClient | None = None
        self._started = threading.Event()

    @property
    def http(self) -> httpx.AsyncClient:
        """The worker's HTTP client (use it on the worker's loop only)."""
        if self._http is None:
            self._http = self._make_http()
        return self._http

    def _ensure(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            self._started.clear()
            self._thread = threading.Thread(target=self._run, name="stream-worker", daemon=True)
            self._thread.start()
            self._started.wait()
        assert self._loop is not None
        return self._loop

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def start(self, body: Callable[[Job[T]], Coroutine[Any, Any, None]]) -> Job[T]:
        """Run `body(job)` on the worker's loop (called on the caller's loop); `body` calls
        `job.deliver(...)` as it goes."""
        job: Job[T] = Job(asyncio.get_running_loop(), self._batch_seconds)

        async def run() -> None:
            job.started = True
            try:
                await body(job)
            except Exception as exc:
                # Kept here, before the job ends: the future learns of it only later, on
                # another thread, and `wait()` may already be looking.
                job.error = exc
                raise
            finally:
                job._end()

        job.future = asyncio.run_coroutine_threadsafe(run(), self._ensure())
        # Cancelled before it began, `run` never runs: end the job from here then.
        job.future.add_done_callback(lambda _f: None if job.started else job._end())
        return job

    async def close(self) -> None:
        """End the thread (after closing its HTTP client)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return

        async def shut() -> None:
            if self._http is not None:
                await self._http.aclose()
                self._http = None
            loop.stop()

        loop.call_soon_threadsafe(lambda: loop.create_task(shut()))
        # Polled rather than joined in an executor: closing must not start a pool thread.
        for _ in range(1000):
            if not thread.is_alive():
                break
            await asyncio.sleep(0.01)
        self._loop = self._thread = None
