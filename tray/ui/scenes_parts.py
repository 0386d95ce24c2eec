"""The Scenes window's parts: the list of saved scenes with New, Duplicate and Delete, and
the table of a scene's models.

The table has one row per model: the model (one of the
downloaded models; a key that is not downloaded stays shown as it is) and what the scene
sets for it over its load profile — identifier, context length, GPU offload, TTL — each
optional ("not set": the model's load profile, or LM Studio, decides).

A row's problems (`validate_profile`, which holds a context length to the longest the
model takes) are shown under it as they are typed. Settings a scene file holds that the
row has no editor for (flash attention set by hand, say) are kept as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tray.core.api import ModelInfo
from tray.core.load_profiles import LoadProfile, describe_profile, validate_profile
from tray.core.scenes import FREE_GPU, Scene, SceneModel

__all__ = ["NOT_SET", "SceneListPane", "SceneModelRow", "SceneModelsTable"]

NOT_SET = "not set"
_GPU_MODES = (NOT_SET, "max", "off", "share")
_EDITED = ("identifier", "context_length", "gpu_offload", "ttl_seconds")
_HEADERS = ("Model", "Identifier", "Context length", "GPU offload", "TTL")
_ERROR_STYLE = "color: #b3261e;"
_NAME_ROLE = Qt.ItemDataRole.UserRole + 1


class SceneListPane(QWidget):
    """The saved scenes ("Free GPU" is built in and not listed) and the buttons under
    them. `picked` carries the name the user chose; `mark` selects without it."""

    picked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setMinimumWidth(170)
        self.list.currentItemChanged.connect(lambda *_: self._current_changed())
        self.new_button = QPushButton("New")
        self.new_button.setToolTip("A new scene: name it, add its models, then Save")
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.setToolTip("Save a copy of this scene under a new name")
        self.delete_button = QPushButton("Delete")
        buttons = QHBoxLayout()
        for button in (self.new_button, self.duplicate_button, self.delete_button):
            buttons.addWidget(button)
        built_in = QLabel(
            f"{FREE_GPU} is built in: it unloads every model (Restore brings them back)."
        )
        built_in.setWordWrap(True)
        built_in.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(built_in)

    def show_scenes(self, scenes: Sequence[Scene], current: str | None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for scene in scenes:
            item = QListWidgetItem(scene.name)
            item.setData(_NAME_ROLE, scene.name)
            item.setToolTip(scene.summary())
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.mark(current)

    def names(self) -> list[str]:
        return [str(self.list.item(i).data(_NAME_ROLE)) for i in range(self.list.count())]

    def mark(self, name: str | None) -> None:
        """Select `name` (None: nothing) without it counting as the user's choice."""
        self.list.blockSignals(True)
        self.list.setCurrentRow(self.names().index(name) if name in self.names() else -1)
        self.list.blockSignals(False)

    def select(self, name: str) -> None:
        """Pick `name` as the user does."""
        if name in self.names():
            self.list.setCurrentRow(self.names().index(name))

    def _current_changed(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.picked.emit(str(item.data(_NAME_ROLE)))


def _optional_spin(high: int, *, step: int, suffix: str) -> QSpinBox:
    """A number that may be "not set": its lowest value (0) reads "not set"."""
    spin = QSpinBox()
    spin.setRange(0, high)
    spin.setSingleStep(step)
    spin.setSpecialValueText(NOT_SET)
    spin.setSuffix(suffix)
    spin.setGroupSeparatorShown(True)
    spin.setMinimumWidth(115)
    return spin


class SceneModelRow:
    """One model of the scene: its editors, its error line, and the settings it carries
    that no editor shows (kept as they were)."""

    def __init__(self, model: SceneModel, keys: Sequence[str], on_change: Callable[[], None]):
        self._kept = model.settings
        self.model = QComboBox()
        # Long keys are cut, not the other columns: the list shows them whole.
        self.model.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model.setMinimumContentsLength(26)
        self.identifier = QLineEdit()
        self.identifier.setPlaceholderText("optional")
        self.identifier.setMinimumWidth(120)
        self.context = _optional_spin(10_000_000, step=1024, suffix=" tokens")
        self.gpu_mode = QComboBox()
        self.gpu_mode.addItems(list(_GPU_MODES))
        self.gpu_mode.setToolTip("max: all layers on the GPU; off: CPU only; share: a part")
        self.gpu_share = QSpinBox()
        self.gpu_share.setRange(0, 100)
        self.gpu_share.setSingleStep(5)
        self.gpu_share.setSuffix(" %")
        self.gpu_share.setValue(50)
        self.gpu = QWidget()
        gpu_layout = QHBoxLayout(self.gpu)
        gpu_layout.setContentsMargins(0, 0, 0, 0)
        gpu_layout.addWidget(self.gpu_mode, 1)
        gpu_layout.addWidget(self.gpu_share)
        self.ttl = _optional_spin(30 * 24 * 3600, step=60, suffix=" s")
        self.ttl.setToolTip("Unload the model after this many seconds without requests")
        self.remove = QToolButton()
        self.remove.setText("Remove")
        self.remove.setToolTip("Remove this model from the scene")
        self.error = QLabel()
        self.error.setStyleSheet(_ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.set_keys(keys, model.model_key)
        self._show(model.settings)
        self.model.currentIndexChanged.connect(lambda *_: on_change())
        self.identifier.textChanged.connect(lambda *_: on_change())
        for spin in (self.context, self.gpu_share, self.ttl):
            spin.valueChanged.connect(lambda *_: on_change())
        self.gpu_mode.currentIndexChanged.connect(lambda *_: self._gpu_mode_changed())
        self.gpu_mode.currentIndexChanged.connect(lambda *_: on_change())

    def widgets(self) -> tuple[QWidget, ...]:
        """The editors, in column order, then the Remove button."""
        return (self.model, self.identifier, self.context, self.gpu, self.ttl, self.remove)

    def set_keys(self, keys: Sequence[str], chosen: str | None = None) -> None:
        """Offer `keys` (the downloaded models), keeping the chosen one even when it is not
        among them."""
        chosen = chosen if chosen is not None else self.model_key()
        self.model.blockSignals(True)
        self.model.clear()
        for key in keys:
            self.model.addItem(key, key)
        if chosen and chosen not in keys:
            self.model.insertItem(0, f"{chosen} (not downloaded)", chosen)
        self.model.setCurrentIndex(self.model.findData(chosen) if chosen else -1)
        self.model.blockSignals(False)

    def model_key(self) -> str:
        data = self.model.currentData()
        return str(data) if data else ""

    def _show(self, settings: LoadProfile) -> None:
        self.identifier.setText(settings.identifier or "")
        self.context.setValue(settings.context_length or 0)
        gpu = settings.gpu_offload
        if gpu is None or gpu in ("max", "off"):
            self.gpu_mode.setCurrentIndex(_GPU_MODES.index(str(gpu) if gpu else NOT_SET))
        else:
            self.gpu_mode.setCurrentIndex(_GPU_MODES.index("share"))
            self.gpu_share.setValue(round(float(gpu) * 100))
        self.ttl.setValue(settings.ttl_seconds or 0)
        self._gpu_mode_changed()
        others = LoadProfile.model_validate(settings.model_dump(exclude=set(_EDITED)))
        if others.set_fields():
            self.model.setToolTip(f"This scene also sets: {describe_profile(others)}")

    def _gpu_mode_changed(self) -> None:
        self.gpu_share.setVisible(self.gpu_mode.currentText() == "share")

    def values(self) -> dict[str, Any]:
        """The four settings the row edits (None: not set)."""
        mode = self.gpu_mode.currentText()
        gpu: Any = None if mode == NOT_SET else self.gpu_share.value() / 100
        if mode in ("max", "off"):
            gpu = mode
        return {
            "identifier": self.identifier.text().strip() or None,
            "context_length": self.context.value() or None,
            "gpu_offload": gpu,
            "ttl_seconds": self.ttl.value() or None,
        }

    def scene_model(self) -> dict[str, Any]:
        """The row as a scene model's values (validated by the caller)."""
        settings = {**self._kept.model_dump(), **self.values()}
        return {"model_key": self.model_key(), "settings": settings}

    def show_problem(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))


class SceneModelsTable(QWidget):
    """The rows, their column headings, and Add model. `edited` fires on every change."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[SceneModelRow] = []
        self._keys: list[str] = []
        self._max_context: dict[str, int] = {}
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(4)
        self._grid.setColumnStretch(0, 3)
        self._grid.setColumnStretch(1, 2)
        self._headers = [QLabel(f"<b>{text}</b>") for text in _HEADERS]
        self.empty = QLabel(
            "No models: applying this scene loads nothing (and unloads the others, if it "
            "says so). Add the models it should hold."
        )
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        self.add_button = QPushButton("Add model")
        self.add_button.setToolTip("Add a downloaded model to the scene")
        self.add_button.clicked.connect(lambda: self.add_model())
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._grid)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._relayout()

    def set_downloaded(self, models: Sequence[ModelInfo]) -> None:
        """The models the combos offer, and the longest context each takes."""
        self._keys = sorted((m.key for m in models), key=str.lower)
        self._max_context = {m.key: m.max_context_length for m in models if m.max_context_length}
        for row in self.rows:
            row.set_keys(self._keys)

    def show_models(self, models: Sequence[SceneModel]) -> None:
        for row in list(self.rows):
            self._drop(row)
        for model in models:
            self._add(model)
        self._relayout()

    def add_model(self, model_key: str | None = None) -> SceneModelRow:
        """A new row: `model_key`, or the first downloaded model not in the scene yet."""
        if model_key is None:
            taken = {r.model_key() for r in self.rows}
            model_key = next((k for k in self._keys if k not in taken), "")
        row = self._add(SceneModel.model_construct(model_key=model_key, settings=LoadProfile()))
        self._relayout()
        self.edited.emit()
        row.model.setFocus()
        return row

    def remove_model(self, row: SceneModelRow) -> None:
        self._drop(row)
        self._relayout()
        self.edited.emit()

    def models(self) -> list[dict[str, Any]]:
        return [row.scene_model() for row in self.rows]

    def snapshot(self) -> list[tuple[Any, ...]]:
        """What the rows say, to tell an edit from what was shown."""
        return [(r.model_key(), *r.values().values()) for r in self.rows]

    def check(self) -> int:
        """Show each row's problems under it; the number of rows that have some."""
        bad = 0
        for row in self.rows:
            key = row.model_key()
            found = validate_profile(
                row.values(), is_default=False, max_context=self._max_context.get(key)
            )
            if not key:
                found["model"] = "Choose a model (none is downloaded, or LM Studio was not asked)."
            row.show_problem(" ".join(found.values()))
            bad += bool(found)
        return bad

    def max_context(self) -> Mapping[str, int]:
        return self._max_context

    # --- rows ---------------------------------------------------------------------------

    def _add(self, model: SceneModel) -> SceneModelRow:
        row = SceneModelRow(model, self._keys, self.edited.emit)
        row.remove.clicked.connect(lambda: self.remove_model(row))
        self.rows.append(row)
        return row

    def _drop(self, row: SceneModelRow) -> None:
        self.rows.remove(row)
        for widget in (*row.widgets(), row.error):
            self._grid.removeWidget(widget)
            widget.hide()
            widget.deleteLater()

    def _relayout(self) -> None:
        """Headings, then two grid lines per row: its editors, and its error under them."""
        while self._grid.count():
            self._grid.takeAt(0)
        for column, header in enumerate(self._headers):
            self._grid.addWidget(header, 0, column)
            header.setVisible(bool(self.rows))
        for i, row in enumerate(self.rows):
            for column, widget in enumerate(row.widgets()):
                self._grid.addWidget(widget, 1 + 2 * i, column)
                what = _HEADERS[column] if column < len(_HEADERS) else "Remove"
                widget.setAccessibleName(f"{what} (model {i + 1})")
                widget.show()  # now: a widget added to a shown layout appears only later
            self._grid.addWidget(row.error, 2 + 2 * i, 0, 1, len(_HEADERS) + 1)
            row.error.setVisible(bool(row.error.text()))
        self.empty.setVisible(not self.rows)
