"""Drive the real tray app in-process: the real `TrayApp` on a qasync loop, pointed at a
simulated LM Studio, on a real X display with a real tray host, clicked with xdotool.

Running it in-process (not as a subprocess) lets a test find where a menu item is
(`QMenu.actionGeometry`) and read the app's state, while every gesture is still a real
X event on the real tray and menus. A test runs its whole scenario as one coroutine on the
qasync loop (`run(loop, scenario())`): the app's tasks only ever step inside a running loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from aio import until
from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QWidget
from screen import x11

from tray.cli import build_parser
from tray.core.settings import SCHEMA_VERSION
from tray.core.status import ServerState
from tray.simulator import Simulator
from tray.ui.quick_chat_window import QuickChatWindow
from tray.ui.tray_app import TrayApp
from tray.ui.tray_icon import TrayIcon

__all__ = ["AppDriver"]


class AppDriver:
    def __init__(
        self,
        sim: Simulator | None,
        tmp_path: Path,
        settings: dict[str, Any] | None = None,
        *,
        server_flag: bool = True,
    ) -> None:
        """Against `sim`, or — with None — as `lmstudio-tray --demo` (its own simulator).
        `server_flag`: name `sim` with --server (which every profile then talks to); without
        it the profiles' own addresses count (tests of several servers)."""
        self.sim = sim
        path = tmp_path / "settings.json"
        # Fast polling so a test sees changes within a second or two.
        fast = {"interactive_seconds": 0.5, "idle_seconds": 2}
        path.write_text(
            json.dumps({"schema_version": SCHEMA_VERSION, "polling": fast, **(settings or {})})
        )
        argv = ["--demo"]
        if sim is not None:
            lms = sim.install_fake_lms()
            argv = ["--home", str(sim.home), "--lms", str(lms)]
            if server_flag:
                argv = ["--server", sim.base_url, *argv]
        args = build_parser().parse_args([*argv, "--settings", str(path)])
        self.http = httpx.AsyncClient()
        self.app = TrayApp(args, self.http, TrayIcon())
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AppDriver:
        """Run the app for the `async with` block, inside the scenario: pytest-qt processes
        Qt events between a test and its fixtures' teardown, when no asyncio loop runs, so
        the app must be gone by then."""
        self.task = asyncio.ensure_future(self.app.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- waiting -------------------------------------------------------------------------

    async def wait(self, condition: Callable[[], object], what: str, limit: float = 20) -> None:
        await until(condition, what, limit)

    async def polls(self, count: int) -> None:
        """Wait until the app's monitor has finished `count` more polls: "nothing more
        happened" is then a fact about polls, not about how long a sleep was."""
        monitor = self.app.monitor
        assert monitor is not None
        target = monitor.probes + count
        await self.wait(lambda: monitor.probes >= target, f"{count} more polls", limit=60)

    def hotkey_registered(self) -> bool:
        hotkeys = self.app.quick_chat_section.hotkeys
        return hotkeys is not None and hotkeys.state.ok

    async def popup(self, what: str = "the quick-chat popup") -> QuickChatWindow:
        """The quick-chat popup once it shows (it is built at the first hotkey or menu
        click, not before: issue 20)."""
        section = self.app.quick_chat_section
        await self.wait(lambda: section.window is not None and section.window.isVisible(), what)
        assert section.window is not None
        return section.window

    def state(self) -> ServerState:
        monitor = self.app.monitor
        return monitor.status.state if monitor is not None else ServerState.UNKNOWN

    # --- gestures --------------------------------------------------------------------------

    @property
    def menu(self) -> QMenu:
        return self.app.tray.menu

    async def open_menu(self) -> None:
        tray = self.app.tray.tray
        await self.wait(
            lambda: (
                tray.geometry().isValid()
                and tray.geometry().y() >= 0
                and tray.geometry().topLeft() != QPoint(0, 0)
            ),
            "the icon in the tray",
        )
        centre = tray.geometry().center()
        x11("xdotool", "mousemove", str(centre.x()), str(centre.y()), "click", "3")
        await self.wait(self.menu.isVisible, "the tray menu")

    async def close_menus(self) -> None:
        x11("xdotool", "key", "Escape")
        for _ in range(3):  # one Escape per open submenu
            if not self.menu.isVisible():
                return
            await asyncio.sleep(0.2)
            x11("xdotool", "key", "Escape")
        await self.wait(lambda: not self.menu.isVisible(), "menus to close")

    async def _point(self, menu: QMenu, action: QAction) -> QPoint:
        await self.wait(
            lambda: menu.isVisible() and menu.actionGeometry(action).isValid(),
            f"{action.text()!r} to show",
        )
        return menu.mapToGlobal(menu.actionGeometry(action).center())

    async def hover(self, menu: QMenu, action: QAction) -> QMenu:
        """Open `action`'s submenu by pointing at it, as a person does."""
        submenu = action.menu()
        assert isinstance(submenu, QMenu), f"{action.text()!r} has no submenu"
        p = await self._point(menu, action)
        x11("xdotool", "mousemove", str(p.x()), str(p.y()))
        await self.wait(submenu.isVisible, f"the {action.text()!r} submenu")
        return submenu

    async def click(self, menu: QMenu, action: QAction) -> None:
        assert action.isEnabled(), f"{action.text()!r} is disabled: {action.toolTip()}"
        p = await self._point(menu, action)
        x11("xdotool", "mousemove", str(p.x()), str(p.y()), "click", "1")

    def find(self, menu: QMenu, text: str) -> QAction:
        found = [a for a in menu.actions() if a.isVisible() and a.text().startswith(text)]
        assert found, f"no visible {text!r} in {[a.text() for a in menu.actions()]}"
        return found[0]

    def windows(self) -> set[QWidget]:
        """The top-level widgets now: pass to `message_box` to find a new one. The widgets
        themselves, not their ids: a window freed meanwhile could lend its id to the new
        box, which would then pass for an old one."""
        return set(QApplication.topLevelWidgets())

    async def message_box(self, before: set[QWidget]) -> QMessageBox:
        """The question that appeared since `before` (never a stale one of another test)."""
        boxes: list[QMessageBox] = []

        def shown() -> bool:
            boxes[:] = [
                w
                for w in QApplication.topLevelWidgets()
                if isinstance(w, QMessageBox) and w.isVisible() and w not in before
            ]
            return bool(boxes)

        await self.wait(shown, "a question")
        return boxes[0]

    def click_widget(self, widget: QWidget) -> None:
        p = widget.mapToGlobal(widget.rect().center())
        x11("xdotool", "mousemove", str(p.x()), str(p.y()), "click", "1")

    # --- the end ---------------------------------------------------------------------------

    async def close(self) -> None:
        self.app.quit.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 20)
        self.app.tray.tray.hide()
        self.app.tray.deleteLater()
