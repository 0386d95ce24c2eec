"""The one interface every global-hotkey backend implements (X11, Windows, macOS, the
Wayland portal, and "unavailable")."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from tray.core.hotkeys import (
    RegisterResult,
    checked,
    conflict,
    invalid,
    registered,
    swap_registration,
    unavailable,
)

__all__ = [
    "HotkeyBackend",
    "RegisterResult",
    "checked",
    "conflict",
    "invalid",
    "registered",
    "swap_registration",
    "unavailable",
]


class HotkeyBackend(QObject):
    """Holds at most one global hotkey; `activated` fires once per press, in the Qt thread.

    `register` replaces the previous hotkey (and keeps it when the new one fails). A backend
    whose answer arrives later (the Wayland portal) returns a provisional result and emits
    `result_changed` with the final one.
    """

    activated = Signal()
    result_changed = Signal(object)  # RegisterResult

    name: str = "hotkeys"

    def register(self, sequence: str) -> RegisterResult:
        raise NotImplementedError

    def unregister(self) -> None:
        raise NotImplementedError

    def available(self) -> tuple[bool, str]:
        """Whether this backend can grab keys here, and if not, why (a clause such as
        "there is no X11 display")."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the hotkey and whatever connection the backend holds."""
        self.unregister()

    async def wait_closed(self) -> None:
        """After `close()`: wait for what the backend still has running on the asyncio loop
        (the portal's session task); nothing for the others."""
        return None
