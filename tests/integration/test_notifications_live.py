"""Notification rules fed by the real status monitor: a simulated LM Studio (HTTP and fake
`lms`) and GPU memory from a fake AMD sysfs tree. Each event is told exactly once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from tray.core.notifications import Notice, NoticeKind, NotificationRules
from tray.core.settings import NotificationSettings
from tray.core.status import ServerState, ServerStatus
from tray.core.tokens import NoToken
from tray.services.gpu import AmdSysfsProbe
from tray.services.lms_runner import LmsRunner
from tray.services.lmstudio_client import LmStudioClient
from tray.services.status_monitor import StatusMonitor
from tray.simulator import Simulator

GB = 10**9


def kinds(notices: Sequence[Notice]) -> list[NoticeKind]:
    return [n.kind for n in notices]


def vram(root: Path, used: int, total: int = 16 * GB) -> None:
    device = root / "card0" / "device"
    device.mkdir(parents=True, exist_ok=True)
    (device / "mem_info_vram_total").write_text(f"{total}\n")
    (device / "mem_info_vram_used").write_text(f"{used}\n")


async def until(monitor: StatusMonitor, done: Callable[[ServerStatus], bool]) -> ServerStatus:
    """Probe until `done(status)` — the monitor's own loop, at a test's pace."""
    for _ in range(600):
        if done(status := await monitor.probe()):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened; last status: {status!r}")


async def test_each_event_is_told_once(
    http: httpx.AsyncClient, sim: Simulator, tmp_path: Path
) -> None:
    lms = sim.install_fake_lms()
    runner = LmsRunner(lms, env={**os.environ, "HOME": str(tmp_path)})
    drm = tmp_path / "drm"
    vram(drm, used=4 * GB)
    rules = NotificationRules(NotificationSettings(vram_threshold_percent=90))
    told: list[Notice] = []
    monitor = StatusMonitor(
        LmStudioClient(http, sim.base_url),
        url=sim.base_url,
        anonymous=LmStudioClient(http, sim.base_url, token_provider=NoToken()),
        ps_source=runner.ps,
        gpu_source=AmdSysfsProbe(drm).read,
        on_update=lambda status: told.extend(rules.observe(status)),
    )
    monitor.set_interactive(True)  # the menu is open: `lms ps` tells the TTL

    ident = sim.state.load("qwen/qwen3-4b", ttl_seconds=1)
    first = await monitor.probe()
    assert [(m.identifier, m.ttl_seconds) for m in first.loaded] == [(ident, 1.0)]
    assert first.gpu is not None and first.gpu.used_bytes == 4 * GB

    # LM Studio evicts the idle model after its TTL: one notice, which says why.
    await until(monitor, lambda s: not s.loaded)
    assert kinds(told) == [NoticeKind.MODEL_EVICTED]
    assert told[0].message == (
        f"LM Studio unloaded {ident}. It had an idle time-to-live of 1 second."
    )
    for _ in range(3):
        await monitor.probe()
    assert len(told) == 1

    # The user ejects a model: not news.
    other = sim.state.load("google/gemma-3-12b")
    await until(monitor, lambda s: [m.identifier for m in s.loaded] == [other])
    rules.expect_unload(other)
    sim.state.unload(other)
    await until(monitor, lambda s: not s.loaded)
    assert len(told) == 1

    # GPU memory passes the threshold: once, however long it stays there.
    vram(drm, used=int(15.5 * GB))
    await until(monitor, lambda s: s.gpu is not None and s.gpu.used_bytes == int(15.5 * GB))
    await monitor.probe()
    assert kinds(told[1:]) == [NoticeKind.VRAM_HIGH]
    assert "97% used (15.50 GB of 16.00 GB)" in told[1].message

    # The server goes away on its own: once; a stop the user asked for: never.
    port = sim.api_port
    sim.stop_api_server()
    await until(monitor, lambda s: s.state is ServerState.STOPPED)
    await monitor.probe()
    assert kinds(told[2:]) == [NoticeKind.SERVER_STOPPED]
    sim.start_api_server(port=port)
    await until(monitor, lambda s: s.state is ServerState.RUNNING)
    rules.expect_stop()
    sim.stop_api_server()
    await until(monitor, lambda s: s.state is ServerState.STOPPED)
    assert len(told) == 3
