"""Start at login on Windows: a string value under
`HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run`, the per-user list Explorer starts
at logon (it also shows in Task Manager's Startup tab).

Built behind a tiny `RegistryLike` interface because the registry exists only on Windows:
`WinregRunKey` (the real one, importing `winreg` only when used) is not exercised by the
Linux test suite, while the command line we write — the part most likely to be wrong — is
unit-tested on any OS against an in-memory `RegistryLike`.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Protocol

from tray.core.errors import FileWriteError
from tray.core.words import quoted

__all__ = ["RUN_KEY", "VALUE_NAME", "RegistryLike", "WindowsRunAutostart", "WinregRunKey"]

log = logging.getLogger(__name__)

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "LMStudioTray"


class RegistryLike(Protocol):
    """String values of one registry key (here: HKCU\\…\\Run)."""

    def get(self, name: str) -> str | None:
        """The value, or None when it does not exist."""
        ...

    def set(self, name: str, value: str) -> None:
        """Create or replace a REG_SZ value. Raises OSError."""
        ...

    def delete(self, name: str) -> None:
        """Remove the value; no error when it does not exist. Raises OSError."""
        ...


class WinregRunKey:
    """`RegistryLike` over the real `HKCU\\…\\Run` key (Windows only)."""

    def get(self, name: str) -> str | None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        return str(value) if kind in (winreg.REG_SZ, winreg.REG_EXPAND_SZ) else None

    def set(self, name: str, value: str) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            return


def command_line(command: list[str]) -> str:
    """`command` as one Windows command line.

    The program path is always double-quoted: an unquoted path with spaces in a Run value
    is ambiguous (and a known hijacking vector). Windows forbids `"` in paths, so plain
    quotes suffice there; the arguments follow the MS C runtime rules (`list2cmdline`).
    """
    if not command:
        raise ValueError("the autostart command is empty")
    program, *args = command
    if '"' in program:
        raise ValueError(f"a Windows program path cannot contain a double quote: {quoted(program)}")
    return " ".join([f'"{program}"', *([subprocess.list2cmdline(args)] if args else [])])


class WindowsRunAutostart:
    """The `LMStudioTray` value in HKCU's Run key."""

    def __init__(self, registry: RegistryLike | None = None) -> None:
        self._registry = registry or WinregRunKey()

    @property
    def where(self) -> str:
        return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{VALUE_NAME}"

    def is_enabled(self) -> bool:
        try:
            return bool(self._registry.get(VALUE_NAME))
        except OSError:
            log.warning("cannot read %s", self.where, exc_info=True)
            return False

    def enable(self, command: list[str]) -> None:
        value = command_line(command)
        try:
            self._registry.set(VALUE_NAME, value)
        except OSError as exc:
            raise FileWriteError(
                f"Could not add LM Studio Tray to the programs Windows starts at login "
                f"({self.where}): {exc.strerror or exc}.",
                title="Start at login not changed",
            ) from exc
        log.info("autostart enabled: %s", self.where)

    def disable(self) -> None:
        try:
            self._registry.delete(VALUE_NAME)
        except OSError as exc:
            raise FileWriteError(
                f"Could not remove LM Studio Tray from the programs Windows starts at login "
                f"({self.where}): {exc.strerror or exc}.",
                title="Start at login not changed",
            ) from exc
        log.info("autostart disabled: removed %s", self.where)

    def describe(self) -> str:
        return f"Windows start-up programs: {self.where}"
