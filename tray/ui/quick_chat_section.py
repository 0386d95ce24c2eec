"""The tray menu's "Quick chat…" item: opens the popup, showing the global hotkey (if one
is registered) at the right of the item, as menus show shortcuts."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction

from tray.core.backends import Capabilities
from tray.core.status import ServerStatus

__all__ = ["MENU_TEXT", "QuickChatSection"]

MENU_TEXT = "Quick chat…"


class QuickChatSection:
    """Owns its QAction; `actions()` is inserted once into the tray menu."""

    def __init__(self, open_chat: Callable[[], None], hotkey_text: str | None = None) -> None:
        """`open_chat` shows the popup (the app passes `window.show_near_pointer`)."""
        self.action = QAction(MENU_TEXT)
        self.action.triggered.connect(lambda: open_chat())
        self.set_hotkey(hotkey_text)

    def actions(self) -> list[QAction]:
        return [self.action]

    def set_hotkey(self, text: str | None) -> None:
        """The registered hotkey in Qt's portable text ("Ctrl+Alt+Space"), or None."""
        # "\t" puts the text in the shortcut column without making it a menu shortcut
        # (the global hotkey is the platform backend's, not Qt's).
        self.action.setText(f"{MENU_TEXT}\t{text}" if text else MENU_TEXT)

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        # Always enabled: with the server down the popup offers to start it.
        pass
