"""The demo's "make something happen" submenu, end to end: the real TrayApp as
`lmstudio-tray --demo` (its own simulator process) on a real display with a real tray host,
each item clicked through the real menu, and the tray seen reacting as it would to the
same event on a real LM Studio."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from PySide6.QtGui import QGuiApplication
from screen import grab_screen  # tests/ui/screen.py

from tray.core.notifications import NoticeKind
from tray.core.status import ServerState
from tray.core.tokens import TOKEN_PATTERN
from tray.ui.demo_section import DEMO_MENU_TEXT

pytestmark = pytest.mark.ui


async def _choose(driver: AppDriver, item: str, shot: Path | None = None) -> None:
    await driver.open_menu()
    demo_menu = await driver.hover(driver.menu, driver.find(driver.menu, DEMO_MENU_TEXT))
    if shot is not None:  # the menu and its Demo submenu, as the user sees them
        await asyncio.sleep(0.3)
        both = driver.menu.geometry().united(demo_menu.geometry()).adjusted(-4, -4, 4, 4)
        screen = grab_screen(shot)
        assert screen.copy(both.intersected(screen.rect())).save(str(shot))
    await driver.click(demo_menu, driver.find(demo_menu, item))


def _said(driver: AppDriver, item: str) -> str:
    return " ".join(m for t, m in driver.app.notifier.messages if t == f"Demo: {item}")


def test_each_demo_item_happens_in_the_simulated_lm_studio_and_the_tray_reacts(
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    publish_screenshot: Callable[[Path], Path],
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    driver = AppDriver(None, tmp_path)
    app = driver.app

    def loaded() -> list[str]:
        monitor = app.monitor
        return [m.identifier for m in monitor.status.loaded] if monitor else []

    async def scenario() -> None:
        async with driver:
            await driver.wait(lambda: len(loaded()) == 2, "the demo with its two models", 60)
            assert app.demo is not None

            shot = tmp_path / "demo-menu.png"
            await _choose(driver, "Start a long generation", shot)
            publish_screenshot(shot)
            await driver.wait(lambda: "long answer" in _said(driver, "Start a long generation"), "")
            await driver.open_menu()  # while the menu is open, `lms ps` tells status and queue
            await driver.wait(
                lambda: any(
                    m.status == "generating" and (m.queued or 0) >= 2
                    for m in app.monitor.status.loaded  # type: ignore[union-attr]
                ),
                "a model generating with requests queued",
            )
            await driver.close_menus()

            await _choose(driver, "Evict an idle model")
            await driver.wait(lambda: loaded() == ["qwen/qwen3-4b"], "gemma-vision evicted")
            await driver.wait(
                lambda: any(n.kind is NoticeKind.MODEL_EVICTED for n in app.notifier.recent),
                "the eviction notification",
            )

            mcp = app.demo.home / "mcp.json"
            await _choose(driver, "Change mcp.json behind the tray's back")
            await driver.wait(lambda: "shell" in json.loads(mcp.read_text())["mcpServers"], "")
            assert "mcp.json" in _said(driver, "Change mcp.json behind the tray's back")

            await _choose(driver, "Require a token")
            await driver.wait(lambda: driver.state() is ServerState.AUTH_REQUIRED, "a 401")
            clipboard = QGuiApplication.clipboard().text()
            assert TOKEN_PATTERN.fullmatch(clipboard), "the demo's token is in the clipboard"
            assert clipboard not in " ".join(m for _, m in app.notifier.messages)
            tokens = app.windows.tokens.window
            await driver.wait(lambda: tokens is not None and tokens.isVisible(), "API tokens")
            assert tokens is not None
            tokens.close()

            await _choose(driver, "Serve without a token again")
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running again")

            await _choose(driver, "Stop the server (as LM Studio would)")
            await driver.wait(lambda: driver.state() is ServerState.STOPPED, "stopped")
            await driver.wait(
                lambda: any(n.kind is NoticeKind.SERVER_STOPPED for n in app.notifier.recent),
                "the server-stopped notification",
            )

    run(loop, scenario())
