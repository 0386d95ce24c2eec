"""Tokens end to end, with the real Secret Service: the whole app against a simulated LM
Studio that requires a token, and the real CLI beside it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from keyring_backend import secret_service  # tests/ui/keyring_backend.py

from tray.core.settings import LOCAL_PROFILE_ID
from tray.core.status import ServerState
from tray.services.logs import protect_handler
from tray.services.token_vault import TokenVault
from tray.simulator import Simulator

pytestmark = [pytest.mark.ui, pytest.mark.keyring]

TOKEN = "sk-lm-Kn0wnTst:Q7rT9wXz2LmNp4VbC8dE"
SECRET_PART = TOKEN.split(":")[1]
WRONG = "sk-lm-Kn0wnTst:AAAAAAAAAAAAAAAAAAAA"
EXE = Path(sys.executable).with_name("lmstudio-tray")


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    # Every folder the app or CLI may write to lies inside tmp_path, so it can be searched.
    monkeypatch.setenv("HOME", str(tmp_path))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.delenv("LM_API_TOKEN", raising=False)
    monkeypatch.delenv("LMSTUDIO_API_TOKEN", raising=False)
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=2000) as simulator:
        simulator.state.set_auth(TOKEN)
        yield simulator


@pytest.fixture
def vault() -> Iterator[TokenVault]:
    v = TokenVault(secret_service())
    yield v
    asyncio.run(v.delete(LOCAL_PROFILE_ID))


def test_a_wrong_token_asks_once_and_a_saved_one_is_used(
    loop: asyncio.AbstractEventLoop, sim: Simulator, vault: TokenVault, tmp_path: Path
) -> None:
    driver = AppDriver(sim, tmp_path)

    def dialog_shown() -> bool:
        return (
            driver.app.windows.tokens.window is not None
            and driver.app.windows.tokens.window.isVisible()
        )

    async def scenario() -> None:
        await vault.set(LOCAL_PROFILE_ID, WRONG)
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.AUTH_REQUIRED, "the 401")
            await driver.wait(dialog_shown, "the tokens dialog")
            assert driver.app.windows.tokens.window is not None
            driver.app.windows.tokens.window.reject()  # the user closes it without a token
            await driver.polls(3)  # three more polls, each refused
            assert driver.state() is ServerState.AUTH_REQUIRED
            assert not dialog_shown()  # asked once, not at every 401
            assert driver.app.notifier.errors == type(driver.app.notifier.errors)()
            await driver.app.vault.set(LOCAL_PROFILE_ID, TOKEN)  # what the dialog's Save does
            await driver.wait(
                lambda: driver.state() is ServerState.RUNNING_AUTH, "the stored token to work"
            )

    run(loop, scenario())
    # Polls carried the stored token (one token-less probe on coming up learns auth is on).
    assert any(had_auth for _, _, had_auth in sim.state.requests)


def _cli(tmp_path: Path, *args: str) -> str:
    result = subprocess.run(
        [str(EXE), *args, "--log-level", "debug"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=90,
        check=False,
    )
    return f"$ {' '.join(args)} -> {result.returncode}\n{result.stdout}{result.stderr}"


def test_the_token_appears_nowhere_but_where_the_user_put_it(
    loop: asyncio.AbstractEventLoop, sim: Simulator, vault: TokenVault, tmp_path: Path
) -> None:
    # The user put the token in the keyring and (the bad habit we look for) in mcp.json.
    mcp = sim.home / "mcp.json"
    mcp.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "local": {
                        "url": "http://127.0.0.1:1234/mcp",
                        "headers": {"Authorization": f"Bearer {TOKEN}"},
                    }
                }
            }
        )
    )
    log_file = tmp_path / "app-debug.log"
    handler = protect_handler(logging.FileHandler(log_file))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    driver = AppDriver(sim, tmp_path)

    async def scenario() -> None:
        await vault.set(LOCAL_PROFILE_ID, TOKEN)
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.RUNNING_AUTH, "running")
            sim.state.load("qwen/qwen3-4b")
            await driver.open_menu()
            await driver.wait(lambda: len(driver.app.monitor.status.loaded) == 1, "the model")  # type: ignore[union-attr]
            await driver.close_menus()
            driver.app.open_tokens(LOCAL_PROFILE_ID)
            assert driver.app.windows.tokens.window is not None
            await driver.wait(driver.app.windows.tokens.window.isVisible, "the tokens dialog")
            check = await driver.app.check_token(
                LOCAL_PROFILE_ID, (await vault.get(LOCAL_PROFILE_ID))
            )  # type: ignore[arg-type]
            assert check.outcome.value == "accepted"
            driver.app.windows.tokens.window.reject()

    try:
        run(loop, scenario())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()

    output = "\n".join(
        _cli(tmp_path, *args)
        for args in (
            ("status",),
            ("doctor",),
            ("models",),
            ("models", "--json"),
            ("gpu",),
            ("tokens", "status", "--test"),
            ("tokens", "test", LOCAL_PROFILE_ID),
            ("tokens", "env", LOCAL_PROFILE_ID),
            ("tokens", "scan", str(mcp)),
            ("models", "unload", "--all"),
            ("models", "restore"),
        )
    )
    assert "RUNNING" in output.upper() or "running" in output  # the commands really ran
    assert "sk-lm-Kn0wnTst" in output  # the client id may be shown; the secret never

    places = [p for p in tmp_path.rglob("*") if p.is_file() and p != mcp]
    assert log_file in places
    leaks = [str(p) for p in places if SECRET_PART.encode() in p.read_bytes()]
    assert leaks == [], f"the token leaked into {leaks}"
    assert SECRET_PART not in output, output
    assert mcp.read_text().count(TOKEN) == 1  # what the user wrote is theirs; we did not move it
