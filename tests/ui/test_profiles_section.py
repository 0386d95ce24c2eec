"""The tray menu's server switcher: one radio item per profile, switching saves the active
profile, reduced mode is marked, and on the real tray a click switches servers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot
from screen import crop_around, shows, x11  # tests/ui/screen.py

from tray.core.backends import BackendKind, capabilities_for
from tray.core.settings import LOCAL_PROFILE_ID, ServerProfile, Settings
from tray.core.status import ServerState, ServerStatus
from tray.services.settings_store import SettingsService, SettingsStore
from tray.ui.profiles_section import (
    EDIT_SERVERS_TEXT,
    REDUCED_MODE_TEXT,
    SETTINGS_TEXT,
    ProfilesSection,
)
from tray.ui.tray_icon import TrayIcon

LMSTUDIO = capabilities_for(BackendKind.LMSTUDIO, lms_available=True)
OPENAI = capabilities_for(BackendKind.OPENAI, lms_available=False)
STATUS = ServerStatus(url="http://127.0.0.1:1234", state=ServerState.RUNNING)


@pytest.fixture
def service(tmp_path: Path, qapp: QApplication) -> SettingsService:
    """Settings with three servers (and a QApplication, which menus need)."""
    service = SettingsService(SettingsStore(tmp_path / "settings.json"))

    def change(s: Settings) -> None:
        s.profiles.append(
            ServerProfile(id="gpu-box", name="GPU box", base_url="http://192.168.1.20:1234")
        )
        s.profiles.append(
            ServerProfile(
                id="ollama",
                name="Ollama",
                base_url="http://localhost:11434",
                kind=BackendKind.OPENAI,
                use_lms=False,
            )
        )

    service.update(change)
    return service


class Opened:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def items(menu: QMenu) -> list[str]:
    return [
        "--" if a.isSeparator() else ("* " if a.isChecked() else "") + a.text()
        for a in menu.actions()
        if a.isVisible()
    ]


def test_a_submenu_with_a_radio_item_per_profile(service: SettingsService) -> None:
    opened = Opened()
    section = ProfilesSection(service, open_settings=opened)
    submenu, settings = section.actions()
    assert submenu.menu() is section.menu
    assert submenu.text() == "Server: This machine"
    assert settings.text() == SETTINGS_TEXT
    assert items(section.menu) == [
        "* This machine",
        "GPU box",
        "Ollama (OpenAI-compatible)",
        "--",
        EDIT_SERVERS_TEXT,
    ]
    settings.trigger()
    section.edit_servers_action.trigger()
    assert opened.count == 2


def test_switching_saves_the_active_profile(service: SettingsService) -> None:
    section = ProfilesSection(service, open_settings=Opened())
    heard: list[str] = []
    service.subscribe(lambda s: heard.append(s.active_profile))
    section.profile_action("gpu-box").trigger()
    assert service.settings.active_profile == "gpu-box"
    assert json.loads(service.store.path.read_text())["active_profile"] == "gpu-box"
    assert heard == ["gpu-box"]  # the app's listener reconnects the monitor
    assert section.menu.title() == "Server: GPU box"
    assert items(section.menu)[:2] == ["This machine", "* GPU box"]

    section.profile_action("gpu-box").trigger()  # already active: nothing saved again
    assert heard == ["gpu-box"]


def test_render_marks_reduced_mode_and_only_touches_what_changed(
    service: SettingsService,
) -> None:
    section = ProfilesSection(service, open_settings=Opened())
    before = section.profile_action("ollama")
    section.render(STATUS, OPENAI)
    assert REDUCED_MODE_TEXT in items(section.menu)
    section.render(STATUS, LMSTUDIO)
    assert REDUCED_MODE_TEXT not in items(section.menu)
    assert section.profile_action("ollama") is before

    service.update(lambda s: setattr(s, "active_profile", "ollama"))
    section.render(STATUS, OPENAI)
    assert section.menu.title() == "Server: Ollama (OpenAI-compatible)"


def test_profiles_added_or_removed_in_settings_show_up_at_once(service: SettingsService) -> None:
    section = ProfilesSection(service, open_settings=Opened())

    def change(s: Settings) -> None:
        s.profiles = [p for p in s.profiles if p.id != "gpu-box"]
        s.profiles.append(ServerProfile(id="r-d", name="R&D box", base_url="http://rd:1234"))

    service.update(change)
    assert items(section.menu)[:3] == ["* This machine", "Ollama (OpenAI-compatible)", "R&&D box"]
    with pytest.raises(KeyError):
        section.profile_action("gpu-box")


def test_a_switch_that_cannot_be_saved_is_reported_and_changes_nothing(
    service: SettingsService, tmp_path: Path
) -> None:
    reported: list[tuple[str, str]] = []
    section = ProfilesSection(
        service, open_settings=Opened(), report_error=lambda t, m: reported.append((t, m))
    )
    (tmp_path / "blocker").write_text("a file where a folder should be")
    service.store.path = tmp_path / "blocker" / "settings.json"
    section.profile_action("gpu-box").trigger()
    assert service.settings.active_profile == LOCAL_PROFILE_ID
    assert len(reported) == 1 and "Could not save" in reported[0][1]
    assert section.profile_action(LOCAL_PROFILE_ID).isChecked()
    assert not section.profile_action("gpu-box").isChecked()


def _centre_of(menu: QMenu, text: str) -> QPoint:
    (action,) = [a for a in menu.actions() if a.text() == text]
    return menu.mapToGlobal(menu.actionGeometry(action).center())


@pytest.mark.ui
def test_switching_from_the_real_tray_menu(
    make_tray: Callable[..., TrayIcon],
    qtbot: QtBot,
    service: SettingsService,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    icon = make_tray()
    section = ProfilesSection(service, open_settings=Opened())
    icon.insert_section(section.actions())
    icon.render(STATUS)
    section.render(STATUS, LMSTUDIO)
    icon.show()
    qtbot.waitUntil(
        lambda: icon.tray.geometry().isValid() and icon.tray.geometry().topLeft() != QPoint(0, 0),
        timeout=10_000,
    )
    where = icon.tray.geometry().center()
    with qtbot.waitSignal(icon.menu_about_to_show, timeout=10_000):
        x11("xdotool", "mousemove", str(where.x()), str(where.y()), "click", "3")
    qtbot.waitUntil(icon.menu.isVisible)

    # Hover the "Server:" item: the submenu opens as it does for a user.
    with qtbot.waitSignal(section.menu.aboutToShow, timeout=10_000):
        target = _centre_of(icon.menu, "Server: This machine")
        x11("xdotool", "mousemove", str(target.x()), str(target.y()))
    qtbot.waitUntil(section.menu.isVisible)

    full = tmp_path / "tray-menu-servers-full.png"
    area = icon.menu.geometry().united(section.menu.geometry()).united(icon.tray.geometry())
    colour = section.menu.palette().window().color()
    qtbot.waitUntil(lambda: shows(full, section.menu.geometry(), colour), timeout=10_000)
    shot = tmp_path / "tray-menu-servers.png"
    assert crop_around(QImage(str(full)), area, 12).save(str(shot))
    publish_screenshot(shot)

    target = _centre_of(section.menu, "GPU box")
    with qtbot.waitSignal(icon.menu_about_to_hide, timeout=10_000):
        x11("xdotool", "mousemove", str(target.x()), str(target.y()), "click", "1")
    qtbot.waitUntil(lambda: service.settings.active_profile == "gpu-box", timeout=10_000)
    assert json.loads(service.store.path.read_text())["active_profile"] == "gpu-box"
    assert section.menu.title() == "Server: GPU box"
