"""The backend for sessions where no global hotkey can be had: it registers nothing and
says why, so Settings can tell the user to use the tray menu instead."""

from __future__ import annotations

from PySide6.QtCore import QObject

from tray.platform.hotkeys.base import HotkeyBackend, RegisterResult, checked, unavailable

__all__ = ["UnavailableBackend"]


class UnavailableBackend(HotkeyBackend):
    name = "unavailable"

    def __init__(self, reason: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reason = reason

    def register(self, sequence: str) -> RegisterResult:
        portable, problem = checked(sequence)
        return problem or unavailable(portable, self.reason)

    def unregister(self) -> None:
        pass

    def available(self) -> tuple[bool, str]:
        return False, self.reason
