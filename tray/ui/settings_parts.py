"""What the Settings window's pages share: the line under a field — a red error that shows
only while there is one, or a grey explanation — and the stack that holds a field with its
lines."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

__all__ = ["ERROR_COLOUR", "message_line", "show_error", "stacked"]

ERROR_COLOUR = "#c62828"


def message_line(*, error: bool, wrap: bool = True) -> QLabel:
    """A line under a field: a red error (hidden while empty) or a grey explanation."""
    label = QLabel()
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if error:
        label.setStyleSheet(f"color: {ERROR_COLOUR};")
        label.setVisible(False)
    else:
        # Secondary text: the text colour blended towards the background, readable on light
        # and dark themes alike (the "disabled" colour is too faint for sentences).
        palette = label.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        back = palette.color(QPalette.ColorRole.Window)
        palette.setColor(
            QPalette.ColorRole.WindowText,
            QColor(
                round(0.62 * text.red() + 0.38 * back.red()),
                round(0.62 * text.green() + 0.38 * back.green()),
                round(0.62 * text.blue() + 0.38 * back.blue()),
            ),
        )
        label.setPalette(palette)
    return label


def show_error(label: QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


def stacked(*widgets: QWidget) -> QWidget:
    """A field with its error and hint lines under it (hidden lines take no room)."""
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(4)
    for widget in widgets:
        column.addWidget(widget)
    return holder
