"""The "Presets" window: LM Studio's config presets, listed with a search, edited field by
field with inline validation, and kept safe from outside changes.

Only the fields the user touches are written (a preset that leaves a field to LM Studio's
default keeps leaving it); everything else in the file survives as it was. Store calls run
in threads through `spawn`. When LM Studio (or anyone) changes the open preset's file, the
window offers Reload · Merge · Keep editing; Merge is the core's three-way field merge and
lists each conflict with both values, so the user picks and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from tray.core.errors import InvalidPreset, PresetChanged, TrayError
from tray.core.presets import (
    FIELDS,
    OVERFLOW_POLICIES,
    Checkbox,
    MergeResult,
    Preset,
    merge,
    unique_name,
    validate,
)
from tray.services.preset_store import PresetStore, PresetSummary
from tray.ui.dialogs import confirm
from tray.ui.settings_parts import message_line as _message
from tray.ui.settings_parts import show_error as _show_error
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = ["PresetDialog"]

log = logging.getLogger(__name__)

_OVERFLOW_LABELS = {
    "stopAtLimit": "Stop at the limit",
    "truncateMiddle": "Truncate the middle",
    "rollingWindow": "Rolling window",
}
_BAR_STYLE = (
    "QFrame#preset-external-bar { background: #fff4e5; border: 1px solid #ffcc80;"
    " border-radius: 4px; } QFrame#preset-external-bar QLabel { color: #5d4037; }"
)


def _double(low: float, high: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setAlignment(Qt.AlignmentFlag.AlignRight)
    box.setMinimumWidth(100)
    box.setMaximumWidth(140)
    return box


def _integer(low: int, high: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setAlignment(Qt.AlignmentFlag.AlignRight)
    box.setMinimumWidth(100)
    box.setMaximumWidth(160)
    return box


class _CheckNumber(QWidget):
    """A checkbox and a number: LM Studio's `{checked, value}`. `off_text` set means the
    box reads the other way round ("No limit", "Random": ticked = unchecked in the file)."""

    def __init__(
        self, spin: QSpinBox | QDoubleSpinBox, label: str, *, inverted: bool = False
    ) -> None:
        super().__init__()
        self.spin = spin
        self.box = QCheckBox(label)
        self.inverted = inverted
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        if inverted:
            row.addWidget(spin)
            row.addWidget(self.box)
        else:
            row.addWidget(self.box)
            row.addWidget(spin)
        row.addStretch(1)
        self.box.toggled.connect(self._sync)

    def _sync(self) -> None:
        self.spin.setEnabled(self.checked())

    def checked(self) -> bool:
        return self.box.isChecked() != self.inverted

    def value(self) -> tuple[bool, float]:
        return self.checked(), float(self.spin.value())

    def display(self, value: Checkbox) -> None:
        self.box.setChecked(value.checked != self.inverted)
        self.spin.setValue(value.value)  # type: ignore[arg-type]
        self._sync()


class PresetDialog(QDialog):
    """Create once; `present()` shows it; `file_changed(path)` is called by the app's
    file watcher for anything in the presets folder."""

    def __init__(self, store: PresetStore, *, demo: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self._store = store
        self._demo = demo
        self._summaries: list[PresetSummary] = []
        self._current: str | None = None  # file name of the preset in the editor
        self._loaded: Preset | None = None  # as read from disk: the base of a save
        self._initial: dict[str, Any] = {}  # widget values right after loading
        self._merge: MergeResult | None = None
        self._filling = False
        self._busy = False
        self._pending_select: str | None = None

        self.setWindowTitle(window_title("Presets", demo=demo))
        self.setObjectName("preset-dialog")

        # --- left: search and list ---
        self.search = QLineEdit()
        self.search.setObjectName("preset-search")
        self.search.setPlaceholderText("Search presets")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._render_list)
        self.preset_list = QListWidget()
        self.preset_list.setObjectName("preset-list")
        self.preset_list.setWordWrap(True)
        self.preset_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.preset_list.currentItemChanged.connect(self._selected)
        self.new_button = QPushButton("New")
        self.duplicate_button = QPushButton("Duplicate")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.new_button.clicked.connect(self._new_clicked)
        self.duplicate_button.clicked.connect(self._duplicate_clicked)
        self.rename_button.clicked.connect(self._rename_clicked)
        self.delete_button.clicked.connect(self._delete_clicked)
        self.import_button.clicked.connect(self._import_clicked)
        self.export_button.clicked.connect(self._export_clicked)
        left = QVBoxLayout()
        left.addWidget(self.search)
        left.addWidget(self.preset_list, 1)
        for pair in (
            (self.new_button, self.duplicate_button),
            (self.rename_button, self.delete_button),
            (self.import_button, self.export_button),
        ):
            row = QHBoxLayout()
            for b in pair:
                row.addWidget(b)
            left.addLayout(row)

        # --- right: bar, messages, editor ---
        self.external_bar = QFrame()
        self.external_bar.setObjectName("preset-external-bar")
        self.external_bar.setStyleSheet(_BAR_STYLE)
        bar = QHBoxLayout(self.external_bar)
        bar.setContentsMargins(10, 6, 6, 6)
        self.external_label = QLabel(
            "This preset was changed outside LM Studio Tray (by LM Studio?)."
        )
        self.external_label.setWordWrap(True)
        self.reload_button = QPushButton("Reload")
        self.merge_button = QPushButton("Merge")
        self.keep_button = QPushButton("Keep editing")
        self.reload_button.clicked.connect(self._reload_clicked)
        self.merge_button.clicked.connect(self._merge_clicked)
        self.keep_button.clicked.connect(lambda: self.external_bar.setVisible(False))
        bar.addWidget(self.external_label, 1)
        for b in (self.reload_button, self.merge_button, self.keep_button):
            bar.addWidget(b)
        self.external_bar.setVisible(False)

        self.conflicts_box = QFrame()
        self.conflicts_box.setObjectName("preset-conflicts")
        self.conflicts_box.setStyleSheet(
            "QFrame#preset-conflicts { border: 1px solid #e57373; border-radius: 4px; }"
        )
        self.conflicts_layout = QVBoxLayout(self.conflicts_box)
        self.conflicts_box.setVisible(False)

        self.error_label = _message(error=True)
        self.error_label.setObjectName("preset-error")
        self.info_label = _message(error=False)
        self.info_label.setObjectName("preset-info")

        self.name_edit = QLineEdit()
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("Empty: the model's own system prompt")
        self.prompt_edit.setMinimumHeight(90)
        self.temperature = _double(-5, 5, 0.05)
        self.top_k = _integer(-1000, 100000)
        self.top_p = _CheckNumber(_double(-1, 2, 0.01), "On")
        self.min_p = _CheckNumber(_double(-1, 2, 0.01), "On")
        self.repeat_penalty = _CheckNumber(_double(-1, 10, 0.05), "On")
        self.max_tokens = _CheckNumber(_integer(-1, 10_000_000), "No limit", inverted=True)
        self.stop_edit = QPlainTextEdit()
        self.stop_edit.setPlaceholderText("One stop string per line (\\n for a line break)")
        self.stop_edit.setMaximumHeight(64)
        self.overflow = QComboBox()
        for policy in OVERFLOW_POLICIES:
            self.overflow.addItem(_OVERFLOW_LABELS[policy], policy)
        self.thinking = QCheckBox("Let the model think (reasoning models)")
        self.budget = _CheckNumber(_integer(-1, 1_000_000), "Limit to")
        self.budget.spin.setSuffix(" tokens")
        self.seed = _CheckNumber(_integer(-1, 2**31 - 1), "Random", inverted=True)

        self._editors: dict[str, QWidget] = {
            "name": self.name_edit,
            "system_prompt": self.prompt_edit,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "min_p": self.min_p,
            "repeat_penalty": self.repeat_penalty,
            "max_tokens": self.max_tokens,
            "stop": self.stop_edit,
            "context_overflow": self.overflow,
            "reasoning": self.thinking,
            "reasoning_budget": self.budget,
            "seed": self.seed,
        }
        self.field_errors: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        labels = {"name": "Name", **{f.name: f.label.capitalize() for f in FIELDS}}
        labels["reasoning"] = "Thinking"
        for name, widget in self._editors.items():
            error = _message(error=True)
            error.setObjectName(f"preset-error-{name}")
            self.field_errors[name] = error
            cell = QVBoxLayout()
            cell.setSpacing(2)
            cell.addWidget(widget)
            cell.addWidget(error)
            form.addRow(labels[name] + ":", cell)
        for w in (self.name_edit,):
            w.textChanged.connect(self._edited)
        for t in (self.prompt_edit, self.stop_edit):
            t.textChanged.connect(self._edited)
        self.temperature.valueChanged.connect(self._edited)
        self.top_k.valueChanged.connect(self._edited)
        for c in (
            self.top_p,
            self.min_p,
            self.repeat_penalty,
            self.max_tokens,
            self.budget,
            self.seed,
        ):
            c.box.toggled.connect(self._edited)
            c.spin.valueChanged.connect(self._edited)
        self.overflow.currentIndexChanged.connect(self._edited)
        self.thinking.toggled.connect(self._edited)

        self.editor = QWidget()
        self.editor.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.editor)

        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("preset-save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._save_clicked)
        self.close_buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.close_buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.save_button)
        bottom.addStretch(1)
        bottom.addWidget(self.close_buttons)

        right = QVBoxLayout()
        right.addWidget(self.external_bar)
        right.addWidget(self.conflicts_box)
        right.addWidget(self.error_label)
        right.addWidget(self.info_label)
        right.addWidget(scroll, 1)
        right.addLayout(bottom)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 12)
        layout.setSpacing(14)
        layout.addLayout(left, 2)
        layout.addLayout(right, 5)
        self.resize(900, 720)
        self._render_buttons()

    # --- showing ------------------------------------------------------------------------

    def present(self, name: str | None = None) -> None:
        if self.isVisible():
            self.raise_()
            self.activateWindow()
        else:
            self.open()
        self.refresh(select=name)

    def refresh(self, select: str | None = None) -> None:
        """Re-read the folder (in a thread); `select` a file name or preset name."""
        spawn(self._refresh(select), doing="Reading the presets")

    async def _refresh(self, select: str | None = None) -> None:
        try:
            self._summaries = await asyncio.to_thread(self._store.list)
        except TrayError as exc:
            self._say(error=exc.message)
            return
        wanted = select or self._pending_select or self._current
        self._pending_select = None
        for s in self._summaries:
            if wanted in (s.file_name, s.name):
                wanted = s.file_name
                break
        self._render_list(keep=wanted)

    def selected_file(self) -> str | None:
        return self._current

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def loaded(self) -> Preset | None:
        return self._loaded

    # --- list ---------------------------------------------------------------------------

    def _render_list(self, *_: object, keep: str | None = None) -> None:
        keep = keep or self._current
        needle = self.search.text().strip().casefold()
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.preset_list.blockSignals(True)
        try:
            self.preset_list.clear()
            chosen: QListWidgetItem | None = None
            for s in self._summaries:
                haystack = f"{s.name} {s.file_name} {s.identifier or ''}".casefold()
                if needle and needle not in haystack:
                    continue
                item = QListWidgetItem(s.name)
                item.setData(Qt.ItemDataRole.UserRole, s.file_name)
                if s.error:
                    item.setIcon(warning)
                    item.setText(f"{s.name}\ncannot be read: select it for details")
                    item.setToolTip(f"{s.file_name}: {s.error}")
                else:
                    item.setToolTip(f"{s.file_name}\n{s.identifier or ''}")
                self.preset_list.addItem(item)
                if s.file_name == keep:
                    chosen = item
        finally:
            self.preset_list.blockSignals(False)
        if chosen is None and self.preset_list.count() and keep is None:
            chosen = self.preset_list.item(0)
        if chosen is not None:
            self.preset_list.blockSignals(True)  # re-listing is not the user choosing
            self.preset_list.setCurrentItem(chosen)
            self.preset_list.blockSignals(False)
            if chosen.data(Qt.ItemDataRole.UserRole) != self._current or self._loaded is None:
                self._selected(chosen)

    def _summary(self, file_name: str | None) -> PresetSummary | None:
        return next((s for s in self._summaries if s.file_name == file_name), None)

    def _selected(self, item: QListWidgetItem | None, *_: object) -> None:
        if item is None:
            return
        file_name = item.data(Qt.ItemDataRole.UserRole)
        if file_name == self._current and self._loaded is not None and self._dirty():
            return
        self._current = file_name
        self.external_bar.setVisible(False)
        self._clear_conflicts()
        summary = self._summary(file_name)
        if summary is not None and summary.error:
            self._loaded = None
            self.editor.setEnabled(False)
            self._say(
                error=f"{summary.file_name} cannot be read: {summary.error} It is shown as it "
                "is and never rewritten; fix it in a text editor or delete it."
            )
            self._render_buttons()
            return
        spawn(self._load(file_name), doing="Opening the preset")

    async def _load(self, file_name: str) -> None:
        try:
            preset = await asyncio.to_thread(self._store.load_path, self._store.folder / file_name)
        except TrayError as exc:
            self._say(error=exc.message)
            return
        if file_name != self._current:
            return  # the user moved on meanwhile
        self._fill(preset)
        self._say()

    # --- editor -------------------------------------------------------------------------

    def _fill(self, preset: Preset) -> None:
        self._loaded = preset
        self.editor.setEnabled(True)
        self._show_values(preset, reset=True)

    def _show_values(self, preset: Preset, *, reset: bool) -> None:
        self._filling = True
        try:
            self.name_edit.setText(preset.name)
            self.prompt_edit.setPlainText(preset.effective("system_prompt"))
            self.temperature.setValue(float(preset.effective("temperature")))
            top_k = preset.effective("top_k")
            self.top_k.setValue(int(top_k.value if isinstance(top_k, Checkbox) else top_k))
            for name in (
                "top_p",
                "min_p",
                "repeat_penalty",
                "max_tokens",
                "reasoning_budget",
                "seed",
            ):
                widget = self._editors[name]
                assert isinstance(widget, _CheckNumber)
                widget.display(preset.effective(name))
            # one per line: a line break inside a stop string is shown as \n
            stops = [s.replace("\n", "\\n") for s in preset.effective("stop")]
            self.stop_edit.setPlainText("\n".join(stops))
            policy = preset.effective("context_overflow")
            index = self.overflow.findData(policy)
            self.overflow.setCurrentIndex(index if index >= 0 else 1)
            self.thinking.setChecked(bool(preset.effective("reasoning")))
        finally:
            self._filling = False
        if reset:
            self._initial = self._widget_values()
        self._edited()

    def _widget_values(self) -> dict[str, Any]:
        stop_text = self.stop_edit.toPlainText()
        stops = stop_text.split("\n") if stop_text else []
        while stops and stops[-1] == "":
            stops.pop()  # a final newline is not an empty stop string
        stops = [s.replace("\\n", "\n") for s in stops]
        return {
            "name": self.name_edit.text().strip(),
            "system_prompt": self.prompt_edit.toPlainText(),
            "temperature": round(self.temperature.value(), 4),
            "top_k": self.top_k.value(),
            "top_p": self.top_p.value(),
            "min_p": self.min_p.value(),
            "repeat_penalty": self.repeat_penalty.value(),
            "max_tokens": self.max_tokens.value(),
            "stop": stops,
            "context_overflow": self.overflow.currentData(),
            "reasoning": self.thinking.isChecked(),
            "reasoning_budget": self.budget.value(),
            "seed": self.seed.value(),
        }

    def _changed_fields(self) -> dict[str, Any]:
        now = self._widget_values()
        return {k: v for k, v in now.items() if self._initial.get(k) != v}

    def _dirty(self) -> bool:
        return self._loaded is not None and bool(self._changed_fields())

    def edited_preset(self) -> Preset | None:
        """The loaded preset with the fields the user changed (name excluded: a new name is
        a rename, done after the save)."""
        if self._loaded is None:
            return None
        preset = self._loaded.copy()
        for name, value in self._changed_fields().items():
            if name == "name":
                continue
            if isinstance(value, tuple):
                checked, number = value
                preset.set(name, Checkbox(checked=checked, value=number))
            else:
                preset.set(name, value)
        return preset

    def _problems(self) -> dict[str, str]:
        preset = self.edited_preset()
        if preset is None:
            return {}
        preset.name = self.name_edit.text().strip()
        others = [
            n
            for s in self._summaries
            if s.file_name != self._current
            for n in (s.name, s.file_name)
        ]
        return {p.field: p.message for p in validate(preset, taken_names=others)}

    def _edited(self, *_: object) -> None:
        if self._filling:
            return
        problems = self._problems()
        for name, label in self.field_errors.items():
            _show_error(label, problems.get(name))
        self._render_buttons(problems=problems)

    def _render_buttons(self, problems: dict[str, str] | None = None) -> None:
        if problems is None:
            problems = self._problems()
        has = self._loaded is not None
        idle = not self._busy
        self.save_button.setEnabled(has and idle and not problems and self._dirty())
        self.save_button.setToolTip("Fix the fields marked in red first." if problems else "")
        exists = self._current is not None
        self.duplicate_button.setEnabled(has and idle)
        self.rename_button.setEnabled(has and idle)
        self.delete_button.setEnabled(exists and idle)
        self.export_button.setEnabled(exists and idle)
        self.new_button.setEnabled(idle)
        self.import_button.setEnabled(idle)

    def _say(self, *, error: str | None = None, info: str = "") -> None:
        _show_error(self.error_label, error)
        self.info_label.setText(info)
        self.info_label.setVisible(bool(info))

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._render_buttons()

    # --- saving -------------------------------------------------------------------------

    def _save_clicked(self) -> None:
        if self._loaded is None or self._busy:
            return
        self._set_busy(True)
        spawn(self._save(), doing="Saving the preset")

    async def _save(self) -> None:
        try:
            preset = self.edited_preset()
            loaded = self._loaded
            if preset is None or loaded is None:
                return
            new_name = self.name_edit.text().strip()
            try:
                saved = await asyncio.to_thread(
                    self._store.save, preset, expected_sha256=loaded.sha256
                )
                if new_name and new_name != saved.name and saved.origin:
                    saved = await asyncio.to_thread(self._store.rename, saved.origin, new_name)
            except PresetChanged as exc:
                self._show_external(exc.message)
                return
            except InvalidPreset as exc:
                for field, message in exc.problems:
                    if field in self.field_errors:
                        _show_error(self.field_errors[field], message)
                self._say(error=exc.message)
                return
            except TrayError as exc:
                self._say(error=exc.message)
                return
            self._current = saved.origin
            self._clear_conflicts()
            self.external_bar.setVisible(False)
            self._fill(saved)
            self._say(info=f"Saved {saved.name!r}. The previous version is kept in the history.")
            await self._refresh(saved.origin)
        finally:
            self._set_busy(False)

    # --- outside changes ----------------------------------------------------------------

    def file_changed(self, path: Path) -> None:
        """Something in the presets folder changed (the app's FileWatcher says so)."""
        if not self.isVisible():
            return
        spawn(self._file_changed(Path(path)), doing="Reading the changed preset")

    async def _file_changed(self, path: Path) -> None:
        await self._refresh()
        loaded = self._loaded
        if loaded is None or path.name != self._current:
            return
        now = await asyncio.to_thread(self._store.current_sha256, path)
        if now == loaded.sha256:
            return  # our own save, or a write of the same bytes
        if now is None:
            self._show_external(f"{path.name} was deleted outside LM Studio Tray.")
            return
        if not self._dirty():
            await self._load(path.name)  # nothing of ours to lose
            self._say(info="This preset was changed outside LM Studio Tray and was reloaded.")
            return
        self._show_external()

    def _show_external(self, detail: str | None = None) -> None:
        text = "This preset was changed outside LM Studio Tray."
        if detail and "deleted" in detail:
            text = detail
        self.external_label.setText(
            f"{text} Reload it (your edits are dropped), merge your edits into the new "
            "version, or keep editing."
        )
        self.external_bar.setVisible(True)
        self._say()  # an older "Saved" line would contradict the bar

    def _reload_clicked(self) -> None:
        self.external_bar.setVisible(False)
        self._clear_conflicts()
        if self._current is not None:
            spawn(self._load(self._current), doing="Reloading the preset")

    def _merge_clicked(self) -> None:
        spawn(self._do_merge(), doing="Merging the preset")

    async def _do_merge(self) -> None:
        base, mine = self._loaded, self.edited_preset()
        if base is None or mine is None or self._current is None:
            return
        try:
            theirs = await asyncio.to_thread(
                self._store.load_path, self._store.folder / self._current
            )
        except TrayError as exc:
            self._say(error=exc.message)
            return
        result = merge(base.original(), mine, theirs)
        self.external_bar.setVisible(False)
        self._fill(theirs)  # the new version is the base of the next save
        self._show_values(result.merged, reset=False)
        self._show_conflicts(result)
        self._merge = result  # after: showing clears the previous merge
        if result.conflicts:
            self._say(
                info="Merged. Where both changed a field, the new version is shown; "
                "pick yours below if you prefer it, then Save."
            )
        else:
            self._say(info="Merged your edits into the new version; Save to keep them.")

    def _show_conflicts(self, result: MergeResult) -> None:
        self._clear_conflicts()
        if not result.conflicts:
            return
        title = QLabel(f"<b>{len(result.conflicts)} field(s) changed on both sides:</b>")
        self.conflicts_layout.addWidget(title)
        for conflict in result.conflicts:
            row = QHBoxLayout()
            label = QLabel(
                f"{conflict.label}: yours {conflict.mine_text}, theirs {conflict.theirs_text}"
            )
            label.setObjectName(f"conflict-{conflict.key}")
            button = QPushButton("Use mine")
            button.setObjectName(f"use-mine-{conflict.key}")
            button.clicked.connect(lambda _=False, key=conflict.key: self._use_mine(key))
            row.addWidget(label, 1)
            row.addWidget(button)
            self.conflicts_layout.addLayout(row)
        self.conflicts_box.setVisible(True)

    def _use_mine(self, key: str) -> None:
        if self._merge is None:
            return
        self._show_values(self._merge.resolve([key]), reset=False)

    def _clear_conflicts(self) -> None:
        self._merge = None
        _clear_layout(self.conflicts_layout)
        self.conflicts_box.setVisible(False)

    # --- list gestures ------------------------------------------------------------------

    def _taken(self) -> list[str]:
        return [n for s in self._summaries for n in (s.name, s.file_name)]

    def _new_clicked(self) -> None:
        spawn(self._create(unique_name("New preset", self._taken())), doing="Creating a preset")

    async def _create(self, name: str) -> None:
        await self._run(lambda: self._store.create(name), focus_name=True)

    def _duplicate_clicked(self) -> None:
        if self._loaded is None or self._current is None:
            return
        name = unique_name(f"{self._loaded.name} copy", self._taken())
        current = self._current
        spawn(
            self._run(lambda: self._store.duplicate(current, name), focus_name=True),
            doing="Duplicating the preset",
        )

    async def _run(self, call: Any, *, focus_name: bool) -> None:
        self._set_busy(True)
        try:
            try:
                preset: Preset = await asyncio.to_thread(call)
            except TrayError as exc:
                self._say(error=exc.message)
                return
            self._current = preset.origin
            self._loaded = None
            await self._refresh(preset.origin)
            self._say(info=f"Created {preset.name!r}. Type a new name and Save to rename it.")
            if focus_name:
                self.name_edit.setFocus()
                self.name_edit.selectAll()
        finally:
            self._set_busy(False)

    def _rename_clicked(self) -> None:
        self.name_edit.setFocus()
        self.name_edit.selectAll()
        self._say(info="Type the new name, then Save: the file and identifier follow it.")

    def _delete_clicked(self) -> None:
        if self._current is not None:
            spawn(self._delete(self._current), doing="Deleting the preset")

    async def _delete(self, file_name: str) -> None:
        summary = self._summary(file_name)
        name = summary.name if summary else file_name
        sure = await confirm(
            "Delete preset",
            f"Delete the preset {name!r}?",
            informative="Its last version is kept in LM Studio Tray's history, "
            "so it can be restored from there.",
            yes="Delete",
            demo=self._demo,
            parent=self,
        )
        if not sure:
            return
        self._set_busy(True)
        try:
            try:
                deleted = await asyncio.to_thread(self._store.delete, file_name)
            except TrayError as exc:
                self._say(error=exc.message)
                return
            self._current = None
            self._loaded = None
            await self._refresh()
            self._say(info=deleted.restore_hint)
        finally:
            self._set_busy(False)

    def _import_clicked(self) -> None:
        box = QFileDialog(self, window_title("Import a preset", demo=self._demo))
        box.setFileMode(QFileDialog.FileMode.ExistingFile)
        box.setNameFilters(["Presets (*.preset.json *.json)", "All files (*)"])
        box.fileSelected.connect(
            lambda path: spawn(self._import(Path(path)), doing="Importing the preset")
        )
        box.open()

    async def _import(self, path: Path) -> None:
        await self._run(lambda: self._store.import_file(path), focus_name=False)

    def _export_clicked(self) -> None:
        if self._current is None:
            return
        current = self._current
        box = QFileDialog(self, window_title("Export the preset", demo=self._demo))
        box.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        box.selectFile(current)
        box.fileSelected.connect(
            lambda path: spawn(self._export(current, Path(path)), doing="Exporting the preset")
        )
        box.open()

    async def _export(self, file_name: str, target: Path) -> None:
        try:
            written = await asyncio.to_thread(self._store.export, file_name, target)
        except TrayError as exc:
            self._say(error=exc.message)
            return
        self._say(info=f"Exported to {written}.")


def _clear_layout(layout: QLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item is None:
            break
        widget = item.widget()
        inner = item.layout()
        if widget is not None:
            widget.deleteLater()
        elif inner is not None:
            _clear_layout(inner)
