"""The whole tray against a misbehaving server: the real app (AppDriver, real clicks) while
the simulator hangs (accepts, never answers), trickles a byte a second, streams a quick-chat
answer forever, or flaps up and down.

While each fault lasts, a 10 ms asyncio timer on the app's qasync loop measures how late it
fires (the loop's lag; p50/p99/max are printed, never asserted on time) and the tray menu is
opened with xdotool and must appear; the status leaves "running". Once the fault clears,
the tray shows running again within one polling interval (the fast AppDriver pace; the wait
is the assertion, the time it took is printed). File descriptors, threads and child
processes are counted before the simulator starts and after the app and simulator closed:
none leaked. Figures are collected in docs/reliability.md ("UI flows").
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from PySide6.QtWidgets import QApplication
from screen import x11

from tray.core.status import ServerState
from tray.services.lmstudio_client import Timeouts
from tray.simulator import Fault, Reply, Simulator

sys.path.insert(0, str(Path(__file__).parents[1] / "reliability"))
from resources import settle, snapshot  # tests/reliability/resources.py

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]

QWEN = "qwen/qwen3-4b"
DOWN_MAX = 5.0  # the smallest back-off the settings allow: a faulty server is re-probed soon
# A status probe gives up after Timeouts.probe; the next one comes at most DOWN_MAX later.
RECOVERY_LIMIT = DOWN_MAX + Timeouts().probe + 3.0


class LagMeter:
    """A 10 ms asyncio timer on the running loop: how late each tick fires, in ms."""

    PERIOD = 0.010

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(self.PERIOD)
            self.lags.append((time.monotonic() - began - self.PERIOD) * 1000)

    def start(self) -> None:
        self.lags = []
        self._task = asyncio.ensure_future(self._tick())

    async def stop(self, what: str) -> dict[str, float]:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        lags = sorted(self.lags)
        assert lags, f"{what}: the timer never fired (the loop was frozen)"
        figures = {
            "p50": statistics.median(lags),
            "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
            "max": lags[-1],
        }
        print(
            f"\n[hostile-ui] {what}: loop lag p50 {figures['p50']:.1f} ms, "
            f"p99 {figures['p99']:.1f} ms, max {figures['max']:.1f} ms over {len(lags)} ticks"
        )
        return figures


async def menu_opens(driver: AppDriver) -> None:
    """The tray is usable: a right click on the icon shows the menu, Escape closes it."""
    await driver.open_menu()
    await driver.close_menus()


async def recovered(driver: AppDriver, what: str) -> None:
    began = time.monotonic()
    await driver.wait(
        lambda: driver.state() is ServerState.RUNNING,
        f"running again after {what}",
        limit=RECOVERY_LIMIT,
    )
    print(f"[hostile-ui] {what}: running again {time.monotonic() - began:.1f} s after it cleared")


async def server_fault(driver: AppDriver, sim: Simulator, meter: LagMeter, fault: Fault) -> None:
    """While `fault` lasts: the status leaves running and the menu opens; then it clears."""
    meter.start()
    sim.faults.add(fault)
    await driver.wait(
        lambda: not driver.state().is_up, f"the status to leave running ({fault.kind})", 30
    )
    status = driver.app.monitor.status if driver.app.monitor is not None else None
    print(f"[hostile-ui] {fault.kind}: {driver.state().value}: {status and status.error}")
    await menu_opens(driver)
    await meter.stop(fault.kind)
    sim.faults.clear()
    await recovered(driver, fault.kind)


async def endless_answer(driver: AppDriver, sim: Simulator, meter: LagMeter) -> None:
    """A quick-chat answer that never ends: the tray stays usable, Stop ends it, and once
    the fault clears the next question gets its answer."""
    await driver.wait(driver.hotkey_registered, "the hotkey registered")
    sim.faults.add(Fault(kind="endless", path="/api/v1/chat"))
    x11("xdotool", "key", "ctrl+alt+space")
    window = await driver.popup("the quick-chat popup")
    await driver.wait(lambda: QApplication.focusWidget() is window.input, "the focus in the input")
    meter.start()
    x11("xdotool", "type", "--delay", "5", "Go on")
    x11("xdotool", "key", "Return")
    await driver.wait(lambda: len(window.answer) > 10_000, "the endless answer streaming")
    await menu_opens(driver)
    grown = len(window.answer)
    await driver.wait(lambda: len(window.answer) > grown, "the answer still growing")
    assert driver.state().is_up  # the stream does not take the status probes down
    await driver.wait(lambda: len(meter.lags) >= 30, "30 lag samples during the stream")
    await meter.stop("endless stream")
    print(f"[hostile-ui] endless stream: {len(window.answer)} characters shown before Stop")
    window.stop()
    await driver.wait(lambda: not window.busy, "Stop to end the answer")
    sim.faults.clear()
    sim.state.next_reply = Reply(text="A short answer at last.")
    began = time.monotonic()
    window.ask("And now?")
    await driver.wait(lambda: "at last" in window.answer and not window.busy, "the next answer")
    print(f"[hostile-ui] endless stream: next answer {time.monotonic() - began:.1f} s after it")
    x11("xdotool", "key", "Escape")
    await driver.wait(lambda: not window.isVisible(), "the popup to hide")


async def flapping(driver: AppDriver, sim: Simulator, meter: LagMeter, flaps: int) -> None:
    port = sim.api_port
    meter.start()
    for n in range(flaps):
        sim.stop_api_server()
        await driver.wait(lambda: not driver.state().is_up, f"down at flap {n + 1}", 30)
        if n == 0:
            await menu_opens(driver)
        sim.start_api_server(port=port)
        await recovered(driver, f"flap {n + 1}")
    await meter.stop(f"{flaps} flaps")


def thread_comm(ident: int) -> str:
    """The OS name of a Python-visible thread (qasync names its executor's QThreads)."""
    thread = next((t for t in threading.enumerate() if t.ident == ident), None)
    if thread is None or thread.native_id is None:
        return "gone"
    comm = Path(f"/proc/self/task/{thread.native_id}/comm")
    return comm.read_text().strip() if comm.exists() else "gone"


def app_settings() -> dict[str, object]:
    return {
        "polling": {"interactive_seconds": 0.5, "idle_seconds": 2, "down_max_seconds": DOWN_MAX}
    }


async def warm_up(driver: AppDriver, sim: Simulator) -> None:
    """Once per process Qt loads what it keeps for the process's life (the icon-theme
    cache, its worker and D-Bus threads and their wake-up eventfds): a first short session
    with the same gestures, so the count before the hostile session holds them and only
    what the faults leave counts."""
    sim.state.next_reply = Reply(text="Warm.")
    async with driver:
        await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running (warm-up)")
        await menu_opens(driver)
        await driver.wait(
            driver.hotkey_registered,
            "the hotkey (warm-up)",
        )
        x11("xdotool", "key", "ctrl+alt+space")
        window = await driver.popup("the quick-chat popup (warm-up)")
        window.ask("Hello")
        await driver.wait(lambda: "Warm" in window.answer and not window.busy, "warm answer")
        window.hide()
        # Down once and back: the first "server stopped" notice (Qt's D-Bus thread, which
        # calls into Python and stays) and the error icon (Qt's icon-theme cache).
        port = sim.api_port
        sim.stop_api_server()
        await driver.wait(lambda: not driver.state().is_up, "down (warm-up)")
        sim.start_api_server(port=port)
        await driver.wait(lambda: driver.state() is ServerState.RUNNING, "up (warm-up)", 10)
    await driver.http.aclose()


def test_the_tray_stays_usable_and_recovers_from_a_hostile_server(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # fake lms, history and state dirs land here
    with Simulator(tmp_path / "warm" / ".lmstudio", tokens_per_second=400) as sim:
        sim.state.load(QWEN)
        run(loop, warm_up(AppDriver(sim, tmp_path / "warm"), sim))
    QApplication.processEvents()
    before = snapshot()
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=400) as sim:
        sim.state.load(QWEN)
        driver = AppDriver(sim, tmp_path, app_settings())
        meter = LagMeter()

        async def scenario() -> None:
            async with driver:
                await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
                meter.start()
                await menu_opens(driver)
                await meter.stop("healthy server (baseline)")
                steps: list[Callable[[], Awaitable[None]]] = [
                    lambda: server_fault(driver, sim, meter, Fault(kind="hang", path=None)),
                    lambda: server_fault(
                        driver, sim, meter, Fault(kind="trickle", path=None, interval=1.0)
                    ),
                    lambda: endless_answer(driver, sim, meter),
                    lambda: flapping(driver, sim, meter, flaps=3),
                ]
                for step in steps:
                    await step()
            await driver.http.aclose()

        run(loop, scenario())
    QApplication.processEvents()
    leaked = settle(before)
    # qasync's default executor is a fixed pool of 10 QThreads started with the loop and
    # ended by loop.close(); Python sees one (as Dummy-N) once it first runs a job. Like
    # asyncio's own pool (which `snapshot` leaves out), a pool thread is not a leak.
    threads = leaked.pop("threads", [])
    pool = [t for t in threads if thread_comm(t) == "_QThreadWorker"]
    if others := [t for t in threads if t not in pool]:
        leaked["threads"] = others
    print(
        f"[hostile-ui] before: {len(before.fds)} fds, {len(before.threads)} threads, "
        f"{len(before.children)} children; leaked after closing: {leaked or 'nothing'} "
        f"(qasync executor workers that first ran a job: {len(pool)})"
    )
    assert not leaked, f"leaked once the app and the simulator closed: {leaked}"
