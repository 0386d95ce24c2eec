"""Running a UI test's scenario on the app's qasync loop (pytest-qt has no asyncio).

The scenario is one coroutine, so the tasks it starts only ever step inside a running
loop; `until` spins that loop (Qt included) until a condition holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run", "until"]

T = TypeVar("T")


def run(loop: asyncio.AbstractEventLoop, scenario: Coroutine[Any, Any, T], limit: float = 180) -> T:
    return loop.run_until_complete(asyncio.wait_for(scenario, timeout=limit))


async def until(condition: Callable[[], object], what: str, limit: float = 20) -> None:
    """Look again each turn of the loop: Qt widget and simulator state have no asyncio
    event to wait on."""
    try:
        async with asyncio.timeout(limit):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
