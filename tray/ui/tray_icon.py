"""The tray icon and its menu: a thin view over one `ServerStatus`.

`render()` shows a status (icon by state, demo badge, tooltip, menu header); gestures come
out as signals for the app to act on. Where the desktop has no tray, `show()` puts up a
`NoTrayWindow` instead and moves to the tray as soon as a tray host appears.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPoint, QRectF, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QCursor, QIcon, QPainter, QPalette, QPen
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from tray.core.server_control import show_exposure_warning
from tray.core.status import ServerStatus
from tray.ui.icons import state_icon
from tray.ui.status_text import header_lines

if TYPE_CHECKING:  # the window's module is imported when it is first opened
    from tray.ui.no_tray_window import NoTrayWindow

__all__ = ["TrayIcon", "busy_icon"]

log = logging.getLogger(__name__)

DEMO_ACTION_TEXT = "Try the demo (simulated LM Studio)…"


class TrayIcon(QObject):
    quit_requested = Signal()
    menu_about_to_show = Signal()
    menu_about_to_hide = Signal()
    demo_requested = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
        tray_poll_ms: int = 2000,
        template_icons: bool = sys.platform == "darwin",
        tray: QSystemTrayIcon | None = None,
        menu_on_click: bool = sys.platform == "darwin",
    ) -> None:
        """`tray_available` and `tray_poll_ms` decide when the fallback window gives way to
        the tray; `template_icons` picks the monochrome set that macOS menu bars tint;
        `tray` is an icon already shown (ui.startup_icon) to adopt instead of a new one;
        `menu_on_click`: the platform opens the menu on a left click by itself."""
        super().__init__(parent)
        self._tray_available = tray_available
        self._template_icons = template_icons
        self._menu_on_click = menu_on_click
        self._status = ServerStatus(url="")
        self.activity_line: str | None = None
        self.activity_busy = False
        self.no_tray_window: NoTrayWindow | None = None

        self.menu = QMenu()
        self.menu.setSeparatorsCollapsible(True)
        make_disabled_text_readable(self.menu)
        # A light/dark switch while the app runs: the status lines follow the new colours.
        self.menu.installEventFilter(self)
        self._header: list[QAction] = []
        self._header_end = self.menu.addSeparator()
        self._demo_action = self.menu.addAction(DEMO_ACTION_TEXT)
        self._demo_action.triggered.connect(self.demo_requested)
        self.menu.addSeparator()
        self.menu.addAction("Quit").triggered.connect(self.quit_requested)
        self.menu.aboutToShow.connect(self.menu_about_to_show)
        self.menu.aboutToHide.connect(self.menu_about_to_hide)

        if tray is None:
            tray = QSystemTrayIcon(self)
        else:
            tray.setParent(self)
        self.tray = tray
        self.tray.setContextMenu(self.menu)
        self.tray.activated.connect(self._activated)

        # Only runs while the fallback window is up: an idle tray costs no wake-ups.
        self._tray_poll = QTimer(self)
        self._tray_poll.setInterval(tray_poll_ms)
        self._tray_poll.timeout.connect(self._move_to_tray_if_available)

        self.render(self._status)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        """A left click: macOS opens the menu by itself; Windows, KDE and X11 trays do
        nothing with it — there it opens the menu, as users of a tray app expect."""
        if reason is not QSystemTrayIcon.ActivationReason.Trigger or self._menu_on_click:
            return
        if not self.menu.isVisible():
            geometry = self.tray.geometry()
            where = geometry.bottomLeft() if geometry.isValid() else QCursor.pos()
            self.menu.popup(where)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.menu and event.type() == QEvent.Type.ApplicationPaletteChange:
            self.menu.setPalette(QPalette())  # drop the colours made from the old theme
            make_disabled_text_readable(self.menu)
        return super().eventFilter(watched, event)

    def render(self, status: ServerStatus, *, lmstudio_found: bool = True) -> None:
        self._status = status
        icon = state_icon(
            status.state,
            demo=status.demo,
            warning=show_exposure_warning(status),
            template=self._template_icons,
        )
        self.tray.setIcon(busy_icon(icon) if self.activity_busy else icon)
        line = self.activity_line
        self.tray.setToolTip(f"{status.tooltip}\n{line}" if line else status.tooltip)
        self._set_header(header_lines(status))
        self._demo_action.setVisible(not lmstudio_found)
        if self.no_tray_window is not None:
            self.no_tray_window.show_status(status)

    def set_activity(self, line: str | None, *, busy: bool) -> None:
        """Live activity (a setting): a tooltip line and a busy mark while a prediction
        runs; (None, busy=False) takes both away."""
        if (line, busy) == (self.activity_line, self.activity_busy):
            return
        self.activity_line, self.activity_busy = line, busy
        self.render(self._status)

    def insert_section(self, actions: Sequence[QAction]) -> None:
        """Add a group of menu items (a capability's) above the demo and Quit items."""
        self.menu.insertActions(self._demo_action, list(actions))
        self.menu.insertSeparator(self._demo_action)

    def show(self) -> None:
        if self._tray_available():
            self.tray.show()
            return
        log.info("No system tray on this desktop: showing the fallback window")
        if self.no_tray_window is None:
            from tray.ui.no_tray_window import NoTrayWindow

            self.no_tray_window = NoTrayWindow(self.menu)
            self.no_tray_window.quit_requested.connect(self.quit_requested)
            self.no_tray_window.show_status(self._status)
        self.no_tray_window.show()
        self._tray_poll.start()

    def present(self) -> str:
        """Show the user where the tray is (a second start asked): the menu at the icon,
        or the fallback window, or — where the icon has no known place on the screen —
        a notification with the status. Returns which ("menu", "window", "notification")."""
        if self.no_tray_window is not None and self.no_tray_window.isVisible():
            self.no_tray_window.raise_()
            self.no_tray_window.activateWindow()
            return "window"
        geometry = self.tray.geometry()
        if self.tray.isVisible() and geometry.isValid() and geometry.topLeft() != QPoint(0, 0):
            self.menu.popup(geometry.bottomLeft())
            return "menu"
        self.tray.showMessage(
            "LM Studio Tray is already running",
            self.headline,
            QSystemTrayIcon.MessageIcon.Information,
        )
        return "notification"

    @property
    def headline(self) -> str:
        """The status in a few words, as the menu's first line says it."""
        return header_lines(self._status)[0]

    def _move_to_tray_if_available(self) -> None:
        if not self._tray_available():
            return
        log.info("A system tray appeared: moving the icon there")
        self._tray_poll.stop()
        self.tray.show()
        if self.no_tray_window is not None:
            self.no_tray_window.hide()

    def _set_header(self, lines: Sequence[str]) -> None:
        # Reuse the actions so an open menu updates in place rather than flickering.
        while len(self._header) > len(lines):
            stale = self._header.pop()
            self.menu.removeAction(stale)
            stale.deleteLater()
        while len(self._header) < len(lines):
            action = QAction(self.menu)
            action.setEnabled(False)
            self.menu.insertAction(self._header_end, action)
            self._header.append(action)
        for action, line in zip(self._header, lines, strict=True):
            action.setText(line)
        font = self._header[0].font()
        font.setBold(True)
        self._header[0].setFont(font)


def make_disabled_text_readable(menu: QMenu) -> None:
    """The status lines are disabled items, and styles draw those too faint to read at a
    glance; blend the normal text colour towards the background instead (dark themes too)."""
    palette = menu.palette()
    background = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Window)
    roles = (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText)
    for role in roles:
        text = palette.color(QPalette.ColorGroup.Active, role)
        readable = QColor(
            round(0.7 * text.red() + 0.3 * background.red()),
            round(0.7 * text.green() + 0.3 * background.green()),
            round(0.7 * text.blue() + 0.3 * background.blue()),
        )
        palette.setColor(QPalette.ColorGroup.Disabled, role, readable)
    menu.setPalette(palette)


def busy_icon(icon: QIcon, size: int = 64) -> QIcon:
    """`icon` with a small "busy" dot in its top-left corner (a prediction runs)."""
    pixmap = icon.pixmap(size, size)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("white"), size * 0.04))
    painter.setBrush(QColor("#1e88e5"))
    edge = size * 0.36
    painter.drawEllipse(QRectF(size * 0.02, size * 0.02, edge, edge))
    painter.end()
    return QIcon(pixmap)
