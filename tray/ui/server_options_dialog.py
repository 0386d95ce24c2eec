"""Server options: the port, address and CORS choice `lms server start` is given.

A small ordinary dialog, opened with `open()` (never `exec()`, which would nest the event
loop). The choices are validated by core's rules as they are typed; Save hands the options
to `on_save` (which remembers them in the server profile) and closes, or shows why not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tray.core.errors import TrayError
from tray.core.server_control import (
    ALL_INTERFACES,
    LOOPBACK,
    BindChoice,
    bind_choice,
    bind_exposes,
    validate_start_options,
)
from tray.core.settings import ServerStartOptions
from tray.ui.status_text import window_title

__all__ = ["ServerOptionsDialog"]

log = logging.getLogger(__name__)

DEFAULT_PORT_TEXT = "As in LM Studio"
EXPOSED_TEXT = (
    "⚠ Other computers on your network can reach the server. Turn on “Require "
    "Authentication” in LM Studio (Developer → Server Settings) so only token holders can "
    "use it."
)
CORS_TEXT = "Any web page you open can then use the server."
_WARNING_STYLE = "color: #b35c00;"
_ERROR_STYLE = "color: #c62828;"


class ServerOptionsDialog(QDialog):
    """Edits `ServerStartOptions`; `on_save(options)` may raise a `TrayError`, shown in
    the dialog (which then stays open)."""

    def __init__(
        self,
        options: ServerStartOptions,
        *,
        on_save: Callable[[ServerStartOptions], None],
        profile_name: str | None = None,
        demo: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._on_save = on_save
        self.setWindowTitle(window_title("Server options", demo=demo))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        intro = QLabel(
            "Used when LM Studio Tray starts the server"
            + (f" of “{profile_name}”" if profile_name else "")
            + " (Start and Restart in the menu, and “lmstudio-tray server start”)."
        )
        intro.setWordWrap(True)

        self.port = QSpinBox()
        self.port.setRange(0, 65535)  # 0 shows as "As in LM Studio": no --port
        self.port.setSpecialValueText(DEFAULT_PORT_TEXT)
        self.port.setValue(options.port or 0)
        self.port.setToolTip("Leave at “As in LM Studio” to use the port LM Studio last used.")

        self.bind = QComboBox()
        self.bind.addItem(f"This computer only ({LOOPBACK})", BindChoice.LOOPBACK)
        self.bind.addItem(f"All network interfaces ({ALL_INTERFACES})", BindChoice.ALL)
        self.bind.addItem("Another address…", BindChoice.CUSTOM)
        self.custom_bind = QLineEdit()
        self.custom_bind.setPlaceholderText("e.g. 192.168.1.20")
        choice = bind_choice(options.bind)
        self.bind.setCurrentIndex(self.bind.findData(choice))
        if choice is BindChoice.CUSTOM:
            self.custom_bind.setText(options.bind or "")

        self.cors = QCheckBox("Allow requests from web pages (CORS)")
        self.cors.setChecked(options.cors)
        self.cors.setToolTip(CORS_TEXT)

        self.exposed_note = QLabel(EXPOSED_TEXT)
        self.exposed_note.setWordWrap(True)
        self.exposed_note.setStyleSheet(_WARNING_STYLE)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(_ERROR_STYLE)

        form = QFormLayout()
        form.addRow("Port:", self.port)
        form.addRow("Listen on:", self.bind)
        form.addRow("", self.custom_bind)
        form.addRow("", self.cors)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.exposed_note)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

        for signal in (
            self.port.valueChanged,
            self.bind.currentIndexChanged,
            self.custom_bind.textChanged,
            self.cors.toggled,
        ):
            signal.connect(self._update)
        self._update()
        self.setMinimumWidth(440)

    def options(self) -> ServerStartOptions:
        """The options as the dialog shows them now."""
        choice = BindChoice(self.bind.currentData())
        bind = {
            BindChoice.LOOPBACK: LOOPBACK,
            BindChoice.ALL: ALL_INTERFACES,
            BindChoice.CUSTOM: self.custom_bind.text().strip(),
        }[choice]
        return ServerStartOptions(
            port=self.port.value() or None, bind=bind, cors=self.cors.isChecked()
        )

    def _update(self) -> None:
        custom = BindChoice(self.bind.currentData()) is BindChoice.CUSTOM
        self.custom_bind.setVisible(custom)
        options = self.options()
        problems = validate_start_options(options)
        self.problem.setText(" ".join(problems))
        self.problem.setVisible(bool(problems))
        self.exposed_note.setVisible(not problems and bind_exposes(options.bind))
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(not problems)
        self.adjustSize()

    def _save(self) -> None:
        try:
            self._on_save(self.options())
        except TrayError as exc:
            log.info("server options not saved: %s", exc.message)
            self.problem.setText(exc.message)
            self.problem.setVisible(True)
            return
        self.accept()
