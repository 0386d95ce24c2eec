"""The icon the tray shows before anything else is imported.

Start-up cost is import cost: httpx, pydantic, keyring, dulwich and the windows take far
longer to import than Qt takes to put an icon in the tray. So `run_tray` shows this plain
"starting" icon first — Qt, QtSvg and the icon files only — waits until the tray host has
embedded it and it is painted, and only then imports and builds the rest; `TrayIcon`
adopts the same QSystemTrayIcon, so the icon never leaves the tray.

Nothing here may import pydantic, httpx or the tray's services (the start-up benchmark,
tests/benchmarks/bench_startup.py, measures what this costs).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QEventLoop, QPoint, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from tray import APP_NAME
from tray.ui.icons import starting_icon

__all__ = ["show_starting_icon"]

EMBED_WAIT_MS = 500
"""How long (ms) to wait for the tray host to take the icon in before building the rest anyway:
a host that is slower than this still gets the icon, just painted later."""


def show_starting_icon(*, demo: bool) -> QSystemTrayIcon | None:
    """Show the "starting" icon and return it once painted; None where there is no tray
    (then `TrayIcon.show` puts up its fallback window as usual)."""
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None
    tray = QSystemTrayIcon(starting_icon(demo=demo, template=sys.platform == "darwin"))
    tray.setToolTip(f"{APP_NAME} — starting…")
    tray.show()
    # The host embeds the icon asynchronously (XEMBED on X11); Qt paints it when the
    # resulting events are handled. Handle them now, before the imports block the thread.
    # A nested loop before the app's own loop exists (never inside a coroutine), ended by
    # a cheap check every 5 ms or by the time limit.
    loop = QEventLoop()
    check = QTimer(interval=5)
    check.timeout.connect(lambda: loop.quit() if _embedded(tray) else None)
    QTimer.singleShot(EMBED_WAIT_MS, loop.quit)
    check.start()
    loop.exec()
    check.stop()
    for _ in range(3):  # the embed's configure, expose and paint follow one another
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    return tray


def _embedded(tray: QSystemTrayIcon) -> bool:
    geometry = tray.geometry()
    return geometry.isValid() and geometry.y() >= 0 and geometry.topLeft() != QPoint(0, 0)
