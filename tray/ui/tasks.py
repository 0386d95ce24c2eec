"""Running a service call from a click: a coroutine on the shared qasync loop, with its
`TrayError` shown to the user and anything else logged — never lost in a dropped task.

The app installs one `ErrorReporter` (a notification, or a message box); views call
`spawn(coro, doing="Starting the server")` and return at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from tray.core.errors import TrayError

__all__ = ["ErrorReporter", "cancel_all", "set_error_reporter", "spawn"]

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
