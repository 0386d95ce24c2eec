"""The Settings window: profiles added, checked and saved (or not), polling and notification
limits, start at login writing the real XDG entry, the quick-chat hotkey (checked, saved,
registered on the real X server, a conflict shown), and a screenshot of each tab."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hotkey_holder import holding  # tests/ui/hotkey_holder.py
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QCheckBox, QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot
from screen import grab_screen  # tests/ui/screen.py

from tray.core.backends import BackendKind
from tray.core.settings import LOCAL_PROFILE_ID, ServerProfile, Settings
from tray.platform.autostart import XdgAutostart
from tray.platform.hotkeys import HotkeyManager, select_backend
from tray.platform.hotkeys.x11 import X11Backend
from tray.services.settings_store import SettingsService, SettingsStore
from tray.ui.settings_dialog import SettingsDialog

SERVERS, POLLING, NOTIFICATIONS, GENERAL, QUICK_CHAT = range(5)
COMMAND = ["/opt/lmstudio tray/bin/lmstudio-tray"]


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def service(tmp_path: Path) -> SettingsService:
    return SettingsService(SettingsStore(tmp_path / "settings.json"))


@pytest.fixture
def make_dialog(
    qtbot: QtBot, service: SettingsService, config_home: Path
) -> Callable[..., SettingsDialog]:
    def make(*, demo: bool = False) -> SettingsDialog:
        dialog = SettingsDialog(service, XdgAutostart(), demo=demo, command=lambda: COMMAND)
        qtbot.addWidget(dialog)
        dialog.present()
        qtbot.waitExposed(dialog)
        return dialog

    return make


def saved(service: SettingsService) -> dict[str, object]:
    data = json.loads(service.store.path.read_text())
    assert isinstance(data, dict)
    return data


def click(qtbot: QtBot, dialog: SettingsDialog, which: QDialogButtonBox.StandardButton) -> None:
    qtbot.mouseClick(dialog.buttons.button(which), Qt.MouseButton.LeftButton)


def tick(qtbot: QtBot, box: QCheckBox) -> None:
    """Click on the box itself (the widget may be much wider than its indicator and text)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def type_into(qtbot: QtBot, widget: object, text: str) -> None:
    widget.setFocus()  # type: ignore[attr-defined]
    widget.selectAll()  # type: ignore[attr-defined]
    qtbot.keyClicks(widget, text)  # type: ignore[arg-type]


def with_servers(service: SettingsService) -> None:
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


def test_title_says_demo_only_in_demo_mode(make_dialog: Callable[..., SettingsDialog]) -> None:
    assert make_dialog().windowTitle() == "LM Studio Tray — Settings"
    assert make_dialog(demo=True).windowTitle() == "LM Studio Tray — Settings — Demo"


