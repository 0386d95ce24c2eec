"""The Settings window: server profiles, polling, notifications, start at login and the
quick-chat hotkey.

An ordinary dialog, shown with `open()` (never `exec()`: the app runs one qasync loop). It
edits a working copy; Apply/OK checks everything with the rules in `tray.core.profiles` and
the settings model, shows what to fix next to the field, and saves all of it through
`SettingsService.update` or nothing. Cancel discards the working copy.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QFont, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tray.core.backends import BackendKind
from tray.core.errors import InvalidServerUrl, TrayError
from tray.core.hotkeys import (
    InvalidHotkey,
    RegisterResult,
    default_hotkey,
    describe,
    parse_hotkey,
    registered_sentence,
)
from tray.core.profiles import (
    ProfileFields,
    check_polling,
    check_profile,
    display_name,
    lms_applies,
    lms_note,
    new_profile_name,
    normalize_base_url,
    removal_problem,
    setting_limits,
)
from tray.core.settings import NotificationSettings, PollingSettings, ServerProfile, Settings
from tray.core.status import PollPolicy
from tray.platform.autostart import Autostart, autostart_command
from tray.platform.hotkeys import HotkeyManager
from tray.services.settings_store import SettingsService
from tray.ui.status_text import window_title

__all__ = ["SettingsDialog"]

log = logging.getLogger(__name__)

_ERROR_COLOUR = "#c62828"
_KIND_TEXT = {
    BackendKind.LMSTUDIO: "LM Studio",
    BackendKind.OPENAI: "OpenAI-compatible (Ollama, llama.cpp server, …)",
}


@dataclass
class _Row:
    """One profile in the list, as the form holds it (possibly not valid yet)."""

    existing: ServerProfile | None
    name: str
    base_url: str
    kind: BackendKind
    use_lms: bool
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, profile: ServerProfile) -> _Row:
        return cls(profile, profile.name, profile.base_url or "", profile.kind, profile.use_lms)

    @property
    def fields(self) -> ProfileFields:
        return ProfileFields(
            name=self.name, base_url=self.base_url, kind=self.kind, use_lms=self.use_lms
        )


def _message(*, error: bool, wrap: bool = True) -> QLabel:
    """A line under a field: a red error (hidden while empty) or a grey explanation."""
    label = QLabel()
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if error:
        label.setStyleSheet(f"color: {_ERROR_COLOUR};")
        label.setVisible(False)
    else:
        # Secondary text: the text colour blended towards the background, readable on light
        # and dark themes alike (the "disabled" colour is too faint for sentences).
        palette = label.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        back = palette.color(QPalette.ColorRole.Window)
        palette.setColor(
            QPalette.ColorRole.WindowText,
            QColor(
                round(0.62 * text.red() + 0.38 * back.red()),
                round(0.62 * text.green() + 0.38 * back.green()),
                round(0.62 * text.blue() + 0.38 * back.blue()),
            ),
        )
        label.setPalette(palette)
    return label


def _show_error(label: QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


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
    ) -> None:
        """`command` gives the argv start-at-login runs (the installed tray by default);
        `open_tokens(profile_id)` opens the API tokens dialog for a saved server;
        `hotkeys` registers the quick-chat hotkey and tells how that went."""
        super().__init__(parent)
        self._hotkeys = hotkeys
        self._open_tokens = open_tokens
        self._settings = settings
        self._autostart = autostart
        self._command = command
        self._rows: list[_Row] = []
        self._active: _Row | None = None
        self._active_changed = False
        self._known_ids: set[str] = set()
        self._filling = False

        self.setWindowTitle(window_title("Settings", demo=demo))
        self.setObjectName("settings-dialog")
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(False)
        self.tabs.addTab(self._servers_tab(), "Servers")
        self.tabs.addTab(self._polling_tab(), "Polling")
        self.tabs.addTab(self._notifications_tab(), "Notifications")
        self.tabs.addTab(self._general_tab(), "General")
        self.quick_chat_tab = self.tabs.addTab(self._quick_chat_tab(), "Quick chat")

        self.save_error = _message(error=True)
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
        self._rows = [_Row.of(p) for p in current.profiles]
        self._known_ids |= {p.id for p in current.profiles}
        self._active = next(
            r for r in self._rows if r.existing and r.existing.id == current.active_profile
        )
        self._active_changed = False
        self._fill_profile_list(select=0)

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

        self.autostart_box.setChecked(self._autostart.is_enabled())
        self.autostart_where.setText(self._autostart.describe())
        self._autostart_toggled(self.autostart_box.isChecked())
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
        profiles = self._checked_profiles()
        if profiles is None:
            return False
        polling_errors = check_polling(
            self.interactive_box.value(), self.idle_box.value(), self.down_box.value()
        )
        if polling_errors:
            for name, label in self._polling_errors.items():
                _show_error(label, polling_errors.get(name))
            self.tabs.setCurrentIndex(1)
            return False

        hotkey_ok, hotkey = self._checked_hotkey()
        if not hotkey_ok:
            return False

        active_id = self._active_id(profiles)
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
            s.autostart = wanted_autostart
            s.quick_chat.hotkey_enabled = self.hotkey_enabled.isChecked()
            if hotkey is not None:
                s.quick_chat.hotkey = hotkey

        try:
            self._settings.update(change)
        except (TrayError, ValidationError) as exc:
            if isinstance(exc, ValidationError):
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                text = f"Not saved: {where} — {first['msg']}."
            else:
                text = exc.message
            _show_error(self.save_error, text)
            # Nothing half-saved: put start-at-login back as it was.
            if wanted_autostart != autostart_was:
                try:
                    self._set_autostart_raw(autostart_was)
                except TrayError:
                    log.warning("could not put start-at-login back", exc_info=True)
            return False
        selected = self.profile_list.currentRow()
        self.load()
        self._select(selected)
        return True

    def _checked_profiles(self) -> list[ServerProfile] | None:
        """The profiles to save, or None after showing what to fix."""
        self._store_current()
        taken = set(self._known_ids)
        profiles: list[ServerProfile] = []
        first_bad: int | None = None
        for i, row in enumerate(self._rows):
            others = [r.name for r in self._rows if r is not row]
            check = check_profile(
                row.fields, other_names=others, taken_ids=sorted(taken), existing=row.existing
            )
            row.errors = dict(check.errors)
            if check.profile is None:
                first_bad = i if first_bad is None else first_bad
                continue
            taken.add(check.profile.id)
            profiles.append(check.profile)
        if first_bad is not None:
            self.tabs.setCurrentIndex(0)
            self._select(first_bad)
            return None
        return profiles

    def _active_id(self, profiles: list[ServerProfile]) -> str:
        # The menu may have switched servers while this window was open; unless the user
        # chose one here, keep that choice.
        current = self._settings.settings.active_profile
        if not self._active_changed and any(p.id == current for p in profiles):
            return current
        assert self._active is not None
        return profiles[self._rows.index(self._active)].id

    def _set_autostart(self, wanted: bool, was: bool) -> bool:
        if wanted == was:
            return True
        try:
            self._set_autostart_raw(wanted)
        except TrayError as exc:
            _show_error(self.autostart_error, exc.message)
            self.tabs.setCurrentIndex(3)
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
            self.name_error,
            self.url_error,
            *self._polling_errors.values(),
        ):
            _show_error(label, None)
        for row in self._rows:
            row.errors = {}

    # --- Servers tab ----------------------------------------------------------------------

    def _servers_tab(self) -> QWidget:
        self.profile_list = QListWidget()
        self.profile_list.setObjectName("profile-list")
        self.profile_list.setMinimumWidth(210)
        self.profile_list.currentRowChanged.connect(self._row_selected)
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.activate_button = QPushButton("Use this server")
        self.add_button.clicked.connect(self._add_profile)
        self.remove_button.clicked.connect(self._remove_profile)
        self.activate_button.clicked.connect(self._make_active)
        self.tokens_button = QPushButton("API token…")
        self.tokens_button.setVisible(self._open_tokens is not None)
        self.tokens_button.clicked.connect(self._tokens_for_current)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(self.profile_list, 1)
        left.addLayout(buttons)
        left.addWidget(self.activate_button)
        left.addWidget(self.tokens_button)

        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("profile-name")
        self.name_edit.setMaxLength(80)
        self.name_error = _message(error=True)
        self.url_edit = QLineEdit()
        self.url_edit.setObjectName("profile-url")
        self.url_edit.setPlaceholderText("Empty: this machine's LM Studio")
        self.url_error = _message(error=True)
        self.url_hint = _message(error=False)
        self.url_hint.setText(
            "Leave empty for the LM Studio on this machine (its address comes from LM "
            "Studio's own server settings). Otherwise e.g. http://192.168.1.20:1234 or "
            "http://localhost:11434 for Ollama."
        )
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("profile-kind")
        for kind, text in _KIND_TEXT.items():
            self.kind_combo.addItem(text, kind)
        self.use_lms_box = QCheckBox("Control this server with LM Studio's lms command")
        self.use_lms_box.setObjectName("profile-use-lms")
        self.lms_hint = _message(error=False)

        self.name_edit.textEdited.connect(self._edited)
        self.url_edit.textEdited.connect(self._edited)
        self.name_edit.editingFinished.connect(self._check_current)
        self.url_edit.editingFinished.connect(self._check_current)
        self.kind_combo.currentIndexChanged.connect(self._edited)
        self.use_lms_box.toggled.connect(self._edited)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(12)
        form.setHorizontalSpacing(12)
        form.addRow("Name:", _stack(self.name_edit, self.name_error))
        form.addRow("Address:", _stack(self.url_edit, self.url_error, self.url_hint))
        form.addRow("Kind:", self.kind_combo)
        form.addRow("", _stack(self.use_lms_box, self.lms_hint))
        self.profile_box = QGroupBox("Server details")
        box_layout = QVBoxLayout(self.profile_box)
        box_layout.addLayout(form)
        box_layout.addStretch(1)

        tab = QWidget()
        layout = QHBoxLayout(tab)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(14)
        layout.addLayout(left, 2)
        layout.addWidget(self.profile_box, 3)
        return tab

    def _fill_profile_list(self, *, select: int) -> None:
        self._filling = True
        try:
            self.profile_list.clear()
            for row in self._rows:
                self.profile_list.addItem(QListWidgetItem())
                self._refresh_item(row)
        finally:
            self._filling = False
        self._select(select)

    def _select(self, index: int) -> None:
        index = max(0, min(index, len(self._rows) - 1))
        if self.profile_list.currentRow() == index:
            self._row_selected(index)
        else:
            self.profile_list.setCurrentRow(index)

    def _refresh_item(self, row: _Row) -> None:
        item = self.profile_list.item(self._rows.index(row))
        text = display_name(row.name, row.kind)
        active = row is self._active
        item.setText(f"{text} — in use" if active else text)
        font = QFont(self.profile_list.font())
        font.setBold(active)
        item.setFont(font)
        item.setToolTip(row.base_url or "This machine's LM Studio")

    def _current(self) -> _Row | None:
        index = self.profile_list.currentRow()
        return self._rows[index] if 0 <= index < len(self._rows) else None

    def _row_selected(self, index: int) -> None:
        if self._filling or not 0 <= index < len(self._rows):
            return
        row = self._rows[index]
        self._filling = True
        try:
            self.name_edit.setText(row.name)
            self.url_edit.setText(row.base_url)
            self.kind_combo.setCurrentIndex(self.kind_combo.findData(row.kind))
            _show_error(self.name_error, row.errors.get("name"))
            _show_error(self.url_error, row.errors.get("base_url"))
        finally:
            self._filling = False
        self._update_lms_box(row)
        self._update_buttons()

    def _store_current(self) -> None:
        row = self._current()
        if row is None:
            return
        row.name = self.name_edit.text()
        row.base_url = self.url_edit.text()
        row.kind = BackendKind(self.kind_combo.currentData())
        if self.use_lms_box.isEnabled():
            # A disabled box shows "no" because lms cannot apply; keep the user's wish.
            row.use_lms = self.use_lms_box.isChecked()

    def _edited(self, *_: object) -> None:
        if self._filling:
            return
        row = self._current()
        if row is None:
            return
        self._store_current()
        self._refresh_item(row)
        self._update_lms_box(row)
        if row.errors:
            # Once an error shows, it goes away as soon as the field is right.
            self._check_current()

    def _check_current(self) -> None:
        row = self._current()
        if row is None or self._filling:
            return
        self._store_current()
        others = [r.name for r in self._rows if r is not row]
        row.errors = dict(check_profile(row.fields, other_names=others).errors)
        _show_error(self.name_error, row.errors.get("name"))
        _show_error(self.url_error, row.errors.get("base_url"))

    def _update_lms_box(self, row: _Row) -> None:
        try:
            url = normalize_base_url(row.base_url)
        except InvalidServerUrl:
            url = row.base_url  # not valid yet: judge by what is typed so far
        applies = lms_applies(row.kind, url)
        self._filling = True
        try:
            self.use_lms_box.setEnabled(applies)
            self.use_lms_box.setChecked(applies and row.use_lms)
        finally:
            self._filling = False
        self.lms_hint.setText(lms_note(row.kind, url))

    def _update_buttons(self) -> None:
        row = self._current()
        problem = removal_problem(len(self._rows) - 1)
        self.remove_button.setEnabled(problem is None)
        self.remove_button.setToolTip(problem or "Remove this server from the list")
        in_use = row is self._active
        self.activate_button.setEnabled(not in_use)
        self.activate_button.setText("In use" if in_use else "Use this server")
        saved = row is not None and row.existing is not None
        self.tokens_button.setEnabled(saved)
        self.tokens_button.setToolTip(
            "Store, test or remove this server's API token"
            if saved
            else "Apply first: a new server gets its token once it is saved"
        )

    def _tokens_for_current(self) -> None:
        row = self._current()
        if self._open_tokens is not None and row is not None and row.existing is not None:
            self._open_tokens(row.existing.id)

    def _add_profile(self) -> None:
        self._store_current()
        row = _Row(
            existing=None,
            name=new_profile_name([r.name for r in self._rows]),
            base_url="",
            kind=BackendKind.LMSTUDIO,
            use_lms=True,
        )
        self._rows.append(row)
        self.profile_list.addItem(QListWidgetItem())
        self._refresh_item(row)
        self._select(len(self._rows) - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _remove_profile(self) -> None:
        row = self._current()
        if row is None or len(self._rows) <= 1:
            return
        index = self._rows.index(row)
        self._rows.remove(row)
        if row is self._active:
            self._active = self._rows[0]
            self._active_changed = True
        self._fill_profile_list(select=min(index, len(self._rows) - 1))

    def _make_active(self) -> None:
        row = self._current()
        if row is None:
            return
        previous, self._active = self._active, row
        self._active_changed = True
        for r in (previous, row):
            if r is not None and r in self._rows:
                self._refresh_item(r)
        self._update_buttons()

    # --- Polling tab ----------------------------------------------------------------------

    def _polling_tab(self) -> QWidget:
        self.interactive_box = _seconds_box("interactive_seconds")
        self.interactive_box.setObjectName("poll-interactive")
        self.idle_box = _seconds_box("idle_seconds")
        self.idle_box.setObjectName("poll-idle")
        self.down_box = _seconds_box("down_max_seconds")
        self.down_box.setObjectName("poll-down-max")
        self._polling_errors = {
            "interactive_seconds": _message(error=True),
            "idle_seconds": _message(error=True),
            "down_max_seconds": _message(error=True),
        }
        intro = _message(error=False)
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
        down_note = _message(error=False)
        down_note.setText(
            f"While the server cannot be reached the tray waits {PollPolicy().down_initial:g} s, "
            "then twice as long each time, up to this limit. Opening the menu looks again "
            "at once."
        )
        notes = {"down_max_seconds": [down_note]}
        for label, box, name in rows:
            low, high = setting_limits(PollingSettings, name)
            field = _with_note(box, f"{low:g} – {high:g} s")
            form.addRow(label, _stack(field, self._polling_errors[name], *notes.get(name, [])))
        return _page(intro, form)

    # --- Notifications tab ----------------------------------------------------------------

    def _notifications_tab(self) -> QWidget:
        self.notify_stopped = QCheckBox("The server stopped, and not from this tray")
        self.notify_evicted = QCheckBox("LM Studio unloaded a model (TTL or auto-evict)")
        self.notify_vram = QCheckBox("GPU memory use goes above")
        self.notify_exposed = QCheckBox(
            "The server can be reached from the network without authentication"
        )
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

        intro = _message(error=False)
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
        return _page(intro, group)

    # --- General tab ------------------------------------------------------------------------

    def _general_tab(self) -> QWidget:
        self.autostart_box = QCheckBox("Start LM Studio Tray when I log in")
        self.autostart_box.setObjectName("autostart")
        self.autostart_where = _message(error=False)
        self.autostart_command = _message(error=False)
        self.autostart_error = _message(error=True)
        self.settings_file = _message(error=False)
        self.autostart_box.toggled.connect(self._autostart_toggled)

        group = QGroupBox("Start at login")
        column = QVBoxLayout(group)
        column.setSpacing(6)
        column.addWidget(self.autostart_box)
        column.addWidget(self.autostart_where)
        column.addWidget(self.autostart_command)
        column.addWidget(self.autostart_error)
        return _page(group, self.settings_file)

    def _autostart_toggled(self, checked: bool) -> None:
        _show_error(self.autostart_error, None)
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
        self.hotkey_error = _message(error=True)
        self.hotkey_state = QLabel()
        self.hotkey_state.setObjectName("hotkey-state")
        self.hotkey_state.setWordWrap(True)
        self.hotkey_state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hotkey_state.setVisible(self._hotkeys is not None)
        self.hotkey_hint = _message(error=False)
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
        form.addRow("Hotkey:", _stack(_layout_widget(field), self.hotkey_error, self.hotkey_hint))

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
        self.hotkey_state.setStyleSheet(f"color: {_ERROR_COLOUR};" if trouble else "")

    def _checked_hotkey(self) -> tuple[bool, str | None]:
        """(True, the sequence to save — None keeps the saved one), or (False, None) after
        showing what to fix. A hotkey that is off may be left empty."""
        text = self.hotkey_edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
        if not text and not self.hotkey_enabled.isChecked():
            return True, None
        try:
            portable = parse_hotkey(text).portable
        except InvalidHotkey as exc:
            _show_error(self.hotkey_error, str(exc))
            self.tabs.setCurrentIndex(self.quick_chat_tab)
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


def _stack(*widgets: QWidget) -> QWidget:
    """A field with its error and hint lines under it (hidden lines take no room)."""
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(4)
    for widget in widgets:
        column.addWidget(widget)
    return holder


def _with_note(widget: QWidget, note: str) -> QWidget:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(10)
    row.addWidget(widget)
    hint = _message(error=False, wrap=False)
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
