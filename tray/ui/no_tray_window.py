"""The window shown instead of the tray icon when the desktop has no system tray.

Without it the app would run invisibly (GNOME has no tray unless an extension adds one).
It shows the same status as the tray menu, says where a tray can be found, and offers the
tray's menu through a button, so nothing is out of reach.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from tray.core.status import ServerStatus
from tray.ui.icons import state_icon
from tray.ui.status_text import header_lines, window_title

__all__ = ["NoTrayWindow"]

WHERE_TO_FIND_THE_TRAY = (
    "No system tray was found on this desktop, so LM Studio Tray shows this window "
    "instead. The icon moves to the tray by itself as soon as one appears.<br><br>"
    "<b>Where to find the tray</b><ul>"
    "<li>GNOME: install and enable the “AppIndicator and KStatusNotifierItem Support” "
    "extension (package <i>gnome-shell-extension-appindicator</i>), then log out and in.</li>"
    "<li>KDE Plasma, Xfce, Cinnamon, MATE: add the “System Tray” (or “Notification Area”) "
    "widget to a panel.</li>"
    "<li>Windows: the notification area at the right of the taskbar (click ^ for hidden "
    "icons).</li>"
    "<li>macOS: the menu bar, top right.</li></ul>"
    "Closing this window quits LM Studio Tray."
)


class NoTrayWindow(QWidget):
    quit_requested = Signal()

    def __init__(self, menu: QMenu) -> None:
        super().__init__()
        self._icon = QLabel()
        self._status = QLabel()
        self._status.setObjectName("status")
        status_row = QHBoxLayout()
        status_row.addWidget(self._icon)
        status_row.addWidget(self._status, 1)
        explanation = QLabel(WHERE_TO_FIND_THE_TRAY)
        explanation.setObjectName("explanation")
        explanation.setWordWrap(True)
        menu_button = QPushButton("Menu")
        menu_button.setMenu(menu)
        quit_button = QPushButton("Quit")
        quit_button.clicked.connect(self.quit_requested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(menu_button)
        buttons.addWidget(quit_button)
        layout = QVBoxLayout(self)
        layout.addLayout(status_row)
        layout.addSpacing(8)
        layout.addWidget(explanation)
        layout.addLayout(buttons)
        self.setMaximumWidth(460)

    def show_status(self, status: ServerStatus) -> None:
        self.setWindowTitle(window_title(demo=status.demo))
        # Always the colour set: a window is no menu bar that tints template images.
        icon = state_icon(status.state, demo=status.demo)
        self.setWindowIcon(icon)
        self._icon.setPixmap(icon.pixmap(48, 48))
        first, *rest = (html.escape(line) for line in header_lines(status))
        self._status.setText("<br>".join([f"<b>{first}</b>", *rest]))

    def closeEvent(self, event: QCloseEvent) -> None:
        # This window is the app's only face here: closing it must not leave a ghost process.
        self.quit_requested.emit()
        event.accept()
