"""The server section of the tray menu, its options dialog, the GUI-owned confirmation and
the network-exposure warning badge — with a real `ServerController`, the fake `lms` and a
simulated LM Studio.

Clicks run service calls through `spawn`, i.e. on an asyncio loop that also drives Qt:
these tests run their scenario on a qasync loop (pytest-qt has no asyncio support) and
wait on conditions, never on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot
from screen import count_close, crop_around, grab_screen, shows, x11  # tests/ui/screen.py

from tray.core.backends import BackendKind, capabilities_for
from tray.core.inventory import LoadedModelRow
from tray.core.server_control import EXPOSURE_HELP_TITLE
from tray.core.settings import LOCAL_PROFILE_ID, ServerStartOptions
from tray.core.status import ServerState, ServerStatus
from tray.services.lms_runner import LmsRunner
from tray.services.server_controller import ServerController
from tray.services.settings_store import SettingsService, SettingsStore
from tray.simulator import Simulator
from tray.ui.icons import render_state_image
from tray.ui.server_options_dialog import EXPOSED_TEXT, ServerOptionsDialog
from tray.ui.server_section import (
    EXPOSURE_HELP_ACTION_TEXT,
    RESTART_ACTION_TEXT,
    SERVE_LOCALLY_ACTION_TEXT,
    START_ACTION_TEXT,
    STOP_ACTION_TEXT,
    ServerSection,
)
from tray.ui.tray_icon import TrayIcon

LMS = capabilities_for(BackendKind.LMSTUDIO, lms_available=True)
NO_LMS = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)
URL = "http://127.0.0.1:1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Calls:
    """Counts the section's callbacks to the app."""

    def __init__(self) -> None:
        self.starting = 0
        self.refreshes = 0

    def on_starting(self) -> None:
        self.starting += 1

    def refresh(self) -> None:
        self.refreshes += 1


@pytest.fixture
def settings(tmp_path: Path) -> SettingsService:
    return SettingsService(SettingsStore(tmp_path / "config" / "settings.json"))


def controller_for(tmp_path: Path, settings: SettingsService) -> ServerController:
    runner = LmsRunner(
        tmp_path / ".lmstudio" / "bin" / "lms", env={**os.environ, "HOME": str(tmp_path)}
    )
    return ServerController(runner, settings, LOCAL_PROFILE_ID, home=tmp_path / ".lmstudio")


def make_section(
    factory: Callable[[], ServerController | None], calls: Calls, *, demo: bool = False
) -> ServerSection:
    return ServerSection(factory, on_starting=calls.on_starting, refresh=calls.refresh, demo=demo)


def enabled(section: ServerSection) -> tuple[bool, bool, bool]:
    return (section.start.isEnabled(), section.stop.isEnabled(), section.restart.isEnabled())


def visible_message_boxes() -> list[QMessageBox]:
    return [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    ]


# --- enabled states --------------------------------------------------------------------


def test_actions_follow_the_status(qapp: QApplication) -> None:
    section = make_section(lambda: None, Calls())
    assert [a.text() for a in section.actions()] == [
        SERVE_LOCALLY_ACTION_TEXT,
        EXPOSURE_HELP_ACTION_TEXT,
        START_ACTION_TEXT,
        STOP_ACTION_TEXT,
        RESTART_ACTION_TEXT,
        "Server options…",
    ]

    section.render(ServerStatus(url=URL, state=ServerState.STOPPED), LMS)
    assert enabled(section) == (True, False, False)
    assert section.stop.toolTip() == "The server is not running."
    assert section.start.statusTip() == ""
    assert section.options.isEnabled()
    assert not section.exposure_help.isVisible()

    section.render(ServerStatus(url=URL, state=ServerState.RUNNING), LMS)
    assert enabled(section) == (False, True, True)
    assert section.start.toolTip() == "The server is already running."

    section.render(ServerStatus(url=URL, state=ServerState.STARTING), LMS)
    assert enabled(section) == (False, False, False)

    section.render(ServerStatus(url=URL, state=ServerState.RUNNING, exposed=True), LMS)
    assert section.exposure_help.isVisible() and section.serve_locally.isVisible()
    # a server this tray cannot restart (no lms): the help, not the one-click fix
    section.render(ServerStatus(url=URL, state=ServerState.RUNNING, exposed=True), NO_LMS)
    assert section.exposure_help.isVisible() and not section.serve_locally.isVisible()

    section.render(ServerStatus(url=URL, state=ServerState.STOPPED), NO_LMS)
    assert enabled(section) == (False, False, False)
    assert not section.options.isEnabled()
    assert "`lms`" in section.start.toolTip()
    assert "`lms`" in section.options.statusTip()


