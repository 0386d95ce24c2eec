"""The baseline of the start-up and memory benchmarks: a bare PySide6 tray app.

A QApplication, one QSystemTrayIcon with a drawn disc as its icon, shown at once, a
one-item menu, then the event loop — the least any PySide6 tray can do. SIGTERM ends it.
"""

from __future__ import annotations

import sys

from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon


def tray_icon(app: QApplication) -> tuple[QSystemTrayIcon, QMenu]:
    """The icon, shown, and its menu (keep both referenced)."""
    pixmap = QPixmap(32, 32)
    pixmap.fill(QColor(0, 0, 0, 0))  # transparent; not Qt.GlobalColor: see tray/ui/icons.py
    painter = QPainter(pixmap)
    painter.setBrush(QColor("#3d7eff"))
    painter.drawEllipse(2, 2, 28, 28)
    painter.end()
    tray = QSystemTrayIcon(QIcon(pixmap))
    tray.show()
    # The menu after show(), as the app does: the baseline is the least a tray can do
    # before its icon appears (a QMenu costs a few ms of style and font set-up).
    menu = QMenu()
    menu.addAction("Quit").triggered.connect(app.quit)
    tray.setContextMenu(menu)
    return tray, menu


def main() -> int:
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    keep = tray_icon(app)
    code = app.exec()
    del keep
    return code


if __name__ == "__main__":
    raise SystemExit(main())
