"""The tray icon view: its menu on a real tray host, tooltip, demo marks, no-tray fallback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction, QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QSystemTrayIcon
from pytestqt.qtbot import QtBot
from screen import crop_around, shows, x11  # tests/ui/screen.py

from tray.core.gpu import GpuDevice, GpuGap, GpuReport
from tray.core.inventory import LoadedModelRow
from tray.core.status import ServerState, ServerStatus
from tray.ui.icons import render_state_image
from tray.ui.tray_icon import DEMO_ACTION_TEXT, TrayIcon

MakeTray = Callable[..., TrayIcon]

URL = "http://127.0.0.1:1234"
RUNNING_DEMO = ServerStatus(
    url=URL,
    state=ServerState.RUNNING,
    demo=True,
    loaded=(
        LoadedModelRow(identifier="qwen2.5-7b-instruct", model_key="qwen2.5-7b-instruct"),
        LoadedModelRow(identifier="text-embedding-nomic", model_key="nomic-embed-text-v1.5"),
    ),
)


def visible_items(icon: TrayIcon) -> list[str]:
    return [a.text() for a in icon.menu.actions() if a.isVisible() and not a.isSeparator()]


def header(icon: TrayIcon) -> list[str]:
    """The disabled lines at the top of the menu."""
    lines = []
    for item in icon.menu.actions():
        if item.isSeparator():
            return lines
        assert not item.isEnabled()
        lines.append(item.text())
    return lines


def action(icon: TrayIcon, text: str) -> QAction:
    (found,) = [a for a in icon.menu.actions() if a.text() == text]
    return found


def is_embedded(icon: TrayIcon) -> bool:
    # Until the tray host reparents it, Qt's icon window sits unmapped at the origin.
    geometry = icon.tray.geometry()
    return geometry.isValid() and geometry.topLeft() != QPoint(0, 0)


@pytest.mark.ui
def test_right_click_on_the_real_tray_opens_the_menu(
    make_tray: MakeTray, qtbot: QtBot, tmp_path: Path, publish_screenshot: Callable[..., Path]
) -> None:
    icon = make_tray()
    icon.render(RUNNING_DEMO)
    icon.show()
    qtbot.waitUntil(lambda: is_embedded(icon), timeout=10_000)
    where = icon.tray.geometry()

    # The icon as the panel shows it: the running tile's green must be on screen there.
    panel = tmp_path / "tray-panel.png"
    tile_green = render_state_image(ServerState.RUNNING, 32).pixelColor(6, 16)
    qtbot.waitUntil(lambda: shows(panel, where, tile_green), timeout=10_000)
    closeup = crop_around(QImage(str(panel)), where, 12)
    closeup = closeup.scaled(closeup.size() * 8)  # nearest-neighbour: real pixels, enlarged
    assert closeup.save(str(tmp_path / "tray-icon-closeup.png"))
    publish_screenshot(tmp_path / "tray-icon-closeup.png")

    centre = where.center()
    with qtbot.waitSignal(icon.menu_about_to_show, timeout=10_000):
        x11("xdotool", "mousemove", str(centre.x()), str(centre.y()), "click", "3")
    qtbot.waitUntil(icon.menu.isVisible)
    assert header(icon) == ["Server running — Demo", URL, "2 models loaded"]
    assert DEMO_ACTION_TEXT not in visible_items(icon)
    assert visible_items(icon)[-1] == "Quit"

    full = tmp_path / "tray-menu-full.png"
    menu_rect, menu_colour = icon.menu.geometry(), icon.menu.palette().window().color()
    qtbot.waitUntil(lambda: shows(full, menu_rect, menu_colour), timeout=10_000)
    publish_screenshot(full, docs=False)
    shot = tmp_path / "tray-menu.png"
    assert crop_around(QImage(str(full)), menu_rect.united(where), 16).save(str(shot))
    publish_screenshot(shot)

    with qtbot.waitSignal(icon.menu_about_to_hide, timeout=10_000):
        x11("xdotool", "key", "Escape")
    assert not icon.menu.isVisible()


@pytest.mark.ui
def test_the_gpu_line_says_unknown_and_why_instead_of_vanishing(
    make_tray: MakeTray, qtbot: QtBot, tmp_path: Path, publish_screenshot: Callable[..., Path]
) -> None:
    """A machine where no GPU memory can be read (like this one): the menu says so, in a
    few words from the probes, rather than leaving the line out."""
    no_gpu = GpuReport(
        unavailable_reason="No NVIDIA GPU (NVML) or AMD GPU (sysfs) found — …",
        gaps=(GpuGap(vendor="NVIDIA", problem="NVML not installed"), GpuGap(vendor="AMD")),
    )
    icon = make_tray()
    icon.render(RUNNING_DEMO.model_copy(update={"gpu": no_gpu}))
    icon.show()
    qtbot.waitUntil(lambda: is_embedded(icon), timeout=10_000)
    where = icon.tray.geometry()
    centre = where.center()
    with qtbot.waitSignal(icon.menu_about_to_show, timeout=10_000):
        x11("xdotool", "mousemove", str(centre.x()), str(centre.y()), "click", "3")
    qtbot.waitUntil(icon.menu.isVisible)
    line = "GPU memory: unknown — NVML not installed; no AMD GPU found"
    assert header(icon) == ["Server running — Demo", URL, "2 models loaded", line]
    assert line in icon.tray.toolTip()

    full = tmp_path / "tray-menu-gpu-full.png"
    menu_rect, menu_colour = icon.menu.geometry(), icon.menu.palette().window().color()
    qtbot.waitUntil(lambda: shows(full, menu_rect, menu_colour), timeout=10_000)
    shot = tmp_path / "tray-menu-gpu-unknown.png"
    assert crop_around(QImage(str(full)), menu_rect.united(where), 16).save(str(shot))
    publish_screenshot(shot, docs=False)
    with qtbot.waitSignal(icon.menu_about_to_hide, timeout=10_000):
        x11("xdotool", "key", "Escape")

    # with a reading, the same line gives used of total and LM Studio's share
    card = GpuDevice(name="RTX", used_bytes=6 * 10**9, total_bytes=16 * 10**9, source="nvml")
    icon.render(RUNNING_DEMO.model_copy(update={"gpu": GpuReport(devices=(card,))}))
    assert header(icon)[-1] == "GPU memory: 6.00 GB of 16.00 GB used"


@pytest.mark.ui
def test_a_left_click_on_the_real_tray_opens_the_menu_too(
    make_tray: MakeTray, qtbot: QtBot
) -> None:
    """On Windows, KDE and X11 trays a left click does nothing by itself: it must open the
    menu (macOS opens it on any click; there the tray leaves it to the platform)."""
    icon = make_tray(menu_on_click=False)
    icon.render(RUNNING_DEMO)
    icon.show()
    qtbot.waitUntil(lambda: is_embedded(icon), timeout=10_000)
    centre = icon.tray.geometry().center()
    with qtbot.waitSignal(icon.menu_about_to_show, timeout=10_000):
        x11("xdotool", "mousemove", str(centre.x()), str(centre.y()), "click", "1")
    qtbot.waitUntil(icon.menu.isVisible)
    with qtbot.waitSignal(icon.menu_about_to_hide, timeout=10_000):
        x11("xdotool", "key", "Escape")

    on_mac = make_tray(menu_on_click=True)  # the platform's own click: not a second menu
    on_mac.tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert not on_mac.menu.isVisible()


def test_the_status_lines_follow_a_light_dark_switch(make_tray: MakeTray, qtbot: QtBot) -> None:
    icon = make_tray()
    light = QApplication.palette()
    disabled = QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text
    before = icon.menu.palette().color(*disabled)
    dark = QPalette(light)
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        dark.setColor(group, QPalette.ColorRole.Window, QColor("#202020"))
        dark.setColor(group, QPalette.ColorRole.Text, QColor("#f0f0f0"))
    try:
        QApplication.setPalette(dark)
        # 70 % of the dark theme's text over its background: light grey, readable on dark
        qtbot.waitUntil(lambda: icon.menu.palette().color(*disabled) != before)
        after = icon.menu.palette().color(*disabled)
        assert after.lightness() > 150 and after == QColor(
            round(0.7 * 0xF0 + 0.3 * 0x20),
            round(0.7 * 0xF0 + 0.3 * 0x20),
            round(0.7 * 0xF0 + 0.3 * 0x20),
        )
    finally:
        QApplication.setPalette(light)
    qtbot.waitUntil(lambda: icon.menu.palette().color(*disabled) == before)


def test_tooltip_and_header_say_demo_only_in_demo_mode(make_tray: MakeTray) -> None:
    icon = make_tray()
    icon.render(RUNNING_DEMO)
    assert "Demo" in icon.tray.toolTip()
    assert header(icon)[0] == "Server running — Demo"

    icon.render(RUNNING_DEMO.model_copy(update={"demo": False}))
    assert "Demo" not in icon.tray.toolTip()
    assert "Demo" not in " ".join(header(icon))
    assert icon.tray.toolTip() == RUNNING_DEMO.model_copy(update={"demo": False}).tooltip


def test_header_follows_the_status(make_tray: MakeTray) -> None:
    icon = make_tray()
    icon.render(RUNNING_DEMO)
    assert len(header(icon)) == 3
    stopped = ServerStatus(
        url=URL, state=ServerState.STOPPED, error="Nothing listens on port 1234."
    )
    icon.render(stopped)
    assert header(icon) == ["Server stopped", URL, "Nothing listens on port 1234."]
    icon.render(ServerStatus(url=URL, state=ServerState.AUTH_REQUIRED))
    assert header(icon) == ["Server needs an API token", URL]


def test_demo_item_only_when_lmstudio_is_missing(make_tray: MakeTray, qtbot: QtBot) -> None:
    icon = make_tray()
    icon.render(ServerStatus(url=URL, state=ServerState.STOPPED))
    assert DEMO_ACTION_TEXT not in visible_items(icon)

    icon.render(ServerStatus(url=URL, state=ServerState.STOPPED), lmstudio_found=False)
    assert DEMO_ACTION_TEXT in visible_items(icon)
    with qtbot.waitSignal(icon.demo_requested, timeout=1000):
        action(icon, DEMO_ACTION_TEXT).trigger()
    with qtbot.waitSignal(icon.quit_requested, timeout=1000):
        action(icon, "Quit").trigger()


def test_sections_go_above_demo_and_quit(make_tray: MakeTray) -> None:
    icon = make_tray()
    icon.render(RUNNING_DEMO, lmstudio_found=False)
    start, stop = QAction("Start server"), QAction("Stop server")
    icon.insert_section([start, stop])
    texts = [a.text() if not a.isSeparator() else "--" for a in icon.menu.actions()]
    assert texts[3:] == ["--", "Start server", "Stop server", "--", DEMO_ACTION_TEXT, "--", "Quit"]


def test_without_a_tray_a_window_says_where_to_find_it_then_gives_way(
    make_tray: MakeTray, qtbot: QtBot, tmp_path: Path, publish_screenshot: Callable[..., Path]
) -> None:
    available = False
    icon = make_tray(tray_available=lambda: available, tray_poll_ms=20)
    icon.render(RUNNING_DEMO)
    icon.show()

    window = icon.no_tray_window
    assert window is not None
    qtbot.waitExposed(window)
    assert not icon.tray.isVisible()
    assert "Demo" in window.windowTitle()
    text = " ".join(label.text() for label in window.findChildren(QLabel))
    assert "No system tray" in text
    assert "AppIndicator" in text  # GNOME users need the extension
    assert "Server running — Demo" in text and "2 models loaded" in text
    assert window.grab().save(str(tmp_path / "no-tray-window.png"))
    publish_screenshot(tmp_path / "no-tray-window.png")

    icon.render(ServerStatus(url=URL, state=ServerState.STOPPED))
    assert "Server stopped" in " ".join(label.text() for label in window.findChildren(QLabel))
    assert "Demo" not in window.windowTitle()

    available = True
    qtbot.waitUntil(lambda: icon.tray.isVisible() and not window.isVisible())


def test_closing_the_fallback_window_quits(make_tray: MakeTray, qtbot: QtBot) -> None:
    icon = make_tray(tray_available=lambda: False)
    icon.show()
    assert icon.no_tray_window is not None
    qtbot.waitExposed(icon.no_tray_window)
    with qtbot.waitSignal(icon.quit_requested, timeout=1000):
        icon.no_tray_window.close()
