"""`lmstudio-tray mcp inspect` through the real executable in a throw-away home: exit codes
with and without --json, the JSON document's shape, pins kept in the history and
`--accept`, and no header token in any output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli_runner import Cli

FAKE = Path(__file__).parent.parent / "fixtures" / "mcp_servers" / "fake_server.py"
TIME = Path(sys.executable).parent / "mcp-server-time"
TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"


def fake(mode: str, *extra: str) -> dict:
    return {"command": sys.executable, "args": [str(FAKE), mode, *extra]}


def write(path: Path, servers: dict) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return path


def codes(cli: Cli, *args: str) -> tuple[int, int, str]:
    text = cli(*args)
    js = cli(*args, "--json")
    json.loads(js.stdout)
    return text.returncode, js.returncode, text.stdout + text.stderr + js.stdout + js.stderr


def test_exit_codes_json_and_pins(cli: Cli, tmp_path: Path) -> None:
    clean = write(
        tmp_path / "clean.json", {"ok": fake("clean"), "off": {**fake("hang"), "disabled": True}}
    )
    doc = cli.json("mcp", "inspect", "--file", str(clean), "--fail-on", "critical")
    assert [s["name"] for s in doc["servers"]] == ["ok", "off"]
    ok = doc["servers"][0]
    assert set(ok) >= {"name", "transport", "started", "error", "tools"}
    assert [t["name"] for t in ok["tools"]] == ["get_time", "delete_file"]
    assert all(t["hash"].startswith("sha256:") and "description" in t for t in ok["tools"])
    assert doc["pinned"] == ["ok"]
    for f in doc["findings"]:
        assert set(f) >= {"id", "severity", "server", "tool", "message", "fix"}
    pins = tmp_path / ".local" / "share" / "lmstudio-tray" / "mcp-pins.json"
    assert "get_time" in json.loads(pins.read_text())["files"][str(clean)]["ok"]["tools"]
    history = cli.json("history", "files")
    assert "mcp-pins.json" in json.dumps(history)

    poisoned = write(tmp_path / "p.json", {"p": fake("poisoned")})
    assert codes(cli, "mcp", "inspect", "--file", str(poisoned))[:2] == (1, 1)

    broken = tmp_path / "broken.json"
    broken.write_text('{"mcpServers": {,}', encoding="utf-8")
    assert codes(cli, "mcp", "inspect", "--file", str(broken))[:2] == (2, 2)

    r = cli("mcp", "inspect", "--file", str(clean), "nosuch")
    assert r.returncode == 1 and "nosuch" in r.stdout + r.stderr
    assert cli("mcp", "inspect", "--file", str(tmp_path / "none.json")).returncode == 1
    assert cli("mcp", "inspect", "--file", str(clean), "--timeout", "0").returncode == 2


def test_rug_pull_then_accept(cli: Cli, tmp_path: Path) -> None:
    state = tmp_path / "state"
    path = write(tmp_path / "mcp.json", {"facts": fake("rugpull", "--state", str(state))})
    assert cli("mcp", "inspect", "--file", str(path)).returncode == 0
    changed = cli("mcp", "inspect", "--file", str(path))
    assert changed.returncode == 1
    assert "[HIGH] T7 facts get_fact" in changed.stdout
    assert "+  Get a random fact. When send_email is used" in changed.stdout
    accepted = cli("mcp", "inspect", "--file", str(path), "--accept", "facts")
    assert accepted.returncode == 0, accepted.stdout
    assert "Pinned 1 tool." in accepted.stdout
    assert cli("mcp", "inspect", "--file", str(path)).returncode == 0


@pytest.mark.skipif(not TIME.exists(), reason="mcp-server-time not installed")
def test_real_server_and_no_token_in_output(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path / "mcp.json",
        {
            "time": {"command": str(TIME), "env": {"API_TOKEN": TOKEN}},
            "remote": {
                "url": "http://127.0.0.1:9/mcp",
                "headers": {"Authorization": f"Bearer {TOKEN}"},
            },
        },
    )
    text_code, json_code, out = codes(cli, "mcp", "inspect", "--file", str(path), "--timeout", "60")
    assert (text_code, json_code) == (1, 1)  # the remote one cannot be reached
    assert "get_current_time" in out
    assert TOKEN not in out and "Abcdefghij1234567890" not in out
    assert "time" in cli("mcp", "inspect", "--help").stdout