# --- the options dialog ----------------------------------------------------------------


def test_options_dialog_saves_to_the_profile(
    loop: asyncio.AbstractEventLoop,
    qtbot: QtBot,
    tmp_path: Path,
    settings: SettingsService,
    publish_screenshot: Callable[..., Path],
) -> None:
    controller = controller_for(tmp_path, settings)
    # Nothing chosen in the tray yet: the dialog shows what Start would use, which is
    # LM Studio's own CORS and network setting.
    internal = tmp_path / ".lmstudio" / ".internal"
    internal.mkdir(parents=True)
    (internal / "http-server-config.json").write_text(
        json.dumps({"port": 1234, "cors": True, "networkInterface": "0.0.0.0"})
    )
    section = make_section(lambda: controller, Calls())
    section.render(
        ServerStatus(url=URL, state=ServerState.STOPPED, profile_name="This machine"), LMS
    )

    async def opened() -> ServerOptionsDialog:
        section.options_dialog = None
        section.options.trigger()
        await until(lambda: section.options_dialog is not None, "the options dialog")
        dialog = section.options_dialog
        assert isinstance(dialog, ServerOptionsDialog)
        qtbot.waitExposed(dialog)
        return dialog

    async def scenario() -> None:
        dialog = await opened()
        assert (dialog.bind.currentIndex(), dialog.cors.isChecked()) == (1, True)
        save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)

        # An address that is none: Save is off and the sentence says why.
        dialog.bind.setCurrentIndex(2)
        dialog.custom_bind.setText("my laptop")
        assert not save.isEnabled()
        assert "not an IP address" in dialog.problem.text() and dialog.problem.isVisible()

        # All interfaces: allowed, with the warning line.
        dialog.bind.setCurrentIndex(1)
        dialog.port.setValue(4321)
        dialog.cors.setChecked(True)
        assert save.isEnabled() and not dialog.problem.isVisible()
        assert dialog.exposed_note.isVisible() and dialog.exposed_note.text() == EXPOSED_TEXT
        qtbot.waitUntil(lambda: dialog.exposed_note.isVisible())
        shot = tmp_path / "server-options.png"
        assert dialog.grab().save(str(shot))
        publish_screenshot(shot)

        save.click()
        qtbot.waitUntil(lambda: not dialog.isVisible())
        expected = ServerStartOptions(port=4321, bind="0.0.0.0", cors=True, remembered=True)
        assert controller.options == expected
        raw = json.loads(settings.store.path.read_text(encoding="utf-8"))
        assert raw["profiles"][0]["server_start"] == {
            "port": 4321,
            "bind": "0.0.0.0",
            "cors": True,
            "remembered": True,
        }

        # Reopened, it shows what was saved; "As in LM Studio" is no port at all.
        again = await opened()
        assert again is not dialog
        assert (again.port.value(), again.bind.currentIndex(), again.cors.isChecked()) == (
            4321,
            1,
            True,
        )
        again.port.setValue(0)
        again.bind.setCurrentIndex(0)
        assert again.port.text() == "As in LM Studio"
        assert not again.exposed_note.isVisible()
        again.buttons.button(QDialogButtonBox.StandardButton.Save).click()
        assert controller.options == ServerStartOptions(
            port=None, bind="127.0.0.1", cors=True, remembered=True
        )

    run(loop, scenario())


# --- start, stop, and the server the LM Studio app owns ------------------------------


