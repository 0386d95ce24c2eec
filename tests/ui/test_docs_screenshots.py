"""The README's and user guide's screenshots, taken from the whole real app as a newcomer
first sees it: the real `TrayApp` as `lmstudio-tray --demo` (the demo's own simulated
LM Studio, its models, presets and mcp.json) on a real X display with a real tray host,
opened the way a person opens things (a right click on the icon, pointing at submenus,
the global hotkey) — so what the docs show is what `bash installers/setup.sh run` shows.

Each picture is cut from a grab of the real screen, only after the window's own background
colour covers most of it (a window the X server has not drawn yet is black). The pictures
go to test-artifacts/ and, with LMSTRAY_UPDATE_SCREENSHOTS=1, to docs/screenshots/guide-*.png
(docs/user-guide.md shows them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from PySide6.QtCore import QRect
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QWidget
from screen import count_close, crop_around, grab_screen, x11

from tray.core.load_profiles import LoadProfile
from tray.core.status import ServerState

pytestmark = pytest.mark.ui


@pytest.fixture
def driver(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AppDriver:
    monkeypatch.setenv("HOME", str(tmp_path))
    return AppDriver(None, tmp_path)  # the demo


async def demo_running(driver: AppDriver) -> None:
    def ready() -> bool:
        monitor = driver.app.monitor  # there once the app runs
        return monitor is not None and len(monitor.status.loaded) == 2

    await driver.wait(
        lambda: driver.state() is ServerState.RUNNING and ready(),
        "the demo running with its two models",
        60,
    )
    await driver.wait(driver.hotkey_registered, "the hotkey registered")


def painted(shot: Path, widgets: list[QWidget]) -> bool:
    """Every widget shows its window colour over at least a quarter of its area on screen."""
    image = grab_screen(shot)
    return all(
        count_close(image, w.frameGeometry(), w.palette().window().color()) * 4
        >= w.frameGeometry().width() * w.frameGeometry().height()
        for w in widgets
    )


async def take(
    driver: AppDriver, tmp_path: Path, name: str, widgets: list[QWidget], margin: int = 8
) -> Path:
    """Cut `widgets` (and the tray icon, when a menu is shown) from the real screen."""
    shot = tmp_path / "screen.png"
    await driver.wait(lambda: painted(shot, widgets), f"{name} to be drawn")
    area = QRect()
    for widget in widgets:
        area = area.united(widget.frameGeometry())
    if driver.menu.isVisible():
        area = area.united(driver.app.tray.tray.geometry())
    out = tmp_path / name
    assert crop_around(QImage(str(shot)), area, margin).save(str(out))
    return out


def test_guide_screenshots_of_the_menu_and_its_submenus(
    loop: asyncio.AbstractEventLoop,
    driver: AppDriver,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    taken: list[Path] = []

    async def scenario() -> None:
        async with driver:
            await demo_running(driver)
            await driver.open_menu()
            menu = driver.menu
            texts = [a.text() for a in menu.actions() if a.isVisible()]
            for item in ("Quick chat", "Presets…", "Load profiles…", "History…", "MCP servers"):
                assert any(t.startswith(item) for t in texts), (item, texts)
            taken.append(await take(driver, tmp_path, "guide-tray-menu.png", [menu]))

            models = await driver.hover(menu, driver.find(menu, "Loaded models"))
            taken.append(await take(driver, tmp_path, "guide-loaded-models.png", [menu, models]))
            row = next(a for a in models.actions() if a.isVisible() and a.menu() is not None)
            first = await driver.hover(models, row)
            taken.append(
                await take(driver, tmp_path, "guide-model-submenu.png", [menu, models, first])
            )
            await driver.close_menus()

            await driver.open_menu()
            mcp = await driver.hover(menu, driver.find(menu, "MCP servers"))
            assert any(a.text().startswith("Lock down now") for a in mcp.actions())
            taken.append(await take(driver, tmp_path, "guide-mcp-menu.png", [menu, mcp]))
            await driver.close_menus()

            await driver.open_menu()
            token = await driver.hover(menu, driver.find(menu, "API token"))
            taken.append(await take(driver, tmp_path, "guide-token-menu.png", [menu, token]))
            await driver.close_menus()

            await driver.open_menu()
            servers = await driver.hover(menu, driver.find(menu, "Server: "))
            taken.append(await take(driver, tmp_path, "guide-servers-menu.png", [menu, servers]))
            await driver.close_menus()

    run(loop, scenario())
    for path in taken:
        publish_screenshot(path)


def test_guide_screenshots_of_the_windows_opened_from_the_app(
    loop: asyncio.AbstractEventLoop,
    driver: AppDriver,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    taken: list[Path] = []

    async def scenario() -> None:
        async with driver:
            app = driver.app
            await demo_running(driver)
            assert app.demo is not None

            # Activity open first, so that it sees the quick chat's answers
            activity = app.activity_section
            await driver.open_menu()
            await driver.click(driver.menu, driver.find(driver.menu, "Activity…"))
            await driver.wait(
                lambda: activity.window is not None and activity.window.isVisible(),
                "the Activity window",
            )
            await driver.wait(lambda: not driver.menu.isVisible(), "the menu to close")
            await driver.wait(
                lambda: all(s in activity.streams and activity.streams[s].pid
                            for s in ("model", "server")),
                "lms log stream running",
            )  # fmt: skip
            await asyncio.sleep(1.5)  # each child has found where the log ends

            # quick chat: the global hotkey, a question typed, the answer streamed
            x11("xdotool", "key", "ctrl+alt+space")
            window = await driver.popup("the quick-chat popup")
            await driver.wait(
                lambda: QApplication.focusWidget() is window.input, "the focus in the input"
            )
            x11("xdotool", "type", "--delay", "5", "Write a Python function that reverses a string")
            x11("xdotool", "key", "Return")
            await driver.wait(lambda: window.answer and not window.busy, "the answer", 60)
            assert "```python\ndef reverse_string" in window.answer  # the demo's own answer
            taken.append(await take(driver, tmp_path, "guide-quick-chat.png", [window]))
            # a second question, for the Activity window to have more than one row
            x11("xdotool", "type", "--delay", "5", "Compare Python and Rust for a CLI tool")
            x11("xdotool", "key", "Return")
            await driver.wait(lambda: not window.busy, "the second answer", 60)
            x11("xdotool", "key", "Escape")
            await driver.wait(lambda: not window.isVisible(), "the popup to hide")

            shown = activity.window
            assert shown is not None
            await driver.wait(lambda: shown.model.rowCount() >= 2, "two predictions", 30)
            shown.raise_()
            shown.activateWindow()
            taken.append(await take(driver, tmp_path, "guide-activity.png", [shown], margin=0))
            shown.close()
            await driver.wait(lambda: not shown.isVisible(), "the Activity window closed")

            # a preset edited in LM Studio: the history then has a change to show
            preset = app.demo.home / "config-presets" / "Coding.preset.json"
            await driver.wait(lambda: app.history.versions(preset), "the preset's first version")
            edited = json.loads(preset.read_text())
            assert edited["operation"]["fields"][1]["key"] == "llm.prediction.temperature"
            edited["operation"]["fields"][1]["value"] = 0.7
            preset.write_text(json.dumps(edited, indent=2))
            await driver.wait(lambda: len(app.history.versions(preset)) >= 2, "the outside edit")

            # a model with its own load profile, so the dialog has something to show
            app.load_profiles.save(
                LoadProfile(
                    context_length=16384, flash_attention=True, parallel=2, ttl_seconds=1800
                ),
                "qwen/qwen3-4b",
            )

            # each window from its menu item, pictured once it shows its content
            def profiles_ready() -> bool:
                dialog = app.windows.profiles.window
                if dialog is None or dialog.list.count() <= 1:
                    return False
                item = dialog.list.currentItem()
                if item is not None and item.text().startswith("qwen/qwen3-4b"):
                    return dialog.context.isEnabled()  # the model's own fields are shown
                dialog.select("qwen/qwen3-4b")
                return False

            def presets_ready() -> bool:
                dialog = app.windows.presets.window
                if dialog is None or dialog.preset_list.count() == 0:
                    return False
                if dialog.preset_list.currentItem() is None:
                    dialog.preset_list.setCurrentRow(0)
                return dialog.name_edit.text() == "Coding"

            def history_ready() -> bool:
                window = app.windows.history.window
                return (
                    window is not None
                    and window.versions_list.count() >= 2
                    and "0.7" in window.diff_view.toPlainText()
                )

            opened: list[tuple[str, str, Callable[[], QWidget | None], Callable[[], bool]]] = [
                (
                    "Load profiles…",
                    "guide-load-profiles.png",
                    lambda: app.windows.profiles.window,
                    profiles_ready,
                ),
                (
                    "Presets…",
                    "guide-presets.png",
                    lambda: app.windows.presets.window,
                    presets_ready,
                ),
                (
                    "History…",
                    "guide-history.png",
                    lambda: app.windows.history.window,
                    history_ready,
                ),
                (
                    "Settings…",
                    "guide-settings.png",
                    lambda: app.windows.settings.window,
                    lambda: True,
                ),
            ]
            for item, name, get, ready in opened:
                await driver.open_menu()
                await driver.click(driver.menu, driver.find(driver.menu, item))
                await driver.wait(
                    lambda get=get: (w := get()) is not None and w.isVisible(), f"{item} window"
                )
                await driver.wait(lambda: not driver.menu.isVisible(), "the menu to close")
                await driver.wait(ready, f"{item} to show its content")
                widget = get()
                assert widget is not None
                taken.append(await take(driver, tmp_path, name, [widget], margin=0))
                widget.close()
                await driver.wait(lambda w=widget: not w.isVisible(), f"{item} closed")

            # the MCP audit, from the MCP servers submenu
            before = driver.windows()
            await driver.open_menu()
            mcp = await driver.hover(driver.menu, driver.find(driver.menu, "MCP servers"))
            await driver.click(mcp, driver.find(mcp, "Audit mcp.json"))
            audits: list[QWidget] = []

            def audit_shown() -> bool:
                audits[:] = [
                    w
                    for w in QApplication.topLevelWidgets()
                    if w not in before and w.isVisible() and "audit" in w.windowTitle().lower()
                ]
                return bool(audits)

            await driver.wait(audit_shown, "the MCP audit window")
            await driver.wait(lambda: not driver.menu.isVisible(), "the menu to close")
            taken.append(await take(driver, tmp_path, "guide-mcp-audit.png", audits, margin=0))
            audits[0].close()

    run(loop, scenario())
    for path in taken:
        publish_screenshot(path)
