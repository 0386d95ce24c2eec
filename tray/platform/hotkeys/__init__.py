"""Global hotkeys: one interface, one backend per kind of session, chosen at start-up.

    HotkeyBackend            activated (signal), result_changed (signal), name,
    │                        register(sequence) -> RegisterResult, unregister(),
    │                        available() -> (bool, reason), close()          (base.py)
    ├── X11Backend           XGrabKey on the root window over its own X connection (x11.py)
    ├── WindowsBackend       RegisterHotKey + a native event filter for WM_HOTKEY (windows.py)
    ├── MacBackend           Carbon RegisterEventHotKey + an event handler (macos.py)
    ├── PortalBackend        xdg-desktop-portal GlobalShortcuts over D-Bus (wayland.py)
    └── UnavailableBackend   registers nothing and says why (unavailable.py)

`select_backend()` looks at the running session (Qt's platform plugin, XDG_SESSION_TYPE,
WAYLAND_DISPLAY, sys.platform). `HotkeyManager` keeps the registered hotkey in step with
the settings. Every backend module imports on every OS: OS libraries load when a backend
is built, never at import.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from PySide6.QtCore import QObject

from tray.core.hotkeys import BackendKindName, RegisterResult, backend_candidates
from tray.platform.hotkeys.base import HotkeyBackend
from tray.platform.hotkeys.manager import HotkeyManager
from tray.platform.hotkeys.unavailable import UnavailableBackend

__all__ = [
    "HotkeyBackend",
    "HotkeyManager",
    "RegisterResult",
    "UnavailableBackend",
    "select_backend",
]

log = logging.getLogger(__name__)


def select_backend(
    platform_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    parent: QObject | None = None,
) -> HotkeyBackend:
    """Build the backend for the running session (needs the QGuiApplication): the first
    candidate that is available, else an `UnavailableBackend` saying why."""
    if platform_name is None:
        from PySide6.QtGui import QGuiApplication

        platform_name = QGuiApplication.platformName()
    kinds, reason = backend_candidates(
        platform_name, os.environ if environ is None else environ, platform
    )
    for kind in kinds:
        backend = _build(kind, parent)
        ok, why = backend.available()
        if ok:
            log.info("global hotkeys: %s", backend.name)
            return backend
        backend.close()
        reason = why
    log.info("global hotkeys unavailable: %s", reason)
    return UnavailableBackend(reason, parent)


def _build(kind: BackendKindName, parent: QObject | None) -> HotkeyBackend:
    # Imported here: each module loads only on the OS and session it serves.
    if kind == "x11":
        from tray.platform.hotkeys.x11 import X11Backend

        return X11Backend(parent)
    if kind == "windows":
        from tray.platform.hotkeys.windows import WindowsBackend

        return WindowsBackend(parent)
    if kind == "macos":
        from tray.platform.hotkeys.macos import MacBackend

        return MacBackend(parent)
    from tray.platform.hotkeys.wayland import PortalBackend

    return PortalBackend(parent)
