"""The "Presets" window: LM Studio's config presets, listed with a search, edited field by
field with inline validation, and kept safe from outside changes.

Only the fields the user touches are written (a preset that leaves a field to LM Studio's
default keeps leaving it); everything else in the file survives as it was. Unsaved edits
are marked (title and a line by Save), Ctrl+S saves, and nothing drops them silently:
closing (Esc, Close, the window's X), picking another preset, New, Duplicate and Import
ask Save · Discard · Cancel first. Store calls run in threads through `spawn`.

When LM Studio (or anyone) changes the open preset's file, the window offers Reload ·
Merge · Keep editing; Merge is the core's three-way field merge and lists each conflict
with both values, so the user picks and nothing is lost.

The parts: `preset_list` (search, list, file buttons), `preset_form` (the fields),
`preset_outside` (the outside-change bar and the merge conflicts); this module ties them to
the store.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tray.core.errors import InvalidPreset, PresetChanged, TrayError
from tray.core.presets import MergeResult, Preset, merge, unique_name, validate
from tray.core.words import quoted
from tray.services.preset_store import PresetStore, PresetSummary
from tray.ui.dialogs import ask_unsaved, confirm
from tray.ui.preset_form import PresetForm
from tray.ui.preset_list import PresetListPane
from tray.ui.preset_outside import ConflictsBox, OutsideChangeBar
from tray.ui.settings_parts import message_line as _message
from tray.ui.settings_parts import show_error as _show_error
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = ["PresetDialog"]

log = logging.getLogger(__name__)


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
        self._merge: MergeResult | None = None
        self._busy = False
        self._loading: str | None = None  # the file being read into the form
        self._asking = False  # the Save · Discard · Cancel question is up
        self._pending_select: str | None = None

        # [*]: Qt shows the unsaved mark there (an asterisk; a dot on macOS)
        self.setWindowTitle(window_title("Presets[*]", demo=demo))
        self.setObjectName("preset-dialog")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 12)
        layout.setSpacing(14)
        layout.addWidget(self._build_list_pane(), 2)
        layout.addLayout(self._build_editor(), 5)
        self.resize(900, 720)
        self.form.show_nothing()
        self._say()
        self._render_buttons()

    def _build_list_pane(self) -> PresetListPane:
        """Left: search, the presets, and the file buttons."""
        self.list_pane = PresetListPane(demo=self._demo, current=self.selected_file)
        self.search = self.list_pane.search
        self.preset_list = self.list_pane.list
        self.search.textChanged.connect(lambda _: self._render_list())
        self.list_pane.chosen.connect(self._chosen)
        self.list_pane.new_button.clicked.connect(self._new_clicked)
        self.list_pane.duplicate_button.clicked.connect(self._duplicate_clicked)
        self.list_pane.rename_button.clicked.connect(self._rename_clicked)
        self.list_pane.delete_button.clicked.connect(self._delete_clicked)
        self.list_pane.import_chosen.connect(
            lambda path: spawn(self._import(path), doing="Importing the preset")
        )
        self.list_pane.export_chosen.connect(
            lambda name, path: spawn(self._export(name, path), doing="Exporting the preset")
        )
        return self.list_pane

    def _build_editor(self) -> QVBoxLayout:
        """Right: the outside-change bar, conflicts, messages, the form, Save."""
        self.external_bar = OutsideChangeBar()
        self.external_bar.reload_button.clicked.connect(self._reload_clicked)
        self.external_bar.merge_button.clicked.connect(self._merge_clicked)
        self.conflicts_box = ConflictsBox()
        self.conflicts_box.use_mine.connect(self._use_mine)

        self.error_label = _message(error=True)
        self.error_label.setObjectName("preset-error")
        self.info_label = _message(error=False)
        self.info_label.setObjectName("preset-info")

        self.form = PresetForm()
        self.form.edited.connect(self._edited)
        self.name_edit = self.form.name_edit
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.form)

        right = QVBoxLayout()
        right.addWidget(self.external_bar)
        right.addWidget(self.conflicts_box)
        right.addWidget(self.error_label)
        right.addWidget(self.info_label)
        right.addWidget(scroll, 1)
        right.addLayout(self._build_save_row())
        return right

    def _build_save_row(self) -> QHBoxLayout:
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("preset-save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._save_clicked)
        self.unsaved_label = _message(error=False)
        self.unsaved_label.setObjectName("preset-unsaved")
        self.unsaved_label.setText("● Unsaved changes")
        self.unsaved_label.setWordWrap(False)
        self.unsaved_label.setStyleSheet("color: #9a6700;")
        self.unsaved_label.setVisible(False)
        self.save_shortcut = QShortcut(QKeySequence.StandardKey.Save, self)
        self.save_shortcut.activated.connect(self._save_shortcut)
        shortcut = self.save_shortcut.key().toString(QKeySequence.SequenceFormat.NativeText)
        self.save_button.setToolTip(f"Save the preset ({shortcut})")
        self._save_tip = self.save_button.toolTip()
        self.close_buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.close_buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.unsaved_label)
        bottom.addStretch(1)
        bottom.addWidget(self.close_buttons)
        return bottom

    # --- showing ------------------------------------------------------------------------

    def present(self, name: str | None = None) -> None:
        if self.isVisible():
            self.raise_()
            self.activateWindow()
        else:
            # Closing left nothing unsaved; read the preset again, it may have changed
            # while the window was hidden (outside changes are only watched while shown).
            self._loaded = None
            self._render_buttons()  # the form is off until it is read again
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

    def _render_list(self, keep: str | None = None) -> None:
        keep = keep or self._current
        chosen = self.list_pane.show_presets(self._summaries, keep)
        if chosen is None and self.preset_list.count() and keep is None:
            chosen = self.preset_list.item(0)
        if chosen is not None:
            self.list_pane.mark(chosen)  # re-listing is not the user choosing
            file_name = self.list_pane.file_of(chosen)
            if file_name != self._current or self._loaded is None:
                self._chosen(file_name)

    def _summary(self, file_name: str | None) -> PresetSummary | None:
        return next((s for s in self._summaries if s.file_name == file_name), None)

    def _chosen(self, file_name: str) -> None:
        """The user (or `present`) picked a preset in the list."""
        if self._dirty():
            # stay on the edited one until the user has answered
            self.list_pane.mark(self.list_pane.item_of(self._current))
            if file_name != self._current and not self._asking:
                spawn(self._switch_when_settled(file_name), doing="Opening the preset")
            return
        self._open(file_name)

    async def _switch_when_settled(self, file_name: str) -> None:
        if await self.settle():
            self.list_pane.mark(self.list_pane.item_of(file_name))
            self._open(file_name)

    def _open(self, file_name: str) -> None:
        self._current = file_name
        self.external_bar.setVisible(False)
        self._clear_conflicts()
        summary = self._summary(file_name)
        if summary is not None and summary.error:
            self._forget()
            self._say(
                error=f"{summary.file_name} cannot be read: {summary.error} It is shown as it "
                "is and never rewritten; fix it in a text editor or delete it."
            )
            return
        spawn(self._load(file_name), doing="Opening the preset")

    async def _load(self, file_name: str) -> None:
        self._loading = file_name
        self._render_buttons()  # no typing into the form while it is being replaced
        try:
            preset = await asyncio.to_thread(self._store.load_path, self._store.folder / file_name)
        except TrayError as exc:
            if file_name == self._current:
                self._forget()
                self._say(error=exc.message)
            return
        finally:
            if self._loading == file_name:
                self._loading = None
                self._render_buttons()
        if file_name != self._current:
            return  # the user moved on meanwhile
        self._fill(preset)
        self._say()

    # --- editor -------------------------------------------------------------------------

    def _fill(self, preset: Preset) -> None:
        self._loaded = preset
        self.form.show_preset(preset, reset=True)
        self._edited()

    def _forget(self) -> None:
        """Nothing open in the form (deleted, unreadable, not loaded): no field to type in."""
        self._loaded = None
        self.form.show_nothing()
        self._say()
        self._render_buttons()

    def _dirty(self) -> bool:
        return self._loaded is not None and bool(self.form.changed_fields())

    def edited_preset(self) -> Preset | None:
        """The loaded preset with the fields the user changed (name excluded: a new name is
        a rename, done after the save)."""
        if self._loaded is None:
            return None
        return self.form.edited_preset(self._loaded)

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

    def _edited(self) -> None:
        problems = self._problems()
        self.form.show_problems(problems)
        self._render_buttons(problems=problems)

    def _render_buttons(self, problems: dict[str, str] | None = None) -> None:
        if problems is None:
            problems = self._problems()
        has = self._loaded is not None
        idle = not self._busy
        dirty = self._dirty()
        self.form.setEnabled(has and self._loading is None)
        self.setWindowModified(dirty)
        self.unsaved_label.setVisible(dirty)
        self.save_button.setEnabled(has and idle and not problems and dirty)
        self.save_button.setToolTip(
            "Fix the fields marked in red first." if problems else self._save_tip
        )
        exists = self._current is not None
        pane = self.list_pane
        pane.duplicate_button.setEnabled(has and idle)
        pane.rename_button.setEnabled(has and idle)
        pane.delete_button.setEnabled(exists and idle)
        pane.export_button.setEnabled(exists and idle)
        pane.new_button.setEnabled(idle)
        pane.import_button.setEnabled(idle)

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

    def _save_shortcut(self) -> None:
        """Ctrl+S: Save when there is something valid to save; otherwise say why not."""
        if self.save_button.isEnabled():
            self._save_clicked()
        elif self._loaded is not None and not self._busy and self._problems():
            self._say(error="Fix the fields marked in red first, then save.")

    async def _save(self) -> bool:
        """Save the edits (the caller set busy); True when they are on disk."""
        try:
            preset = self.edited_preset()
            loaded = self._loaded
            if preset is None or loaded is None:
                return False
            new_name = self.name_edit.text().strip()
            try:
                saved = await asyncio.to_thread(
                    self._store.save, preset, expected_sha256=loaded.sha256
                )
                if new_name and new_name != saved.name and saved.origin:
                    saved = await asyncio.to_thread(self._store.rename, saved.origin, new_name)
            except PresetChanged as exc:
                self._show_external(exc.message)
                return False
            except InvalidPreset as exc:
                for field, message in exc.problems:
                    self.form.show_problem(field, message)
                self._say(error=exc.message)
                return False
            except TrayError as exc:
                self._say(error=exc.message)
                return False
            self._current = saved.origin
            self._clear_conflicts()
            self.external_bar.setVisible(False)
            self._fill(saved)
            self._say(
                info=f"Saved {quoted(saved.name)}. The previous version is kept in the history."
            )
            await self._refresh(saved.origin)
            return True
        finally:
            self._set_busy(False)

    # --- unsaved edits ------------------------------------------------------------------

    async def settle(self) -> bool:
        """Before something replaces or closes the form: True when nothing unsaved is left
        (there was none, or the user saved or discarded it); False to keep editing (the
        user cancelled, or the save did not go through — its reason is shown)."""
        if not self._dirty():
            return True
        if self._asking:
            return False
        name = self.name_edit.text().strip() or (self._loaded.name if self._loaded else "")
        self._asking = True
        try:
            answer = await ask_unsaved(f"the preset {quoted(name)}", demo=self._demo, parent=self)
        finally:
            self._asking = False
        if answer == "cancel":
            return False
        if answer == "discard":
            if self._loaded is not None:
                self._fill(self._loaded)  # back to the file's values
            return True
        if self._busy:
            return False
        if self._problems():
            self._say(error="Fix the fields marked in red first, then save.")
            return False
        self._set_busy(True)
        return await self._save()

    def reject(self) -> None:
        """Esc, Close and the window's X all come here (QDialog's closeEvent rejects)."""
        if not self._dirty():
            super().reject()
        elif not self._asking:
            spawn(self._close_when_settled(), doing="Closing the presets")

    async def _close_when_settled(self) -> None:
        if await self.settle():
            super().reject()

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
        self.external_bar.show_change(detail)
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
        self.form.show_preset(result.merged, reset=False)
        self._edited()
        self._clear_conflicts()
        self.conflicts_box.show_conflicts(result)
        self._merge = result  # after: showing clears the previous merge
        if result.conflicts:
            self._say(
                info="Merged. Where both changed a field, the new version is shown; "
                "pick yours below if you prefer it, then Save."
            )
        else:
            self._say(info="Merged your edits into the new version; Save to keep them.")

    def _use_mine(self, key: str) -> None:
        if self._merge is None:
            return
        self.form.show_preset(self._merge.resolve([key]), reset=False)
        self._edited()

    def _clear_conflicts(self) -> None:
        self._merge = None
        self.conflicts_box.clear()

    # --- list gestures ------------------------------------------------------------------

    def _taken(self) -> list[str]:
        return [n for s in self._summaries for n in (s.name, s.file_name)]

    def _new_clicked(self) -> None:
        spawn(self._create(unique_name("New preset", self._taken())), doing="Creating a preset")

    async def _create(self, name: str) -> None:
        await self._run(lambda: self._store.create(name), focus_name=True)

    def _duplicate_clicked(self) -> None:
        spawn(self._duplicate(), doing="Duplicating the preset")

    async def _duplicate(self) -> None:
        if not await self.settle():  # the copy is made of the file: save the edits first
            return
        if self._loaded is None or self._current is None:
            return
        name = unique_name(f"{self._loaded.name} copy", self._taken())
        current = self._current
        await self._run(lambda: self._store.duplicate(current, name), focus_name=True)

    async def _run(self, call: Any, *, focus_name: bool) -> None:
        """Create a preset file with `call` and open it, once the edits are settled."""
        if not await self.settle():
            return
        self._set_busy(True)
        try:
            try:
                preset: Preset = await asyncio.to_thread(call)
            except TrayError as exc:
                self._say(error=exc.message)
                return
            self._current = preset.origin
            self._forget()
            await self._refresh(preset.origin)
            self._say(info=f"Created {quoted(preset.name)}. Type a new name and Save to rename it.")
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
            f"Delete the preset {quoted(name)}?",
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
            self._forget()
            await self._refresh()
            self._say(info=deleted.restore_hint)
        finally:
            self._set_busy(False)

    async def _import(self, path: Path) -> None:
        await self._run(lambda: self._store.import_file(path), focus_name=False)

    async def _export(self, file_name: str, target: Path) -> None:
        try:
            written = await asyncio.to_thread(self._store.export, file_name, target)
        except TrayError as exc:
            self._say(error=exc.message)
            return
        self._say(info=f"Exported to {written}.")
