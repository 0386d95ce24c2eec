"""The tray menu's server section: Start / Stop / Restart, Server options…, and — when the
server is open to the network without authentication (the menu's header says where it
listens) — the fix in one click ("Serve on this computer only": restart bound to
127.0.0.1) and how to require a token.

A thin view: what is enabled comes from `tray.core.server_control.server_actions`, the work
is done by a `ServerController` run through `spawn` (its errors reach the user there).
Stopping a server the LM Studio app runs asks first (`ServerOwnedByApp` → `confirm`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction

from tray.core.backends import Capabilities
from tray.core.errors import ServerOwnedByApp
from tray.core.server_control import (
    EXPOSURE_HELP_TITLE,
    LOOPBACK,
    SERVE_LOCALLY_TEXT,
    ServerActions,
    ServerOp,
    exposure_help,
    server_actions,
    show_exposure_warning,
)
from tray.core.status import ServerState, ServerStatus
from tray.services.server_controller import ServerController
from tray.ui.dialogs import confirm
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

if TYPE_CHECKING:  # the window's module is imported when it is first opened
    from PySide6.QtWidgets import QMessageBox

    from tray.ui.server_options_dialog import ServerOptionsDialog

__all__ = [
    "EXPOSURE_HELP_ACTION_TEXT",
    "OPTIONS_ACTION_TEXT",
    "RESTART_ACTION_TEXT",
    "SERVE_LOCALLY_ACTION_TEXT",
    "START_ACTION_TEXT",
    "STOP_ACTION_TEXT",
    "ServerSection",
]

log = logging.getLogger(__name__)

START_ACTION_TEXT = "Start server"
STOP_ACTION_TEXT = "Stop server"
RESTART_ACTION_TEXT = "Restart server"
OPTIONS_ACTION_TEXT = "Server options…"
EXPOSURE_HELP_ACTION_TEXT = "How to require a token…"
SERVE_LOCALLY_ACTION_TEXT = f"⚠ {SERVE_LOCALLY_TEXT}"

_DOING = {
    ServerOp.START: "Starting the server",
    ServerOp.STOP: "Stopping the server",
    ServerOp.RESTART: "Restarting the server",
}
_ACTION_TEXT = {
    ServerOp.START: START_ACTION_TEXT,
    ServerOp.STOP: STOP_ACTION_TEXT,
    ServerOp.RESTART: RESTART_ACTION_TEXT,
}


class ServerSection:
    """Owns the server menu items. `controller_factory` gives the active profile's
    controller (None when `lms` is missing); `on_starting` lets the app show the starting
    icon; `refresh` asks the status monitor to look again after each operation."""

    def __init__(
        self,
        controller_factory: Callable[[], ServerController | None],
        *,
        on_starting: Callable[[], None],
        refresh: Callable[[], None],
        demo: bool,
    ) -> None:
        self._controller_factory = controller_factory
        self._on_starting = on_starting
        self._refresh = refresh
        self._demo = demo
        self._busy: ServerOp | None = None
        self._last: tuple[ServerState, Capabilities, ServerOp | None, bool, str | None] | None = (
            None
        )
        self._status: ServerStatus | None = None
        self._caps: Capabilities | None = None
        self.options_dialog: ServerOptionsDialog | None = None
        self.help_box: QMessageBox | None = None

        self.serve_locally = QAction(SERVE_LOCALLY_ACTION_TEXT)
        self.serve_locally.setVisible(False)
        self.serve_locally.setToolTip(f"Restart LM Studio's server bound to {LOOPBACK}")
        self.serve_locally.triggered.connect(self._serve_locally)
        self.exposure_help = QAction(EXPOSURE_HELP_ACTION_TEXT)
        self.exposure_help.setVisible(False)
        self.exposure_help.triggered.connect(self.show_exposure_help)
        self.start = QAction(START_ACTION_TEXT)
        self.start.triggered.connect(lambda: self._run(ServerOp.START))
        self.stop = QAction(STOP_ACTION_TEXT)
        self.stop.triggered.connect(lambda: self._run(ServerOp.STOP))
        self.restart = QAction(RESTART_ACTION_TEXT)
        self.restart.triggered.connect(lambda: self._run(ServerOp.RESTART))
        self.options = QAction(OPTIONS_ACTION_TEXT)
        self.options.triggered.connect(self.open_options)

    def actions(self) -> list[QAction]:
        return [
            self.serve_locally,
            self.exposure_help,
            self.start,
            self.stop,
            self.restart,
            self.options,
        ]

    # --- rendering ----------------------------------------------------------------------

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        self._status, self._caps = status, caps
        exposed = show_exposure_warning(status)
        key = (status.state, caps, self._busy, exposed, status.listen_address)
        if key == self._last:
            return
        self._last = key
        allowed = server_actions(status.state, caps, busy=self._busy)
        for op, action in ((ServerOp.START, self.start), (ServerOp.STOP, self.stop),
                           (ServerOp.RESTART, self.restart)):  # fmt: skip
            enabled = _allowed(allowed, op)
            action.setEnabled(enabled)
            tip = "" if enabled else allowed.why_disabled or ""
            action.setToolTip(tip or action.text())
            action.setStatusTip(tip)
            text = op.progress if self._busy is op else _ACTION_TEXT[op]
            if action.text() != text:
                action.setText(text)
        # Options only matter for starting, which needs server control.
        self.options.setEnabled(caps.server_control)
        options_tip = "" if caps.server_control else allowed.why_disabled or ""
        self.options.setToolTip(options_tip or OPTIONS_ACTION_TEXT)
        self.options.setStatusTip(options_tip)
        self.serve_locally.setVisible(exposed and caps.server_control)
        self.serve_locally.setEnabled(self._busy is None)
        self.exposure_help.setVisible(exposed)

    def _rerender(self) -> None:
        if self._status is not None and self._caps is not None:
            self.render(self._status, self._caps)

    # --- gestures -----------------------------------------------------------------------

    def _run(self, op: ServerOp, *, bind: str | None = None) -> None:
        """`bind`: restart listening there instead of where the remembered options say."""
        if self._busy is not None:
            return
        controller = self._controller_factory()
        if controller is None:
            log.info("%s: no server control for this profile", _DOING[op])
            return
        self._busy = op
        self._rerender()
        if op is ServerOp.START:
            self._on_starting()
        spawn(self._operate(op, controller, bind=bind), doing=_DOING[op])

    async def _operate(
        self, op: ServerOp, controller: ServerController, *, bind: str | None = None
    ) -> None:
        try:
            if op is ServerOp.START:
                await controller.start()
                return
            try:
                await self._stop_or_restart(op, controller, confirmed=False, bind=bind)
            except ServerOwnedByApp as exc:
                yes = await confirm(
                    exc.title,
                    exc.message,
                    informative=exc.question,
                    yes=_ACTION_TEXT[op],
                    demo=self._demo,
                    icon="warning",
                )
                if yes:
                    await self._stop_or_restart(op, controller, confirmed=True, bind=bind)
        finally:
            self._busy = None
            self._rerender()
            self._refresh()

    def _serve_locally(self) -> None:
        """Restart bound to 127.0.0.1 (remembered for later starts): the server stays on
        this machine."""
        self._run(ServerOp.RESTART, bind=LOOPBACK)

    async def _stop_or_restart(
        self,
        op: ServerOp,
        controller: ServerController,
        *,
        confirmed: bool,
        bind: str | None = None,
    ) -> None:
        if op is ServerOp.RESTART:
            options = None
            if bind is not None:
                options = (await controller.start_options()).model_copy(update={"bind": bind})
            await controller.restart(options, confirmed=confirmed, on_stopped=self._on_starting)
        else:
            await controller.stop(confirmed=confirmed)

    def open_options(self) -> None:
        controller = self._controller_factory()
        if controller is None:
            return
        if self.options_dialog is not None and self.options_dialog.isVisible():
            self.options_dialog.raise_()
            self.options_dialog.activateWindow()
            return
        spawn(self._open_options(controller), doing="Opening the server options")

    async def _open_options(self, controller: ServerController) -> None:
        # What Start would use: until the user saves options, LM Studio's own settings.
        options = await controller.start_options()
        if self.options_dialog is not None and self.options_dialog.isVisible():
            return  # a second click while the settings were read
        name = self._status.profile_name if self._status is not None else None
        from tray.ui.server_options_dialog import ServerOptionsDialog

        self.options_dialog = ServerOptionsDialog(
            options, on_save=controller.remember, profile_name=name, demo=self._demo
        )
        self.options_dialog.open()

    def show_exposure_help(self) -> None:
        if self.help_box is not None and self.help_box.isVisible():
            self.help_box.raise_()
            return
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QMessageBox  # its type is made at the first box

        box = QMessageBox(
            QMessageBox.Icon.Warning,
            window_title("Authentication is off", demo=self._demo),
            EXPOSURE_HELP_TITLE,
        )
        listen = self._status.listen_address if self._status is not None else None
        box.setInformativeText(exposure_help(listen))
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        # Closed is gone: a hidden box kept for the process's life, one per opening, was a
        # leak (and a "question" other windows' tests saw still standing).
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: setattr(self, "help_box", None))
        box.open()
        self.help_box = box


def _allowed(actions: ServerActions, op: ServerOp) -> bool:
    return {ServerOp.START: actions.start, ServerOp.STOP: actions.stop,
            ServerOp.RESTART: actions.restart}[op]  # fmt: skip
