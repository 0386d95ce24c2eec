"""Quick chat as the tray has it: the popup, the global hotkey that opens it, and the
menu's "Quick chat…" item, which shows the hotkey (if one is registered) at the right of
the item, as menus show shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction

from tray.core.backends import Capabilities
from tray.core.hotkeys import RegisterResult
from tray.core.status import ServerStatus
from tray.platform.hotkeys import HotkeyBackend, HotkeyManager, select_backend
from tray.services.quick_chat import QuickChat
from tray.services.settings_store import SettingsService
from tray.ui.tasks import spawn

if TYPE_CHECKING:  # the popup's module is imported when it is first shown
    from tray.ui.quick_chat_window import QuickChatWindow

__all__ = ["MENU_TEXT", "QuickChatSection"]

MENU_TEXT = "Quick chat…"


class QuickChatSection:
    """Owns the popup, the hotkey manager and the menu item. `start()` registers the
    hotkey the settings name; the popup is built when it is first asked for (an idle tray
    whose hotkey is never pressed holds no chat window: issue 20; that first press costs
    ≈ 8 ms more, plus importing the window's modules once — docs/benchmarks.md);
    `warn(title, text)` tells the user of a hotkey problem."""

    def __init__(
        self,
        chat: QuickChat,
        settings: SettingsService,
        *,
        warn: Callable[[str, str], None],
        demo: bool,
        backend: Callable[[], HotkeyBackend] = select_backend,
    ) -> None:
        self._chat = chat
        self._settings = settings
        self._warn = warn
        self._demo = demo
        self._backend = backend
        self.window: QuickChatWindow | None = None
        self.hotkeys: HotkeyManager | None = None
        self.action = QAction(MENU_TEXT)
        self.action.triggered.connect(self.open)
        self._told: tuple[str, str] | None = None  # the hotkey problem already told

    def actions(self) -> list[QAction]:
        return [self.action]

    def start(self) -> None:
        self.hotkeys = HotkeyManager(self._backend(), self._settings)
        self.hotkeys.activated.connect(self.open)
        self.hotkeys.state_changed.connect(self.hotkey_state)
        self.hotkey_state(self.hotkeys.start())

    async def stop(self) -> None:
        if self.hotkeys is not None:
            self.hotkeys.stop()
            await self.hotkeys.wait_closed()

    def open(self) -> None:
        """Show the popup near the pointer, with the models read again."""
        if self.window is None:
            from tray.ui.quick_chat_window import QuickChatWindow

            self.window = QuickChatWindow(self._chat, demo=self._demo)
        self.window.show_near_pointer()
        spawn(self._chat.refresh_downloaded(), doing="Listing downloaded models")

    def set_hotkey(self, text: str | None) -> None:
        """The registered hotkey in Qt's portable text ("Ctrl+Alt+Space"), or None."""
        # "\t" puts the text in the shortcut column without making it a menu shortcut
        # (the global hotkey is the platform backend's, not Qt's).
        self.action.setText(f"{MENU_TEXT}\t{text}" if text else MENU_TEXT)

    def hotkey_state(self, result: RegisterResult) -> None:
        """Show what the hotkey backend registered, and tell of a problem (a key another
        program holds, no backend) — once per problem, not at every settings change."""
        self.set_hotkey(result.sequence if result.ok else None)
        if result.kind not in ("conflict", "unavailable"):
            self._told = None
            return
        told = (result.kind, result.sequence or "")
        if told != self._told:
            self._told = told
            self._warn("Quick chat hotkey", result.message)

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        # Always enabled: with the server down the popup offers to start it.
        pass
