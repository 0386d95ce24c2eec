"""The API tokens window: per server profile, whether a token is stored, and the way to
paste, replace, test or remove it.

A token is pasted into a password field (never echoed), its shape checked as it is typed,
then checked against the server before it is saved: a token the server refuses is kept
only if the user insists. Every vault call is awaited on the shared qasync loop through
`spawn` (an unlock prompt may take a while), so the window never freezes; its errors are
shown as sentences in the window, not as notifications.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from pydantic import SecretStr
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tray.core.errors import KeyringLocked, KeyringUnavailable, TokenError, TrayError
from tray.core.profiles import profile_label
from tray.core.settings import Settings
from tray.core.token_snippets import masked
from tray.core.tokens import (
    CheckOutcome,
    TokenCheck,
    TokenState,
    combine_state,
    looks_like_token,
    validate_token,
)
from tray.services.settings_store import SettingsService
from tray.ui.dialogs import confirm
from tray.ui.settings_parts import message_line as _message
from tray.ui.settings_parts import show_error as _show_error
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = ["TokensDialog"]

log = logging.getLogger(__name__)

SHAPE_HINT = (
    "A token is sk-lm- then 8 letters or digits, a colon and 20 more (LM Studio shows it once)."
)
SESSION_HINT = (
    'Or tick "Keep in memory for this session only": the token is then forgotten when the '
    "tray quits."
)


class Vault(Protocol):
    """What this window needs of `tray.services.token_vault.TokenVault`."""

    async def get(self, profile_id: str) -> SecretStr | None: ...
    async def set(self, profile_id: str, token: str, *, session_only: bool = False) -> None: ...
    async def delete(self, profile_id: str) -> bool: ...
    async def status(self, profile_id: str) -> TokenState: ...
    def subscribe(self, fn: Callable[[str], None]) -> Callable[[], None]: ...


def _shape_problem(text: str) -> str | None:
    """The sentence for a paste that is not token-shaped (None when it is, or is empty)."""
    if not text.strip():
        return None
    try:
        validate_token(text)
    except TokenError as exc:
        return exc.message
    return None


class TokensDialog(QDialog):
    """Create once; `present(profile_id=None, reason=None)` shows it (again)."""

    def __init__(
        self,
        vault: Vault,
        settings: SettingsService,
        *,
        check: Callable[[str, SecretStr], Awaitable[TokenCheck]],
        demo: bool,
        on_change: Callable[[str], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`check(profile_id, token)` tests a token against that profile's server;
        `on_change(profile_id)` is called after a token was saved or removed."""
        super().__init__(parent)
        self._vault = vault
        self._settings = settings
        self._check = check
        self._on_change = on_change or (lambda _pid: None)
        self._ids: list[str] = []
        self._demo = demo
        self._states: dict[str, TokenState] = {}
        self._checks: dict[str, TokenCheck] = {}  # the last check of each kept token
        self._masked: dict[str, str] = {}
        self._unreadable: dict[str, str] = {}  # why a profile's state could not be read
        self._memory_only = bool(getattr(vault, "memory_only", False))
        self._refused = TokenCheck(outcome=CheckOutcome.REJECTED, message="")
        self._insist_on: tuple[str, str] | None = None  # (profile id, token) refused once
        self._busy = False

        self.setWindowTitle(window_title("API tokens", demo=demo))
        self.setObjectName("tokens-dialog")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 12)
        layout.setSpacing(10)
        for widget in self._build_intro():
            layout.addWidget(widget)
        middle = QHBoxLayout()
        middle.setSpacing(14)
        middle.addWidget(self._build_profile_list(), 2)
        middle.addWidget(self._build_token_box(), 3)
        layout.addLayout(middle, 1)
        self.close_buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.close_buttons.rejected.connect(self.reject)
        layout.addWidget(self.close_buttons)
        self.resize(720, 400)

        settings.subscribe(self._settings_changed)
        vault.subscribe(self._vault_changed)
        self._fill(settings.settings, keep=None)

    def _build_intro(self) -> tuple[QLabel, QLabel]:
        """Where tokens are kept, and why the window opened (when a server asked)."""
        self.intro = _message(error=False)
        self.intro.setText(
            "Demo: tokens you enter here are kept in memory until the demo quits — never in "
            "your system keyring, never in a file."
            if self._memory_only
            else "LM Studio can require an API token on every request. Tokens are kept in "
            "your system keyring, one per server — never in a file."
        )
        self.reason = QLabel()
        self.reason.setObjectName("tokens-reason")
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet(
            "QLabel { background: #fff4e5; color: #5d4037; border: 1px solid #ffcc80;"
            " border-radius: 4px; padding: 6px 8px; }"
        )
        self.reason.setVisible(False)
        return self.intro, self.reason

    def _build_profile_list(self) -> QListWidget:
        self.profile_list = QListWidget()
        self.profile_list.setObjectName("tokens-profiles")
        self.profile_list.setMinimumWidth(230)
        self.profile_list.currentRowChanged.connect(self._selected)
        return self.profile_list

    def _build_token_box(self) -> QGroupBox:
        """The chosen server's token: its state, the input, the shape check, the buttons
        and what the last action said."""
        self.state_label = QLabel()
        self.state_label.setObjectName("token-state")
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.token_edit = QLineEdit()
        self.token_edit.setObjectName("token-input")
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("Paste a token: sk-lm-…")
        self.token_edit.setClearButtonEnabled(True)
        self.token_edit.textChanged.connect(self._typed)
        self.shape_error = _message(error=True)
        self.shape_error.setObjectName("token-shape-error")
        self.shape_hint = _message(error=False)
        self.shape_hint.setText(SHAPE_HINT)
        self.session_box = QCheckBox("Keep in memory for this session only")
        self.session_box.setObjectName("token-session-only")
        self.session_box.setToolTip(
            "Nothing is written anywhere; the tray forgets it when it quits."
        )
        if self._memory_only:  # the only choice there is
            self.session_box.setChecked(True)
            self.session_box.setVisible(False)

        self.result_error = _message(error=True)
        self.result_error.setObjectName("token-error")
        self.result_info = _message(error=False)
        self.result_info.setObjectName("token-info")

        self.profile_box = QGroupBox("Token")
        column = QVBoxLayout(self.profile_box)
        column.setSpacing(8)
        column.addWidget(self.state_label)
        column.addSpacing(4)
        column.addWidget(self.token_edit)
        column.addWidget(self.shape_error)
        column.addWidget(self.shape_hint)
        column.addWidget(self.session_box)
        column.addLayout(self._build_buttons())
        column.addWidget(self.result_error)
        column.addWidget(self.result_info)
        column.addStretch(1)
        return self.profile_box

    def _build_buttons(self) -> QHBoxLayout:
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("token-save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._save_clicked)
        self.test_button = QPushButton("Test")
        self.test_button.setObjectName("token-test")
        self.test_button.clicked.connect(self._test_clicked)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("token-remove")
        self.remove_button.clicked.connect(self._remove_clicked)

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        return buttons

    # --- showing ------------------------------------------------------------------------

    def present(self, profile_id: str | None = None, reason: str | None = None) -> None:
        """Show the window on `profile_id` (the active profile by default), with `reason`
        (e.g. "The server at … asked for a token.") above the list when given."""
        settings = self._settings.settings
        wanted = profile_id or settings.active_profile
        self._fill(settings, keep=wanted)
        self.reason.setText(reason or "")
        self.reason.setVisible(bool(reason))
        if self.isVisible():
            self.raise_()
            self.activateWindow()
        else:
            self.open()
        self.refresh()

    def refresh(self) -> None:
        """Read every profile's token state from the vault (in the background)."""
        spawn(self._refresh(), doing="Reading the API tokens")

    def selected_profile(self) -> str | None:
        row = self.profile_list.currentRow()
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def state_of(self, profile_id: str) -> TokenState | None:
        """What the list shows for a profile (None until the vault answered); REJECTED
        when the last check of its kept token said so."""
        state = self._states.get(profile_id)
        return None if state is None else combine_state(state, self._checks.get(profile_id))

    @property
    def busy(self) -> bool:
        return self._busy

    def _vault_changed(self, profile_id: str) -> None:
        if self.isVisible() and not self._busy:  # our own saves re-read by themselves
            spawn(self._read_state(profile_id), doing="Reading the API token")

    # --- list ---------------------------------------------------------------------------

    def _settings_changed(self, settings: Settings) -> None:
        self._fill(settings, keep=self.selected_profile())

    def _fill(self, settings: Settings, *, keep: str | None) -> None:
        ids = [p.id for p in settings.profiles]
        if ids != self._ids:
            self.profile_list.blockSignals(True)
            try:
                self.profile_list.clear()
                self._ids = ids
                for _ in ids:
                    self.profile_list.addItem(QListWidgetItem())
            finally:
                self.profile_list.blockSignals(False)
        for pid in ids:
            self._render_item(pid)
        target = keep if keep in ids else settings.active_profile
        row = ids.index(target) if target in ids else 0
        if self.profile_list.currentRow() != row:
            self.profile_list.setCurrentRow(row)
        else:
            self._selected(row)

    def _render_item(self, profile_id: str) -> None:
        if profile_id not in self._ids:
            return
        profile = self._settings.settings.profile(profile_id)
        state = self.state_of(profile_id)
        text = profile_label(profile)
        if state is not None:
            text += f"\n{state.label}"
        elif profile_id in self._unreadable:
            text += f"\nunknown — {self._unreadable[profile_id]}"
        item = self.profile_list.item(self._ids.index(profile_id))
        item.setText(text)
        item.setToolTip(profile.base_url or "This machine's LM Studio")
        font = QFont(self.profile_list.font())
        font.setBold(profile_id == self._settings.settings.active_profile)
        item.setFont(font)

    def _selected(self, row: int) -> None:
        pid = self.selected_profile()
        if pid is None:
            return
        name = profile_label(self._settings.settings.profile(pid))
        self.profile_box.setTitle(f"Token for {name}")
        self.token_edit.clear()
        self._insist_on = None
        self.save_button.setText("Save")
        self._say()
        self._render_selected()

    def _render_selected(self) -> None:
        pid = self.selected_profile()
        if pid is None:
            return
        state = self.state_of(pid)
        if state is None and pid in self._unreadable:
            self.state_label.setText(f"Status: unknown — {self._unreadable[pid]}")
        elif state is None:
            self.state_label.setText("Status: reading the keyring…")
        else:
            shown = self._masked.get(pid)
            self.state_label.setText(f"Status: {state.label}" + (f"  ({shown})" if shown else ""))
        has_token = state not in (None, TokenState.MISSING)
        typed_ok = looks_like_token(self.token_edit.text())
        idle = not self._busy
        self.remove_button.setEnabled(has_token and idle)
        self.save_button.setEnabled(typed_ok and idle)
        self.test_button.setEnabled((has_token or typed_ok) and idle)
        self.token_edit.setEnabled(idle)
        self.session_box.setEnabled(idle and not self._memory_only)

    # --- typing -------------------------------------------------------------------------

    def _typed(self, text: str) -> None:
        problem = _shape_problem(text)
        _show_error(self.shape_error, problem)
        self.shape_hint.setVisible(problem is None)
        if self._insist_on is not None and self._insist_on[1] != text.strip():
            self._insist_on = None
            self.save_button.setText("Save")
        self._render_selected()

    # --- gestures -----------------------------------------------------------------------

    def _save_clicked(self) -> None:
        pid = self.selected_profile()
        token = self.token_edit.text().strip()
        if pid is None:
            return
        problem = _shape_problem(token) if token else "Paste a token first."
        if problem is not None:
            _show_error(self.shape_error, problem)
            return
        session_only = self.session_box.isChecked()
        self._set_busy(True)  # at once: a second click must not start a second save
        spawn(self._save(pid, token, session_only=session_only), doing="Saving the token")

    def _test_clicked(self) -> None:
        pid = self.selected_profile()
        if pid is not None:
            self._set_busy(True)
            spawn(self._test(pid, self.token_edit.text().strip()), doing="Testing the token")

    def _remove_clicked(self) -> None:
        pid = self.selected_profile()
        if pid is not None:
            spawn(self._remove(pid), doing="Removing the token")

    # --- work (coroutines) --------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._render_selected()

    def _say(self, *, error: str | None = None, info: str = "") -> None:
        _show_error(self.result_error, error)
        self.result_info.setText(info)
        self.result_info.setVisible(bool(info))

    async def _refresh(self) -> None:
        for pid in list(self._ids):
            await self._read_state(pid)

    async def _read_state(self, pid: str) -> None:
        try:
            state = await self._vault.status(pid)
            token = await self._vault.get(pid) if state is not TokenState.MISSING else None
        except TrayError as exc:
            # Never left at "reading…": the state says why it is unknown; opening the
            # window again asks the keyring again.
            self._states.pop(pid, None)
            self._unreadable[pid] = exc.title.lower()
            self._render_item(pid)
            if pid == self.selected_profile():
                self._render_selected()
                self._say(error=_sentence(exc))
            return
        self._unreadable.pop(pid, None)
        self._states[pid] = state
        if token is None:
            self._masked.pop(pid, None)
        else:
            self._masked[pid] = masked(token.get_secret_value())
        self._render_item(pid)
        if pid == self.selected_profile():
            self._render_selected()

    async def _checked(self, pid: str, token: SecretStr) -> TokenCheck:
        """The server's word on `token`; a failure of the check itself is UNKNOWN."""
        try:
            return await self._check(pid, token)
        except TrayError as exc:
            log.info("Could not check the token: %s", exc.message)
            return TokenCheck(outcome=CheckOutcome.UNKNOWN, message=exc.message)

    async def _save(self, pid: str, token: str, *, session_only: bool) -> None:
        self._say(info="Checking the token with the server…")
        try:
            insisted = self._insist_on == (pid, token)
            check = self._refused if insisted else await self._checked(pid, SecretStr(token))
            if check.outcome is CheckOutcome.REJECTED and not insisted:
                self._insist_on = (pid, token)
                self._refused = check
                self.save_button.setText("Save anyway")
                self._say(
                    error="The server rejected this token, so it was not saved. Copy it again "
                    'from LM Studio, or click "Save anyway" to keep it all the same.'
                )
                return
            try:
                await self._vault.set(pid, token, session_only=session_only)
            except TrayError as exc:
                self._say(error=_sentence(exc))
                return
            self._insist_on = None
            self.save_button.setText("Save")
            self._checks[pid] = check
            self.token_edit.clear()
            where = (
                "kept in memory until the tray quits"
                if session_only or self._memory_only
                else "saved in the keyring"
            )
            said = {
                CheckOutcome.ACCEPTED: "The server accepted it; the",
                CheckOutcome.REJECTED: "Saved although the server rejected it; the",
            }.get(check.outcome, "The server could not be asked; the")
            if check.auth_required is False:
                said = "The server does not require a token, so it could not be checked; the"
            self._say(info=f"{said} token is {where}.")
            await self._read_state(pid)
            self._on_change(pid)
        finally:
            self._set_busy(False)

    async def _test(self, pid: str, typed: str) -> None:
        self._say(info="Asking the server…")
        try:
            token: SecretStr | None
            if typed:
                problem = _shape_problem(typed)
                if problem is not None:
                    self._say(error=problem)
                    return
                token = SecretStr(typed)
            else:
                try:
                    token = await self._vault.get(pid)
                except TrayError as exc:
                    self._say(error=_sentence(exc))
                    return
            if token is None:
                self._say(error="There is no token to test: paste one first.")
                return
            check = await self._checked(pid, token)
            if not typed:
                self._checks[pid] = check  # what the list shows is about the kept token
                self._render_item(pid)
            which = "This token" if typed else "The saved token"
            if check.outcome is CheckOutcome.ACCEPTED:
                self._say(info=f"{which} works: the server accepted it.")
            elif check.outcome is CheckOutcome.REJECTED:
                self._say(error=f"{which} was rejected by the server.")
            elif check.auth_required is False:  # not a failure: there is nothing to check
                self._say(info=check.message)
            else:
                self._say(error=check.message)
        finally:
            self._set_busy(False)

    async def _remove(self, pid: str) -> None:
        name = profile_label(self._settings.settings.profile(pid))
        sure = await confirm(
            "Remove API token",
            f"Remove the API token for {name}?",
            informative="LM Studio shows a token only once: unless you kept it elsewhere, "
            "you will need to create a new one in LM Studio.",
            yes="Remove",
            demo=self._demo,
            parent=self,
        )
        if not sure:
            return
        self._set_busy(True)
        try:
            try:
                await self._vault.delete(pid)
            except TrayError as exc:
                self._say(error=_sentence(exc))
                return
            self._checks.pop(pid, None)
            self._say(info="The token was removed.")
            await self._read_state(pid)
            self._on_change(pid)
        finally:
            self._set_busy(False)


def _sentence(exc: TrayError) -> str:
    """The error's sentence; for a keyring that cannot keep it, the way out too."""
    if isinstance(exc, KeyringLocked | KeyringUnavailable) and "session" not in exc.message:
        return f"{exc.message} {SESSION_HINT}"
    return exc.message
