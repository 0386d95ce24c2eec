"""Manage scenes: create, edit, rename, duplicate and delete the scenes the Scenes submenu
applies. The list on the left; on the right the chosen scene's name, its models (each a
model key, an optional identifier, context length and idle timeout — what the scene sets
over the model's load profile), what happens to models outside it, and whether applying
starts the server.

The store is read and written in a thread, never on the Qt thread; a save is checked by
the scene model first (two unnamed copies of a model, a context past the model's
longest) and refused with a sentence, nothing saved. Unsaved edits are asked about
before another scene is shown or the window closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from tray.core.api import ModelInfo
from tray.core.errors import TrayError
from tray.core.load_profiles import LoadProfile
from tray.core.scenes import Scene, SceneModel
from tray.core.words import quoted
from tray.services.scene_store import SceneStore
from tray.ui.dialogs import ask_unsaved, confirm
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = ["COLUMNS", "ScenesWindow"]

_W = TypeVar("_W", bound=QWidget)
COLUMNS = ("Model", "Identifier", "Context", "Unload when idle")
_WIDTHS = (None, 120, 110, 120)  # the model column takes the rest


class ScenesWindow(QDialog):
    """Create once; `present()` shows it and reads the scenes and models again."""

    def __init__(
        self,
        store: SceneStore,
        list_models: Callable[[], Awaitable[list[ModelInfo]]],
        *,
        demo: bool,
        on_saved: Callable[[], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._list_models = list_models
        self._demo = demo
        self._on_saved = on_saved or (lambda: None)
        self._scenes: list[Scene] = []
        self._models: dict[str, ModelInfo] = {}
        self._shown: str | None = None  # the saved name of the scene in the editor
        self._filling = False
        self.dirty = False
        self.busy = False
        # [*]: Qt shows the unsaved mark there (an asterisk; a dot on macOS)
        self.setWindowTitle(window_title("Scenes[*]", demo=demo))
        self.setModal(False)
        self.resize(900, 460)
        layout = QHBoxLayout(self)
        layout.addLayout(self._build_list(), 1)
        layout.addLayout(self._build_editor(), 4)
        self._show_scene(None)

    def _build_list(self) -> QVBoxLayout:
        self.scene_list = QListWidget()
        self.scene_list.currentTextChanged.connect(self._list_changed)
        self.new_button = QPushButton("New")
        self.new_button.clicked.connect(lambda: spawn(self._new(), doing="A new scene"))
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.clicked.connect(self._duplicate)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(
            lambda: spawn(self._delete(), doing="Deleting the scene")
        )
        buttons = QHBoxLayout()
        for button in (self.new_button, self.duplicate_button, self.delete_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        column = QVBoxLayout()
        column.addWidget(self.scene_list, 1)
        column.addLayout(buttons)
        return column

    def _build_editor(self) -> QVBoxLayout:
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Coding")
        self.name_edit.textEdited.connect(self._edited)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for index, width in enumerate(_WIDTHS):
            if width is not None:
                header.setSectionResizeMode(index, QHeaderView.ResizeMode.Fixed)
                header.resizeSection(index, width)
        self.table.verticalHeader().hide()
        self.add_button = QPushButton("Add model")
        self.add_button.clicked.connect(lambda: self._add_row(SceneModel(model_key=self._any())))
        self.remove_button = QPushButton("Remove model")
        self.remove_button.clicked.connect(self._remove_row)
        rows = QHBoxLayout()
        for button in (self.add_button, self.remove_button):
            button.setAutoDefault(False)
            rows.addWidget(button)
        rows.addStretch(1)
        self.unload_others = QRadioButton("unload them")
        self.keep_others = QRadioButton("leave them loaded")
        self.start_server = QCheckBox("Start the server when applying")
        for box in (self.unload_others, self.keep_others, self.start_server):
            box.toggled.connect(self._edited)
        others = QHBoxLayout()
        others.addWidget(self.unload_others)
        others.addWidget(self.keep_others)
        others.addStretch(1)
        form = QFormLayout()
        form.addRow("Name:", self.name_edit)
        form.addRow("Models outside the scene:", others)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(lambda: spawn(self.save(), doing="Saving the scene"))
        QShortcut(QKeySequence.StandardKey.Save, self).activated.connect(
            lambda: spawn(self.save(), doing="Saving the scene")
        )
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.save_button)
        bottom.addStretch(1)
        bottom.addWidget(close)
        column = QVBoxLayout()
        column.addLayout(form)
        column.addWidget(QLabel("Models the scene loads (unset fields: the load profile's):"))
        column.addWidget(self.table, 1)
        column.addLayout(rows)
        column.addWidget(self.start_server)
        column.addWidget(self.status)
        column.addLayout(bottom)
        return column

    # --- showing ------------------------------------------------------------------------

    def present(self) -> None:
        if self.isVisible():
            self.raise_()
            self.activateWindow()
        else:
            self.open()
        spawn(self.reload(), doing="Reading the scenes")

    async def reload(self, select: str | None = None) -> None:
        self.busy = True
        try:
            try:
                self._scenes = await asyncio.to_thread(self._store.list)
            except TrayError as exc:
                self._say(exc.message)
            try:
                self._models = {m.key: m for m in await self._list_models() if m.type == "llm"}
            except TrayError as exc:
                self._say(f"Could not list the downloaded models: {exc.message}")
            self._fill_list(select if select is not None else self._shown)
        finally:
            self.busy = False

    def _fill_list(self, select: str | None) -> None:
        self._filling = True
        self.scene_list.clear()
        self.scene_list.addItems([s.name for s in self._scenes])
        names = [s.name for s in self._scenes]
        row = names.index(select) if select in names else (0 if names else -1)
        self.scene_list.setCurrentRow(row)
        self._filling = False
        self._show_scene(self._scenes[row] if row >= 0 else None)

    def _show_scene(self, scene: Scene | None) -> None:
        self._filling = True
        self._shown = scene.name if scene is not None else None
        self.name_edit.setText(scene.name if scene else "")
        self.table.setRowCount(0)
        for model in scene.models if scene else ():
            self._add_row(model)
        keep = scene is not None and scene.others == "keep"
        (self.keep_others if keep else self.unload_others).setChecked(True)
        self.start_server.setChecked(bool(scene and scene.start_server))
        for widget in (self.name_edit, self.table, self.add_button, self.remove_button):
            widget.setEnabled(scene is not None)
        self.duplicate_button.setEnabled(scene is not None)
        self.delete_button.setEnabled(scene is not None and scene.name in self._names())
        self._filling = False
        self.dirty = False
        self.setWindowModified(False)

    def _names(self) -> list[str]:
        return [s.name for s in self._scenes]

    def _any(self) -> str:
        return next(iter(self._models), "")

    def _add_row(self, model: SceneModel) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        key = QComboBox()
        key.setEditable(True)
        key.addItems(list(self._models))
        key.setCurrentText(model.model_key)
        key.currentTextChanged.connect(self._edited)
        ident = QLineEdit(model.identifier or "")
        ident.setPlaceholderText("the model key")
        ident.textEdited.connect(self._edited)
        context = QSpinBox()
        context.setRange(0, 10_000_000)
        context.setSingleStep(1024)
        context.setSpecialValueText("profile's")
        context.setGroupSeparatorShown(True)
        context.setValue(model.settings.context_length or 0)
        ttl = QSpinBox()
        ttl.setRange(0, 7 * 24 * 60)
        ttl.setSuffix(" min")
        ttl.setSpecialValueText("profile's")
        ttl.setValue((model.settings.ttl_seconds or 0) // 60)
        for spin in (context, ttl):
            spin.valueChanged.connect(self._edited)
        for column, widget in enumerate((key, ident, context, ttl)):
            self.table.setCellWidget(row, column, widget)
        self._edited()

    def _remove_row(self) -> None:
        row = self.table.currentRow()
        if row < 0:
            row = self.table.rowCount() - 1
        if row >= 0:
            self.table.removeRow(row)
            self._edited()

    def _edited(self, *_: object) -> None:
        if not self._filling:
            self.dirty = True
            self.setWindowModified(True)

    # --- reading the form ---------------------------------------------------------------

    def form_scene(self) -> Scene:
        """The scene as the form says; raises `TrayError` with a sentence when it is not one."""
        models = []
        for row in range(self.table.rowCount()):
            key = self._cell(row, 0, QComboBox).currentText().strip()
            ident = self._cell(row, 1, QLineEdit).text().strip() or None
            context = self._cell(row, 2, QSpinBox).value() or None
            ttl_minutes = self._cell(row, 3, QSpinBox).value()
            if not key:
                raise TrayError(f"Row {row + 1} names no model.")
            longest = self._models[key].max_context_length if key in self._models else None
            if context is not None and longest and context > longest:
                raise TrayError(
                    f"{key} takes at most {longest:,} tokens of context, not {context:,}."
                )
            settings = LoadProfile(
                identifier=ident, context_length=context, ttl_seconds=ttl_minutes * 60 or None
            )
            models.append(SceneModel(model_key=key, settings=settings))
        try:
            return Scene(
                name=self.name_edit.text(),
                models=tuple(models),
                others="keep" if self.keep_others.isChecked() else "unload",
                start_server=self.start_server.isChecked(),
            )
        except ValidationError as exc:
            raise TrayError(exc.errors()[0]["msg"].removeprefix("Value error, ") + ".") from None

    def _cell(self, row: int, column: int, kind: type[_W]) -> _W:
        widget = self.table.cellWidget(row, column)
        assert isinstance(widget, kind)
        return widget

    # --- acting -------------------------------------------------------------------------

    async def save(self) -> bool:
        if self.busy or (self._shown is None and not self.dirty):
            return False
        try:
            scene = self.form_scene()
        except TrayError as exc:
            self._say(exc.message)
            return False
        replacing = self._shown if self._shown in self._names() else None
        self.busy = True
        try:
            await asyncio.to_thread(self._store.save, scene, replacing=replacing)
        except TrayError as exc:
            self._say(exc.message)
            return False
        finally:
            self.busy = False
        self.dirty = False
        self._shown = scene.name
        await self.reload(select=scene.name)
        self._say(f"Saved {quoted(scene.name)}.")
        self._on_saved()
        return True

    async def _settled(self) -> bool:
        """Unsaved edits asked about: True when the caller may go on."""
        if not self.dirty:
            return True
        what = f"the scene {quoted(self.name_edit.text() or 'new')}"
        answer = await ask_unsaved(what, demo=self._demo, parent=self)
        if answer == "save":
            return await self.save()
        return answer == "discard"

    def _list_changed(self, name: str) -> None:
        # Decided now, not in the task: the list changes while it is being filled too.
        if not self._filling and name and name != self._shown:
            spawn(self._choose(name), doing="Showing the scene")

    async def _choose(self, name: str) -> None:
        if not await self._settled():
            self._filling = True
            names = self._names()
            if self._shown in names:
                self.scene_list.setCurrentRow(names.index(self._shown))
            self._filling = False
            return
        self._show_scene(next((s for s in self._scenes if s.name == name), None))

    async def _new(self) -> None:
        if not await self._settled():
            return
        self._show_scene(Scene(name=_free_name("New scene", self._names())))
        self._shown = None
        self.dirty = True
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _duplicate(self) -> None:
        try:
            scene = self.form_scene()
        except TrayError as exc:
            self._say(exc.message)
            return
        copy = scene.model_copy(update={"name": _free_name(f"{scene.name} copy", self._names())})
        self._show_scene(copy)
        self._shown = None
        self.dirty = True

    async def _delete(self) -> None:
        name = self._shown
        if name is None or name not in self._names():
            return
        if not await confirm(
            "Delete scene",
            f"Delete the scene {quoted(name)}?",
            informative="Its last version stays in the history.",
            yes="Delete",
            demo=self._demo,
            parent=self,
        ):
            return
        try:
            await asyncio.to_thread(self._store.delete, name)
        except TrayError as exc:
            self._say(exc.message)
            return
        self._shown = None
        await self.reload()
        self._say(f"Deleted {quoted(name)}.")
        self._on_saved()

    def _say(self, text: str) -> None:
        self.status.setText(text)

    # --- closing ------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.dirty:
            event.ignore()
            spawn(self._close_when_settled(), doing="Closing Scenes")
            return
        super().closeEvent(event)

    def reject(self) -> None:  # Esc, and Close
        if self.dirty:
            spawn(self._close_when_settled(), doing="Closing Scenes")
            return
        super().reject()

    async def _close_when_settled(self) -> None:
        if await self._settled():
            self.dirty = False
            super().reject()


def _free_name(wanted: str, taken: list[str]) -> str:
    folded = {t.casefold() for t in taken}
    name, number = wanted, 2
    while name.casefold() in folded:
        name, number = f"{wanted} {number}", number + 1
    return name
