"""`lmstudio-tray tokens scan`: finds a token in an rc file without printing it."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import Cli  # tests/integration/cli_runner.py

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"


def test_scan_reports_where_never_what(cli: Cli, tmp_path: Path) -> None:
    rc = tmp_path / ".bashrc"
    rc.write_text(f"alias ll='ls -l'\nexport LM_API_TOKEN={TOKEN}\n", encoding="utf-8")
    r = cli("tokens", "scan", str(rc))
    assert r.returncode == 1, r.stderr
    assert f"{rc}:2: lmstudio secret, 35 characters" in r.stdout
    assert "tokens set" in r.stdout
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
