"""TokenVault's error mapping and refusals, with real keyring backend classes that fail the
way OS keyrings do: each failure gives the user's sentence and stores nothing anywhere."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from pydantic import SecretStr

from tray.core.errors import (
    InvalidTokenShape,
    KeyringLocked,
    KeyringNotAnswering,
    KeyringUnavailable,
    KeyringWriteRefused,
    TokenError,
    TokenTooLong,
)
from tray.core.tokens import TokenState, validate_token
from tray.services.token_vault import TokenVault, secret_limit_bytes

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
OTHER = "sk-lm-Wxyz9876:ZyxwvutsrqPonml54321"


class MemoryKeyring(KeyringBackend):
    """A working backend that keeps entries in a dict, so tests can see what was stored."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise keyring.errors.PasswordDeleteError("Password not found")
        del self.entries[(service, username)]


class Raising(MemoryKeyring):
    """Raises `exc` on every call (reads too, unless `reads_ok`)."""

    def __init__(self, exc: Exception, *, reads_ok: bool = False) -> None:
        super().__init__()
        self.exc, self.reads_ok = exc, reads_ok

    def get_password(self, service: str, username: str) -> str | None:
        if self.reads_ok:
            return super().get_password(service, username)
        raise self.exc

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.exc

    def delete_password(self, service: str, username: str) -> None:
        raise self.exc


class PlaintextKeyring(MemoryKeyring):
    """Stands for keyrings.alt's file backend (never installed here): same module name."""


PlaintextKeyring.__module__ = "keyrings.alt.file"


class Chain(MemoryKeyring):
    """Shaped like keyring's ChainerBackend: `.backends`, highest priority first."""

    def __init__(self, *backends: KeyringBackend) -> None:
        super().__init__()
        self.backends = list(backends)


@pytest.fixture(autouse=True)
def throwaway_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share")):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".state"))
    return home


def assert_nothing_written(home: Path) -> None:
    written = [p for p in home.rglob("*") if p.is_file()]
    assert written == []
    for p in written:  # pragma: no cover - belt and braces for the message
        assert TOKEN not in p.read_text(errors="replace")


FAILURES: list[tuple[str, Any, type[TokenError], str]] = [
    (
        "no keyring",
        lambda: keyring.backends.fail.Keyring(),
        KeyringUnavailable,
        "Install and start a Secret Service such as gnome-keyring or KWallet",
    ),
    (
        "null backend",
        lambda: keyring.backends.null.Keyring(),
        KeyringUnavailable,
        "forgets what it is given",
    ),
    (
        "plaintext file backend",
        lambda: PlaintextKeyring(),
        KeyringUnavailable,
        "keeps passwords in a file",
    ),
    (
        "locked",
        lambda: Raising(keyring.errors.KeyringLocked("Failed to unlock the keyring!")),
        KeyringLocked,
        "Unlock it",
    ),
    (
        "unlock prompt dismissed",
        lambda: Raising(keyring.errors.InitError("Failed to unlock the collection!")),
        KeyringLocked,
        "prompt was dismissed",
    ),
    (
        "D-Bus prompt dismissed",
        lambda: Raising(RuntimeError("Prompt dismissed.")),
        KeyringLocked,
        "keep in memory for this session only",
    ),
]


@pytest.mark.parametrize(
    ("backend", "error", "sentence"),
    [f[1:] for f in FAILURES],
    ids=[f[0] for f in FAILURES],
)
async def test_keyring_failures_are_sentences_and_store_nothing(
    backend: Any, error: type[TokenError], sentence: str, throwaway_home: Path
) -> None:
    b = backend()
    vault = TokenVault(b)
    with pytest.raises(error) as caught:
        await vault.set("this-machine", TOKEN)
    assert sentence in caught.value.message
    assert TOKEN not in caught.value.message and "Abcdefghij" not in str(caught.value)
    assert caught.value.message.endswith(".")
    with pytest.raises(error):
        await vault.get("this-machine")
    with pytest.raises(error):
        await vault.status("this-machine")
    assert getattr(b, "entries", {}) == {}
    assert vault.session_only("this-machine") is False
    assert_nothing_written(throwaway_home)


