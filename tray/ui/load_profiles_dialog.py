"""The Load profiles dialog: the default load profile and per-model overrides, edited in one
form where every field may be "not set" (LM Studio decides, or the default applies).

The list shows the default first, then every model that has a profile or is downloaded.
Values are checked as they are typed (the pure `validate_profile`, which also holds a
model's context length to the longest the model takes, from the downloaded-model list);
Save writes through the store (atomic, re-read, recorded in the history) in a thread, never
on the Qt thread.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from tray.core.api import ModelInfo
from tray.core.errors import TrayError
from tray.core.load_profiles import (
    PROFILE_FIELDS,
    LoadProfile,
    describe_profile,
    effective,
    validate_profile,
)
from tray.services.load_profile_store import LoadProfileStore, ProfileEntry
from tray.ui.dialogs import ask_unsaved
from tray.ui.profile_rows import GPU_MODES, NEUTRAL, ON_OFF, ProfileRow, spin_box
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = ["DEFAULT_ITEM", "LoadProfilesDialog"]

log = logging.getLogger(__name__)

DEFAULT_ITEM = "Default (every model)"
_KEY_ROLE = Qt.ItemDataRole.UserRole + 1


class LoadProfilesDialog(QDialog):
    """Edit the default load profile and per-model overrides."""

    def __init__(
        self,
        store: LoadProfileStore,
        list_models: Callable[[], Awaitable[Sequence[ModelInfo]]],
        *,
        demo: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._list_models = list_models
        self._entries: dict[str | None, LoadProfile] = {}
        self._downloaded: list[str] = []
        self._max_context: dict[str, int] = {}  # model key -> longest context it takes
        self._current: str | None = None
        self._filling = False
        self._demo = demo
        self._clean: dict[str, Any] = {}  # the form as shown or last saved
        self._asking = False  # the Save · Discard · Cancel question is up
        self.busy = False
        self.setWindowTitle(window_title("Load profiles", demo=demo))
        self.setModal(False)
        self.resize(860, 560)

        splitter = QSplitter()
        splitter.addWidget(self._build_list())
        splitter.addWidget(self._build_profile_pane())
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([300, 560])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self._build_buttons())
        self._gpu_mode_changed()
        self._show_profile(None)

    def _build_list(self) -> QWidget:
        """The searchable list: the default first, then the models."""
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search models…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.list = QListWidget()
        self.list.currentItemChanged.connect(lambda *_: self._selected())
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.search)
        left_layout.addWidget(self.list)
        return left

    def _build_profile_pane(self) -> QWidget:
        """The chosen profile: heading, the fields, LM Studio's own default, the outcome."""
        self.heading = QLabel()
        bold = QFont(self.heading.font())
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.15)
        self.heading.setFont(bold)
        self.heading.setWordWrap(True)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        fields = self._build_fields()  # before the check box below: the order Tab follows
        self.write_defaults = QCheckBox("Also write LM Studio's own default for this model")
        self.write_defaults.setToolTip(
            "LM Studio then uses these settings for loads by any app (JIT loads, lms, its own "
            "window), and the tray can apply what `lms load` has no flag for. The file it "
            "replaces is kept in the history."
        )
        self.write_defaults.toggled.connect(lambda _: self._changed())
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.heading, self.explain, fields, self.write_defaults):
            right_layout.addWidget(widget)
        right_layout.addWidget(self.summary)
        right_layout.addStretch(1)
        right_layout.addWidget(self.status)
        return right

    def _build_editors(self) -> dict[str, QWidget]:
        """One editor per profile field (GPU offload: a mode and a share)."""
        self.context = spin_box(1, 10_000_000, step=1024)
        self.context.setSuffix(" tokens")
        self.gpu_mode = QComboBox()
        self.gpu_mode.addItems(list(GPU_MODES))
        self.gpu_mode.currentIndexChanged.connect(lambda *_: self._gpu_mode_changed())
        self.gpu_share = QDoubleSpinBox()
        self.gpu_share.setRange(0, 100)
        self.gpu_share.setDecimals(0)
        self.gpu_share.setSingleStep(5)
        self.gpu_share.setSuffix(" %")
        self.gpu_share.setValue(50)
        gpu = QWidget()
        gpu_layout = QHBoxLayout(gpu)
        gpu_layout.setContentsMargins(0, 0, 0, 0)
        gpu_layout.addWidget(self.gpu_mode, 1)
        gpu_layout.addWidget(self.gpu_share)
        self.flash = QComboBox()
        self.flash.addItems(list(ON_OFF))
        self.kv_on_gpu = QComboBox()
        self.kv_on_gpu.addItems(list(ON_OFF))
        self.eval_batch = spin_box(1, 1_000_000, step=256)
        self.experts = spin_box(1, 1024)
        self.parallel = spin_box(1, 256)
        self.ttl = spin_box(1, 30 * 24 * 3600, step=60)
        self.ttl.setSuffix(" s idle")
        self.identifier = QLineEdit()
        self.identifier.setPlaceholderText("e.g. my-coder")
        self.identifier.textChanged.connect(lambda *_: self._changed())
        spins = (self.context, self.gpu_share, self.eval_batch, self.experts)
        for spin in (*spins, self.parallel, self.ttl):
            spin.valueChanged.connect(lambda *_: self._changed())
        for combo in (self.flash, self.kv_on_gpu):
            combo.currentIndexChanged.connect(lambda *_: self._changed())
        return {
            "context_length": self.context,
            "gpu_offload": gpu,
            "flash_attention": self.flash,
            "offload_kv_cache_to_gpu": self.kv_on_gpu,
            "eval_batch_size": self.eval_batch,
            "num_experts": self.experts,
            "parallel": self.parallel,
            "ttl_seconds": self.ttl,
            "identifier": self.identifier,
        }

    def _build_fields(self) -> QGroupBox:
        """A row per field: its "set" box, the editor, what applies when not set, and the
        field's own error under it."""
        editors = self._build_editors()
        self.rows: dict[str, ProfileRow] = {
            n: ProfileRow(n, editors[n], self._changed) for n in PROFILE_FIELDS
        }
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name in PROFILE_FIELDS:
            row = self.rows[name]
            cell = QWidget()
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(2)
            line = QHBoxLayout()
            line.addWidget(row.editor, 2)
            line.addWidget(row.inherited, 3)
            cell_layout.addLayout(line)
            cell_layout.addWidget(row.error)
            form.addRow(row.enabled, cell)
        fields_box = QGroupBox("Load settings (unchecked: not set)")
        fields_box.setLayout(form)
        return fields_box

    def _build_buttons(self) -> QDialogButtonBox:
        buttons = QDialogButtonBox()
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.delete_button = QPushButton("Delete override")
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.delete_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.save_button.clicked.connect(self.save_clicked)
        self.delete_button.clicked.connect(self.delete_clicked)
        buttons.rejected.connect(self.reject)
        return buttons

    # --- the list ----------------------------------------------------------------------

    def present(self) -> None:
        """Show it (or raise it where it is) and read the profiles and models again."""
        if self.isVisible():
            self.raise_()
            self.activateWindow()
        else:
            self.open()
        self.reload()

    def reload(self) -> None:
        spawn(self.refresh(), doing="Reading load profiles")

    async def refresh(self) -> None:
        """Read the profiles (in a thread) and the downloaded models; keep the selection."""
        try:
            entries: list[ProfileEntry] = await asyncio.to_thread(self._store.list)
        except TrayError as exc:
            self._say(f"{exc.title}: {exc.message}", ok=False)
            entries = []
        self._entries = {e.model_key: e.profile for e in entries}
        self._entries.setdefault(None, LoadProfile())
        try:
            models = await self._list_models()
            self._downloaded = [m.key for m in models]
            self._max_context = {
                m.key: m.max_context_length for m in models if m.max_context_length
            }
        except TrayError as exc:
            self._say(f"Could not list the downloaded models: {exc.message}", ok=False)
        self._fill_list()

    def _fill_list(self) -> None:
        keep = self._current
        self.list.blockSignals(True)
        self.list.clear()
        default = QListWidgetItem(DEFAULT_ITEM)
        default.setData(_KEY_ROLE, None)
        font = QFont(default.font())
        font.setBold(True)
        default.setFont(font)
        self.list.addItem(default)
        keys = sorted(
            {k for k in self._entries if k is not None} | set(self._downloaded), key=str.lower
        )
        for key in keys:
            own = key in self._entries
            item = QListWidgetItem(f"{key}  ✎" if own else key)
            item.setData(_KEY_ROLE, key)
            item.setToolTip(
                "Has its own profile" if own else "Uses the default profile (no override yet)"
            )
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._filter(self.search.text())
        self.select(keep)

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            key = item.data(_KEY_ROLE)
            item.setHidden(bool(needle) and key is not None and needle not in str(key).lower())

    def select(self, model_key: str | None) -> bool:
        """Show the default (None) or a model's profile."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(_KEY_ROLE) == model_key:
                self.list.setCurrentItem(item)  # another profile: `_selected` decides
                if not self.dirty:
                    self._show_profile(model_key)
                return True
        return False

    def model_keys(self) -> list[str]:
        return [
            str(self.list.item(i).data(_KEY_ROLE))
            for i in range(1, self.list.count())
            if not self.list.item(i).isHidden()
        ]

    def _selected(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        key = item.data(_KEY_ROLE)
        if not self.dirty:
            self._show_profile(key)
        elif key != self._current:
            # Unsaved edits: the edited profile stays selected while the user answers.
            self._select_quietly(self._current)
            if not self._asking:
                spawn(self._switch_when_settled(key), doing="Switching profiles")

    def _select_quietly(self, model_key: str | None) -> None:
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            if self.list.item(i).data(_KEY_ROLE) == model_key:
                self.list.setCurrentRow(i)
        self.list.blockSignals(False)

    # --- unsaved edits -----------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """Whether the form holds edits not saved yet."""
        return not self._filling and self.form_values() != self._clean

    async def settle(self) -> bool:
        """Unsaved edits asked about (Save · Discard · Cancel); True when the caller may go
        on (saved, or dropped)."""
        if not self.dirty:
            return True
        if self._asking:
            return False
        key = self._current
        what = "the default load profile" if key is None else f"the load profile of {key}"
        self._asking = True
        try:
            answer = await ask_unsaved(what, demo=self._demo, parent=self)
        finally:
            self._asking = False
        if answer == "discard":
            self._show_profile(key)
            return True
        return answer == "save" and await self.save()

    async def _switch_when_settled(self, model_key: str | None) -> None:
        if await self.settle():
            self._select_quietly(model_key)
            self._show_profile(model_key)

    def reject(self) -> None:
        """Esc, Close and the window's X all come here (QDialog's closeEvent rejects)."""
        if not self.dirty:
            super().reject()
        elif not self._asking:
            spawn(self._close_when_settled(), doing="Closing Load profiles")

    async def _close_when_settled(self) -> None:
        if await self.settle():
            super().reject()

    # --- the form ----------------------------------------------------------------------

    def _show_profile(self, model_key: str | None) -> None:
        self._current = model_key
        own = self._entries.get(model_key)
        default = self._entries.get(None, LoadProfile())
        if model_key is None:
            self.heading.setText("Default load profile")
            self.explain.setText(
                "Used for every model without its own profile. A field left unchecked is "
                "not set: LM Studio decides."
            )
            self.write_defaults.setText("Also write LM Studio's own default for each model loaded")
        else:
            self.heading.setText(model_key)
            self.explain.setText(
                "This model's own profile. A field left unchecked comes from the default "
                "profile (or LM Studio decides)."
                if own is not None
                else "This model has no profile of its own yet: it uses the default. Check "
                "a field and Save to create one."
            )
            self.write_defaults.setText("Also write LM Studio's own default for this model")
        self._filling = True
        shown = own if own is not None else LoadProfile()
        for name, row in self.rows.items():
            value = getattr(shown, name)
            row.enabled.setChecked(value is not None)
            # Not set: the (greyed) editor shows what applies, or a typical value.
            inherited_value = None if model_key is None else getattr(default, name)
            if value is None and name != "identifier" and inherited_value is not None:
                value = inherited_value
            self._set_value(name, value if value is not None else NEUTRAL[name])
            inherited = (
                "not set: LM Studio decides"
                if model_key is None or getattr(default, name) is None or name == "identifier"
                else f"default: {default.value_text(name)}"
            )
            row.inherited.setText(inherited)
        self.write_defaults.setChecked(shown.write_lmstudio_defaults)
        self._filling = False
        self._clean = self.form_values()
        self.delete_button.setEnabled(model_key is not None and own is not None)
        self._changed()

    def _set_value(self, name: str, value: Any) -> None:
        if name == "gpu_offload":
            if value == "max":
                self.gpu_mode.setCurrentIndex(0)
            elif value == "off":
                self.gpu_mode.setCurrentIndex(1)
            else:
                self.gpu_mode.setCurrentIndex(2)
                self.gpu_share.setValue(round(float(value) * 100))
        elif name in ("flash_attention", "offload_kv_cache_to_gpu"):
            combo = self.flash if name == "flash_attention" else self.kv_on_gpu
            combo.setCurrentIndex(0 if value else 1)
        elif name == "identifier":
            self.identifier.setText(str(value))
        else:
            spin = {
                "context_length": self.context,
                "eval_batch_size": self.eval_batch,
                "num_experts": self.experts,
                "parallel": self.parallel,
                "ttl_seconds": self.ttl,
            }[name]
            spin.setValue(int(value))

    def _gpu_mode_changed(self) -> None:
        self.gpu_share.setVisible(self.gpu_mode.currentIndex() == 2)
        self._changed()

    def form_values(self) -> dict[str, Any]:
        """What the form says, field by field (None: not set)."""
        values: dict[str, Any] = {}
        for name, row in self.rows.items():
            if not row.enabled.isChecked():
                values[name] = None
                continue
            if name == "gpu_offload":
                mode = self.gpu_mode.currentIndex()
                values[name] = ("max", "off", self.gpu_share.value() / 100)[mode]
            elif name == "flash_attention":
                values[name] = self.flash.currentIndex() == 0
            elif name == "offload_kv_cache_to_gpu":
                values[name] = self.kv_on_gpu.currentIndex() == 0
            elif name == "identifier":
                values[name] = self.identifier.text().strip()
            else:
                spin = {
                    "context_length": self.context,
                    "eval_batch_size": self.eval_batch,
                    "num_experts": self.experts,
                    "parallel": self.parallel,
                    "ttl_seconds": self.ttl,
                }[name]
                values[name] = spin.value()
        values["write_lmstudio_defaults"] = self.write_defaults.isChecked()
        return values

    def problems(self) -> dict[str, str]:
        values = self.form_values()
        found = validate_profile(
            values,
            is_default=self._current is None,
            max_context=self._max_context.get(self._current) if self._current else None,
        )
        if values.get("identifier") == "":
            found["identifier"] = "Identifier: type a name, or uncheck it."
        return found

    def _changed(self) -> None:
        if self._filling:
            return
        found = self.problems()
        for name, row in self.rows.items():
            row.error.setText(found.get(name, ""))
            row.error.setVisible(name in found)
        self.save_button.setEnabled(not found and not self.busy)
        if found:
            self.summary.setText("")
            return
        profile = LoadProfile.model_validate(self.form_values())
        if self._current is None:
            text = describe_profile(profile)
            self.summary.setText(f"<b>Loads use:</b> {html.escape(text)}")
        else:
            merged = effective(self._entries.get(None, LoadProfile()), profile)
            text = describe_profile(merged)
            self.summary.setText(f"<b>A load of this model uses:</b> {html.escape(text)}")

    # --- saving ------------------------------------------------------------------------

    def save_clicked(self) -> None:
        spawn(self.save(), doing="Saving the load profile")

    def delete_clicked(self) -> None:
        if self._current is not None:
            spawn(self.delete(self._current), doing="Deleting the load profile")

    async def save(self) -> bool:
        if self.problems():
            return False
        key = self._current
        profile = LoadProfile.model_validate(self.form_values())
        self._set_busy(True)
        try:
            await asyncio.to_thread(self._store.save, profile, key)
        except TrayError as exc:
            self._say(f"{exc.title}: {exc.message}", ok=False)
            return False
        finally:
            self._set_busy(False)
        self._entries[key] = profile
        self._clean = self.form_values()
        self._fill_list()
        self._say(
            f"Saved the {'default profile' if key is None else 'profile of ' + key}. "
            "Earlier versions are in the history.",
            ok=True,
        )
        return True

    async def delete(self, model_key: str) -> bool:
        self._set_busy(True)
        try:
            await asyncio.to_thread(self._store.delete, model_key)
        except TrayError as exc:
            self._say(f"{exc.title}: {exc.message}", ok=False)
            return False
        finally:
            self._set_busy(False)
        self._entries.pop(model_key, None)
        self._fill_list()
        self._say(
            f"Deleted the profile of {model_key}; it uses the default now. The history keeps "
            "the old one.",
            ok=True,
        )
        return True

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.delete_button.setEnabled(
            not busy and self._current is not None and self._current in self._entries
        )
        self._changed()

    def _say(self, text: str, *, ok: bool) -> None:
        colour = "#1b7f3b" if ok else "#b3261e"
        mark = "✔" if ok else "⚠"
        self.status.setText(f'<span style="color:{colour}">{mark}</span> {html.escape(text)}')
