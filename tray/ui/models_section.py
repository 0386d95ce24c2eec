"""The tray menu's models section: a "Loaded models" submenu (one submenu per loaded model
with its facts and Eject, then Eject all and Restore) and "Load model…".

It renders `ServerStatus.loaded` rows, updating the entries in place so an open menu does
not flicker, and turns clicks into `ModelManager` calls. What the lines say and when an
eject needs a yes are decided in `tray.core.restore`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from tray.core.api import ModelInfo
from tray.core.backends import Capabilities
from tray.core.errors import LmStudioError
from tray.core.inventory import LoadedModelRow
from tray.core.notifications import Severity
from tray.core.restore import (
    eject_all_question,
    eject_needs_confirmation,
    eject_question,
    restore_outcome_text,
    row_label,
    row_lines,
)
from tray.core.status import ServerStatus
from tray.core.words import plural
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_manager import ModelManager
from tray.ui.dialogs import confirm
from tray.ui.load_menu import LoadMenu
from tray.ui.notifier import Notify
from tray.ui.tasks import spawn
from tray.ui.tray_icon import make_disabled_text_readable as readable_facts

if TYPE_CHECKING:  # the window's module is imported when it is first opened
    from tray.ui.load_model_dialog import LoadModelDialog

__all__ = ["ModelsSection"]

log = logging.getLogger(__name__)


class _ModelEntry:
    """One loaded model's submenu: disabled fact lines, a separator, Eject."""

    def __init__(self, parent: QMenu, row: LoadedModelRow, on_eject: Callable[[str], None]) -> None:
        self.identifier = row.identifier
        self.menu = QMenu(row_label(row), parent)
        readable_facts(self.menu)  # the fact lines are disabled items: keep them legible
        self.lines: list[QAction] = []
        self._separator = self.menu.addSeparator()
        self.eject = self.menu.addAction("Eject")
        self.eject.triggered.connect(lambda: on_eject(self.identifier))
        self.row: LoadedModelRow | None = None
        self.update(row)

    def update(self, row: LoadedModelRow) -> None:
        if row == self.row:
            return
        self.row = row
        label = row_label(row)
        if self.menu.title() != label:
            self.menu.setTitle(label)
        lines = row_lines(row) or ("no details known",)
        while len(self.lines) > len(lines):
            stale = self.lines.pop()
            self.menu.removeAction(stale)
            stale.deleteLater()
        while len(self.lines) < len(lines):
            line = QAction(self.menu)
            line.setEnabled(False)
            self.menu.insertAction(self._separator, line)
            self.lines.append(line)
        for action, text in zip(self.lines, lines, strict=True):
            if action.text() != text:
                action.setText(text)


