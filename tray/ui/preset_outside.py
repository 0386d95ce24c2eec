"""The Presets window's answer to a preset changed outside the tray (by LM Studio, an editor,
a sync tool): a bar offering Reload · Merge · Keep editing, and after a merge the fields
both sides changed, each with its two values and a "Use mine" button.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tray.core.presets import MergeResult

__all__ = ["ConflictsBox", "OutsideChangeBar"]

_BAR_STYLE = (
    "QFrame#preset-external-bar { background: #fff4e5; border: 1px solid #ffcc80;"
    " border-radius: 4px; } QFrame#preset-external-bar QLabel { color: #5d4037; }"
)


class OutsideChangeBar(QFrame):
    """Hidden until `show_change`; the buttons are the window's to connect (Keep editing
    only hides the bar)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preset-external-bar")
        self.setStyleSheet(_BAR_STYLE)
        bar = QHBoxLayout(self)
        bar.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel("This preset was changed outside LM Studio Tray (by LM Studio?).")
        self.label.setWordWrap(True)
        self.reload_button = QPushButton("Reload")
        self.merge_button = QPushButton("Merge")
        self.keep_button = QPushButton("Keep editing")
        self.keep_button.clicked.connect(lambda: self.setVisible(False))
        bar.addWidget(self.label, 1)
        for b in (self.reload_button, self.merge_button, self.keep_button):
            bar.addWidget(b)
        self.setVisible(False)

    def show_change(self, detail: str | None = None) -> None:
        text = "This preset was changed outside LM Studio Tray."
        if detail and "deleted" in detail:
            text = detail
        self.label.setText(
            f"{text} Reload it (your edits are dropped), merge your edits into the new "
            "version, or keep editing."
        )
        self.setVisible(True)


class ConflictsBox(QFrame):
    """The fields a merge found changed on both sides; `use_mine(key)` when the user
    prefers their own value for one."""

    use_mine = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preset-conflicts")
        self.setStyleSheet(
            "QFrame#preset-conflicts { border: 1px solid #e57373; border-radius: 4px; }"
        )
        self._layout = QVBoxLayout(self)
        self.setVisible(False)

    def show_conflicts(self, result: MergeResult) -> None:
        self.clear()
        if not result.conflicts:
            return
        count = len(result.conflicts)
        fields = "One field" if count == 1 else f"{count} fields"
        title = QLabel(f"<b>{fields} changed on both sides:</b>")
        self._layout.addWidget(title)
        for conflict in result.conflicts:
            row = QHBoxLayout()
            label = QLabel(
                f"{conflict.label}: yours {conflict.mine_text}, theirs {conflict.theirs_text}"
            )
            label.setObjectName(f"conflict-{conflict.key}")
            button = QPushButton("Use mine")
            button.setObjectName(f"use-mine-{conflict.key}")
            button.clicked.connect(lambda _=False, key=conflict.key: self.use_mine.emit(key))
            row.addWidget(label, 1)
            row.addWidget(button)
            self._layout.addLayout(row)
        self.setVisible(True)

    def clear(self) -> None:
        _clear_layout(self._layout)
        self.setVisible(False)


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
