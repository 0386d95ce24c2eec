"""Start LM Studio Tray when the user logs in: one protocol, one module per OS.

    Autostart                   is_enabled() / enable(command) / disable() / describe()
    ├── XdgAutostart            Linux and other freedesktop desktops: an XDG autostart
    │                           `.desktop` file (linux.py)
    ├── LaunchAgentAutostart    macOS: a per-user LaunchAgent plist (macos.py)
    └── WindowsRunAutostart     Windows: a value under HKCU\\…\\CurrentVersion\\Run (windows.py)

`select_autostart()` picks the one for this OS; `autostart_command()` is the argv that starts
the tray as installed. Failures raise `FileWriteError` with a sentence the Settings window
shows as is.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from tray.platform.autostart.linux import XdgAutostart
from tray.platform.autostart.macos import LaunchAgentAutostart
from tray.platform.autostart.windows import RegistryLike, WindowsRunAutostart

__all__ = [
    "ENTRY_POINT",
    "Autostart",
    "LaunchAgentAutostart",
    "RegistryLike",
    "WindowsRunAutostart",
    "XdgAutostart",
    "autostart_command",
    "select_autostart",
]

ENTRY_POINT = "lmstudio-tray"


@runtime_checkable
class Autostart(Protocol):
    def is_enabled(self) -> bool:
        """Whether the OS will start the tray at the next login."""
        ...

    def enable(self, command: list[str]) -> None:
        """Start `command` at login (replacing an older entry). Raises FileWriteError."""
        ...

    def disable(self) -> None:
        """Stop starting at login; nothing to do if it is not enabled. Raises FileWriteError."""
        ...

    def describe(self) -> str:
        """Where the entry lives, in words for the Settings window."""
        ...


def select_autostart(platform: str = sys.platform) -> Autostart:
    """The start-at-login mechanism of this OS."""
    if platform == "win32":
        return WindowsRunAutostart()
    if platform == "darwin":
        return LaunchAgentAutostart()
    return XdgAutostart()


def autostart_command(
    *,
    executable: str | None = None,
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
    environ: Mapping[str, str] = os.environ,
) -> list[str]:
    """The argv that starts the tray at login, with absolute paths (a login session's PATH
    is not the user's shell PATH).

    Prefers the `lmstudio-tray` entry point installed beside the running interpreter (the
    same install), then one on PATH, else `python -m tray`. On Windows the entry point is a
    console program that would open a terminal window at every login, so `pythonw -m tray`
    comes first there. An AppImage runs from a mount point that changes at every start:
    its own file (`$APPIMAGE`, set by the AppImage runtime) is what starts it again.
    """
    appimage = environ.get("APPIMAGE")
    if platform.startswith("linux") and appimage and Path(appimage).is_file():
        return [str(Path(appimage).absolute())]
    python = Path(executable or sys.executable)
    scripts = python.parent
    if platform == "win32":
        pythonw = scripts / "pythonw.exe"
        if pythonw.is_file():
            return [str(pythonw), "-m", "tray"]
        candidates = [scripts / f"{ENTRY_POINT}.exe", scripts / "Scripts" / f"{ENTRY_POINT}.exe"]
    else:
        candidates = [scripts / ENTRY_POINT]
    for candidate in candidates:
        if candidate.is_file() and (platform == "win32" or os.access(candidate, os.X_OK)):
            return [str(candidate)]
    found = which(ENTRY_POINT)
    if found:
        return [str(Path(found).absolute())]
    return [str(python), "-m", "tray"]