def test_adding_a_profile_and_pressing_ok_saves_it(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    dialog = make_dialog()
    assert not service.store.path.exists()
    qtbot.mouseClick(dialog.servers.add_button, Qt.MouseButton.LeftButton)
    assert dialog.servers.name_edit.text() == "New server"
    # the window's focus (no WM activates it)
    assert dialog.focusWidget() is dialog.servers.name_edit
    type_into(qtbot, dialog.servers.name_edit, "GPU box")
    type_into(qtbot, dialog.servers.url_edit, "192.168.1.20:1234/v1")
    assert not dialog.servers.use_lms_box.isEnabled()  # lms cannot drive another machine
    assert "only the LM Studio on this machine" in dialog.servers.lms_hint.text()
    assert dialog.servers.profile_list.item(1).text() == "GPU box"

    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert not dialog.isVisible()
    profiles = saved(service)["profiles"]
    assert isinstance(profiles, list)
    assert [p["id"] for p in profiles] == [LOCAL_PROFILE_ID, "gpu-box"]
    added = profiles[1]
    assert added["name"] == "GPU box"
    assert added["base_url"] == "http://192.168.1.20:1234"
    assert added["kind"] == "auto" and added["use_lms"] is False  # found out at first contact
    assert saved(service)["active_profile"] == LOCAL_PROFILE_ID
    assert service.settings.profile("gpu-box").name == "GPU box"


def test_an_openai_compatible_server_is_marked_and_never_uses_lms(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    dialog = make_dialog()
    qtbot.mouseClick(dialog.servers.add_button, Qt.MouseButton.LeftButton)
    type_into(qtbot, dialog.servers.name_edit, "Ollama")
    type_into(qtbot, dialog.servers.url_edit, "http://localhost:11434")
    assert dialog.servers.use_lms_box.isEnabled()  # local LM Studio so far
    dialog.servers.kind_combo.setCurrentIndex(
        dialog.servers.kind_combo.findData(BackendKind.OPENAI)
    )
    assert not dialog.servers.use_lms_box.isEnabled() and not dialog.servers.use_lms_box.isChecked()
    assert "OpenAI-compatible" in dialog.servers.lms_hint.text()
    assert dialog.servers.profile_list.item(1).text() == "Ollama (OpenAI-compatible)"
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert dialog.isVisible()  # Apply keeps the window open
    ollama = service.settings.profile("ollama")
    assert (ollama.kind, ollama.use_lms) == (BackendKind.OPENAI, False)


def test_an_invalid_address_is_shown_inline_and_nothing_is_saved(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    service.update(lambda s: None)  # a saved file to compare against
    before = service.store.path.read_bytes()
    dialog = make_dialog()
    qtbot.mouseClick(dialog.servers.add_button, Qt.MouseButton.LeftButton)
    type_into(qtbot, dialog.servers.url_edit, "ftp://gpu-box:1234")
    dialog.tabs.setCurrentIndex(GENERAL)  # errors bring the right tab back
    dialog.notify_vram.setChecked(False)  # another change that must not be saved either

    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert dialog.isVisible()
    assert dialog.tabs.currentIndex() == SERVERS
    assert dialog.servers.profile_list.currentRow() == 1
    assert dialog.servers.url_error.isVisible()
    assert "http:// or https://" in dialog.servers.url_error.text()
    assert service.store.path.read_bytes() == before
    assert len(service.settings.profiles) == 1 and service.settings.notifications.vram_high

    # Once shown, the error follows the typing and goes away when the address is right.
    type_into(qtbot, dialog.servers.url_edit, "http://gpu-box:1234")
    assert not dialog.servers.url_error.isVisible()
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert not dialog.isVisible()
    assert [p.base_url for p in service.settings.profiles] == [None, "http://gpu-box:1234"]
    assert service.settings.notifications.vram_high is False


def activated(qtbot: QtBot, dialog: SettingsDialog) -> None:
    """Give the window the keyboard, as a click on it would: Tab and leaving a field then
    work as they do for a user."""
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=10_000)


def press(widget: QWidget, key: Qt.Key) -> None:
    QTest.keyClick(widget, key)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("htp:/192.168.1.20:99999", "(not htp:)"),  # was saved as http://htp/192.168.1.20:99999
        ("http://192.168.1.20:99999", "from 1 to 65535"),
        ("192.168.1.20:0", "from 1 to 65535"),
        ("http://[::1", "Close the bracket"),  # was "Invalid IPv6 URL", Python's words
        ("ws://gpu-box:1234", "(not ws:)"),
        ("http://:1234", "needs a host"),
    ],
)
def test_a_bad_address_is_refused_inline_until_it_is_fixed(
    make_dialog: Callable[..., SettingsDialog],
    qtbot: QtBot,
    service: SettingsService,
    typed: str,
    says: str,
) -> None:
    service.update(lambda s: None)  # a saved file to compare against
    before = service.store.path.read_bytes()
    dialog = make_dialog()
    servers = dialog.servers
    activated(qtbot, dialog)
    qtbot.mouseClick(servers.add_button, Qt.MouseButton.LeftButton)
    assert servers.name_edit.hasFocus()
    qtbot.keyClicks(servers.name_edit, "GPU box")
    press(servers.name_edit, Qt.Key.Key_Tab)
    assert servers.url_edit.hasFocus()
    qtbot.keyClicks(servers.url_edit, typed)
    assert not servers.url_error.isVisible()  # not while typing

    # Leaving the field says what is wrong, next to it.
    press(servers.url_edit, Qt.Key.Key_Tab)
    assert not servers.url_edit.hasFocus()
    assert servers.url_error.isVisible()
    assert says in servers.url_error.text()

    # Enter (the window's OK) is refused: nothing saved, the focus back in the field.
    press(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert dialog.isVisible()
    assert servers.url_edit.hasFocus()
    assert servers.url_error.isVisible() and says in servers.url_error.text()
    assert service.store.path.read_bytes() == before
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)  # and so is a click on OK
    assert dialog.isVisible()
    assert service.store.path.read_bytes() == before

    # The address is selected: typing replaces it, the message goes, Enter saves it as
    # the one rule writes it.
    assert servers.url_edit.selectedText() == typed
    qtbot.keyClicks(servers.url_edit, "192.168.1.20:1234/v1/")
    assert not servers.url_error.isVisible()
    press(servers.url_edit, Qt.Key.Key_Return)
    assert not dialog.isVisible()
    assert [p.base_url for p in service.settings.profiles] == [None, "http://192.168.1.20:1234"]
    assert saved(service)["profiles"][1]["base_url"] == "http://192.168.1.20:1234"  # type: ignore[index]