def test_start_then_stop_from_the_menu(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, settings: SettingsService
) -> None:
    calls = Calls()
    with Simulator(tmp_path / ".lmstudio", api_server_running=False) as sim:
        sim.install_fake_lms()
        controller = controller_for(tmp_path, settings)
        controller.remember(ServerStartOptions(port=free_port()))
        section = make_section(lambda: controller, calls)
        section.render(ServerStatus(url=URL, state=ServerState.STOPPED), LMS)

        async def scenario() -> None:
            section.start.trigger()
            assert calls.starting == 1
            # While it runs, nothing else can be asked and the item says what happens.
            assert enabled(section) == (False, False, False)
            assert section.start.text() == "Starting the server…"
            await until(lambda: calls.refreshes == 1, "the start finished")
            assert sim.api_server_running
            assert section.start.text() == START_ACTION_TEXT

            section.render(ServerStatus(url=sim.base_url, state=ServerState.RUNNING), LMS)
            section.stop.trigger()
            await until(lambda: calls.refreshes == 2, "the stop finished")
            assert not sim.api_server_running
            assert calls.starting == 1  # stopping shows no "starting"

        run(loop, scenario())


def test_stopping_the_lm_studio_apps_server_asks_first(
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    settings: SettingsService,
    publish_screenshot: Callable[..., Path],
) -> None:
    calls = Calls()
    with Simulator(tmp_path / ".lmstudio", gui=True) as sim:
        sim.install_fake_lms()
        controller = controller_for(tmp_path, settings)
        section = make_section(lambda: controller, calls)
        section.render(ServerStatus(url=sim.base_url, state=ServerState.RUNNING), LMS)

        async def scenario() -> None:
            section.stop.trigger()
            await until(visible_message_boxes, "the question is asked")
            (box,) = visible_message_boxes()
            assert "LM Studio app" in box.text()
            assert box.informativeText() == "Stop LM Studio's server anyway?"
            assert "belongs to LM Studio" in box.windowTitle()
            shot = tmp_path / "server-stop-confirm.png"
            assert box.grab().save(str(shot))
            publish_screenshot(shot, docs=False)

            box.button(QMessageBox.StandardButton.Cancel).click()
            await until(lambda: calls.refreshes == 1, "the stop gave up")
            assert sim.api_server_running, "Cancel must keep the server running"
            assert section.stop.isEnabled()

            section.stop.trigger()
            await until(visible_message_boxes, "asked again")
            (box,) = visible_message_boxes()
            (yes,) = [b for b in box.buttons() if b.text() == STOP_ACTION_TEXT]
            yes.click()
            await until(lambda: calls.refreshes == 2, "the stop finished")
            assert not sim.api_server_running

        run(loop, scenario())


def test_exposure_help_explains_both_remedies(qapp: QApplication, qtbot: QtBot) -> None:
    section = make_section(lambda: None, Calls(), demo=True)
    status = ServerStatus(
        url=URL, state=ServerState.RUNNING, exposed=True, listen_address="0.0.0.0:1234"
    )
    section.render(status, LMS)
    section.exposure_help.trigger()
    box = section.help_box
    assert box is not None
    qtbot.waitExposed(box)
    assert box.text() == EXPOSURE_HELP_TITLE
    assert "Require Authentication" in box.informativeText()
    assert "listens on every network interface (0.0.0.0:1234)" in box.informativeText()
    assert "Serve on this computer only" in box.informativeText()
    assert "Demo" in box.windowTitle()
    box.close()


# --- the warning badge -----------------------------------------------------------------


