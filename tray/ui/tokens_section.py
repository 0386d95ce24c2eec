"""The tray menu's "API token" submenu: manage tokens, and copy the active profile's token
for a client app — alone, as `LM_API_TOKEN`/`LM_BASE_URL` lines, or as an OpenAI-client
snippet — through the `ClipboardGuard`, which clears it again.

The copy items are disabled, and say why, while the active profile has no token. Whether it
has one is the vault's to say, asynchronously: `render` asks again only when the active
profile changed, and again whenever the vault says a token was saved or removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from pydantic import SecretStr
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from tray.core.backends import Capabilities
from tray.core.errors import TrayError
from tray.core.notifications import Severity
from tray.core.status import ServerStatus
from tray.core.token_snippets import env_lines, openai_snippet
from tray.core.tokens import TokenState
from tray.services.settings_store import SettingsService
from tray.ui.clipboard import ClipboardGuard
from tray.ui.notifier import Notify
from tray.ui.tasks import spawn

__all__ = [
    "COPIED_TITLES",
    "COPY_BOTH_TEXT",
    "COPY_ENV_TEXT",
    "COPY_PYTHON_TEXT",
    "COPY_TOKEN_TEXT",
    "MANAGE_TEXT",
    "MENU_TEXT",
    "TokensSection",
]

log = logging.getLogger(__name__)

MENU_TEXT = "API token"
MANAGE_TEXT = "Manage tokens…"
COPY_TOKEN_TEXT = "Copy token"
COPY_BOTH_TEXT = "Copy base URL + token"
COPY_ENV_TEXT = "As environment variables (LM_API_TOKEN=…)"
COPY_PYTHON_TEXT = "As Python (OpenAI client)"
NO_TOKEN_REASON = "No token is stored for this server: add one with Manage tokens…"
# What a copy's notification is titled; its text says when the clipboard is cleared.
COPIED_TITLES = {
    "token": "API token copied",
    "env": "Base URL and token copied",
    "python": "OpenAI client snippet copied",
}


class Vault(Protocol):
    async def get(self, profile_id: str) -> SecretStr | None: ...
    async def status(self, profile_id: str) -> TokenState: ...
    def subscribe(self, fn: Callable[[str], None]) -> Callable[[], None]: ...


class TokensSection:
    """Owns its QMenu and QActions; `actions()` is inserted once into the tray menu."""

    def __init__(
        self,
        vault: Vault,
        settings: SettingsService,
        *,
        open_dialog: Callable[[], None],
        base_url: Callable[[], str],
        clipboard: ClipboardGuard,
        notify: Notify | None = None,
    ) -> None:
        """`base_url()` gives the active server's URL (e.g. `http://127.0.0.1:1234`);
        `notify(title, text, severity)` tells the user what a copy did (without one, the
        log does)."""
        self._vault = vault
        self._settings = settings
        self._base_url = base_url
        self._clipboard = clipboard
        self._notify: Notify = notify or (lambda title, text, _: log.info("%s: %s", title, text))
        self._asked_for: str | None = None  # the profile whose token state we hold
        self.has_token = False

        self.menu = QMenu(MENU_TEXT)
        self.menu.setToolTipsVisible(True)
        self.manage_action = self.menu.addAction(MANAGE_TEXT)
        self.manage_action.triggered.connect(lambda: open_dialog())
        self.menu.addSeparator()
        self.copy_token_action = self.menu.addAction(COPY_TOKEN_TEXT)
        self.copy_token_action.triggered.connect(lambda: self._copy("token"))
        self.both_menu = QMenu(COPY_BOTH_TEXT, self.menu)
        self.both_menu.setToolTipsVisible(True)
        self.menu.addMenu(self.both_menu)
        self.copy_env_action = self.both_menu.addAction(COPY_ENV_TEXT)
        self.copy_env_action.triggered.connect(lambda: self._copy("env"))
        self.copy_python_action = self.both_menu.addAction(COPY_PYTHON_TEXT)
        self.copy_python_action.triggered.connect(lambda: self._copy("python"))
        self._show_token(False)
        self.menu.aboutToShow.connect(self.menu_opening)
        # Saved or removed anywhere (the Tokens window, the CLI's vault in this process,
        # the leak finder): look again.
        vault.subscribe(lambda _pid: self.token_changed())

    def actions(self) -> list[QAction]:
        return [self.menu.menuAction()]

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        """Cheap: notes that the vault must be asked again when the active profile changed
        (it is asked when a menu opens: see `menu_opening`)."""
        if self._settings.settings.active_profile != self._asked_for:
            self._asked_for = None
            if self.menu.isVisible():
                self.menu_opening()

    def menu_opening(self) -> None:
        """The tray menu (or this submenu) is about to show: ask the vault for the active
        profile's token state unless it is known. Not earlier: asking loads the OS keyring
        backend (the Secret Service stack, `cryptography` …, ≈ 8 MB), which an idle tray
        that never shows its menu does not need (issue 20). The keyring answers while the
        user reaches the submenu; its items change in place."""
        active = self._settings.settings.active_profile
        if active != self._asked_for:
            self._asked_for = active
            spawn(self._read(active), doing="Reading the API token")

    def token_changed(self) -> None:
        """A token was saved or removed: read the active profile's state again."""
        self._asked_for = self._settings.settings.active_profile
        spawn(self._read(self._asked_for), doing="Reading the API token")

    # --- internals ----------------------------------------------------------------------

    def _show_token(self, has_token: bool, unknown: TrayError | None = None) -> None:
        """`unknown`: why the keyring could not tell (then nothing can be copied)."""
        self.has_token = has_token
        reason = "" if has_token else (unknown.message if unknown else NO_TOKEN_REASON)
        for action in (self.copy_token_action, self.copy_env_action, self.copy_python_action):
            action.setEnabled(has_token)
            action.setToolTip(reason)
        self.both_menu.menuAction().setEnabled(has_token)
        self.both_menu.menuAction().setToolTip(reason)
        missing = "no token stored" if unknown is None else unknown.title.lower()
        self.copy_token_action.setText(
            COPY_TOKEN_TEXT if has_token else f"{COPY_TOKEN_TEXT} — {missing}"
        )

    async def _read(self, profile_id: str) -> None:
        state: TokenState
        try:
            state = await self._vault.status(profile_id)
        except TrayError as exc:
            log.info("Token state unknown: %s", exc.message)
            if profile_id == self._asked_for:
                self._show_token(False, unknown=exc)
                self._asked_for = None  # ask again when a menu next opens
            return
        if profile_id == self._asked_for:  # not an answer about a profile left since
            self._show_token(state is not TokenState.MISSING)

    def _copy(self, what: str) -> None:
        spawn(self._copy_now(self._settings.settings.active_profile, what), doing="Copying")

    async def _copy_now(self, profile_id: str, what: str) -> None:
        token = await self._vault.get(profile_id)
        if token is None:
            self._show_token(False)
            raise TrayError(NO_TOKEN_REASON, title="No API token")
        secret = token.get_secret_value()
        if what == "env":
            text = env_lines(self._base_url(), secret)
        elif what == "python":
            text = openai_snippet(self._base_url(), secret)
        else:
            text = secret
        said = self._clipboard.copy_secret(text)
        self._notify(COPIED_TITLES[what], said, Severity.INFO)
