"""The Settings window: server profiles (their page is `tray.ui.server_profiles_page`),
polling, notifications, start at login and the quick-chat hotkey.

An ordinary dialog, shown with `open()` (never `exec()`: the app runs one qasync loop). It
edits a working copy; leaving a field checks it, and Apply/OK checks everything with the
rules in `tray.core.profiles` and the settings model, shows what to fix next to the field,
puts the focus in the first field to fix, and saves all of it through
`SettingsService.update` or nothing. Cancel discards the working copy.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Callable

from pydantic import ValidationError
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tray.core.errors import TrayError
from tray.core.hotkeys import (
    InvalidHotkey,
    RegisterResult,
    default_hotkey,
    describe,
    parse_hotkey,
    registered_sentence,
)
from tray.core.profiles import check_polling, setting_limits
from tray.core.settings import NotificationSettings, PollingSettings, Settings
from tray.core.status import PollPolicy
from tray.platform.autostart import Autostart, autostart_command
from tray.platform.hotkeys import HotkeyManager
from tray.services.settings_store import SettingsService
from tray.ui.server_profiles_page import ServerProfilesPage
from tray.ui.settings_parts import ERROR_COLOUR, message_line, show_error, stacked
from tray.ui.startup_group import StartupGroup
from tray.ui.status_text import window_title

__all__ = ["SettingsDialog"]

log = logging.getLogger(__name__)


def _seconds_box(name: str) -> QDoubleSpinBox:
    low, high = setting_limits(PollingSettings, name)
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(1)
    box.setSingleStep(0.5 if high <= 60 else 5.0)
    box.setSuffix(" s")
    box.setAlignment(Qt.AlignmentFlag.AlignRight)
    box.setMinimumWidth(110)
    return box


class SettingsDialog(QDialog):
    """Create once, call `present()` to show it (again) with the current settings."""

    def __init__(
        self,
        settings: SettingsService,
        autostart: Autostart,
        *,
        demo: bool,
        parent: QWidget | None = None,
        command: Callable[[], list[str]] = autostart_command,
        open_tokens: Callable[[str], None] | None = None,
        hotkeys: HotkeyManager | None = None,
        scene_names: Callable[[], list[str]] = list,
    ) -> None:
        """`command` gives the argv start-at-login runs (the installed tray by default);
        `open_tokens(profile_id)` opens the API tokens dialog for a saved server;
        `hotkeys` registers the quick-chat hotkey and tells how that went; `scene_names()`
        are the saved scenes, for "When the tray starts"."""
        super().__init__(parent)
        self._hotkeys = hotkeys
        self._open_tokens = open_tokens
        self._settings = settings
        self._autostart = autostart
        self._command = command
        self._scene_names = scene_names

        self.setWindowTitle(window_title("Settings", demo=demo))
        self.setObjectName("settings-dialog")
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(False)
        self.servers = ServerProfilesPage(
            lambda: self._settings.settings.active_profile, open_tokens=open_tokens
        )
        self.tabs.addTab(self.servers, "Servers")
        self.tabs.addTab(self._polling_tab(), "Polling")
        self.tabs.addTab(self._notifications_tab(), "Notifications")
        self.tabs.addTab(self._general_tab(), "General")
        self.quick_chat_tab = self.tabs.addTab(self._quick_chat_tab(), "Quick chat")

        self.save_error = message_line(error=True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Apply
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.clicked.connect(self._button_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 12)
        layout.setSpacing(10)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.save_error)
        layout.addWidget(self.buttons)
        self.resize(700, 440)
        self.load()

    # --- showing ------------------------------------------------------------------------

    def present(self) -> None:
        """Show the window with the saved settings; if it is already up, bring it forward."""
        if self.isVisible():
            self.raise_()
            self.activateWindow()
            return
        self.load()
        self.open()

    def load(self) -> None:
        """Fill every field from the saved settings, dropping unsaved edits."""
        current = self._settings.settings
        self.servers.load(current)

        polling = current.polling
        self.interactive_box.setValue(polling.interactive_seconds)
        self.idle_box.setValue(polling.idle_seconds)
        self.down_box.setValue(polling.down_max_seconds)

        notes = current.notifications
        self.notify_stopped.setChecked(notes.server_stopped)
        self.notify_evicted.setChecked(notes.model_evicted)
        self.notify_vram.setChecked(notes.vram_high)
        self.vram_threshold.setValue(notes.vram_threshold_percent)
        self.vram_threshold.setEnabled(notes.vram_high)
        self.notify_exposed.setChecked(notes.exposed)
        self.notify_context_full.setChecked(notes.context_full)
        self.notify_failed.setChecked(notes.prediction_failed)

        self.autostart_box.setChecked(self._autostart.is_enabled())
        self.autostart_where.setText(self._autostart.describe())
        self._autostart_toggled(self.autostart_box.isChecked())
        self.startup.load(current.on_start, self._scene_names())
        self.settings_file.setText(f"Settings file: {self._settings.store.path}")
        self._load_hotkey(current)
        self._clear_errors()

    # --- saving -------------------------------------------------------------------------

    def accept(self) -> None:
        if self.apply():
            super().accept()

    def apply(self) -> bool:
        """Check everything, then save all of it or nothing. True when saved."""
        self._clear_errors()
        profiles = self.servers.checked_profiles()
        if profiles is None:
            self.tabs.setCurrentIndex(0)
            self.servers.focus_first_error()
            return False
        polling_errors = check_polling(
            self.interactive_box.value(), self.idle_box.value(), self.down_box.value()
        )
        if polling_errors:
            self._show_polling_errors(polling_errors)
            self.tabs.setCurrentIndex(1)
            first = next(n for n in self._polling_errors if n in polling_errors)
            self._polling_boxes[first].setFocus()
            return False

        hotkey_ok, hotkey = self._checked_hotkey()
        if not hotkey_ok:
            return False

        active_id = self.servers.active_id(profiles)
        wanted_autostart = self.autostart_box.isChecked()
        autostart_was = self._autostart.is_enabled()
        if not self._set_autostart(wanted_autostart, autostart_was):
            return False

        def change(s: Settings) -> None:
            s.profiles = profiles
            s.active_profile = active_id
            s.polling.interactive_seconds = self.interactive_box.value()
            s.polling.idle_seconds = self.idle_box.value()
            s.polling.down_max_seconds = self.down_box.value()
            s.notifications.server_stopped = self.notify_stopped.isChecked()
            s.notifications.model_evicted = self.notify_evicted.isChecked()
            s.notifications.vram_high = self.notify_vram.isChecked()
            s.notifications.vram_threshold_percent = self.vram_threshold.value()
            s.notifications.exposed = self.notify_exposed.isChecked()
            s.notifications.context_full = self.notify_context_full.isChecked()
            s.notifications.prediction_failed = self.notify_failed.isChecked()
            s.autostart = wanted_autostart
            self.startup.apply_to(s)
            s.quick_chat.hotkey_enabled = self.hotkey_enabled.isChecked()
            if hotkey is not None:
                s.quick_chat.hotkey = hotkey

        try:
            self._settings.update(change)
        except (TrayError, ValidationError) as exc:
            if isinstance(exc, ValidationError):
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error["loc"])
                text = f"Not saved: {where} — {error['msg']}."
            else:
                text = exc.message
            show_error(self.save_error, text)
            # Nothing half-saved: put start-at-login back as it was.
            if wanted_autostart != autostart_was:
                try:
                    self._set_autostart_raw(autostart_was)
                except TrayError:
                    log.warning("could not put start-at-login back", exc_info=True)
            return False
        selected = self.servers.selected_index()
        self.load()
        self.servers.select(selected)
        return True

    def _set_autostart(self, wanted: bool, was: bool) -> bool:
        if wanted == was:
            return True
        try:
            self._set_autostart_raw(wanted)
        except TrayError as exc:
            show_error(self.autostart_error, exc.message)
            self.tabs.setCurrentIndex(3)
            self.autostart_box.setFocus()
            return False
        return True

    def _set_autostart_raw(self, enabled: bool) -> None:
        if enabled:
            self._autostart.enable(self._command())
        else:
            self._autostart.disable()

    def _button_clicked(self, button: QAbstractButton) -> None:
        if self.buttons.buttonRole(button) is QDialogButtonBox.ButtonRole.ApplyRole:
            self.apply()

    def _clear_errors(self) -> None:
        for label in (
            self.save_error,
            self.autostart_error,
            self.hotkey_error,
            *self._polling_errors.values(),
        ):
            show_error(label, None)
        self.servers.clear_errors()

    # --- Polling tab ----------------------------------------------------------------------

    def _polling_tab(self) -> QWidget:
        self.interactive_box = _seconds_box("interactive_seconds")
        self.interactive_box.setObjectName("poll-interactive")
        self.idle_box = _seconds_box("idle_seconds")
        self.idle_box.setObjectName("poll-idle")
        self.down_box = _seconds_box("down_max_seconds")
        self.down_box.setObjectName("poll-down-max")
        self._polling_errors = {
            "interactive_seconds": message_line(error=True),
            "idle_seconds": message_line(error=True),
            "down_max_seconds": message_line(error=True),
        }
        self._polling_boxes = {
            "interactive_seconds": self.interactive_box,
            "idle_seconds": self.idle_box,
            "down_max_seconds": self.down_box,
        }
        for box in self._polling_boxes.values():
            # Leaving a box says at once when the three delays do not fit together; once
            # shown, the message goes as soon as they do.
            box.editingFinished.connect(self._check_polling)
            box.valueChanged.connect(self._recheck_polling)
        intro = message_line(error=False)
        intro.setText(
            "Each check is one small HTTP request: it never runs lms and never wakes LM Studio."
        )
        form = QFormLayout()
        form.setVerticalSpacing(10)
        form.setHorizontalSpacing(12)
        rows = (
            ("While the menu or a window is open:", self.interactive_box, "interactive_seconds"),
            ("When idle:", self.idle_box, "idle_seconds"),
            ("Longest wait while the server is down:", self.down_box, "down_max_seconds"),
        )
        down_note = message_line(error=False)
        down_note.setText(
            f"While the server cannot be reached the tray waits {PollPolicy().down_initial:g} s, "
            "then twice as long each time, up to this limit. Opening the menu looks again "
            "at once."
        )
        notes = {"down_max_seconds": [down_note]}
        for label, box, name in rows:
            low, high = setting_limits(PollingSettings, name)
            field = _with_note(box, f"{low:g} – {high:g} s")
            form.addRow(label, stacked(field, self._polling_errors[name], *notes.get(name, [])))
        return _page(intro, form)

    def _show_polling_errors(self, errors: dict[str, str]) -> None:
        for name, label in self._polling_errors.items():
            show_error(label, errors.get(name))

    def _check_polling(self) -> None:
        values = (self.interactive_box.value(), self.idle_box.value(), self.down_box.value())
        self._show_polling_errors(check_polling(*values))

    def _recheck_polling(self, *_: object) -> None:
        if any(not label.isHidden() for label in self._polling_errors.values()):
            self._check_polling()

    # --- Notifications tab ----------------------------------------------------------------

    def _notifications_tab(self) -> QWidget:
        self.notify_stopped = QCheckBox("The server stopped, and not from this tray")
        self.notify_evicted = QCheckBox("LM Studio unloaded a model (TTL or auto-evict)")
        self.notify_vram = QCheckBox("GPU memory use goes above")
        self.notify_exposed = QCheckBox(
            "The server can be reached from the network without authentication"
        )
        self.notify_context_full = QCheckBox(
            "A model ran out of context (seen while Activity is open or live)"
        )
        self.notify_failed = QCheckBox("A prediction failed (seen while Activity is open or live)")
        low, high = setting_limits(NotificationSettings, "vram_threshold_percent")
        self.vram_threshold = QSpinBox()
        self.vram_threshold.setObjectName("vram-threshold")
        self.vram_threshold.setRange(int(low), int(high))
        self.vram_threshold.setSuffix(" %")
        self.vram_threshold.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.vram_threshold.setMinimumWidth(80)
        self.notify_vram.toggled.connect(self.vram_threshold.setEnabled)
        vram = QHBoxLayout()
        vram.setSpacing(8)
        vram.addWidget(self.notify_vram)
        vram.addWidget(self.vram_threshold)
        vram.addStretch(1)

        intro = message_line(error=False)
        intro.setText(
            "Notifications are for what you did not do yourself. Each event is announced "
            "once, never repeated while it lasts."
        )
        group = QGroupBox("Tell me when")
        column = QVBoxLayout(group)
        column.setSpacing(8)
        column.addWidget(self.notify_stopped)
        column.addWidget(self.notify_evicted)
        column.addLayout(vram)
        column.addWidget(self.notify_exposed)
        column.addWidget(self.notify_context_full)
        column.addWidget(self.notify_failed)
        return _page(intro, group)

    # --- General tab ------------------------------------------------------------------------

    def _general_tab(self) -> QWidget:
        self.autostart_box = QCheckBox("Start LM Studio Tray when I log in")
        self.autostart_box.setObjectName("autostart")
        self.autostart_where = message_line(error=False)
        self.autostart_command = message_line(error=False)
        self.autostart_error = message_line(error=True)
        self.settings_file = message_line(error=False)
        self.autostart_box.toggled.connect(self._autostart_toggled)

        group = QGroupBox("Start at login")
        column = QVBoxLayout(group)
        column.setSpacing(6)
        column.addWidget(self.autostart_box)
        column.addWidget(self.autostart_where)
        column.addWidget(self.autostart_command)
        column.addWidget(self.autostart_error)
        self.startup = StartupGroup()
        return _page(group, self.startup, self.settings_file)

    def _autostart_toggled(self, checked: bool) -> None:
        show_error(self.autostart_error, None)
        if checked:
            try:
                runs = shlex.join(self._command())
            except Exception:  # only a preview; applying reports real problems
                runs = ""
            self.autostart_command.setText(f"Runs: {runs}" if runs else "")
        self.autostart_command.setVisible(checked)

    # --- Quick chat tab ---------------------------------------------------------------------

    def _quick_chat_tab(self) -> QWidget:
        default = self._default_hotkey()
        self.hotkey_enabled = QCheckBox("Open quick chat with a global hotkey")
        self.hotkey_enabled.setObjectName("hotkey-enabled")
        self.hotkey_edit = QKeySequenceEdit()
        self.hotkey_edit.setObjectName("hotkey")
        self.hotkey_edit.setMaximumSequenceLength(1)
        self.hotkey_edit.setClearButtonEnabled(True)
        self.hotkey_edit.setMinimumWidth(220)
        # While the field has the focus the current hotkey must reach it, not open the chat.
        self.hotkey_edit.installEventFilter(self)
        self.hotkey_default_button = QPushButton(f"Use {self._describe(default)}")
        self.hotkey_default_button.setObjectName("hotkey-default")
        self.hotkey_default_button.clicked.connect(
            lambda: self.hotkey_edit.setKeySequence(QKeySequence(default))
        )
        self.hotkey_error = message_line(error=True)
        self.hotkey_state = QLabel()
        self.hotkey_state.setObjectName("hotkey-state")
        self.hotkey_state.setWordWrap(True)
        self.hotkey_state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hotkey_state.setVisible(self._hotkeys is not None)
        self.hotkey_hint = message_line(error=False)
        self.hotkey_hint.setText(
            "Press the combination in the field. It works in every program; "
            "Quick chat in the tray menu opens the same window."
        )
        self.hotkey_enabled.toggled.connect(self._hotkey_toggled)
        if self._hotkeys is not None:
            self._hotkeys.state_changed.connect(self._show_hotkey_state)

        field = QHBoxLayout()
        field.setSpacing(8)
        field.addWidget(self.hotkey_edit)
        field.addWidget(self.hotkey_default_button)
        field.addStretch(1)
        form = QFormLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(8)
        form.addRow("Hotkey:", stacked(_layout_widget(field), self.hotkey_error, self.hotkey_hint))

        group = QGroupBox("Hotkey")
        column = QVBoxLayout(group)
        column.setSpacing(10)
        column.addWidget(self.hotkey_enabled)
        column.addLayout(form)
        column.addWidget(self.hotkey_state)
        return _page(group)

    def _default_hotkey(self) -> str:
        if self._hotkeys is not None:
            return self._hotkeys.default
        return default_hotkey(sys.platform)

    def _describe(self, sequence: str) -> str:
        return describe(sequence, sys.platform)

    def _load_hotkey(self, current: Settings) -> None:
        quick = current.quick_chat
        self.hotkey_enabled.setChecked(quick.hotkey_enabled)
        self.hotkey_edit.setKeySequence(QKeySequence(quick.hotkey or self._default_hotkey()))
        self._hotkey_toggled(quick.hotkey_enabled)
        if self._hotkeys is not None:
            self._show_hotkey_state(self._hotkeys.state)

    def _hotkey_toggled(self, checked: bool) -> None:
        self.hotkey_edit.setEnabled(checked)
        self.hotkey_default_button.setEnabled(checked)

    def _show_hotkey_state(self, result: object) -> None:
        if not isinstance(result, RegisterResult):
            return
        text = registered_sentence(self._describe(result.sequence)) if result.ok else result.message
        self.hotkey_state.setText(text)
        trouble = result.kind in {"conflict", "invalid", "unavailable"}
        self.hotkey_state.setStyleSheet(f"color: {ERROR_COLOUR};" if trouble else "")

    def _checked_hotkey(self) -> tuple[bool, str | None]:
        """(True, the sequence to save — None keeps the saved one), or (False, None) after
        showing what to fix. A hotkey that is off may be left empty."""
        text = self.hotkey_edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
        if not text and not self.hotkey_enabled.isChecked():
            return True, None
        try:
            portable = parse_hotkey(text).portable
        except InvalidHotkey as exc:
            show_error(self.hotkey_error, str(exc))
            self.tabs.setCurrentIndex(self.quick_chat_tab)
            self.hotkey_edit.setFocus()
            return False, None
        saved = self._settings.settings.quick_chat.hotkey
        if saved is None and portable == self._default_hotkey():
            return True, None  # still "the default": a new default on another OS applies
        return True, portable

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.hotkey_edit and self._hotkeys is not None:
            if event.type() == QEvent.Type.FocusIn:
                self._hotkeys.pause()
            elif event.type() == QEvent.Type.FocusOut:
                self._hotkeys.resume()
        return super().eventFilter(watched, event)

    def done(self, result: int) -> None:
        if self._hotkeys is not None:
            self._hotkeys.resume()
        super().done(result)


def _layout_widget(layout: QHBoxLayout) -> QWidget:
    holder = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    holder.setLayout(layout)
    return holder


def _with_note(widget: QWidget, note: str) -> QWidget:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(10)
    row.addWidget(widget)
    hint = message_line(error=False, wrap=False)
    hint.setText(note)
    row.addWidget(hint)
    row.addStretch(1)
    return holder


def _page(*parts: QWidget | QFormLayout) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(16, 16, 16, 16)
    layout.setSpacing(14)
    for part in parts:
        if isinstance(part, QWidget):
            layout.addWidget(part)
        else:
            layout.addLayout(part)
    layout.addStretch(1)
    return page
