"""TokenVault against a real Secret Service (gnome-keyring on a private D-Bus session):
run inside `bash installers/desktop-session.sh`. Outside it these tests skip; inside it
(LMSTRAY_DESKTOP=1) a missing Secret Service is a failure."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from keyring_probe import secret_service  # tests/integration/keyring_probe.py
from pydantic import SecretStr

from tray.core.tokens import CheckOutcome, TokenProvider, TokenState
from tray.services.lmstudio_client import LmStudioClient
from tray.services.token_vault import TokenVault
from tray.simulator import Simulator

pytestmark = pytest.mark.keyring

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
OTHER = "sk-lm-Wxyz9876:ZyxwvutsrqPonml54321"


@pytest.fixture
async def profile() -> AsyncIterator[str]:
    """A fresh profile id; its entry is removed afterwards."""
    backend = secret_service()
    pid = f"test-{uuid.uuid4().hex[:12]}"
    yield pid
    await TokenVault(backend).delete(pid)


def secret_tool_lookup(pid: str) -> str:
    r = subprocess.run(
        ["secret-tool", "lookup", "service", TokenVault.SERVICE, "username", pid],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return r.stdout


async def test_set_get_replace_delete(profile: str) -> None:
    vault = TokenVault()  # the default backend: must be the Secret Service here
    assert "SecretService" in type(vault._resolve()).__module__
    assert await vault.status(profile) is TokenState.MISSING
    await vault.set(profile, TOKEN)
    assert (await vault.get(profile)) == SecretStr(TOKEN)
    assert await vault.status(profile) is TokenState.STORED
    assert secret_tool_lookup(profile) == TOKEN  # really in the OS keyring
    await vault.set(profile, OTHER)
    assert (await vault.get(profile)) == SecretStr(OTHER)
    assert await vault.delete(profile) is True
    assert await vault.get(profile) is None
    assert secret_tool_lookup(profile) == ""
    assert await vault.delete(profile) is False


async def test_survives_a_restart(profile: str) -> None:
    await TokenVault().set(profile, TOKEN)
    assert (await TokenVault().get(profile)) == SecretStr(TOKEN)  # a new instance
    code = (
        "import asyncio, sys; from tray.services.token_vault import TokenVault; "
        f"t = asyncio.run(TokenVault().get({profile!r})); "
        f"sys.exit(0 if t is not None and t.get_secret_value() == {TOKEN!r} else 3)"
    )
    r = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert TOKEN not in r.stdout + r.stderr


async def test_session_only_never_reaches_the_keyring(profile: str) -> None:
    vault = TokenVault()
    await vault.set(profile, TOKEN, session_only=True)
    assert await vault.status(profile) is TokenState.SESSION
    assert secret_tool_lookup(profile) == ""
    assert await TokenVault().get(profile) is None  # another process would see nothing
    r = await asyncio.to_thread(
        subprocess.run,
        ["secret-tool", "search", "--all", "service", TokenVault.SERVICE],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert TOKEN not in r.stdout + r.stderr


async def test_simulator_with_auth_accepts_the_stored_token(profile: str, sim: Simulator) -> None:
    sim.state.set_auth(TOKEN)
    vault = TokenVault()
    await vault.set(profile, TOKEN)
    async with httpx.AsyncClient() as http:
        client = LmStudioClient(http, sim.base_url, token_provider=vault.provider(profile))
        assert isinstance(await client.list_models(), list)

        def factory(tokens: TokenProvider) -> LmStudioClient:
            return LmStudioClient(http, sim.base_url, token_provider=tokens)

        assert (await vault.test(TOKEN, factory)).outcome is CheckOutcome.ACCEPTED
        rejected = await vault.test(OTHER, factory)
        assert rejected.outcome is CheckOutcome.REJECTED
        assert "rejected this token" in rejected.message
        assert OTHER not in rejected.message
