"""The Presets window's left side: a search, the presets in the folder (an unreadable one
marked, with its error in the tooltip), and the file buttons — New, Duplicate, Rename,
Delete, Import…, Export… — whose clicks the window connects.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
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

__all__ = ["PresetListPane"]

_FILE_ROLE = Qt.ItemDataRole.UserRole


class PresetListPane(QWidget):
    """`chosen(file_name)` when the user picks a preset; `render` re-lists quietly."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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

    def _current_changed(self, item: QListWidgetItem | None, *_: object) -> None:
        if item is not None:
            self.chosen.emit(item.data(_FILE_ROLE))

    def render(self, summaries: list[PresetSummary], keep: str | None) -> QListWidgetItem | None:
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
                self.list.setCurrentItem(None)  # type: ignore[arg-type]
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
