"""Shows `Notice`s as desktop notifications from the tray icon.

What deserves a notice is decided in core (`tray.core.notifications`); this view only puts
it on screen, marked "Demo" in demo mode so a simulated event never passes for a real one.
Where the desktop cannot show tray messages the notice is logged (and handed to an
optional fallback) instead of being lost or crashing the tray.

Every message carries a `Severity`, and the icon follows it: information for news and for
things that went as asked, warning for what deserves attention, critical for a failure.
A feature that reports something takes a `Notify` (`show_message`) and says which it is.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from PySide6.QtWidgets import QSystemTrayIcon

from tray.core.notifications import Notice, Severity

__all__ = ["ICONS", "RECENT_MAX", "Notify", "TrayNotifier"]

log = logging.getLogger(__name__)

RECENT_MAX = 20
SHOW_MS = 10_000

ICONS = {
    Severity.INFO: QSystemTrayIcon.MessageIcon.Information,
    Severity.WARNING: QSystemTrayIcon.MessageIcon.Warning,
    Severity.ERROR: QSystemTrayIcon.MessageIcon.Critical,
}

Notify = Callable[[str, str, Severity], None]  # (title, sentence, how it is marked)


class TrayNotifier:
    """`show(notice)` puts a notice on the desktop; `recent` keeps the last ones shown."""

    def __init__(
        self,
        tray: QSystemTrayIcon,
        *,
        demo: bool,
        fallback: Callable[[Notice], None] | None = None,
    ) -> None:
        """`fallback` receives the notices the desktop cannot show (e.g. a window's
        status line); without one they are only logged."""
        self._tray = tray
        self.demo = demo  # the app switches to the demo at run time
        self._fallback = fallback
        self._said_unsupported = False
        self.recent: deque[Notice] = deque(maxlen=RECENT_MAX)
        self.errors: deque[tuple[str, str]] = deque(maxlen=RECENT_MAX)
        self.messages: deque[tuple[str, str]] = deque(maxlen=RECENT_MAX)
        # everything put on the desktop, with how it was marked
        self.shown: deque[tuple[str, str, Severity]] = deque(maxlen=RECENT_MAX)
        # What clicking the message on screen does (the newest message's action, if any).
        self._on_click: Callable[[], None] | None = None
        tray.messageClicked.connect(self._clicked)

    def title_for(self, notice: Notice) -> str:
        return f"{notice.title} — Demo" if self.demo else notice.title

    def show(self, notice: Notice, *, on_click: Callable[[], None] | None = None) -> None:
        """`on_click`: what clicking the message does (e.g. open the load profile)."""
        self.recent.append(notice)
        title = self.title_for(notice)
        log.info("Notification (%s): %s — %s", notice.kind.value, title, notice.message)
        shown = self._display(title, notice.message, notice.severity, on_click)
        if not shown and self._fallback is not None:
            self._fallback(notice)

    def show_error(self, title: str, message: str) -> None:
        """Something the user asked for failed: say why. Not a `Notice` (no rule made it,
        no switch silences it)."""
        self.errors.append((title, message))
        shown = f"{title} — Demo" if self.demo else title
        self._display(shown, message, Severity.ERROR)

    def show_message(self, title: str, message: str, severity: Severity) -> None:
        """Something a feature decided to say — a copy done, mcp.json locked down, a change
        behind our back, the hotkey taken — marked as the caller says it is."""
        self.messages.append((title, message))
        log.info("Notification (%s): %s — %s", severity.value, title, message)
        shown = f"{title} — Demo" if self.demo else title
        self._display(shown, message, severity)

    def warn(self, title: str, message: str) -> None:
        self.show_message(title, message, Severity.WARNING)

    def _clicked(self) -> None:
        action, self._on_click = self._on_click, None
        if action is not None:
            action()

    def _display(
        self,
        title: str,
        message: str,
        severity: Severity,
        on_click: Callable[[], None] | None = None,
    ) -> bool:
        """Show a balloon; False when this desktop cannot (then it is only in the log).
        A new balloon replaces the last one, and so does its click action."""
        self._on_click = on_click
        if not QSystemTrayIcon.supportsMessages() or not self._tray.isVisible():
            if not self._said_unsupported:
                self._said_unsupported = True
                log.warning(
                    "This desktop cannot show tray notifications (no tray, or no message "
                    "support); notices go to the log instead."
                )
            return False
        self._tray.showMessage(title, message, ICONS[severity], SHOW_MS)
        self.shown.append((title, message, severity))
        return True
