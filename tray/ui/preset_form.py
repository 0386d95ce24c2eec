"""The Presets window's editor form: one row per field the tray edits (name, system prompt,
sampling, stop strings, overflow policy, thinking, seed), each with its inline error line.

A field the preset does not set reads "not set (LM Studio decides)" rather than a value
that is not in the file; "Set" gives it an editor (starting from LM Studio's default) and
"Clear" makes it not set again. The form shows a `Preset` and reports which fields the
user changed since it was shown; `edited_preset` applies only those to a copy of the loaded
document — a field cleared is removed, a field never touched stays as it was (absent
included), so everything else in the file survives byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tray.core.presets import FIELDS, OVERFLOW_POLICIES, Checkbox, Preset
from tray.ui.settings_parts import message_line as _message
from tray.ui.settings_parts import show_error as _show_error

__all__ = ["NOT_SET", "PresetForm"]

NOT_SET = "not set (LM Studio decides)"

_OVERFLOW_LABELS = {
    "stopAtLimit": "Stop at the limit",
    "truncateMiddle": "Truncate the middle",
    "rollingWindow": "Rolling window",
}
_CHECK_NUMBERS = ("top_p", "min_p", "repeat_penalty", "max_tokens", "reasoning_budget", "seed")
_DEFAULTS = {f.name: f.default for f in FIELDS}  # what LM Studio uses when a preset is silent


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
    """A checkbox and a number: LM Studio's `{checked, value}`. `inverted` means the box
    reads the other way round ("No limit", "Random": ticked = unchecked in the file)."""

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


class _Row:
    """One optional field: its editor while the preset sets it, "not set" otherwise, and
    the Set / Clear button that switches."""

    def __init__(
        self, name: str, label: str, editor: QWidget, on_switch: Callable[[_Row, bool], None]
    ) -> None:
        self.name = name
        self.editor = editor
        self.is_set = True
        self.unset_label = _message(error=False)
        self.unset_label.setText(NOT_SET)
        self.unset_label.setWordWrap(False)
        self.unset_label.setObjectName(f"preset-unset-{name}")
        self.set_button = _small_button("Set", f"preset-set-{name}")
        self.set_button.setToolTip(f"Give {label} a value of its own in this preset.")
        self.clear_button = _small_button("Clear", f"preset-clear-{name}")
        self.clear_button.setToolTip(
            f"Leave {label} to LM Studio: Save removes it from the preset."
        )
        self.set_button.clicked.connect(lambda: on_switch(self, True))
        self.clear_button.clicked.connect(lambda: on_switch(self, False))
        grows = isinstance(editor, QPlainTextEdit)
        self.line = QHBoxLayout()
        self.line.addWidget(editor, 1 if grows else 0)
        self.line.addWidget(self.unset_label, 1 if grows else 0)
        if not grows:
            self.line.addStretch(1)
        self.line.addWidget(self.set_button, 0, Qt.AlignmentFlag.AlignTop)
        self.line.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignTop)
        self.show_set(False)

    def show_set(self, on: bool) -> None:
        self.is_set = on
        self.editor.setVisible(on)
        self.clear_button.setVisible(on)
        self.unset_label.setVisible(not on)
        self.set_button.setVisible(not on)

    def focus(self) -> None:
        target = self.editor
        if isinstance(target, _CheckNumber):
            target = target.spin if target.spin.isEnabled() else target.box
        target.setFocus()


def _small_button(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setAutoDefault(False)  # Enter in a field saves; it never presses these
    return button


class PresetForm(QWidget):
    """The fields of one preset. `edited` fires on every change the user makes (not while
    a preset is being shown). `values()` holds None for a field that is not set."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._initial: dict[str, Any] = {}  # the values right after a preset was shown
        self._seeds: dict[str, Any] = dict(_DEFAULTS)  # what Set starts from, per field
        self._filling = False

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

        self.editors: dict[str, QWidget] = {
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
        self.rows: dict[str, _Row] = {}
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        labels = {"name": "Name", **{f.name: f.label.capitalize() for f in FIELDS}}
        labels["reasoning"] = "Thinking"
        words = {f.name: f.label for f in FIELDS} | {"reasoning": "thinking"}
        for name, widget in self.editors.items():
            error = _message(error=True)
            error.setObjectName(f"preset-error-{name}")
            self.field_errors[name] = error
            cell = QVBoxLayout()
            cell.setSpacing(2)
            if name == "name":
                cell.addWidget(widget)
            else:
                row = _Row(name, words[name], widget, self._switch)
                self.rows[name] = row
                cell.addLayout(row.line)
            cell.addWidget(error)
            form.addRow(labels[name] + ":", cell)

        self.name_edit.textChanged.connect(self._edited)
        for text in (self.prompt_edit, self.stop_edit):
            text.textChanged.connect(self._edited)
        self.temperature.valueChanged.connect(self._edited)
        self.top_k.valueChanged.connect(self._edited)
        for name in _CHECK_NUMBERS:
            pair = self._check_number(name)
            pair.box.toggled.connect(self._edited)
            pair.spin.valueChanged.connect(self._edited)
        self.overflow.currentIndexChanged.connect(self._edited)
        self.thinking.toggled.connect(self._edited)

    def _check_number(self, name: str) -> _CheckNumber:
        widget = self.editors[name]
        assert isinstance(widget, _CheckNumber)
        return widget

    def _edited(self, *_: object) -> None:
        if not self._filling:
            self.edited.emit()

    def _switch(self, row: _Row, on: bool) -> None:
        """Set: the editor, starting from the preset's value (LM Studio's default when the
        file has none); Clear: not set again."""
        if on:
            self._filling = True
            try:
                self._show_value(row.name, self._seeds[row.name])
            finally:
                self._filling = False
        row.show_set(on)
        if on:
            row.focus()
        else:
            row.set_button.setFocus()  # not lost in a hidden editor
        self._edited()

    # --- showing ------------------------------------------------------------------------

    def show_preset(self, preset: Preset, *, reset: bool) -> None:
        """Show `preset`'s values; `reset`: they become the base that changes are counted
        from (a merge shows merged values over the new file without resetting)."""
        self._filling = True
        try:
            self.name_edit.setPlaceholderText("")
            self.name_edit.setText(preset.name)
            for name, row in self.rows.items():
                # A value of a shape we cannot show keeps its row set, with the default in
                # the editor: untouched it stays in the file as it is, Clear removes it.
                self._seeds[name] = preset.effective(name)
                self._show_value(name, self._seeds[name])
                row.show_set(preset.is_set(name))
        finally:
            self._filling = False
        if reset:
            self._initial = self.values()

    def show_nothing(self) -> None:
        """No preset is open: every field empty and not set (the window disables the form)."""
        self._filling = True
        try:
            self.name_edit.clear()
            self.name_edit.setPlaceholderText("Select a preset on the left, or click New")
            self._seeds = dict(_DEFAULTS)
            for name, row in self.rows.items():
                self._show_value(name, _DEFAULTS[name])
                row.show_set(False)
        finally:
            self._filling = False
        self._initial = self.values()
        self.show_problems({})

    def _show_value(self, name: str, value: Any) -> None:
        if name == "system_prompt":
            self.prompt_edit.setPlainText(str(value))
        elif name == "temperature":
            self.temperature.setValue(float(value))
        elif name == "top_k":
            self.top_k.setValue(int(value.value if isinstance(value, Checkbox) else value))
        elif name in _CHECK_NUMBERS:
            self._check_number(name).display(value)
        elif name == "stop":
            # one per line: a line break inside a stop string is shown as \n
            self.stop_edit.setPlainText("\n".join(s.replace("\n", "\\n") for s in value))
        elif name == "context_overflow":
            index = self.overflow.findData(value)
            self.overflow.setCurrentIndex(index if index >= 0 else 1)
        elif name == "reasoning":
            self.thinking.setChecked(bool(value))

    # --- reading ------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """What the form says, field by field; None for a field that is not set."""
        stop_text = self.stop_edit.toPlainText()
        stops = stop_text.split("\n") if stop_text else []
        while stops and stops[-1] == "":
            stops.pop()  # a final newline is not an empty stop string
        stops = [s.replace("\\n", "\n") for s in stops]
        shown = {
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
        return {k: v if k == "name" or self.rows[k].is_set else None for k, v in shown.items()}

    def changed_fields(self) -> dict[str, Any]:
        now = self.values()
        return {k: v for k, v in now.items() if self._initial.get(k) != v}

    def edited_preset(self, loaded: Preset) -> Preset:
        """`loaded` with the fields the user changed (name excluded: a new name is a rename,
        done after the save); a field cleared is removed from the document."""
        preset = loaded.copy()
        for name, value in self.changed_fields().items():
            if name == "name":
                continue
            if value is None:
                preset.unset(name)
            elif isinstance(value, tuple):
                checked, number = value
                preset.set(name, Checkbox(checked=checked, value=number))
            else:
                preset.set(name, value)
        return preset

    # --- problems -----------------------------------------------------------------------

    def show_problems(self, problems: dict[str, str]) -> None:
        for name, label in self.field_errors.items():
            _show_error(label, problems.get(name))

    def show_problem(self, field: str, message: str) -> None:
        if field in self.field_errors:
            _show_error(self.field_errors[field], message)
