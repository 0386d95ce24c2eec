"""Keeps the registered global hotkey in step with the settings and remembers how the last
registration went, for the Settings window's state line and a start-up notification."""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QObject, Signal

from tray.core.hotkeys import RegisterResult, default_hotkey
from tray.core.settings import Settings
from tray.platform.hotkeys.base import HotkeyBackend
from tray.services.settings_store import SettingsService

__all__ = ["HotkeyManager"]

log = logging.getLogger(__name__)

OFF_SENTENCE = "The hotkey is off; open quick chat from the tray menu."


class HotkeyManager(QObject):
    """`start()` registers the hotkey the settings name (or the OS default) and follows
    later changes; `state` is the last `RegisterResult`, announced by `state_changed`.
    `activated` relays the backend's."""

    activated = Signal()
    state_changed = Signal(object)  # RegisterResult

    def __init__(
        self,
        backend: HotkeyBackend,
        settings: SettingsService,
        *,
        platform: str = sys.platform,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.backend = backend
        self._settings = settings
        self._platform = platform
        self._applied: tuple[bool, str] | None = None
        self._paused = False
        self._state = RegisterResult(
            ok=False, sequence=self.wanted(settings.settings)[1], kind="off", problem=OFF_SENTENCE
        )
        backend.activated.connect(self._activated)
        backend.result_changed.connect(self._set_state)

    @property
    def state(self) -> RegisterResult:
        return self._state

    @property
    def default(self) -> str:
        return default_hotkey(self._platform)

    def wanted(self, settings: Settings) -> tuple[bool, str]:
        """(enabled, sequence) as the settings ask, the OS default filling in."""
        quick = settings.quick_chat
        return quick.hotkey_enabled, quick.hotkey or self.default

    def start(self) -> RegisterResult:
        """Register what the settings ask for, then follow every later settings change."""
        self._settings.subscribe(self._follow)
        return self.apply(self._settings.settings)

    def apply(self, settings: Settings) -> RegisterResult:
        enabled, sequence = self.wanted(settings)
        if (enabled, sequence) == self._applied:
            return self._state
        self._applied = (enabled, sequence)
        if self._paused:
            return self._state
        if enabled:
            result = self.backend.register(sequence)
        else:
            self.backend.unregister()
            result = RegisterResult(ok=False, sequence=sequence, kind="off", problem=OFF_SENTENCE)
        self._set_state(result)
        return result

    def pause(self) -> None:
        """Let the hotkey through to our own windows for a while (Settings records a new
        one: pressing the current hotkey there must not open quick chat)."""
        if not self._paused:
            self._paused = True
            self.backend.unregister()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._applied = None
            self.apply(self._settings.settings)

    def stop(self) -> None:
        """Release the hotkey (then await `wait_closed()` before the loop ends)."""
        self.backend.close()

    async def wait_closed(self) -> None:
        await self.backend.wait_closed()

    def _follow(self, settings: Settings) -> None:
        self.apply(settings)

    def _set_state(self, result: object) -> None:
        assert isinstance(result, RegisterResult)
        self._state = result
        log.debug("hotkey state: %s %s", result.kind, result.sequence)
        self.state_changed.emit(result)

    def _activated(self) -> None:
        self.activated.emit()
