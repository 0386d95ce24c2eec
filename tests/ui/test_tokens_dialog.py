"""The API tokens window against a simulated LM Studio with auth on and the real keyring:
a malformed paste is refused inline, a wrong token is refused by the server and not saved
(unless the user insists), a right one is stored in the Secret Service, tested, removed;
with no usable keyring the sentence says what to do and session-only still works."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import keyring.backend
import pytest
from aio import run, until  # tests/ui/aio.py
from keyring.backends import fail
from keyring_backend import secret_service  # tests/ui/keyring_backend.py
from pydantic import SecretStr
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from tray.core.settings import LOCAL_PROFILE_ID, ServerProfile, Settings
from tray.core.tokens import StaticToken, TokenCheck, TokenState
from tray.services.lmstudio_client import LmStudioClient
from tray.services.settings_store import SettingsService, SettingsStore
from tray.services.token_vault import TokenVault, check_token
from tray.simulator import Simulator
from tray.ui.tokens_dialog import TokensDialog

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
WRONG = "sk-lm-Wxyz9876:Zyxwvutsrq0987654321"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", auth_token=TOKEN, tokens_per_second=2000) as s:
        yield s


@pytest.fixture
def service(tmp_path: Path) -> SettingsService:
    return SettingsService(SettingsStore(tmp_path / "settings.json"))


def checker(sim: Simulator) -> Callable[[str, SecretStr], object]:
    async def check(profile_id: str, token: SecretStr) -> TokenCheck:
        async with httpx.AsyncClient() as http:
            client = LmStudioClient(http, sim.base_url, token_provider=StaticToken(token))
            return await check_token(client)

    return check


def make_dialog(
    qtbot: QtBot, vault: TokenVault, service: SettingsService, sim: Simulator
) -> TokensDialog:
    dialog = TokensDialog(vault, service, check=checker(sim), demo=False)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    return dialog


def paste(qtbot: QtBot, dialog: TokensDialog, text: str) -> None:
    dialog.token_edit.setFocus()
    dialog.token_edit.selectAll()
    qtbot.keyClick(dialog.token_edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(dialog.token_edit, text)


def click(qtbot: QtBot, button: object) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]


def message_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return next((b for b in boxes if b.isVisible()), None)


@pytest.mark.ui
@pytest.mark.keyring
def test_paste_check_save_test_remove_in_the_real_keyring(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    service: SettingsService,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    backend = secret_service()
    vault = TokenVault(backend)
    profile = LOCAL_PROFILE_ID
    stored = lambda: backend.get_password(TokenVault.SERVICE, profile)  # noqa: E731
    dialog = make_dialog(qtbot, vault, service, sim)

    async def scenario() -> None:
        await vault.delete(profile)
        dialog.present(reason=f"The server at {sim.base_url} asked for a token.")
        await until(lambda: dialog.state_of(profile) is TokenState.MISSING, "state read")
        assert dialog.reason.isVisible()
        assert sim.base_url in dialog.reason.text()

        # A malformed paste: an inline sentence, Save impossible, nothing stored.
        paste(qtbot, dialog, "sk-lm-short")
        assert dialog.shape_error.isVisible()
        assert "does not look like an LM Studio API token" in dialog.shape_error.text()
        assert not dialog.save_button.isEnabled()
        assert dialog.token_edit.echoMode() == dialog.token_edit.EchoMode.Password
        assert stored() is None

        # A wrong token: the server says no, nothing stored, Save becomes "Save anyway".
        paste(qtbot, dialog, WRONG)
        assert not dialog.shape_error.isVisible()
        click(qtbot, dialog.save_button)
        await until(lambda: dialog.result_error.isVisible(), "the server's refusal")
        assert "rejected this token" in dialog.result_error.text()
        assert dialog.save_button.text() == "Save anyway"
        assert stored() is None

        # The right one: accepted by the server, stored in the Secret Service.
        paste(qtbot, dialog, TOKEN)
        assert dialog.save_button.text() == "Save"
        click(qtbot, dialog.save_button)
        await until(lambda: dialog.state_of(profile) is TokenState.STORED, "stored")
        assert stored() == TOKEN
        assert "accepted" in dialog.result_info.text()
        assert dialog.token_edit.text() == ""
        assert "sk-lm-Abcd1234:••••" in dialog.state_label.text()
        assert TOKEN not in dialog.state_label.text()

        # Test the saved token.
        click(qtbot, dialog.test_button)
        await until(lambda: "works" in dialog.result_info.text(), "test result")

        dialog.grab().save(str(tmp_path / "tokens-dialog.png"))

        # Remove: asked first, then gone from the keyring.
        click(qtbot, dialog.remove_button)
        await until(lambda: message_box() is not None, "the removal question")
        box = message_box()
        assert box is not None
        yes = next(b for b in box.buttons() if b.text() == "Remove")
        click(qtbot, yes)
        await until(lambda: dialog.state_of(profile) is TokenState.MISSING, "removed")
        assert stored() is None

        # Insisting keeps a refused token, and the list says it was rejected.
        paste(qtbot, dialog, WRONG)
        click(qtbot, dialog.save_button)
        await until(lambda: dialog.save_button.text() == "Save anyway", "refusal")
        assert stored() is None
        click(qtbot, dialog.save_button)
        await until(lambda: stored() == WRONG, "saved anyway")
        await until(lambda: dialog.state_of(profile) is TokenState.REJECTED, "rejected")
        assert "Rejected by the server" in dialog.profile_list.item(0).text()
        await vault.delete(profile)

    run(loop, scenario())
    publish_screenshot(tmp_path / "tokens-dialog.png")


def test_no_keyring_says_what_to_do_and_session_only_still_works(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, sim: Simulator, service: SettingsService
) -> None:
    backend: keyring.backend.KeyringBackend = fail.Keyring()
    vault = TokenVault(backend)
    dialog = make_dialog(qtbot, vault, service, sim)

    async def scenario() -> None:
        dialog.present()
        await until(lambda: dialog.result_error.isVisible(), "the keyring problem")
        paste(qtbot, dialog, TOKEN)
        click(qtbot, dialog.save_button)
        assert dialog.busy
        await until(lambda: not dialog.busy, "the save attempt")
        assert "session only" in dialog.result_error.text()
        assert dialog.state_of(LOCAL_PROFILE_ID) is None  # nothing kept anywhere
        assert vault.session_only(LOCAL_PROFILE_ID) is False

        dialog.session_box.setChecked(True)
        click(qtbot, dialog.save_button)
        await until(lambda: dialog.state_of(LOCAL_PROFILE_ID) is TokenState.SESSION, "session")
        assert "memory" in dialog.result_info.text()
        assert (await vault.get(LOCAL_PROFILE_ID)) == SecretStr(TOKEN)

    run(loop, scenario())


def test_present_selects_the_profile_asked_for(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, sim: Simulator, service: SettingsService
) -> None:
    def change(s: Settings) -> None:
        s.profiles.append(ServerProfile(id="gpu-box", name="GPU box", base_url=sim.base_url))

    service.update(change)
    vault = TokenVault(fail.Keyring())
    dialog = make_dialog(qtbot, vault, service, sim)

    async def scenario() -> None:
        dialog.present("gpu-box")
        assert dialog.selected_profile() == "gpu-box"
        assert dialog.profile_box.title() == "Token for GPU box"
        assert not dialog.reason.isVisible()
        assert dialog.windowTitle().endswith("API tokens")

    run(loop, scenario())


class Silent(keyring.backend.KeyringBackend):
    """A keyring waiting on an unlock prompt that nobody sees."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(30)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait(30)

    def delete_password(self, service: str, username: str) -> None:
        self.release.wait(30)


