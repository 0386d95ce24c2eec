"""Global hotkeys on Windows: `RegisterHotKey` (user32, through ctypes) for the Qt thread,
with a native event filter that turns WM_HOTKEY into `activated`.

The hotkey is registered without a window (hWnd NULL), so Windows posts WM_HOTKEY to the
thread's message queue, which Qt's event dispatcher passes to native event filters.
MOD_NOREPEAT keeps a held key from repeating. A failure with
ERROR_HOTKEY_ALREADY_REGISTERED means another program holds the combination.

Not exercised by this project's tests (they run on Linux); the tables and sentences it
uses are unit-tested in tests/unit/test_hotkeys.py.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Any

from PySide6.QtCore import QAbstractNativeEventFilter, QCoreApplication, QObject

from tray.core.hotkeys import windows_arguments
from tray.platform.hotkeys.base import (
    HotkeyBackend,
    RegisterResult,
    checked,
    swap_registration,
    unavailable,
)

__all__ = ["ERROR_HOTKEY_ALREADY_REGISTERED", "WM_HOTKEY", "WindowsBackend"]

log = logging.getLogger(__name__)

WM_HOTKEY = 0x0312
ERROR_HOTKEY_ALREADY_REGISTERED = 1409
_HOTKEY_ID = 0x4C53  # any id in 0x0000–0xBFFF; one hotkey per app


class _Filter(QAbstractNativeEventFilter):
    def __init__(self, backend: WindowsBackend) -> None:
        super().__init__()
        self._backend = backend

    def nativeEventFilter(self, event_type: Any, message: Any) -> tuple[bool, int]:
        if bytes(event_type) == b"windows_generic_MSG":
            from ctypes import wintypes

            msg = wintypes.MSG.from_address(int(message))
            if msg.message == WM_HOTKEY and msg.wParam == _HOTKEY_ID:
                self._backend.activated.emit()
                return True, 0
        return False, 0


class WindowsBackend(HotkeyBackend):
    name = "Windows"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._user32: Any = None
        self._filter: _Filter | None = None
        self._problem = ""
        self._sequence: str | None = None
        if sys.platform != "win32":
            self._problem = "RegisterHotKey exists only on Windows"
            return
        # getattr: ctypes has WinDLL only on Windows.
        self._user32 = getattr(ctypes, "WinDLL")("user32", use_last_error=True)  # noqa: B009
        self._filter = _Filter(self)
        app = QCoreApplication.instance()
        if app is None:
            self._problem = "the application has not started yet"
            self._user32 = None
            return
        app.installNativeEventFilter(self._filter)

    def available(self) -> tuple[bool, str]:
        return self._user32 is not None, self._problem

    def _register_raw(self, sequence: str) -> int:
        """0 when registered, else the Windows error code."""
        modifiers, vk = windows_arguments(sequence)
        if self._user32.RegisterHotKey(None, _HOTKEY_ID, modifiers, vk):
            return 0
        return int(getattr(ctypes, "get_last_error")())  # noqa: B009

    def register(self, sequence: str) -> RegisterResult:
        portable, problem = checked(sequence)
        if problem is not None:
            return problem
        if self._user32 is None:
            return unavailable(portable, self._problem)
        previous = self._sequence
        self.unregister()
        result, self._sequence = swap_registration(
            portable,
            previous,
            self._register_raw,
            conflict_code=ERROR_HOTKEY_ALREADY_REGISTERED,
            refused_by="Windows",
        )
        log.info("RegisterHotKey(%s): %s", portable, result.kind)
        return result

    def unregister(self) -> None:
        if self._user32 is not None and self._sequence is not None:
            self._user32.UnregisterHotKey(None, _HOTKEY_ID)
        self._sequence = None

    def close(self) -> None:
        self.unregister()
        app = QCoreApplication.instance()
        if self._filter is not None and app is not None:
            app.removeNativeEventFilter(self._filter)
            self._filter = None
        self._user32 = None
        self._problem = "the hotkey backend was closed"
