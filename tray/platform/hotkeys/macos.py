"""Global hotkeys on macOS: Carbon's `RegisterEventHotKey` (still the supported way to get a
system-wide hotkey without Accessibility permission) through ctypes, with an event handler
on the application target that emits `activated`.

Qt's "Ctrl" is Command on macOS and "Meta" is Control; `CARBON_MODIFIERS` maps them.
`eventHotKeyExistsErr` means another program registered the same combination.

Not exercised by this project's tests (they run on Linux); the tables and sentences it
uses are unit-tested in tests/unit/test_hotkeys.py.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Any

from PySide6.QtCore import QObject

from tray.core.hotkeys import carbon_arguments
from tray.platform.hotkeys.base import (
    HotkeyBackend,
    RegisterResult,
    checked,
    swap_registration,
    unavailable,
)

__all__ = ["EVENT_HOTKEY_EXISTS", "MacBackend", "four_char_code"]

log = logging.getLogger(__name__)

_CARBON = "/System/Library/Frameworks/Carbon.framework/Carbon"
EVENT_HOTKEY_EXISTS = -9878  # eventHotKeyExistsErr
_K_EVENT_HOTKEY_PRESSED = 5


def four_char_code(text: str) -> int:
    """Carbon's OSType: four ASCII characters as a big-endian integer."""
    return int.from_bytes(text.encode("ascii"), "big")


_SIGNATURE = four_char_code("LMST")
_K_EVENT_CLASS_KEYBOARD = four_char_code("keyb")


class _EventHotKeyID(ctypes.Structure):
    _fields_ = [("signature", ctypes.c_uint32), ("id", ctypes.c_uint32)]


class _EventTypeSpec(ctypes.Structure):
    _fields_ = [("eventClass", ctypes.c_uint32), ("eventKind", ctypes.c_uint32)]


_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class MacBackend(HotkeyBackend):
    name = "macOS"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._carbon: Any = None
        self._problem = ""
        self._ref = ctypes.c_void_p()
        self._sequence: str | None = None
        if sys.platform != "darwin":
            self._problem = "Carbon hotkeys exist only on macOS"
            return
        try:
            carbon = ctypes.CDLL(_CARBON)
        except OSError as exc:
            self._problem = f"the Carbon framework cannot be loaded ({exc})"
            return
        carbon.GetApplicationEventTarget.restype = ctypes.c_void_p
        carbon.InstallEventHandler.argtypes = [
            ctypes.c_void_p,
            _HANDLER,
            ctypes.c_ulong,
            ctypes.POINTER(_EventTypeSpec),
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_void_p),
        ]
        carbon.RegisterEventHotKey.argtypes = [
            ctypes.c_uint32,
            ctypes.c_uint32,
            _EventHotKeyID,
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.POINTER(ctypes.c_void_p),
        ]
        carbon.UnregisterEventHotKey.argtypes = [ctypes.c_void_p]
        # Kept on self: Carbon calls it for as long as the app runs.
        self._handler = _HANDLER(self._on_event)
        spec = _EventTypeSpec(_K_EVENT_CLASS_KEYBOARD, _K_EVENT_HOTKEY_PRESSED)
        handler_ref = ctypes.c_void_p()
        status = carbon.InstallEventHandler(
            carbon.GetApplicationEventTarget(),
            self._handler,
            1,
            ctypes.byref(spec),
            None,
            ctypes.byref(handler_ref),
        )
        if status != 0:
            self._problem = f"macOS refused the hotkey event handler (error {status})"
            return
        self._carbon = carbon

    def _on_event(self, _call: Any, _event: Any, _data: Any) -> int:
        self.activated.emit()  # one hotkey only: no need to read its id
        return 0

    def available(self) -> tuple[bool, str]:
        return self._carbon is not None, self._problem

    def _register_raw(self, sequence: str) -> int:
        code, modifiers = carbon_arguments(sequence)
        ref = ctypes.c_void_p()
        status = int(
            self._carbon.RegisterEventHotKey(
                code,
                modifiers,
                _EventHotKeyID(_SIGNATURE, 1),
                self._carbon.GetApplicationEventTarget(),
                0,
                ctypes.byref(ref),
            )
        )
        if status == 0:
            self._ref = ref
        return status

    def register(self, sequence: str) -> RegisterResult:
        portable, problem = checked(sequence)
        if problem is not None:
            return problem
        if self._carbon is None:
            return unavailable(portable, self._problem)
        previous = self._sequence
        self.unregister()
        result, self._sequence = swap_registration(
            portable,
            previous,
            self._register_raw,
            conflict_code=EVENT_HOTKEY_EXISTS,
            refused_by="macOS",
        )
        log.info("RegisterEventHotKey(%s): %s", portable, result.kind)
        return result

    def unregister(self) -> None:
        if self._carbon is not None and self._ref:
            self._carbon.UnregisterEventHotKey(self._ref)
            self._ref = ctypes.c_void_p()
        self._sequence = None

    def close(self) -> None:
        self.unregister()
        self._carbon = None
        self._problem = "the hotkey backend was closed"