def test_a_keyring_that_does_not_answer_never_leaves_reading_the_keyring(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, sim: Simulator, service: SettingsService
) -> None:
    backend = Silent()
    vault = TokenVault(backend, timeout=0.5)
    dialog = make_dialog(qtbot, vault, service, sim)

    async def scenario() -> None:
        dialog.present()
        assert dialog.state_label.text() == "Status: reading the keyring…"
        await until(lambda: dialog.result_error.isVisible(), "the keyring's silence told", 5)
        assert dialog.state_label.text() == "Status: unknown — keyring not answering"
        assert "waiting for its password prompt" in dialog.result_error.text()
        item = dialog.profile_list.item(0).text()
        assert item.endswith("unknown — keyring not answering")
        backend.release.set()

    run(loop, scenario())


def test_testing_against_a_server_without_authentication_does_not_say_it_works(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, service: SettingsService
) -> None:
    vault = TokenVault(memory_only=True)

    async def scenario() -> None:
        with Simulator(tmp_path / "open", auth_token=None) as open_sim:
            dialog = make_dialog(qtbot, vault, service, open_sim)
            dialog.present()
            await until(lambda: dialog.state_of(LOCAL_PROFILE_ID) is TokenState.MISSING, "read")
            paste(qtbot, dialog, TOKEN)
            click(qtbot, dialog.test_button)
            await until(lambda: not dialog.busy, "the test")
            said = dialog.result_info.text()
            assert "could not be checked" in said and "does not require authentication" in said
            assert "works" not in said and not dialog.result_error.isVisible()

    run(loop, scenario())


def test_the_demo_keeps_tokens_in_memory_and_says_so(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, sim: Simulator, service: SettingsService
) -> None:
    vault = TokenVault(memory_only=True)  # what the demo uses: the keyring is never asked
    dialog = TokensDialog(vault, service, check=checker(sim), demo=True)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)

    async def scenario() -> None:
        dialog.present()
        await until(lambda: dialog.state_of(LOCAL_PROFILE_ID) is TokenState.MISSING, "read")
        assert "kept in memory until the demo quits" in dialog.intro.text()
        assert not dialog.result_error.isVisible()  # no "install a keyring"
        assert not dialog.session_box.isVisible()
        paste(qtbot, dialog, TOKEN)
        click(qtbot, dialog.save_button)
        await until(lambda: dialog.state_of(LOCAL_PROFILE_ID) is TokenState.SESSION, "kept")
        assert "accepted it; the token is kept in memory" in dialog.result_info.text()
        assert "keyring" not in dialog.result_info.text() + dialog.result_error.text()

    run(loop, scenario())
