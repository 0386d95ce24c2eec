"""The "API token" submenu and the clipboard guard on the real X display: copy items follow
the vault (disabled without a token), copy the token or the snippets, and the clipboard is
cleared after the delay only if it still holds the secret."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import keyring.backend
import pytest
from aio import run, until  # tests/ui/aio.py
from keyring_backend import secret_service  # tests/ui/keyring_backend.py
from PySide6.QtCore import QPoint
from PySide6.QtGui import QClipboard, QGuiApplication
from PySide6.QtWidgets import QLabel
from screen import balloon_icon, balloons  # tests/ui/screen.py

from tray.core.backends import BackendKind, capabilities_for
from tray.core.settings import LOCAL_PROFILE_ID
from tray.core.status import ServerState, ServerStatus
from tray.services.settings_store import SettingsService, SettingsStore
from tray.services.token_vault import TokenVault
from tray.ui.clipboard import ClipboardGuard
from tray.ui.notifier import TrayNotifier
from tray.ui.tokens_section import TokensSection
from tray.ui.tray_icon import TrayIcon

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
URL = "http://127.0.0.1:1234"


class Silent(keyring.backend.KeyringBackend):
    """A keyring whose calls wait on an unlock prompt nobody sees, until released."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(30)
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


def clip(mode: QClipboard.Mode = QClipboard.Mode.Clipboard) -> str:
    return QGuiApplication.clipboard().text(mode)


@pytest.mark.ui
def test_the_secret_is_cleared_after_the_delay_in_both_clipboards(
    loop: asyncio.AbstractEventLoop,
) -> None:
    guard = ClipboardGuard(lambda: 1)

    async def scenario() -> None:
        guard.copy_secret(TOKEN)
        assert QClipboard.Mode.Selection in guard.modes()  # X11 has the primary selection
        for mode in guard.modes():
            assert clip(mode) == TOKEN
        assert guard.pending
        await until(lambda: not guard.pending, "the clearing")
        for mode in guard.modes():
            assert clip(mode) == ""

    run(loop, scenario())


@pytest.mark.ui
def test_something_copied_meanwhile_is_left_alone(loop: asyncio.AbstractEventLoop) -> None:
    guard = ClipboardGuard(lambda: 1)

    async def scenario() -> None:
        guard.copy_secret(TOKEN)
        QGuiApplication.clipboard().setText("the user's own text")
        await until(lambda: not guard.pending, "the clearing")
        assert clip() == "the user's own text"
        assert clip(QClipboard.Mode.Selection) == ""  # that one still held the secret

    run(loop, scenario())


@pytest.mark.ui
def test_zero_never_clears(loop: asyncio.AbstractEventLoop) -> None:
    guard = ClipboardGuard(lambda: 0)
    guard.copy_secret(TOKEN)
    assert not guard.pending
    assert clip() == TOKEN
    QGuiApplication.clipboard().clear()


def status() -> ServerStatus:
    return ServerStatus(state=ServerState.RUNNING, url=URL)


@pytest.mark.ui
@pytest.mark.keyring
def test_copy_items_follow_the_vault_and_copy_the_texts(
    loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    vault = TokenVault(secret_service())
    settings = SettingsService(SettingsStore(tmp_path / "settings.json"))
    guard = ClipboardGuard(lambda: 1)
    opened: list[bool] = []
    section = TokensSection(
        vault,
        settings,
        open_dialog=lambda: opened.append(True),
        base_url=lambda: URL,
        clipboard=guard,
    )
    caps = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)

    async def scenario() -> None:
        await vault.delete(LOCAL_PROFILE_ID)
        section.render(status(), caps)
        section.menu_opening()
        assert not section.copy_token_action.isEnabled()
        assert "no token" in section.copy_token_action.text()
        assert "Manage tokens" in section.copy_token_action.toolTip()
        assert not section.both_menu.menuAction().isEnabled()

        section.manage_action.trigger()
        assert opened == [True]

        await vault.set(LOCAL_PROFILE_ID, TOKEN)  # the vault tells the section
        await until(lambda: section.copy_token_action.isEnabled(), "copy enabled")
        assert section.copy_token_action.text() == "Copy token"

        section.copy_token_action.trigger()
        await until(lambda: clip() == TOKEN, "the token on the clipboard")
        await until(lambda: clip() == "", "the clipboard cleared")

        section.copy_env_action.trigger()
        await until(lambda: clip().startswith("LM_API_TOKEN="), "the env lines")
        assert clip() == f"LM_API_TOKEN={TOKEN}\nLM_BASE_URL={URL}/v1\n"

        section.copy_python_action.trigger()
        await until(lambda: "OpenAI(" in clip(), "the snippet")
        assert f'OpenAI(base_url="{URL}/v1", api_key="{TOKEN}")' in clip()
        await until(lambda: clip() == "", "the clipboard cleared")

        await vault.delete(LOCAL_PROFILE_ID)
        await until(lambda: not section.copy_token_action.isEnabled(), "copy disabled")

    run(loop, scenario())