@pytest.mark.parametrize(
    "exc", [keyring.errors.PasswordSetError("Can't store password on keychain")]
)
async def test_write_refused(exc: Exception, throwaway_home: Path) -> None:
    b = Raising(exc, reads_ok=True)
    vault = TokenVault(b)
    with pytest.raises(KeyringWriteRefused) as caught:
        await vault.set("this-machine", TOKEN)
    assert "refused to store the token" in caught.value.message
    assert await vault.status("this-machine") is TokenState.MISSING
    assert b.entries == {}
    assert_nothing_written(throwaway_home)


async def test_delete_refused() -> None:
    b = MemoryKeyring()
    vault = TokenVault(b)
    await vault.set("p", TOKEN)

    def refuse(service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("refused")

    b.delete_password = refuse  # type: ignore[method-assign]
    with pytest.raises(KeyringWriteRefused, match="refused to remove the token"):
        await vault.delete("p")


async def test_chainer_never_falls_through_to_plaintext(throwaway_home: Path) -> None:
    plain, real = PlaintextKeyring(), MemoryKeyring()
    vault = TokenVault(Chain(plain, real))
    await vault.set("p", TOKEN)
    assert plain.entries == {} and real.entries == {(TokenVault.SERVICE, "p"): TOKEN}
    with pytest.raises(KeyringUnavailable, match="keeps passwords in a file"):
        await TokenVault(Chain(PlaintextKeyring(), keyring.backends.null.Keyring())).set("p", TOKEN)


async def test_set_get_replace_delete_in_a_working_backend() -> None:
    b = MemoryKeyring()
    vault = TokenVault(b)
    assert await vault.status("p") is TokenState.MISSING
    await vault.set("p", TOKEN + "\n")  # a paste's newline is not part of the token
    assert b.entries == {("ai.lmstudio-tray.api-token", "p"): TOKEN}
    got = await vault.get("p")
    assert got is not None and got.get_secret_value() == TOKEN
    await vault.set("p", SecretStr(OTHER))
    assert (await vault.get("p")) == SecretStr(OTHER)
    assert await vault.status("p") is TokenState.STORED
    assert await vault.delete("p") is True
    assert await vault.delete("p") is False
    assert b.entries == {}


async def test_session_only_never_reaches_the_keyring(throwaway_home: Path) -> None:
    b = MemoryKeyring()
    vault = TokenVault(b)
    await vault.set("p", TOKEN, session_only=True)
    assert b.entries == {}
    assert await vault.status("p") is TokenState.SESSION
    assert (await vault.get("p")) == SecretStr(TOKEN)
    assert TOKEN not in repr(vault)
    assert await vault.delete("p") is True
    assert await vault.status("p") is TokenState.MISSING
    assert_nothing_written(throwaway_home)


async def test_session_only_works_without_any_keyring() -> None:
    vault = TokenVault(keyring.backends.fail.Keyring())
    await vault.set("p", TOKEN, session_only=True)
    assert (await vault.get("p")) == SecretStr(TOKEN)
    assert await vault.delete("p") is True


@pytest.mark.parametrize(
    ("value", "error", "sentence"),
    [
        ("", InvalidTokenShape, "No token was given"),
        ("lm-studio", InvalidTokenShape, "does not start with sk-lm-"),
        ("sk-lm-Abcd1234:short", InvalidTokenShape, "20 more letters or digits"),
        ("sk-lm-" + "A" * 5000, TokenTooLong, "Copy only the token"),
    ],
)
async def test_shape_is_checked_before_anything_is_stored(
    value: str, error: type[TokenError], sentence: str
) -> None:
    b = MemoryKeyring()
    with pytest.raises(error) as caught:
        await TokenVault(b).set("p", value)
    assert sentence in caught.value.message
    assert (value.strip() or "\x00") not in caught.value.message
    assert b.entries == {}
    with pytest.raises(error):
        validate_token(value)


def test_windows_credential_manager_limit() -> None:
    from keyring.backends.Windows import WinVaultKeyring

    assert secret_limit_bytes(object.__new__(WinVaultKeyring)) == 2560
    assert secret_limit_bytes(MemoryKeyring()) is None


async def test_provider_reads_once_and_follows_changes() -> None:
    calls: list[str] = []

    class Counting(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            calls.append(username)
            return super().get_password(service, username)

    b = Counting()
    vault = TokenVault(b)
    provider = vault.provider("p")
    assert await provider.get_token() is None
    assert await provider.get_token() is None
    assert calls == ["p"]  # polling does not ask the keyring again
    await vault.set("p", TOKEN)
    assert (await provider.get_token()) == SecretStr(TOKEN)
    await vault.delete("p")
    assert await provider.get_token() is None


async def test_requests_asking_at_once_share_one_keyring_read() -> None:
    backend = Silent()  # every read waits until released: all asks arrive meanwhile
    await TokenVault(backend).set("p", TOKEN)
    provider = TokenVault(backend).provider("p")
    asks = [asyncio.ensure_future(provider.get_token()) for _ in range(5)]
    await asyncio.sleep(0)
    backend.release.set()
    assert await asyncio.gather(*asks) == [SecretStr(TOKEN)] * 5
    assert backend.calls == 1  # one thread, one unlock prompt — not five


async def test_provider_keeps_a_locked_keyring_as_its_error_without_asking_again() -> None:
    b = Raising(keyring.errors.KeyringLocked("locked"))
    provider = TokenVault(b).provider("p")
    with pytest.raises(KeyringLocked):  # the client then sends no token, and says why
        await provider.get_token()
    assert isinstance(provider.error, KeyringLocked)
    b.exc = AssertionError("asked the keyring again")
    with pytest.raises(KeyringLocked):
        await provider.get_token()


class Silent(MemoryKeyring):
    """A keyring whose every call waits on an unlock prompt nobody sees, until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        self.release.wait(30)
        return super().get_password(service, username)


async def test_a_keyring_that_does_not_answer_is_abandoned_with_a_sentence() -> None:
    backend = Silent()
    vault = TokenVault(backend, timeout=0.3)
    began = time.monotonic()
    with pytest.raises(KeyringNotAnswering) as caught:
        await vault.get("this-machine")
    assert time.monotonic() - began < 5  # bounded, not the 30 s the prompt waits
    assert "may be locked and waiting for its password prompt" in caught.value.message
    # while it still hangs, the next call fails at once instead of adding a thread
    with pytest.raises(KeyringNotAnswering, match="did not answer"):
        await vault.status("this-machine")
    assert backend.calls == 1
    # once the prompt is answered, the keyring is asked again
    backend.release.set()
    for _ in range(100):
        await asyncio.sleep(0.01)
        try:
            assert await vault.get("this-machine") is None
            break
        except KeyringNotAnswering:
            continue
    else:
        pytest.fail("the vault never asked the keyring again")


async def test_the_token_is_asked_for_again_once_the_keyring_answers() -> None:
    """The status monitor's provider must not keep "not answering" for ever: the user
    unlocks the keyring, and the next poll that needs the token finds it."""
    backend = Silent()
    vault = TokenVault(backend, timeout=0.2)
    provider = vault.provider("this-machine")
    with pytest.raises(KeyringNotAnswering):
        await provider.get_token()
    backend.entries[(TokenVault.SERVICE, "this-machine")] = TOKEN
    backend.release.set()
    for _ in range(100):
        try:
            token = await provider.get_token()
        except KeyringNotAnswering:  # the abandoned call has not come back yet
            await asyncio.sleep(0.01)
            continue
        assert token == SecretStr(TOKEN)
        break
    else:
        pytest.fail("the provider never asked the keyring again")
    assert backend.calls == 2  # the hanging call and one more, not one per ask
