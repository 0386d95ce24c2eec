"""Copying a secret: on the clipboard for a while, then gone — unless the user moved on.

`ClipboardGuard.copy_secret(text)` puts `text` on the clipboard (and on X11's primary
selection, where middle-click pastes from) and, `clear_after()` seconds later, clears each
of them only if it still holds exactly that text: if the user copied something else in the
meantime, that is theirs and stays. `clear_after()` is read at each copy, so a changed
setting applies to the next copy; 0 means never clear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QClipboard, QGuiApplication

from tray.core.words import copied_sentence

__all__ = ["ClipboardGuard"]

log = logging.getLogger(__name__)


class ClipboardGuard(QObject):
    def __init__(self, clear_after: Callable[[], int], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._clear_after = clear_after
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear_now)
        self._secret: str | None = None

    def modes(self) -> list[QClipboard.Mode]:
        """The clipboards this platform has: always Clipboard; Selection on X11."""
        clipboard = QGuiApplication.clipboard()
        modes = [QClipboard.Mode.Clipboard]
        if clipboard.supportsSelection():
            modes.append(QClipboard.Mode.Selection)
        return modes

    def copy_secret(self, text: str) -> str:
        """Copy now; schedule the clearing (a new copy replaces an older schedule).
        Returns what to tell the user: copied, and when it is cleared."""
        clipboard = QGuiApplication.clipboard()
        for mode in self.modes():
            clipboard.setText(text, mode)
        self._secret = text
        seconds = self._clear_after()
        self._timer.stop()
        if seconds > 0:
            self._timer.start(seconds * 1000)
        # Never the text: only that a secret was copied and when it goes.
        log.info("Copied a secret to the clipboard; clearing in %s s", seconds or "never")
        return copied_sentence(seconds)

    @property
    def pending(self) -> bool:
        """Whether a clearing is scheduled."""
        return self._timer.isActive()

    def clear_now(self) -> None:
        """Clear every clipboard that still holds the secret; leave the others alone."""
        self._timer.stop()
        secret, self._secret = self._secret, None
        if secret is None:
            return
        clipboard = QGuiApplication.clipboard()
        cleared = 0
        for mode in self.modes():
            if clipboard.text(mode) == secret:
                clipboard.clear(mode)
                cleared += 1
        log.info("Clipboard clearing: %d of %d still held the secret", cleared, len(self.modes()))
