"""The Presets window's editor form: one row per field the tray edits (name, system prompt,
sampling, stop strings, overflow policy, thinking, seed), each with its inline error line.

The form shows a `Preset` and reports which fields the user changed since it was shown;
`edited_preset` applies only those to a copy of the loaded document, so everything else in
the file survives as it was.
"""

from __future__ import annotations

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
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tray.core.presets import FIELDS, OVERFLOW_POLICIES, Checkbox, Preset
from tray.ui.settings_dialog import _message, _show_error

__all__ = ["PresetForm"]

_OVERFLOW_LABELS = {
    "stopAtLimit": "Stop at the limit",
    "truncateMiddle": "Truncate the middle",
    "rollingWindow": "Rolling window",
}
_CHECK_NUMBERS = ("top_p", "min_p", "repeat_penalty", "max_tokens", "reasoning_budget", "seed")


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


class PresetForm(QWidget):
    """The fields of one preset. `edited` fires on every change the user makes (not while
    a preset is being shown)."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._initial: dict[str, Any] = {}  # the values right after a preset was shown
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
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        labels = {"name": "Name", **{f.name: f.label.capitalize() for f in FIELDS}}
        labels["reasoning"] = "Thinking"
        for name, widget in self.editors.items():
            error = _message(error=True)
            error.setObjectName(f"preset-error-{name}")
            self.field_errors[name] = error
            cell = QVBoxLayout()
            cell.setSpacing(2)
            cell.addWidget(widget)
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

    # --- showing ------------------------------------------------------------------------

    def show_preset(self, preset: Preset, *, reset: bool) -> None:
        """Show `preset`'s values; `reset`: they become the base that changes are counted
        from (a merge shows merged values over the new file without resetting)."""
        self._filling = True
        try:
            self.name_edit.setText(preset.name)
            self.prompt_edit.setPlainText(preset.effective("system_prompt"))
            self.temperature.setValue(float(preset.effective("temperature")))
            top_k = preset.effective("top_k")
            self.top_k.setValue(int(top_k.value if isinstance(top_k, Checkbox) else top_k))
            for name in _CHECK_NUMBERS:
                self._check_number(name).display(preset.effective(name))
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
            self._initial = self.values()

    # --- reading ------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """What the form says, field by field."""
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

    def changed_fields(self) -> dict[str, Any]:
        now = self.values()
        return {k: v for k, v in now.items() if self._initial.get(k) != v}

    def edited_preset(self, loaded: Preset) -> Preset:
        """`loaded` with the fields the user changed (name excluded: a new name is a rename,
        done after the save)."""
        preset = loaded.copy()
        for name, value in self.changed_fields().items():
            if name == "name":
                continue
            if isinstance(value, tuple):
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
