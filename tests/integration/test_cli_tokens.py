"""`lmstudio-tray tokens …`: the real executable, a real Secret Service (inside
desktop-session.sh) and a simulated LM Studio with auth on. The token is printed only by
`tokens env --reveal`; everything else shows at most its client id."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import keyring.errors
import pytest
from cli_runner import EXE  # tests/integration/cli_runner.py
from keyring_probe import secret_service  # tests/integration/keyring_probe.py

from tray.services.token_vault import TokenVault
from tray.simulator import Simulator

pytestmark = pytest.mark.keyring

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
WRONG = "sk-lm-Abcd1234:Wrongwrongwrong12345"
PASSKEYS = ("Abcdefghij1234567890", "Wrongwrongwrong12345")
PROFILE = "this-machine"  # the one profile of a fresh settings file


class TokensCli:
    """The executable in a throw-away HOME, with stdin (a pipe: `set` reads from it)."""

    def __init__(self, home: Path, server: str) -> None:
        self.home, self.server = home, server

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("LM_API_TOKEN", "LMSTUDIO_API_TOKEN", "PATH")
        }
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_STATE_HOME=str(self.home / ".state"),
            PATH="/usr/bin:/bin",
        )
        return env

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(EXE), "tokens", *args, "--server", self.server],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=90,
            check=False,
        )


def forget(backend: keyring.backend.KeyringBackend) -> None:
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        backend.delete_password(TokenVault.SERVICE, PROFILE)


@pytest.fixture
def tokens(tmp_path: Path, sim: Simulator) -> Iterator[TokensCli]:
    backend = secret_service()
    forget(backend)
    yield TokensCli(tmp_path, sim.base_url)
    forget(backend)


def no_secret(r: subprocess.CompletedProcess[str]) -> None:
    for passkey in PASSKEYS:
        assert passkey not in r.stdout + r.stderr, (r.stdout, r.stderr)


def test_set_status_env_test_delete(tokens: TokensCli, sim: Simulator) -> None:
    sim.state.set_auth(TOKEN)
    r = tokens("set", PROFILE, stdin=TOKEN + "\n")
    assert r.returncode == 0, r.stderr
    assert "Stored the token sk-lm-Abcd1234:… for This machine in the keyring." in r.stdout
    assert "accepts this token" in r.stdout
    no_secret(r)

    r = tokens("status", "--json", "--test")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)["profiles"]
    assert (row["id"], row["state"], row["client_id"]) == (PROFILE, "stored", "sk-lm-Abcd1234")
    assert row["check"]["outcome"] == "accepted"
    no_secret(r)
    r = tokens("status")
    assert "Stored in the keyring (sk-lm-Abcd1234:…)" in r.stdout
    no_secret(r)

    r = tokens("env", PROFILE)
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == "LM_API_TOKEN=sk-lm-Abcd1234:…"
    assert f"tokens env {PROFILE} --reveal" in r.stdout
    no_secret(r)
    r = tokens("env", PROFILE, "--reveal")
    assert (r.returncode, r.stdout) == (0, f"LM_API_TOKEN={TOKEN}\n")  # the one place

    r = tokens("test", PROFILE)
    assert r.returncode == 0 and "accepts this token" in r.stdout
    no_secret(r)

    r = tokens("delete", PROFILE)
    assert (r.returncode, r.stdout) == (0, "Removed the token for This machine.\n")
    r = tokens("status", "--json")
    assert json.loads(r.stdout)["profiles"][0]["state"] == "missing"
    r = tokens("delete", PROFILE)
    assert "There was no token" in r.stdout


def test_a_rejected_token_is_not_stored_unless_forced(tokens: TokensCli, sim: Simulator) -> None:
    sim.state.set_auth(TOKEN)
    r = tokens("set", PROFILE, stdin=WRONG)
    assert r.returncode == 1
    assert "rejected this token" in r.stdout and "Nothing was stored" in r.stdout
    no_secret(r)
    assert json.loads(tokens("status", "--json").stdout)["profiles"][0]["state"] == "missing"

    r = tokens("set", PROFILE, "--force", stdin=WRONG)
    assert r.returncode == 0, r.stderr
    r = tokens("status", "--json", "--test")
    assert r.returncode == 1
    assert json.loads(r.stdout)["profiles"][0]["state"] == "rejected"
    r = tokens("test", PROFILE, "--log-level", "debug")
    assert r.returncode == 1 and "rejected this token" in r.stdout
    no_secret(r)


def test_bad_shape_and_no_argv_token(tokens: TokensCli) -> None:
    r = tokens("set", PROFILE, stdin="lm-studio-token")
    assert r.returncode == 2
    assert "does not look like an LM Studio API token" in r.stdout
    r = tokens("set", PROFILE, TOKEN)  # a token on the command line is refused by argparse
    assert r.returncode == 2
    assert json.loads(tokens("status", "--json").stdout)["profiles"][0]["state"] == "missing"


def test_unknown_profile_is_not_found(tokens: TokensCli) -> None:
    r = tokens("set", "nope", stdin=TOKEN)
    assert r.returncode == 1
    assert "There is no server profile “nope” in the settings" in r.stderr


def test_other_commands_use_the_stored_token(tokens: TokensCli, sim: Simulator) -> None:
    sim.state.set_auth(TOKEN)
    assert tokens("set", PROFILE, stdin=TOKEN).returncode == 0
    r = subprocess.run(
        [str(EXE), "status", "--json", "--log-level", "debug", "--server", sim.base_url],
        capture_output=True,
        text=True,
        env={**tokens.env(), "LM_API_TOKEN": ""},
        timeout=90,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["server"]["state"] == "running-auth"
    no_secret(r)
    # LM_API_TOKEN, set for this shell, wins over the keyring.
    r = subprocess.run(
        [str(EXE), "status", "--json", "--server", sim.base_url],
        capture_output=True,
        text=True,
        env={**tokens.env(), "LM_API_TOKEN": WRONG},
        timeout=90,
        check=False,
    )
    assert json.loads(r.stdout)["server"]["state"] == "auth-required"