def test_polling_delays_that_do_not_fit_are_said_on_leaving_the_box(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    dialog = make_dialog()
    activated(qtbot, dialog)
    dialog.tabs.setCurrentIndex(POLLING)
    box = dialog.interactive_box
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    box.selectAll()
    qtbot.keyClicks(box, "30")  # slower than idle (15 s)
    error = dialog._polling_errors["interactive_seconds"]
    assert not error.isVisible()
    press(box, Qt.Key.Key_Tab)
    assert error.isVisible() and "not be slower" in error.text()
    press(QApplication.focusWidget(), Qt.Key.Key_Return)  # OK: refused, back to the box
    assert dialog.isVisible() and box.hasFocus()
    assert not service.store.path.exists()
    box.selectAll()
    qtbot.keyClicks(box, "2")
    assert not error.isVisible()  # once shown, it follows the value
    press(box, Qt.Key.Key_Return)
    assert not dialog.isVisible()
    assert service.settings.polling.interactive_seconds == 2


def test_duplicate_and_empty_names_are_refused(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    dialog = make_dialog()
    qtbot.mouseClick(dialog.servers.add_button, Qt.MouseButton.LeftButton)
    type_into(qtbot, dialog.servers.name_edit, "this MACHINE")
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert "already called" in dialog.servers.name_error.text()
    assert dialog.servers.name_error.isVisible()
    dialog.servers.name_edit.clear()
    qtbot.keyClicks(dialog.servers.name_edit, " ")
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert "Give the server a name" in dialog.servers.name_error.text()
    assert not service.store.path.exists()


def test_the_last_profile_cannot_be_removed_and_removing_the_active_one_moves_on(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    with_servers(service)
    service.update(lambda s: setattr(s, "active_profile", "gpu-box"))
    dialog = make_dialog()
    assert dialog.servers.profile_list.item(1).text() == "GPU box — in use"
    dialog.servers.profile_list.setCurrentRow(1)
    assert dialog.servers.activate_button.text() == "In use"
    assert not dialog.servers.activate_button.isEnabled()
    qtbot.mouseClick(dialog.servers.remove_button, Qt.MouseButton.LeftButton)
    assert dialog.servers.profile_list.item(0).text() == "This machine — in use"
    qtbot.mouseClick(dialog.servers.remove_button, Qt.MouseButton.LeftButton)  # removes Ollama
    assert dialog.servers.profile_list.count() == 1
    assert not dialog.servers.remove_button.isEnabled()
    assert "at least one server" in dialog.servers.remove_button.toolTip()
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert [p.id for p in service.settings.profiles] == [LOCAL_PROFILE_ID]
    assert service.settings.active_profile == LOCAL_PROFILE_ID


def test_use_this_server_makes_it_active(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    with_servers(service)
    dialog = make_dialog()
    dialog.servers.profile_list.setCurrentRow(2)
    qtbot.mouseClick(dialog.servers.activate_button, Qt.MouseButton.LeftButton)
    assert dialog.servers.profile_list.item(2).text() == "Ollama (OpenAI-compatible) — in use"
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert service.settings.active_profile == "ollama"
    assert saved(service)["active_profile"] == "ollama"


def test_a_switch_from_the_menu_while_the_window_is_open_is_kept(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    with_servers(service)
    dialog = make_dialog()
    service.update(lambda s: setattr(s, "active_profile", "gpu-box"))  # from the tray menu
    dialog.notify_evicted.setChecked(False)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert service.settings.active_profile == "gpu-box"
    assert service.settings.notifications.model_evicted is False


def test_the_activity_notices_are_switchable_like_the_others(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    dialog = make_dialog()
    assert dialog.notify_context_full.isChecked() and dialog.notify_failed.isChecked()
    dialog.notify_context_full.setChecked(False)
    dialog.notify_failed.setChecked(False)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    notes = service.settings.notifications
    assert notes.context_full is False and notes.prediction_failed is False
    assert saved(service)["notifications"]["context_full"] is False
    dialog.present()
    assert not dialog.notify_context_full.isChecked()


def test_cancel_discards_every_edit(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    dialog = make_dialog()
    type_into(qtbot, dialog.servers.name_edit, "Renamed")
    dialog.idle_box.setValue(60)
    dialog.autostart_box.setChecked(True)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Cancel)
    assert not dialog.isVisible()
    assert not service.store.path.exists()
    assert not XdgAutostart().is_enabled()
    dialog.present()
    assert dialog.servers.name_edit.text() == "This machine"
    assert dialog.idle_box.value() == 15
    assert not dialog.autostart_box.isChecked()


def test_polling_and_notification_fields_use_the_models_limits_and_rules(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    dialog = make_dialog()
    assert (dialog.interactive_box.minimum(), dialog.interactive_box.maximum()) == (0.5, 60)
    assert (dialog.down_box.minimum(), dialog.down_box.maximum()) == (5, 3600)
    assert (dialog.vram_threshold.minimum(), dialog.vram_threshold.maximum()) == (50, 100)
    dialog.notify_vram.setChecked(False)
    assert not dialog.vram_threshold.isEnabled()
    dialog.notify_vram.setChecked(True)

    dialog.interactive_box.setValue(30)  # slower than idle (15 s)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert dialog.tabs.currentIndex() == POLLING
    assert dialog._polling_errors["interactive_seconds"].isVisible()
    assert not service.store.path.exists()

    dialog.interactive_box.setValue(1.5)
    dialog.idle_box.setValue(30)
    dialog.vram_threshold.setValue(80)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert not dialog._polling_errors["interactive_seconds"].isVisible()
    assert service.settings.polling.interactive_seconds == 1.5
    assert service.settings.polling.idle_seconds == 30
    assert service.settings.notifications.vram_threshold_percent == 80


def test_start_at_login_toggles_the_real_xdg_entry(
    make_dialog: Callable[..., SettingsDialog],
    qtbot: QtBot,
    service: SettingsService,
    config_home: Path,
) -> None:
    entry = config_home / "autostart" / "lmstudio-tray.desktop"
    dialog = make_dialog()
    dialog.tabs.setCurrentIndex(GENERAL)
    assert str(entry) in dialog.autostart_where.text()
    assert not dialog.autostart_box.isChecked()

    tick(qtbot, dialog.autostart_box)
    assert dialog.autostart_box.isChecked()
    assert dialog.autostart_command.isVisible()
    assert "lmstudio tray" in dialog.autostart_command.text()
    assert not entry.exists()  # nothing happens before Apply
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert entry.is_file()
    assert 'Exec="/opt/lmstudio tray/bin/lmstudio-tray"' in entry.read_text()
    assert service.settings.autostart is True

    tick(qtbot, dialog.autostart_box)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert not entry.exists()
    assert service.settings.autostart is False


def test_a_start_at_login_failure_is_shown_inline_and_nothing_is_saved(
    make_dialog: Callable[..., SettingsDialog],
    qtbot: QtBot,
    service: SettingsService,
    config_home: Path,
) -> None:
    config_home.mkdir()
    (config_home / "autostart").write_text("a file where the folder should be")
    dialog = make_dialog()
    dialog.idle_box.setValue(30)
    dialog.autostart_box.setChecked(True)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert dialog.isVisible()
    assert dialog.tabs.currentIndex() == GENERAL
    assert dialog.autostart_error.isVisible()
    assert "Could not save" in dialog.autostart_error.text()
    assert not service.store.path.exists()
    assert service.settings.polling.idle_seconds == 15


def test_a_settings_file_that_cannot_be_written_saves_nothing(
    make_dialog: Callable[..., SettingsDialog],
    qtbot: QtBot,
    service: SettingsService,
    tmp_path: Path,
    config_home: Path,
) -> None:
    service.store.path = tmp_path / "blocker" / "settings.json"
    (tmp_path / "blocker").write_text("a file where the folder should be")
    dialog = make_dialog()
    dialog.autostart_box.setChecked(True)
    dialog.idle_box.setValue(30)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert dialog.save_error.isVisible() and "Could not save" in dialog.save_error.text()
    assert service.settings.polling.idle_seconds == 15
    # Start at login was put back as it was: nothing half-saved.
    assert not (config_home / "autostart" / "lmstudio-tray.desktop").exists()


def looks_alike(a: QImage, b: QImage, step: int = 3) -> bool:
    """Whether two same-sized images agree on nearly every sampled pixel (a blinking text
    cursor may differ)."""
    if a.size() != b.size():
        return False
    samples = differ = 0
    for y in range(0, a.height(), step):
        for x in range(0, a.width(), step):
            samples += 1
            differ += a.pixel(x, y) != b.pixel(x, y)
    return differ <= samples // 200


def capture_on_screen(qtbot: QtBot, dialog: SettingsDialog, path: Path) -> None:
    """Save what the X screen shows of the dialog once it shows what Qt last painted."""
    full = path.with_name(f"full-{path.name}")

    def painted() -> bool:
        expected = dialog.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
        screen = grab_screen(full).copy(dialog.frameGeometry())
        return looks_alike(screen.convertToFormat(QImage.Format.Format_RGB32), expected)

    qtbot.waitUntil(painted, timeout=10_000)
    assert QImage(str(full)).copy(dialog.frameGeometry()).save(str(path))


@pytest.mark.ui
def test_screenshots_of_each_tab(
    make_dialog: Callable[..., SettingsDialog],
    qtbot: QtBot,
    service: SettingsService,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    with_servers(service)
    dialog = make_dialog()
    dialog.servers.profile_list.setCurrentRow(1)
    names = {
        SERVERS: "settings-servers.png",
        POLLING: "settings-polling.png",
        NOTIFICATIONS: "settings-notifications.png",
        GENERAL: "settings-general.png",
    }
    for index, name in names.items():
        dialog.tabs.setCurrentIndex(index)
        if index == GENERAL:
            dialog.autostart_box.setChecked(True)
        capture_on_screen(qtbot, dialog, tmp_path / name)
        publish_screenshot(tmp_path / name)

    # The inline error, as the user sees it.
    dialog.tabs.setCurrentIndex(SERVERS)
    type_into(qtbot, dialog.servers.url_edit, "ftp://gpu-box:1234")
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert dialog.servers.url_error.isVisible()
    capture_on_screen(qtbot, dialog, tmp_path / "settings-servers-invalid-address.png")
    publish_screenshot(tmp_path / "settings-servers-invalid-address.png")


def test_the_api_token_button_opens_the_tokens_dialog_for_a_saved_server(
    qtbot: QtBot, service: SettingsService, config_home: Path
) -> None:
    asked: list[str] = []
    dialog = SettingsDialog(
        service, XdgAutostart(), demo=False, command=lambda: COMMAND, open_tokens=asked.append
    )
    qtbot.addWidget(dialog)
    dialog.present()
    qtbot.waitExposed(dialog)
    assert dialog.servers.tokens_button.isVisibleTo(dialog)
    qtbot.mouseClick(dialog.servers.tokens_button, Qt.MouseButton.LeftButton)
    assert asked == [service.settings.active_profile]
    qtbot.mouseClick(dialog.servers.add_button, Qt.MouseButton.LeftButton)  # new, not saved yet
    assert not dialog.servers.tokens_button.isEnabled()
    without = SettingsDialog(service, XdgAutostart(), demo=False, command=lambda: COMMAND)
    qtbot.addWidget(without)
    without.present()
    assert not without.servers.tokens_button.isVisibleTo(without)


# --- Quick chat: the global hotkey ------------------------------------------------------


def test_the_hotkey_is_checked_and_saved_only_when_it_can_be_one(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    dialog = make_dialog()
    dialog.tabs.setCurrentIndex(QUICK_CHAT)
    assert dialog.tabs.tabText(QUICK_CHAT) == "Quick chat"
    assert dialog.hotkey_edit.keySequence().toString() == "Ctrl+Alt+Space"  # the default
    assert dialog.hotkey_enabled.isChecked()

    # A key without a modifier is refused with a sentence, and nothing is saved.
    dialog.hotkey_edit.setFocus()
    qtbot.keyClick(dialog.hotkey_edit, Qt.Key.Key_K)
    assert dialog.hotkey_edit.keySequence().toString() == "K"
    dialog.tabs.setCurrentIndex(GENERAL)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert dialog.tabs.currentIndex() == QUICK_CHAT
    assert dialog.hotkey_error.isVisible()
    assert "K alone would take the key away from every program" in dialog.hotkey_error.text()
    assert not service.store.path.exists()

    # The default untouched stays "the default" (None) in the file.
    qtbot.mouseClick(dialog.hotkey_default_button, Qt.MouseButton.LeftButton)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert not dialog.hotkey_error.isVisible()
    assert saved(service)["quick_chat"]["hotkey"] is None  # type: ignore[index]

    # Typed for real: Ctrl+Shift+K, saved as Qt's portable text.
    dialog.hotkey_edit.setFocus()
    dialog.hotkey_edit.clear()
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(dialog.hotkey_edit, Qt.Key.Key_K, modifiers)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert not dialog.isVisible()
    assert service.settings.quick_chat.hotkey == "Ctrl+Shift+K"


def test_a_hotkey_that_is_off_may_be_empty(
    make_dialog: Callable[..., SettingsDialog], qtbot: QtBot, service: SettingsService
) -> None:
    dialog = make_dialog()
    dialog.tabs.setCurrentIndex(QUICK_CHAT)
    tick(qtbot, dialog.hotkey_enabled)
    assert not dialog.hotkey_enabled.isChecked() and not dialog.hotkey_edit.isEnabled()
    dialog.hotkey_edit.clear()
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert service.settings.quick_chat.hotkey_enabled is False
    assert service.settings.quick_chat.hotkey is None


@pytest.fixture
def hotkeys(qapp: object, service: SettingsService) -> Iterator[HotkeyManager]:
    backend = select_backend()
    manager = HotkeyManager(backend, service, platform="linux")
    yield manager
    manager.stop()


def make_with_hotkeys(
    qtbot: QtBot, service: SettingsService, hotkeys: HotkeyManager
) -> SettingsDialog:
    dialog = SettingsDialog(
        service, XdgAutostart(), demo=False, command=lambda: COMMAND, hotkeys=hotkeys
    )
    qtbot.addWidget(dialog)
    dialog.present()
    qtbot.waitExposed(dialog)
    dialog.tabs.setCurrentIndex(QUICK_CHAT)
    return dialog


@pytest.mark.ui
def test_the_state_line_follows_the_real_registration(
    qtbot: QtBot,
    service: SettingsService,
    config_home: Path,
    hotkeys: HotkeyManager,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    assert isinstance(hotkeys.backend, X11Backend)
    hotkeys.start()
    dialog = make_with_hotkeys(qtbot, service, hotkeys)
    assert dialog.hotkey_state.text().startswith("Ctrl+Alt+Space is registered")
    capture_on_screen(qtbot, dialog, tmp_path / "settings-quick-chat.png")
    publish_screenshot(tmp_path / "settings-quick-chat.png")

    # While the field has the focus, the hotkey is let go so that it can be typed there.
    dialog.hotkey_edit.setFocus()
    qtbot.waitUntil(lambda: hotkeys.backend.sequence is None)  # type: ignore[attr-defined]
    dialog.hotkey_edit.clear()
    modifiers = Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(dialog.hotkey_edit, Qt.Key.Key_F7, modifiers)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
    assert hotkeys.backend.sequence == "Alt+Shift+F7"  # type: ignore[attr-defined]
    assert dialog.hotkey_state.text().startswith("Alt+Shift+F7 is registered")

    tick(qtbot, dialog.hotkey_enabled)
    click(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert hotkeys.backend.sequence is None  # type: ignore[attr-defined]
    assert hotkeys.state.kind == "off"


@pytest.mark.ui
def test_a_hotkey_another_program_holds_is_shown_as_a_conflict(
    qtbot: QtBot,
    service: SettingsService,
    config_home: Path,
    hotkeys: HotkeyManager,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    with holding("Ctrl+Alt+Space"):
        hotkeys.start()
        dialog = make_with_hotkeys(qtbot, service, hotkeys)
        assert dialog.hotkey_state.text() == (
            "Another program already uses Ctrl+Alt+Space — choose another."
        )
        capture_on_screen(qtbot, dialog, tmp_path / "settings-quick-chat-conflict.png")
        publish_screenshot(tmp_path / "settings-quick-chat-conflict.png")

        dialog.hotkey_edit.setKeySequence(QKeySequence("Ctrl+Alt+J"))
        click(qtbot, dialog, QDialogButtonBox.StandardButton.Apply)
        assert dialog.hotkey_state.text().startswith("Ctrl+Alt+J is registered")


def test_when_the_tray_starts_start_the_server_and_apply_a_scene(
    qtbot: QtBot, service: SettingsService, config_home: Path
) -> None:
    names = ["Coding", "Chat"]
    dialog = SettingsDialog(
        service, XdgAutostart(), demo=False, command=lambda: COMMAND, scene_names=lambda: names
    )
    qtbot.addWidget(dialog)
    dialog.present()
    startup = dialog.startup
    assert not startup.scene.isEnabled()  # until "Apply the scene" is ticked
    startup.start_server.setChecked(True)
    startup.apply_scene.setChecked(True)
    startup.scene.setCurrentIndex(1)
    assert dialog.apply()
    assert saved(service)["on_start"] == {"start_server": True, "scene": "Chat"}

    # a chosen scene that was deleted since stays shown and marked, not dropped silently
    names.remove("Chat")
    dialog.load()
    assert startup.scene.currentText() == "Chat (no longer saved)"
    startup.apply_scene.setChecked(False)
    assert dialog.apply()
    assert saved(service)["on_start"] == {"start_server": True, "scene": None}
