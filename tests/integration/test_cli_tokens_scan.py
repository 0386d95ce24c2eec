"""`lmstudio-tray tokens scan`: finds a token in an rc file without printing it."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import keyring.errors
import pytest
from cli_runner import Cli  # tests/integration/cli_runner.py
from keyring_probe import secret_service  # tests/integration/keyring_probe.py

from tray.services.token_vault import TokenVault

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"


def test_scan_reports_where_never_what(cli: Cli, tmp_path: Path) -> None:
    rc = tmp_path / ".bashrc"
    rc.write_text(f"alias ll='ls -l'\nexport LM_API_TOKEN={TOKEN}\n", encoding="utf-8")
    r = cli("tokens", "scan", str(rc))
    assert r.returncode == 1, r.stderr
    assert f"{rc}:2: lmstudio secret, 35 characters" in r.stdout
    assert "tokens scan --move-to PROFILE" in r.stdout
    assert "Abcdefghij1234567890" not in r.stdout + r.stderr
    doc = cli.json("tokens", "scan", str(rc), code=1)
    (leak,) = [x for x in doc["leaks"] if x["path"] == str(rc)]
    assert (leak["line"], leak["lmstudio"], leak["length"]) == (2, True, 35)
    assert "Abcdefghij1234567890" not in json.dumps(doc)


def test_scan_clean_file(cli: Cli, tmp_path: Path) -> None:
    rc = tmp_path / ".profile"
    rc.write_text("export PATH=$HOME/bin:$PATH\n", encoding="utf-8")
    r = cli("tokens", "scan", str(rc))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No tokens or other secrets found." in r.stdout


@pytest.mark.keyring
def test_scan_moves_a_token_into_the_keyring_and_out_of_the_file(cli: Cli, tmp_path: Path) -> None:
    backend = secret_service()
    token = "sk-lm-Mov3Test:Zz9Yy8Xx7Ww6Vv5Uu4Tt"
    rc = tmp_path / ".bashrc"
    rc.write_text(f'alias ll="ls -l"\nexport LM_API_TOKEN={token}\n')
    try:
        r = cli("tokens", "scan", str(rc), "--move-to", "this-machine")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "moved to the keyring" in r.stdout
        assert token.split(":")[1] not in r.stdout + r.stderr
        assert token not in rc.read_text()
        assert 'alias ll="ls -l"' in rc.read_text()  # the rest of the file is untouched
        assert backend.get_password(TokenVault.SERVICE, "this-machine") == token
        shown = cli("tokens", "env", "this-machine", "--reveal")
        assert f"LM_API_TOKEN={token}" in shown.stdout
        history = list((tmp_path / ".local" / "share").rglob("*")) + list(
            (tmp_path / ".config").rglob("*")
        )
        leaked = [p for p in history if p.is_file() and token.encode() in p.read_bytes()]
        assert leaked == []
        again = cli("tokens", "scan", str(rc))
        assert again.returncode == 0, again.stdout  # nothing left to move
    finally:
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            backend.delete_password(TokenVault.SERVICE, "this-machine")


def test_moving_to_an_unknown_profile_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    rc = tmp_path / ".env"
    content = "LM_API_TOKEN=sk-lm-Mov3Test:Zz9Yy8Xx7Ww6Vv5Uu4Tt\n"
    rc.write_text(content)
    r = cli("tokens", "scan", str(rc), "--move-to", "nope")
    assert r.returncode == 1, r.stdout + r.stderr  # not found
    assert rc.read_text() == content
