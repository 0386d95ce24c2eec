"""The real `lmstudio-tray` with a keyring that never answers (`hanging_keyring`, chosen
through PYTHON_KEYRING_BACKEND as keyring allows): the keyring is asked only when a token is
needed, and a silent keyring is a sentence, never a hang."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import Cli, free_port  # tests/integration/cli_runner.py
from hanging_keyring import hanging_keyring_env  # tests/integration/hanging_keyring.py

from tray.simulator import Simulator

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"


def asked(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_status_of_a_server_that_is_down_never_asks_the_keyring(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "keyring-calls.txt"
    down = f"http://127.0.0.1:{free_port()}"
    r = cli("status", "--server", down, env=hanging_keyring_env(log))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Server stopped" in r.stdout
    assert asked(log) == []


def test_status_with_lm_api_token_never_asks_the_keyring(
    cli: Cli, tmp_path: Path, sim: Simulator
) -> None:
    log = tmp_path / "keyring-calls.txt"
    sim.state.set_auth(TOKEN)
    doc = json.loads(
        cli(
            "status",
            "--json",
            "--server",
            sim.base_url,
            token=TOKEN,
            env=hanging_keyring_env(log),
        ).stdout
    )
    assert doc["server"]["state"] == "running-auth"
    assert asked(log) == []


def test_tokens_status_says_the_keyring_did_not_answer(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "keyring-calls.txt"
    r = cli("tokens", "status", env=hanging_keyring_env(log))  # within the vault's 10 s
    assert r.returncode == 1, r.stdout + r.stderr
    said = " ".join(r.stdout.split())
    assert "The keyring did not answer in time (it may be locked" in said
    assert asked(log) == ["get this-machine"]
