"""The demo's own submenu: it makes things happen in the simulated LM Studio, as if from
outside the tray, so that what the tray does about them — notifications, the tokens
window, drift warnings, the queue in the model list — can be seen at once instead of
waited for. Only the demo has it; each item says in a notification what it did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from tray.core.backends import Capabilities
from tray.core.errors import TrayError
from tray.core.notifications import Severity
from tray.core.status import ServerState, ServerStatus
from tray.ui.notifier import Notify
from tray.ui.tasks import spawn

__all__ = ["DEMO_ITEMS", "DEMO_MENU_TEXT", "DemoSection"]

DEMO_MENU_TEXT = "Demo: make something happen"

# (menu text, what the simulator is asked, what the notification says afterwards)
DEMO_ITEMS: tuple[tuple[str, str, str], ...] = (
    (
        "Require a token",
        "demo.requireToken",
        "The demo's server now wants an API token, as LM Studio does with Require "
        "Authentication on. The token is in the clipboard: paste it in API tokens.",
    ),
    (
        "Serve without a token again",
        "demo.allowWithoutToken",
        "The demo's server answers without a token again.",
    ),
    (
        "Stop the server (as LM Studio would)",
        "stopHttpServer",
        "The demo's server was stopped from outside the tray; Start server brings it back.",
    ),
    (
        "Evict an idle model",
        "demo.evictIdle",
        "{identifier}'s idle timeout runs out now: LM Studio unloads it, the tray tells you.",
    ),
    (
        "Start a long generation",
        "demo.startLongGeneration",
        "Another app asks {identifier} for a long answer, with more requests queued behind "
        "it: see Loaded models.",
    ),
    (
        "Change mcp.json behind the tray's back",
        "demo.changeMcpJson",
        'A web page\'s "Add to LM Studio" button added the server "{server}" to mcp.json: '
        "the history keeps the version before, and a locked-down file reports it as drift.",
    ),
)


class DemoSection:
    """Owns the "Demo" submenu; `actions()` is inserted once into the tray menu."""

    def __init__(
        self,
        act: Callable[[str], Awaitable[dict[str, Any]]],
        *,
        notify: Notify,
        copy_secret: Callable[[str], str],
    ) -> None:
        self._act = act
        self._notify = notify
        self._copy_secret = copy_secret
        self.menu = QMenu(DEMO_MENU_TEXT)
        self.items: dict[str, QAction] = {}
        for text, method, said in DEMO_ITEMS:
            action = self.menu.addAction(text)
            action.triggered.connect(
                lambda _=False, m=method, s=said, t=text: spawn(
                    self._run(t, m, s), doing=f"Demo: {t.lower()}"
                )
            )
            self.items[method] = action

    def actions(self) -> list[QAction]:
        return [self.menu.menuAction()]

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        up = status.state not in (ServerState.STOPPED, ServerState.UNREACHABLE)
        for method in ("stopHttpServer", "demo.evictIdle", "demo.startLongGeneration"):
            self.items[method].setEnabled(up)
        for method in ("demo.evictIdle", "demo.startLongGeneration"):
            if not status.loaded:
                self.items[method].setEnabled(False)

    async def _run(self, text: str, method: str, said: str) -> None:
        try:
            result = await self._act(method)
        except TrayError as exc:
            self._notify(f"Demo: {text}", exc.message, Severity.WARNING)
            return
        message = said.format(**result)
        if token := result.get("token"):
            message += " " + self._copy_secret(str(token))
        self._notify(f"Demo: {text}", message, Severity.INFO)