@pytest.mark.parametrize("pixels", [16, 22, 32])
def test_warning_badge_renders_and_differs(qapp: QApplication, pixels: int) -> None:
    for state in ServerState:
        plain = render_state_image(state, pixels)
        warned = render_state_image(state, pixels, warning=True)
        both = render_state_image(state, pixels, warning=True, demo=True)
        demo = render_state_image(state, pixels, demo=True)
        assert len({bytes(i.constBits()) for i in (plain, warned, both, demo)}) == 4
        # The badge sits in the top-right quarter, and is orange there.
        corner = [
            warned.pixelColor(x, y) for y in range(pixels // 2) for x in range(pixels // 2, pixels)
        ]
        orange = [
            c
            for c in corner
            if c.alpha() > 200 and c.red() > 200 and 100 < c.green() < 190 and c.blue() < 80
        ]
        assert len(orange) >= pixels * pixels // 40, f"{state} at {pixels} px"
        # Untouched outside the badge's corner (0.5625 of the edge, plus its ring).
        reach = int(pixels * 0.63) + 1
        for y in range(pixels):
            for x in range(pixels):
                if x < pixels - reach or y >= reach:
                    assert warned.pixelColor(x, y) == plain.pixelColor(x, y), (x, y)


def test_template_warning_badge_is_alpha_only(qapp: QApplication) -> None:
    image = render_state_image(ServerState.RUNNING, 22, warning=True, template=True)
    assert image != render_state_image(ServerState.RUNNING, 22, template=True)
    colours = {
        image.pixelColor(x, y).rgb() & 0xFFFFFF
        for y in range(22)
        for x in range(22)
        if image.pixelColor(x, y).alpha() > 0
    }
    assert colours == {0x000000}


def is_embedded(icon: TrayIcon) -> bool:
    geometry = icon.tray.geometry()
    return geometry.isValid() and geometry.topLeft() != QPoint(0, 0)


@pytest.mark.ui
def test_exposed_server_on_the_real_tray(
    make_tray: Callable[..., TrayIcon],
    qtbot: QtBot,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    """The badge on the panel, the warning line and the help item in the menu."""
    status = ServerStatus(
        url=URL,
        state=ServerState.RUNNING,
        auth_required=False,
        exposed=True,
        listen_address="192.168.1.20:1234",
        profile_name="This machine",
        loaded=(LoadedModelRow(identifier="qwen/qwen3-4b", model_key="qwen/qwen3-4b"),),
    )
    icon = make_tray()
    section = make_section(lambda: None, Calls())
    icon.insert_section(section.actions())
    icon.render(status)
    section.render(status, LMS)
    icon.show()
    qtbot.waitUntil(lambda: is_embedded(icon), timeout=10_000)
    where = icon.tray.geometry()

    # The badge as the panel shows it: its orange must be on screen in the icon's
    # top-right quarter.
    panel = tmp_path / "tray-exposed-panel.png"
    quarter = where.adjusted(where.width() // 2, 0, 0, -where.height() // 2)
    qtbot.waitUntil(
        lambda: count_close(grab_screen(panel), quarter, QColor("#ff9800"), 30) >= 12,
        timeout=10_000,
    )
    closeup = crop_around(QImage(str(panel)), where, 12)
    closeup = closeup.scaled(closeup.size() * 8)  # nearest-neighbour: real pixels, enlarged
    assert closeup.save(str(tmp_path / "tray-exposed-closeup.png"))
    publish_screenshot(tmp_path / "tray-exposed-closeup.png")

    centre = where.center()
    with qtbot.waitSignal(icon.menu_about_to_show, timeout=10_000):
        x11("xdotool", "mousemove", str(centre.x()), str(centre.y()), "click", "3")
    qtbot.waitUntil(icon.menu.isVisible)
    texts = [a.text() for a in icon.menu.actions() if a.isVisible() and not a.isSeparator()]
    assert "Warning: open to the network on 192.168.1.20:1234, with authentication off" in texts
    assert "127.0.0.1" not in " ".join(t for t in texts if t.startswith("Warning"))
    assert texts.index(SERVE_LOCALLY_ACTION_TEXT) < texts.index(EXPOSURE_HELP_ACTION_TEXT)
    assert texts.index(EXPOSURE_HELP_ACTION_TEXT) < texts.index(START_ACTION_TEXT)

    full = tmp_path / "tray-exposed-full.png"
    menu_rect, menu_colour = icon.menu.geometry(), icon.menu.palette().window().color()
    qtbot.waitUntil(lambda: shows(full, menu_rect, menu_colour), timeout=10_000)
    shot = tmp_path / "tray-exposed.png"
    assert crop_around(QImage(str(full)), menu_rect.united(where), 16).save(str(shot))
    publish_screenshot(shot)
    with qtbot.waitSignal(icon.menu_about_to_hide, timeout=10_000):
        x11("xdotool", "key", "Escape")
