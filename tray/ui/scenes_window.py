"""The "Manage scenes…" window: the saved scenes on the left (New, Duplicate, Delete); on
the right the chosen scene — its name, its models with what the scene sets for each
(`scenes_parts`), what happens to the models outside it, and whether the server is
started — saved through the `SceneStore` in a thread, never on the Qt thread.

Renaming is saving under a new name (`replacing=` the old one). New opens an unsaved
draft; Duplicate saves a copy at once. Unsaved edits are never dropped silently: another
scene, New, Duplicate, Esc, Close and the window's X ask Save · Discard · Cancel first
(awaited, no nested event loop). "Free GPU" is built in: not listed, not editable.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tray.core.api import ModelInfo
from tray.core.errors import TrayError
from tray.core.scenes import Scene, parse_scene, unique_scene_name
from tray.core.words import quoted
from tray.services.scene_store import SceneStore
from tray.ui.dialogs import ask_unsaved, confirm
from tray.ui.scenes_parts import SceneListPane, SceneModelsTable
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = ["NEW_SCENE", "ScenesWindow"]

log = logging.getLogger(__name__)

NEW_SCENE = "New scene"


class ScenesWindow(QDialog):
    """Create once; `present()` shows it and reads the scenes and downloaded models again;
    `on_saved` is called after every change on disk (the tray re-reads its menu)."""

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
        self._on_saved = on_saved
        self._scenes: list[Scene] = []
        self._current: str | None = None  # the saved name of the scene in the editor
        self._open = False  # the editor holds a scene (saved, or a draft when no _current)
        self._clean: Any = None  # what the form said when it was filled
        self._asking = False  # the Save · Discard · Cancel question is up
        self.busy = False
        self.setWindowTitle(window_title("Scenes", demo=demo))
        self.setObjectName("scenes-window")
        self.setModal(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 12)
        layout.setSpacing(14)
        layout.addWidget(self._build_list(), 1)
        layout.addLayout(self._build_editor(), 4)
        self.resize(1180, 580)
        self._show_scene(None)

    def _build_list(self) -> SceneListPane:
        """Left: the saved scenes and New, Duplicate, Delete."""
        self.list_pane = SceneListPane()
        self.list = self.list_pane.list
        self.list_pane.picked.connect(self._picked)
        self.new_button = self.list_pane.new_button
        self.new_button.clicked.connect(lambda: spawn(self._new(), doing="Starting a new scene"))
        self.duplicate_button = self.list_pane.duplicate_button
        self.duplicate_button.clicked.connect(
            lambda: spawn(self._duplicate(), doing="Duplicating the scene")
        )
        self.delete_button = self.list_pane.delete_button
        self.delete_button.clicked.connect(
            lambda: spawn(self._delete(), doing="Deleting the scene")
        )
        return self.list_pane

    def _build_editor(self) -> QVBoxLayout:
        """Right: the name, the models, the extras, the status line, Save and Close."""
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Coding")
        self.name_edit.textChanged.connect(lambda _: self._edited())
        name_form = QFormLayout()
        name_form.addRow("Name", self.name_edit)
        self.table = SceneModelsTable()
        self.table.edited.connect(self._edited)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.table)
        models_box = QGroupBox(
            'Models (settings left "not set" come from the model\'s load profile)'
        )
        QVBoxLayout(models_box).addWidget(scroll)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b3261e;")
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)
        self.editor = QWidget()
        editor_layout = QVBoxLayout(self.editor)
        editor_layout.setContentsMargins(0, 0, 0, 0)
        editor_layout.addLayout(name_form)
        editor_layout.addWidget(models_box, 1)
        editor_layout.addWidget(self._build_extras())
        editor_layout.addWidget(self.problem)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right = QVBoxLayout()
        right.addWidget(self.editor, 1)
        right.addWidget(self.status)
        right.addLayout(self._build_buttons())
        return right

    def _build_extras(self) -> QWidget:
        """What happens to the models outside the scene, and the server."""
        self.unload_others = QRadioButton("Unload them")
        self.keep_others = QRadioButton("Leave them loaded")
        self._others = QButtonGroup(self)
        self._others.addButton(self.unload_others)
        self._others.addButton(self.keep_others)
        self.unload_others.setChecked(True)
        self.unload_others.toggled.connect(lambda _: self._edited())
        others = QHBoxLayout()
        others.addWidget(QLabel("Models outside the scene:"))
        others.addWidget(self.unload_others)
        others.addWidget(self.keep_others)
        others.addStretch(1)
        self.start_server = QCheckBox("Start the server when applying")
        self.start_server.toggled.connect(lambda _: self._edited())
        extras = QWidget()
        extras_layout = QVBoxLayout(extras)
        extras_layout.setContentsMargins(0, 0, 0, 0)
        extras_layout.addLayout(others)
        extras_layout.addWidget(self.start_server)
        return extras

    def _build_buttons(self) -> QHBoxLayout:
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._save_clicked)
        self.save_shortcut = QShortcut(QKeySequence.StandardKey.Save, self)
        self.save_shortcut.activated.connect(self._save_shortcut)
        shortcut = self.save_shortcut.key().toString(QKeySequence.SequenceFormat.NativeText)
        self.save_button.setToolTip(f"Save the scene ({shortcut})")
        self.unsaved_label = QLabel("● Unsaved changes")
        self.unsaved_label.setStyleSheet("color: #9a6700;")
        self.unsaved_label.setVisible(False)
        self.close_buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.close_buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.unsaved_label)
        bottom.addStretch(1)
        bottom.addWidget(self.close_buttons)
        return bottom

    # --- showing ------------------------------------------------------------------------

    def present(self) -> None:
        """Show it (or raise it where it is), then read the scenes and models again."""
        if self.isVisible():
            self.raise_()
            self.activateWindow()
        else:
            self.open()
        self._set_busy(True)  # from now on, not when the task starts: callers wait on it
        spawn(self.refresh(), doing="Reading the scenes")

    async def refresh(self) -> None:
        """Read the scenes (in a thread) and the downloaded models; an open edit stays."""
        self._set_busy(True)
        try:
            await self._read_scenes()
            try:
                self.table.set_downloaded(await self._list_models())
            except TrayError as exc:
                self._say(f"Could not list the downloaded models: {exc.message}", ok=False)
        finally:
            self._set_busy(False)
        if not self._dirty():
            found = self._scene(self._current) or (self._scenes[0] if self._scenes else None)
            self._show_scene(found)
        self._fill_list()

    async def _read_scenes(self) -> None:
        try:
            self._scenes = await asyncio.to_thread(self._store.list)
        except TrayError as exc:
            self._scenes = []
            self._say(exc.message, ok=False)

    def _scene(self, name: str | None) -> Scene | None:
        return next((s for s in self._scenes if name is not None and s.name == name), None)

    def scene_names(self) -> list[str]:
        return self.list_pane.names()

    def _fill_list(self) -> None:
        self.list_pane.show_scenes(self._scenes, self._current)

    def select(self, name: str) -> None:
        """Pick a scene as the user does (asking first about unsaved edits)."""
        self.list_pane.select(name)

    def _picked(self, name: str) -> None:
        if name == self._current and self._open:
            return
        if self._dirty():
            self.list_pane.mark(self._current)  # stay on the edited one until answered
            if not self._asking:
                spawn(self._switch(name), doing="Opening the scene")
            return
        self._show_scene(self._scene(name))

    async def _switch(self, name: str) -> None:
        if await self.settle():
            self.list_pane.mark(name)
            self._show_scene(self._scene(name))

    # --- the editor ---------------------------------------------------------------------

    def _show_scene(self, scene: Scene | None, *, draft: Scene | None = None) -> None:
        """Fill the editor with a saved `scene`, a `draft`, or nothing."""
        shown = scene or draft
        self._current = scene.name if scene is not None else None
        self._open = shown is not None
        shown = shown or Scene(name=NEW_SCENE)
        self.name_edit.blockSignals(True)
        self.name_edit.setText(shown.name if self._open else "")
        self.name_edit.blockSignals(False)
        self.table.blockSignals(True)
        self.table.show_models(shown.models)
        self.table.blockSignals(False)
        (self.unload_others if shown.others == "unload" else self.keep_others).setChecked(True)
        self.start_server.setChecked(shown.start_server)
        self._clean = self._snapshot()
        self.list_pane.mark(self._current)
        self._edited()

    def _snapshot(self) -> Any:
        return (
            self.name_edit.text(),
            self.table.snapshot(),
            self.unload_others.isChecked(),
            self.start_server.isChecked(),
        )

    def _dirty(self) -> bool:
        return self._open and self._snapshot() != self._clean

    def form_scene(self) -> Scene | None:
        """The scene the form describes, or None (the reason is shown) when it cannot be
        saved as it is."""
        self.problem.setVisible(False)
        if self.table.check():
            return None
        try:
            return parse_scene(
                {
                    "name": self.name_edit.text(),
                    "models": self.table.models(),
                    "others": "unload" if self.unload_others.isChecked() else "keep",
                    "start_server": self.start_server.isChecked(),
                }
            )
        except ValueError as exc:
            self.problem.setText(str(exc))
            self.problem.setVisible(True)
            return None

    def _edited(self) -> None:
        ok = self._open and self.form_scene() is not None
        if not self._open:
            self.problem.setVisible(False)
        dirty = self._dirty()
        draft = self._open and self._current is None
        idle = not self.busy
        self.editor.setEnabled(self._open and idle)
        self.unsaved_label.setVisible(dirty)
        self.save_button.setEnabled(ok and idle and (dirty or draft))
        self.duplicate_button.setEnabled(idle and self._current is not None)
        self.delete_button.setEnabled(idle and self._current is not None)
        self.new_button.setEnabled(idle)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._edited()

    def _say(self, text: str, *, ok: bool) -> None:
        colour, mark = ("#1b7f3b", "✔") if ok else ("#b3261e", "⚠")
        self.status.setText(f'<span style="color:{colour}">{mark}</span> {html.escape(text)}')

    # --- saving -------------------------------------------------------------------------

    def _save_clicked(self) -> None:
        if self.save_button.isEnabled():
            self.save_button.setEnabled(False)  # at once: a second click must not save twice
            spawn(self.save(), doing="Saving the scene")

    def _save_shortcut(self) -> None:
        """Ctrl+S: Save when there is something valid to save; otherwise say why not."""
        if self.save_button.isEnabled():
            self._save_clicked()
        elif self._open and not self.busy and self.form_scene() is None:
            self._say("Fix what is marked in red first, then save.", ok=False)

    async def save(self) -> bool:
        """Save the form (a rename replaces the old name); True when it is on disk."""
        scene = self.form_scene()
        if scene is None:
            self._say("Fix what is marked in red first, then save.", ok=False)
            return False
        was = self._current
        renamed = f" (renamed from {quoted(was)})" if was and was != scene.name else ""
        return await self._change(
            lambda: self._store.save(scene, replacing=was, new=was is None),
            scene.name,
            f"Saved {quoted(scene.name)}{renamed}. Earlier versions are in the history.",
        )

    async def _change(self, call: Callable[[], object], show: str | None, said: str) -> bool:
        """Change the scenes file with `call` (in a thread), read it back, open the scene
        called `show` (None: the first) and say `said`; the store's sentence if it fails."""
        self._set_busy(True)
        try:
            try:
                await asyncio.to_thread(call)
            except TrayError as exc:
                self._say(exc.message, ok=False)
                return False
            await self._read_scenes()
        finally:
            self._set_busy(False)
        self._show_scene(self._scene(show) or (self._scenes[0] if self._scenes else None))
        self._fill_list()
        self._say(said, ok=True)
        if self._on_saved is not None:
            self._on_saved()
        return True

    # --- unsaved edits ------------------------------------------------------------------

    async def settle(self) -> bool:
        """Before something replaces or closes the form: True when nothing unsaved is left
        (there was none, or the user saved or discarded it); False to keep editing."""
        if not self._dirty():
            return True
        if self._asking:
            return False
        name = self.name_edit.text().strip() or self._current or NEW_SCENE
        self._asking = True
        try:
            answer = await ask_unsaved(f"the scene {quoted(name)}", demo=self._demo, parent=self)
        finally:
            self._asking = False
        if answer == "cancel":
            return False
        if answer == "discard":
            self._show_scene(self._scene(self._current))
            return True
        if self.busy:
            return False
        return await self.save()

    def reject(self) -> None:
        """Esc, Close and the window's X all come here (QDialog's closeEvent rejects)."""
        if not self._dirty():
            super().reject()
        elif not self._asking:
            spawn(self._close_when_settled(), doing="Closing the scenes")

    async def _close_when_settled(self) -> None:
        if await self.settle():
            super().reject()

    # --- list gestures ------------------------------------------------------------------

    async def _new(self) -> None:
        if not await self.settle():
            return
        name = unique_scene_name(NEW_SCENE, [s.name for s in self._scenes])
        self._show_scene(None, draft=Scene(name=name))
        self._say("A new scene: name it, add its models, then Save.", ok=True)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    async def _duplicate(self) -> None:
        if not await self.settle():  # the copy is made of what is saved
            return
        original = self._scene(self._current)
        if original is None:
            return
        name = unique_scene_name(f"{original.name} copy", [s.name for s in self._scenes])
        copy = original.model_copy(update={"name": name})
        said = f"Saved a copy as {quoted(name)}. Type a new name and Save to rename it."
        if await self._change(lambda: self._store.save(copy, new=True), name, said):
            self.name_edit.setFocus()
            self.name_edit.selectAll()

    async def _delete(self) -> None:
        name = self._current
        if name is None:
            return
        sure = await confirm(
            "Delete scene",
            f"Delete the scene {quoted(name)}?",
            informative="Its last version is kept in LM Studio Tray's history, "
            "so it can be restored from there.",
            yes="Delete",
            demo=self._demo,
            parent=self,
        )
        if sure:
            said = f"Deleted {quoted(name)}. The history keeps its last version."
            await self._change(lambda: self._store.delete(name), None, said)
