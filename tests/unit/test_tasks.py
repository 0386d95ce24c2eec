"""spawn: a click's coroutine runs in the background and its failure reaches the user."""

from __future__ import annotations

import asyncio

from tray.core.errors import ServerUnreachable
from tray.ui.tasks import cancel_all, set_error_reporter, spawn


async def test_errors_are_reported_as_sentences_and_quit_cancels_the_rest() -> None:
    said: list[tuple[str, str]] = []
    set_error_reporter(lambda title, message: said.append((title, message)))

    async def unreachable() -> None:
        raise ServerUnreachable("Nothing answers at http://127.0.0.1:9; is it started?")

    async def broken() -> None:
        raise ValueError("bad")

    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    await asyncio.gather(spawn(unreachable(), doing="Starting"), return_exceptions=True)
    await asyncio.gather(spawn(broken(), doing="Ejecting"), return_exceptions=True)
    long = spawn(forever(), doing="Waiting")
    await started.wait()
    await asyncio.sleep(0)  # let the done-callbacks of the finished tasks run
    assert said == [
        ("LM Studio server unreachable", "Nothing answers at http://127.0.0.1:9; is it started?"),
        ("Ejecting failed", "ValueError: bad. See the log for details."),
    ]
    await cancel_all()
    assert long.cancelled()
    assert len(said) == 2  # a cancellation is not an error to report
