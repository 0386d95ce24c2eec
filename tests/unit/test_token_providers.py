"""Token providers: `FirstToken` goes past one that fails, and `WhenAsked` leaves a
provider that may block (the OS keyring) alone until a server has asked for a token."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tray.core.errors import KeyringLocked, KeyringNotAnswering
from tray.core.tokens import (
    FirstToken,
    NoToken,
    StaticToken,
    TokenProvider,
    WaitsToBeAsked,
    WhenAsked,
)

TOKEN = "sk-lm-Aaaa1111:Bbbbbbbbbb2222222222"


class Counted:
    """A provider that counts how often it was asked, and answers or fails as told."""

    def __init__(self, answer: SecretStr | None = None, *, fails: Exception | None = None):
        self.answer, self.fails, self.calls = answer, fails, 0

    async def get_token(self) -> SecretStr | None:
        self.calls += 1
        if self.fails is not None:
            raise self.fails
        return self.answer


async def test_first_token_goes_past_a_failing_provider() -> None:
    locked = Counted(fails=KeyringLocked("The keyring is locked."))
    token = await FirstToken(locked, StaticToken(TOKEN)).get_token()
    assert token is not None and token.get_secret_value() == TOKEN
    assert locked.calls == 1


async def test_first_token_without_any_token_raises_the_first_failure() -> None:
    chain = FirstToken(
        NoToken(),
        Counted(fails=KeyringNotAnswering("The keyring did not answer.")),
        Counted(fails=KeyringLocked("The keyring is locked.")),
    )
    with pytest.raises(KeyringNotAnswering, match="did not answer"):
        await chain.get_token()


async def test_when_asked_touches_nothing_until_a_server_asks() -> None:
    keyring = Counted(SecretStr(TOKEN))
    lazy = WhenAsked(keyring)
    assert isinstance(lazy, TokenProvider) and isinstance(lazy, WaitsToBeAsked)
    assert not isinstance(StaticToken(TOKEN), WaitsToBeAsked)
    assert await lazy.get_token() is None
    assert await lazy.get_token() is None
    assert keyring.calls == 0
    lazy.server_asked()
    token = await lazy.get_token()
    assert token is not None and token.get_secret_value() == TOKEN
    assert keyring.calls == 1
    assert TOKEN not in repr(lazy)


async def test_when_asked_passes_a_failure_on_once_asked() -> None:
    lazy = WhenAsked(Counted(fails=KeyringLocked("The keyring is locked.")))
    assert await lazy.get_token() is None
    lazy.server_asked()
    with pytest.raises(KeyringLocked):
        await lazy.get_token()
