"""The quick-chat popup's parts, each a small widget that knows how it shows one thing:
the model and preset pickers, a load's progress, the model's thinking folded away, the
tool calls, and an error with the fix it offers. `QuickChatWindow` arranges them and
decides when each shows; none of them asks anything of LM Studio.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tray.core.chat_view import Progress, ViewError

__all__ = [
    "ENTER_TOKEN_TEXT",
    "START_SERVER_TEXT",
    "ErrorBar",
    "LoadProgress",
    "Pickers",
    "ThinkingFold",
    "ToolLines",
    "fit_list_to_items",
    "hint_label",
    "place_near",
]

START_SERVER_TEXT = "Start server"
ENTER_TOKEN_TEXT = "Enter token…"
POINTER_GAP = 12  # pixels between the pointer and the window's corner
_HINT_STYLE = "color: palette(placeholder-text);"


def place_near(pointer: QPoint, size: tuple[int, int], available: QRect) -> QPoint:
    """Top-left corner for a window of `size` next to `pointer`, inside `available`
    (below-right of the pointer, flipped to the other side where it would not fit)."""
    width, height = size
    x, y = pointer.x() + POINTER_GAP, pointer.y() + POINTER_GAP
    if x + width > available.right():
        x = pointer.x() - POINTER_GAP - width
    if y + height > available.bottom():
        y = pointer.y() - POINTER_GAP - height
    x = max(available.left(), min(x, available.right() - width + 1))
    y = max(available.top(), min(y, available.bottom() - height + 1))
    return QPoint(x, y)


def hint_label(*, wrap: bool = False) -> QLabel:
    """A hidden label in the placeholder colour, for notes and figures beside the answer."""
    label = QLabel()
    label.setWordWrap(wrap)
    label.setStyleSheet(_HINT_STYLE)
    label.hide()
    return label


def fit_list_to_items(combo: QComboBox) -> None:
    """Let a combo's drop-down list be as wide as its longest item (the closed box may
    elide it), so that no model name is cut off where the user picks it."""
    view = combo.view()
    metrics = view.fontMetrics()
    widest = max(
        (metrics.horizontalAdvance(combo.itemText(i)) for i in range(combo.count())), default=0
    )
    # the item's own margins and the scroll bar that a long list gets
    view.setMinimumWidth(
        widest + 4 * metrics.averageCharWidth() + view.verticalScrollBar().sizeHint().width()
    )


def _eliding_combo(tooltip: str, min_chars: int) -> QComboBox:
    combo = QComboBox()
    combo.setToolTip(tooltip)
    # A key longer than the row is elided in the box (not the popup widened); the list
    # shows every key whole.
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(min_chars)
    return combo


class Pickers(QHBoxLayout):
    """The model and preset pickers, on a row of their own: model keys are long and must
    be readable."""

    def __init__(self) -> None:
        super().__init__()
        self.model_combo = _eliding_combo("Model: loaded models first", 24)
        self.preset_combo = _eliding_combo("Preset: system prompt and sampling", 10)
        self.addWidget(self.model_combo, 3)
        self.addWidget(self.preset_combo, 1)

    def lists_open(self) -> bool:
        """Whether either drop-down list is open under the pointer (refilling it then
        would pull the item away from the user)."""
        return self.model_combo.view().isVisible() or self.preset_combo.view().isVisible()


class LoadProgress(QWidget):
    """A thin bar and its sentence while a model is made ready (busy when the fraction is
    unknown)."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setFixedHeight(4)
        self.bar.setTextVisible(False)
        self.bar.setRange(0, 1000)
        self.label = QLabel()
        self.label.setStyleSheet(_HINT_STYLE)
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        self.hide()

    def follow(self, update: Progress) -> None:
        """Show `update`, or hide when it has no label (the wait is over)."""
        if not update.label:
            self.hide()
            return
        if update.fraction is None:
            self.bar.setRange(0, 0)  # busy indicator
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(update.fraction * 1000))
        self.label.setText(update.label)
        self.show()


class ThinkingFold(QWidget):
    """The model's reasoning, folded behind a button that counts its tokens."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.button = QToolButton()
        self.button.setCheckable(True)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setArrowType(Qt.ArrowType.RightArrow)
        self.button.setAutoRaise(True)
        self.button.toggled.connect(self._unfold)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumHeight(110)
        self.text.setStyleSheet(_HINT_STYLE)
        self.text.hide()
        layout.addWidget(self.button)
        layout.addWidget(self.text)
        self._pieces = 0
        self.hide()

    def add(self, text: str, pieces: int) -> None:
        cursor = self.text.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self._pieces += pieces
        self.button.setText(f"Thinking… ({self._pieces:,} tokens)")
        self.show()

    def finish(self) -> None:
        """The answer ended: 'Thinking…' becomes 'Thought'."""
        if self.isVisible():
            self.button.setText(self.button.text().replace("Thinking…", "Thought"))

    def reset(self) -> None:
        self.text.clear()
        self.button.setChecked(False)
        self._pieces = 0
        self.hide()

    def _unfold(self, shown: bool) -> None:
        self.text.setVisible(shown)
        self.button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)


class ToolLines(QLabel):
    """One line per tool call, in the order the model made them, updated in place."""

    def __init__(self) -> None:
        super().__init__()
        self.setStyleSheet("font-family: monospace;")
        self._lines: dict[int, str] = {}
        self.hide()

    def set_line(self, index: int, text: str) -> None:
        self._lines[index] = text
        self.setText("\n".join(self._lines[i] for i in sorted(self._lines)))
        self.show()

    def reset(self) -> None:
        self._lines = {}
        self.clear()
        self.hide()


class ErrorBar(QFrame):
    """An error in a red frame, with the one fix it offers as a button (Start server or
    Enter token…)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("quickChatError")
        self.setStyleSheet("#quickChatError { border: 1px solid #c0392b; border-radius: 4px; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_server_button = QPushButton(START_SERVER_TEXT)
        self.token_button = QPushButton(ENTER_TOKEN_TEXT)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.start_server_button)
        layout.addWidget(self.token_button)
        self.hide()

    def show_error(self, error: ViewError) -> None:
        title, message, fix = (html.escape(t) for t in (error.title, error.message, error.fix))
        self.label.setText(f"<b>{title}</b><br>{message}<br><i>{fix}</i>")
        self.start_server_button.setVisible(error.action == "start_server")
        self.token_button.setVisible(error.action == "enter_token")
        self.show()

    def show_text(self, text: str) -> None:
        """A plain sentence with no fix to offer."""
        self.label.setText(text)
        self.start_server_button.hide()
        self.token_button.hide()
        self.show()
