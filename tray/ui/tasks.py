"""Running a service call from a click: a coroutine on the shared qasync loop, with its
`TrayError` shown to the user and anything else logged — never lost in a dropped task.

The app installs one `ErrorReporter` (a notification, or a message box); views call
`spawn(coro, doing="Starting the server")` and return at once.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

from tray.core.errors import TrayError

__all__ = [
    "ErrorReporter",
    "cancel_all",
    "finalize_async_generators_on",
    "set_error_reporter",
    "spawn",
]

log = logging.getLogger(__name__)

ErrorReporter = Callable[[str, str], None]  # (title, sentence)

_reporter: ErrorReporter = lambda title, message: log.error("%s: %s", title, message)  # noqa: E731
_running: set[asyncio.Task[Any]] = set()  # strong references: the loop keeps only weak ones


def set_error_reporter(reporter: ErrorReporter) -> None:
    global _reporter
    _reporter = reporter


def spawn(coro: Coroutine[Any, Any, Any], *, doing: str) -> asyncio.Task[Any]:
    """Run `coro` in the background; report its failure as "`doing` failed: …"."""
    task = asyncio.ensure_future(coro)
    _running.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _running.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if isinstance(exc, TrayError):
            log.info("%s failed: %s", doing, exc.message)
            _reporter(exc.title, exc.message)
        elif exc is not None:
            log.error("%s failed unexpectedly", doing, exc_info=exc)
            _reporter(f"{doing} failed", f"{type(exc).__name__}: {exc}. See the log for details.")

    task.add_done_callback(done)
    return task


async def cancel_all() -> None:
    """On quit: stop what the user's clicks started, and wait until they have stopped."""
    loop = asyncio.get_running_loop()
    tasks = [t for t in _running if t.get_loop() is loop]  # never another (closed) loop's
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def finalize_async_generators_on(loop: asyncio.AbstractEventLoop) -> None:
    """Close abandoned async generators on `loop`, as asyncio's own loops do.

    qasync's loop never installs asyncio's async-generator hooks, so a generator left
    suspended (httpx's byte streams under an SSE reader that stopped at `chat.end`) is
    finalized by the garbage collector outside the loop: "async generator ignored
    GeneratorExit", and anyio's cancel scopes exit in the wrong task. With these hooks its
    `aclose()` runs as a task on the loop instead."""
    alive: weakref.WeakSet[AsyncGenerator[Any, Any]] = weakref.WeakSet()

    def firstiter(agen: AsyncGenerator[Any, Any]) -> None:
        alive.add(agen)

    def finalizer(agen: AsyncGenerator[Any, Any]) -> None:
        alive.discard(agen)
        if not loop.is_closed():
            loop.call_soon_threadsafe(lambda: _keep(loop.create_task(agen.aclose())))

    sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)


def _keep(task: asyncio.Task[Any]) -> None:
    _running.add(task)
    task.add_done_callback(_running.discard)
