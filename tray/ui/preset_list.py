"""The Presets window's left side: a search, the presets in the folder (an unreadable one
marked, with its error in the tooltip), and the file buttons — New, Duplicate, Rename,
Delete, whose clicks the window connects, and Import… and Export…, which ask for the file
first and hand the window the path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from tray.services.preset_store import PresetSummary
from tray.ui.status_text import window_title

__all__ = ["PresetListPane"]

_FILE_ROLE = Qt.ItemDataRole.UserRole


class PresetListPane(QWidget):
    """`chosen(file_name)` when the user picks a preset; `render` re-lists quietly.
    `import_chosen(path)` and `export_chosen(file_name, path)` once the file dialog has its
    answer; `current()` names the preset Export… exports."""

    chosen = Signal(str)
    import_chosen = Signal(Path)
    export_chosen = Signal(str, Path)

    def __init__(
        self,
        *,
        demo: bool,
        current: Callable[[], str | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._demo = demo
        self._current = current
        self._summaries: list[PresetSummary] = []
        self.search = QLineEdit()
        self.search.setObjectName("preset-search")
        self.search.setPlaceholderText("Search presets")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setObjectName("preset-list")
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentItemChanged.connect(self._current_changed)
        self.new_button = QPushButton("New")
        self.duplicate_button = QPushButton("Duplicate")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.import_button.clicked.connect(self._import_clicked)
        self.export_button.clicked.connect(self._export_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        for pair in (
            (self.new_button, self.duplicate_button),
            (self.rename_button, self.delete_button),
            (self.import_button, self.export_button),
        ):
            row = QHBoxLayout()
            for b in pair:
                row.addWidget(b)
            layout.addLayout(row)

    def _import_clicked(self) -> None:
        box = QFileDialog(self, window_title("Import a preset", demo=self._demo))
        box.setFileMode(QFileDialog.FileMode.ExistingFile)
        box.setNameFilters(["Presets (*.preset.json *.json)", "All files (*)"])
        box.fileSelected.connect(lambda path: self.import_chosen.emit(Path(path)))
        box.open()

    def _export_clicked(self) -> None:
        current = self._current()
        if current is None:
            return
        box = QFileDialog(self, window_title("Export the preset", demo=self._demo))
        box.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        box.selectFile(current)
        box.fileSelected.connect(lambda path: self.export_chosen.emit(current, Path(path)))
        box.open()

    def _current_changed(self, item: QListWidgetItem | None, *_: object) -> None:
        if item is not None:
            self.chosen.emit(item.data(_FILE_ROLE))

    def show_presets(
        self, summaries: list[PresetSummary], keep: str | None
    ) -> QListWidgetItem | None:
        """List `summaries` that match the search, without telling anyone; return the item
        of `keep` (a file name) if it is listed."""
        self._summaries = summaries
        needle = self.search.text().strip().casefold()
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.list.blockSignals(True)
        try:
            self.list.clear()
            chosen: QListWidgetItem | None = None
            for s in summaries:
                haystack = f"{s.name} {s.file_name} {s.identifier or ''}".casefold()
                if needle and needle not in haystack:
                    continue
                item = QListWidgetItem(s.name)
                item.setData(_FILE_ROLE, s.file_name)
                if s.error:
                    item.setIcon(warning)
                    item.setText(f"{s.name}\ncannot be read: select it for details")
                    item.setToolTip(f"{s.file_name}: {s.error}")
                else:
                    item.setToolTip(f"{s.file_name}\n{s.identifier or ''}")
                self.list.addItem(item)
                if s.file_name == keep:
                    chosen = item
        finally:
            self.list.blockSignals(False)
        return chosen

    def mark(self, item: QListWidgetItem | None) -> None:
        """Make `item` the current one (None: none) without telling anyone."""
        self.list.blockSignals(True)
        try:
            if item is None:
                self.list.setCurrentItem(None)  # type: ignore[call-overload]
                self.list.clearSelection()
            else:
                self.list.setCurrentItem(item)
        finally:
            self.list.blockSignals(False)

    def item_of(self, file_name: str | None) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(_FILE_ROLE) == file_name:
                return item
        return None

    def file_of(self, item: QListWidgetItem) -> str:
        return str(item.data(_FILE_ROLE))
