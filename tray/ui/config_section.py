"""The tray menu's way into the configuration windows: LM Studio's config presets, our
per-model load profiles, and the version history of both (and of `mcp.json`).

Each item opens its window through a callable the app gives; whether an item can work
with the active server is core's rule (`core.backends.config_items`), shown as a disabled
item whose tooltip says why.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction

from tray.core.backends import Capabilities, config_items
from tray.core.status import ServerStatus

__all__ = ["HISTORY_TEXT", "PRESETS_TEXT", "PROFILES_TEXT", "ConfigSection"]

PRESETS_TEXT = "Presets…"
PROFILES_TEXT = "Load profiles…"
HISTORY_TEXT = "History…"


class ConfigSection:
    """Owns its QActions; `actions()` is inserted once into the tray menu."""

    def __init__(
        self,
        *,
        open_presets: Callable[[], None],
        open_profiles: Callable[[], None],
        open_history: Callable[[], None],
        home_found: Callable[[], bool],
    ) -> None:
        self._home_found = home_found
        self._shown: tuple[object, ...] | None = None
        self.presets = QAction(PRESETS_TEXT)
        self.presets.triggered.connect(lambda: open_presets())
        self.profiles = QAction(PROFILES_TEXT)
        self.profiles.triggered.connect(lambda: open_profiles())
        self.history = QAction(HISTORY_TEXT)
        self.history.triggered.connect(lambda: open_history())
        for action in (self.presets, self.profiles, self.history):
            action.setToolTip("")

    def actions(self) -> list[QAction]:
        return [self.presets, self.profiles, self.history]

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        items = config_items(caps, home_found=self._home_found())
        key = tuple(sorted(items.items()))
        if key == self._shown:
            return
        self._shown = key
        for action, name in ((self.presets, "presets"), (self.profiles, "profiles")):
            reason = items[name]
            action.setEnabled(reason is None)
            action.setToolTip(reason or "")
