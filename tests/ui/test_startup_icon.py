"""The "starting" icon shown before the rest of the app is imported: it is in the tray
(embedded by the real tray host, painted) when `show_starting_icon` returns, and
`TrayIcon` adopts that same icon — it never leaves the tray, and gets the full menu."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication

from tray.ui.startup_icon import show_starting_icon
from tray.ui.tray_icon import TrayIcon

pytestmark = pytest.mark.ui


def test_the_icon_is_in_the_tray_when_it_returns_and_the_tray_adopts_it(
    qapp: QApplication, make_tray: Callable[..., TrayIcon]
) -> None:
    early = show_starting_icon(demo=False)
    assert early is not None
    geometry = early.geometry()
    # Embedded by the host before any of the app is built: a real place in the tray.
    assert geometry.isValid() and geometry.topLeft() != QPoint(0, 0)
    assert early.isVisible()
    assert "starting" in early.toolTip()
    assert not early.icon().isNull()

    tray = make_tray(tray=early)
    assert tray.tray is early  # the same icon: no second embedding, no flicker
    assert early.parent() is tray
    assert early.contextMenu() is tray.menu
    tray.show()
    assert early.isVisible()
    assert early.geometry() == geometry
    assert [a.text() for a in tray.menu.actions() if a.text()][-1] == "Quit"