class ModelsSection:
    """Owns the models section's menu items; `render` keeps them in step with the status."""

    def __init__(
        self,
        manager_factory: Callable[[], ModelManager | None],
        *,
        refresh: Callable[[], None],
        list_downloaded: Callable[[], Awaitable[list[ModelInfo]]],
        demo: bool,
        inform: Notify | None = None,
        profiles: LoadProfileStore | None = None,
    ) -> None:
        """`manager_factory` gives the manager for the active server profile (None when
        models cannot be managed there); `refresh` asks for a status probe now;
        `inform` shows a non-error outcome (e.g. a restore without lms's settings);
        `profiles` are the load profiles the Load model dialog applies."""
        self._profiles = profiles
        self._manager_factory = manager_factory
        self._refresh = refresh
        self._list_downloaded = list_downloaded
        self._demo = demo
        self._inform: Notify = inform or (lambda title, text, _: log.info("%s: %s", title, text))
        self._rows: tuple[LoadedModelRow, ...] = ()
        self._entries: dict[str, _ModelEntry] = {}
        self._restore_for: ModelManager | None = None  # whose restore point is cached
        self._restore_count = 0
        self._busy = False
        self._last: tuple[ServerStatus, Capabilities] | None = None
        self.dialog: LoadModelDialog | None = None

        self.menu = QMenu("Loaded models")
        readable_facts(self.menu)
        self.loaded_action = self.menu.menuAction()
        self._empty = self.menu.addAction("No models loaded")
        self._empty.setEnabled(False)
        self._end_of_models = self.menu.addSeparator()
        self.eject_all_action = self.menu.addAction("Eject all")
        self.eject_all_action.triggered.connect(
            lambda: spawn(self._eject_all(), doing="Ejecting all models")
        )
        self.restore_action = self.menu.addAction("Restore models")
        self.restore_action.triggered.connect(
            lambda: spawn(self._restore(), doing="Restoring models")
        )
        self.restore_action.setVisible(False)
        self.load_action = QAction("Load model…")
        self.load_action.triggered.connect(self.open_load_dialog)
        # A server that loads through its own API (Ollama): its downloaded models.
        self.load_menu = LoadMenu(
            manager_factory,
            loaded=lambda: {r.identifier for r in self._rows},
            done=refresh,
        )

    def actions(self) -> list[QAction]:
        return [self.loaded_action, self.load_action, self.load_menu.action]

    @property
    def entries(self) -> dict[str, _ModelEntry]:
        return self._entries

    # --- rendering -------------------------------------------------------------------

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        self._last = (status, caps)
        up = status.state.is_up
        self.loaded_action.setVisible(caps.lists_loaded)
        # The Load model window loads with LM Studio's load profiles; Ollama loads what is
        # asked by itself (and `models load --keep-alive` does it from the command line).
        self.load_action.setVisible(caps.load_profiles)
        self.loaded_action.setEnabled(up)
        self.load_action.setEnabled(up and caps.load_profiles)
        own_loads = caps.load_unload and not caps.load_profiles
        self.load_menu.action.setVisible(own_loads)
        self.load_menu.action.setEnabled(up and own_loads)
        rows = status.loaded if up else ()
        if rows != self._rows:
            self._rows = rows
            self._render_rows(rows)
        title = f"Loaded models ({len(rows)})" if up else "Loaded models"
        if self.menu.title() != title:
            self.menu.setTitle(title)
        for entry in self._entries.values():
            entry.eject.setEnabled(caps.load_unload and not self._busy)
        self.eject_all_action.setEnabled(bool(rows) and caps.load_unload and not self._busy)
        self._render_restore(caps)

    def _render_rows(self, rows: Sequence[LoadedModelRow]) -> None:
        wanted = {r.identifier: r for r in rows}
        for identifier in [i for i in self._entries if i not in wanted]:
            gone = self._entries.pop(identifier)
            self.menu.removeAction(gone.menu.menuAction())
            gone.menu.deleteLater()
        for row in rows:
            entry = self._entries.get(row.identifier)
            if entry is None:
                entry = _ModelEntry(self.menu, row, self._on_eject)
                self.menu.insertMenu(self._end_of_models, entry.menu)
                self._entries[row.identifier] = entry
            else:
                entry.update(row)
        self._empty.setVisible(not rows)

    def _render_restore(self, caps: Capabilities) -> None:
        manager = self._manager_factory() if caps.load_unload else None
        if manager is not self._restore_for:
            # The file is read once per manager (profile) and after our own changes,
            # not on every status update.
            self._restore_for = manager
            point = manager.restore_point() if manager is not None else None
            self._restore_count = len(point.models) if point is not None else 0
        n = self._restore_count
        self.restore_action.setVisible(n > 0)
        self.restore_action.setEnabled(n > 0 and not self._busy)
        text = f"Restore {plural(n, 'model')}"
        if self.restore_action.text() != text:
            self.restore_action.setText(text)

    def _forget_restore_point(self) -> None:
        self._restore_for = None

    # --- gestures ----------------------------------------------------------------------

    def _manager(self) -> ModelManager:
        manager = self._manager_factory()
        if manager is None:
            raise LmStudioError(
                "Models cannot be loaded or ejected on this server.", title="Not available"
            )
        return manager

    def _row(self, identifier: str) -> LoadedModelRow | None:
        return next((r for r in self._rows if r.identifier == identifier), None)

    def _on_eject(self, identifier: str) -> None:
        spawn(self.eject(identifier), doing=f"Ejecting {identifier}")

    async def eject(self, identifier: str) -> bool:
        """Eject one model, asking first when it is busy; False if the user said no."""
        row = self._row(identifier)
        if row is not None and eject_needs_confirmation(row):
            text, informative = eject_question(row)
            if not await confirm(
                "Eject model", text, informative=informative, yes="Eject", demo=self._demo
            ):
                return False
        await self._manager().eject(identifier)
        self._refresh()
        return True

    async def _eject_all(self) -> bool:
        rows = self._rows
        question = eject_all_question(rows)
        if question is not None:
            text, informative = question
            if not await confirm(
                "Eject all models",
                text,
                informative=informative,
                yes="Eject all",
                demo=self._demo,
            ):
                return False
        self._set_busy(True)
        try:
            await self._manager().eject_all(rows)
        finally:
            self._forget_restore_point()
            self._set_busy(False)
            self._refresh()
        return True

    async def _restore(self) -> None:
        self._set_busy(True)
        try:
            outcomes = await self._manager().restore()
        finally:
            self._forget_restore_point()
            self._set_busy(False)
            self._refresh()
        text = restore_outcome_text(outcomes)
        if not all(o.ok for o in outcomes):
            raise LmStudioError(text, title="Restore incomplete")
        if any(o.not_restored or o.loaded_as != o.identifier for o in outcomes):
            # Back, but not quite as they were (a setting lms cannot carry, another name).
            self._inform("Models restored", text, Severity.WARNING)

    def _set_busy(self, busy: bool) -> None:
        # One eject-all or restore at a time: their items stay disabled meanwhile.
        self._busy = busy
        if self._last is not None:
            self.render(*self._last)

    def open_load_dialog(self) -> LoadModelDialog:
        """Show the Load model dialog (one at a time)."""
        if self.dialog is None:
            from tray.ui.load_model_dialog import LoadModelDialog

            self.dialog = LoadModelDialog(
                self._list_downloaded,
                self._manager_factory,
                demo=self._demo,
                on_loaded=self._refresh,
                profiles=self._profiles,
            )
        self.dialog.open()
        self.dialog.raise_()
        self.dialog.activateWindow()
        self.dialog.reload()
        return self.dialog