def test_a_keyring_that_does_not_answer_is_said_and_asked_again_later(
    loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    backend = Silent()
    vault = TokenVault(backend, timeout=0.3)
    settings = SettingsService(SettingsStore(tmp_path / "settings.json"))
    section = TokensSection(
        vault,
        settings,
        open_dialog=lambda: None,
        base_url=lambda: URL,
        clipboard=ClipboardGuard(lambda: 1),
    )
    caps = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)

    async def scenario() -> None:
        section.render(status(), caps)
        section.menu.aboutToShow.emit()  # the vault is asked when a menu opens
        await until(
            lambda: section.copy_token_action.text().endswith("keyring not answering"), "told"
        )
        assert "password prompt" in section.copy_token_action.toolTip()
        assert not section.copy_token_action.isEnabled()
        backend.release.set()  # the user unlocked it
        await asyncio.sleep(0.1)
        backend.entries[(TokenVault.SERVICE, LOCAL_PROFILE_ID)] = TOKEN
        section.render(status(), caps)
        section.menu_opening()  # the next time a menu opens, it asks again
        await until(lambda: section.copy_token_action.isEnabled(), "the token found")

    run(loop, scenario())


def test_the_keyring_is_not_asked_until_a_menu_opens(
    loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    """Idle costs nothing: status updates never ask the keyring (which would load its
    backend); opening the menu does, once per active profile."""
    asked: list[str] = []

    class Counting(Silent):
        def get_password(self, service: str, username: str) -> str | None:
            asked.append(username)
            return None

    vault = TokenVault(Counting())
    settings = SettingsService(SettingsStore(tmp_path / "settings.json"))
    section = TokensSection(
        vault,
        settings,
        open_dialog=lambda: None,
        base_url=lambda: URL,
        clipboard=ClipboardGuard(lambda: 1),
    )
    caps = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)

    async def scenario() -> None:
        for _ in range(3):
            section.render(status(), caps)
        await asyncio.sleep(0.2)
        assert asked == []
        section.menu_opening()
        await until(lambda: asked == [LOCAL_PROFILE_ID], "asked when the menu opens")
        section.menu_opening()
        section.render(status(), caps)
        await asyncio.sleep(0.2)
        assert asked == [LOCAL_PROFILE_ID]  # known: not asked again

    run(loop, scenario())


@pytest.mark.ui
@pytest.mark.keyring
def test_a_copy_says_so_and_when_the_clipboard_is_cleared(
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    make_tray: Callable[..., TrayIcon],
    publish_screenshot: Callable[..., Path],
) -> None:
    """From the tray menu, a copy leaves no trace on screen but the balloon: it names
    what was copied and the configured delay, with the information icon."""
    vault = TokenVault(secret_service())
    settings = SettingsService(SettingsStore(tmp_path / "settings.json"))
    settings.update(lambda s: setattr(s, "clipboard_clear_seconds", 45))
    icon = make_tray()
    icon.render(status())
    icon.show()
    notifier = TrayNotifier(icon.tray, demo=False)
    guard = ClipboardGuard(lambda: settings.settings.clipboard_clear_seconds)
    section = TokensSection(
        vault,
        settings,
        open_dialog=lambda: None,
        base_url=lambda: URL,
        clipboard=guard,
        notify=notifier.show_message,
    )
    caps = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)

    def balloon_texts() -> list[str]:
        return [label.text() for b in balloons() for label in b.findChildren(QLabel)]

    async def scenario() -> None:
        await vault.set(LOCAL_PROFILE_ID, TOKEN)
        section.render(status(), caps)
        section.menu_opening()
        await until(lambda: section.copy_token_action.isEnabled(), "copy enabled")
        await until(lambda: icon.tray.geometry().topLeft() != QPoint(0, 0), "the tray icon")

        section.copy_token_action.trigger()
        await until(lambda: "API token copied" in balloon_texts(), "the balloon")
        assert "Copied — the clipboard is cleared in 45 s." in balloon_texts()
        (balloon,) = balloons()
        assert balloon_icon(balloon) == "information"
        assert TOKEN not in " ".join(balloon_texts())
        shot = tmp_path / "token-copied-notification.png"
        assert balloon.grab().save(str(shot))

        settings.update(lambda s: setattr(s, "clipboard_clear_seconds", 0))
        section.copy_python_action.trigger()
        await until(lambda: "OpenAI client snippet copied" in balloon_texts(), "the balloon")
        assert (
            "Copied — it stays on the clipboard until you copy something else." in balloon_texts()
        )
        await vault.delete(LOCAL_PROFILE_ID)
        QGuiApplication.clipboard().clear()

    run(loop, scenario())
    publish_screenshot(tmp_path / "token-copied-notification.png", docs=False)
