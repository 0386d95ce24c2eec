"""The real `lmstudio-tray` executable against a simulated LM Studio (HTTP + fake `lms`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import Cli, free_port  # tests/integration/cli_runner.py

from tray.simulator import Simulator
from tray.simulator.state import VERSION

TOKEN = "sk-lm-AbCd1234:QwErTyUiOp1234567890"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=2000) as s:
        s.install_fake_lms()
        yield s


def test_status_json_running(cli: Cli, sim: Simulator) -> None:
    sim.state.load("qwen/qwen3-4b")
    doc = cli.json("status")
    assert doc["server"] == {
        "url": sim.base_url,
        "state": "running",
        "reachable": True,
        "kind": "lmstudio",
        "title": f"LM Studio {VERSION}",
        "legacy_api": False,
        "auth_required": False,
        "version": VERSION,  # LM Studio's local /lms-status, not the greeting
        "loaded_models": 1,
        "served_models": None,
        "error": None,
    }
    home = sim.home if hasattr(sim, "home") else cli.user_home / ".lmstudio"
    assert doc["home"] == {"path": str(home), "source": "default", "exists": True}
    assert doc["lms"]["path"] == str(home / "bin" / "lms")
    assert (doc["lms"]["server_running"], doc["lms"]["port"]) == (True, sim.api_port)


def test_status_text_and_options_after_the_command(cli: Cli, sim: Simulator) -> None:
    r = cli("status", "--server", sim.base_url)
    assert r.returncode == 0, r.stderr
    assert f"Server:  {sim.base_url} — Server running" in r.stdout
    assert "auth off, no models loaded" in r.stdout
    r2 = cli("--server", sim.base_url, "status")  # and before it
    assert r2.stdout == r.stdout


def test_status_says_version_unknown_when_lm_studio_does_not_tell(cli: Cli, sim: Simulator) -> None:
    # A server elsewhere (or no local API server to ask): the greeting has no version.
    (sim.home / ".internal" / "http-server.json").unlink()
    r = cli("status")
    assert r.returncode == 0, r.stderr
    assert "version unknown, auth off" in r.stdout and "None" not in r.stdout
    assert cli.json("status")["server"]["version"] is None


def test_status_auth_required_then_token(cli: Cli, sim: Simulator) -> None:
    sim.state.set_auth(TOKEN)
    doc = cli.json("status", code=1)
    assert doc["server"]["state"] == "auth-required"
    assert doc["server"]["auth_required"] is True
    assert "token" in doc["server"]["error"].lower()
    wrong = cli.json("status", token="sk-lm-AbCd1234:000000000000000000000", code=1)
    assert wrong["server"]["state"] == "auth-required"
    ok = cli.json("status", token=TOKEN)
    assert (ok["server"]["state"], ok["server"]["auth_required"]) == ("running-auth", True)
    r = cli("status", "--json", "--log-level", "debug", token=TOKEN)
    assert TOKEN not in r.stdout + r.stderr
    assert TOKEN.split(":")[1] not in r.stdout + r.stderr


def test_status_server_stopped(cli: Cli, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    doc = cli.json("status", "--server", url, code=1)
    assert doc["server"]["state"] == "stopped"
    assert doc["server"]["reachable"] is False
    assert url in doc["server"]["error"]
    assert doc["home"]["exists"] is False
    assert doc["lms"] == {"path": None, "server_running": None, "port": None, "error": None}


def test_models_json_merges_http_and_lms(cli: Cli, sim: Simulator) -> None:
    ident = sim.state.load("qwen/qwen3-4b", context_length=8192, ttl_seconds=600)
    doc = cli.json("models")
    assert set(doc) == {"loaded", "downloaded"}
    (row,) = doc["loaded"]
    assert set(row) >= {
        "identifier",
        "model_key",
        "type",
        "size_bytes",
        "context_length",
        "max_context_length",
        "status",
        "queued",
        "ttl_seconds",
    }
    assert 590 <= row["ttl_remaining_seconds"] <= 600
    assert row["parallel"] == 4
    assert row["identifier"] == ident
    assert (row["model_key"], row["type"], row["context_length"]) == ("qwen/qwen3-4b", "llm", 8192)
    assert (row["status"], row["queued"], row["ttl_seconds"]) == ("idle", 0, 600)
    keys = {d["model_key"] for d in doc["downloaded"]}
    assert {"qwen/qwen3-4b", "text-embedding-nomic-embed-text-v1.5"} <= keys
    for d in doc["downloaded"]:
        assert set(d) == {
            "model_key",
            "type",
            "display_name",
            "size_bytes",
            "max_context_length",
            "format",
            "quantization",
        }


def test_models_without_lms_leaves_status_unknown(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    sim.state.load("qwen/qwen3-4b")
    (sim_home := cli.user_home / ".lmstudio" / "bin" / "lms").unlink()
    assert not sim_home.exists()
    doc = cli.json("models")
    assert doc["loaded"][0]["status"] is None and doc["loaded"][0]["queued"] is None


def test_models_text(cli: Cli, sim: Simulator) -> None:
    sim.state.load("qwen/qwen3-4b")
    r = cli("models")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Loaded (1):\n  qwen/qwen3-4b")
    assert "idle" in r.stdout and "Downloaded (" in r.stdout


def test_models_unreachable_is_exit_1_with_a_sentence(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    r = cli("models", "--server", url)
    assert r.returncode == 1
    assert url in r.stderr and r.stdout == ""
    doc = cli.json("models", "--server", url, code=1)
    assert doc["error"]["kind"] == "ServerUnreachable"


def test_doctor_reports_exposure_and_counts(cli: Cli, sim: Simulator) -> None:
    home = cli.user_home / ".lmstudio"
    cfg_path = home / ".internal" / "http-server-config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["networkInterface"] = "0.0.0.0"
    cfg_path.write_text(json.dumps(cfg))
    (home / "config-presets").mkdir()
    for name in ("a", "b"):
        (home / "config-presets" / f"{name}.preset.json").write_text("{}")
    doc = cli.json("doctor", code=1)
    assert doc["server_settings"]["beyond_loopback"] is True
    assert doc["server_settings"]["port"] == sim.api_port
    assert doc["presets"] == 2
    assert doc["lms"]["version"].startswith("CLI commit:") or doc["lms"]["version"]
    assert any("beyond this machine" in w for w in doc["warnings"])
    text = cli("doctor")
    assert "warning: The server listens on 0.0.0.0" in text.stdout


def test_doctor_healthy_and_broken_config(cli: Cli, sim: Simulator) -> None:
    doc = cli.json("doctor")
    assert doc["warnings"] == []
    assert (doc["server_settings"]["cors"], doc["server_settings"]["jit"]) == (False, True)
    text = cli("doctor").stdout
    assert text.rstrip().endswith("No problems found.")
    # the GPU as read here: a device, or "unknown" and why (never a warning of its own)
    gpu_line = next(line for line in text.splitlines() if line.startswith("GPU:"))
    assert " used" in gpu_line or "unknown — " in gpu_line
    assert doc["gpu"]["line"].startswith("GPU memory")
    # a person's words for the switches, not Python's booleans
    assert f"Server settings: port {sim.api_port}, bind 127.0.0.1, CORS off, JIT on\n" in text
    # the date of the well-known MCP packages list the audit's typosquat check uses
    known = doc["mcp_known_packages"]
    assert known["npm"] > 0 and known["pypi"] > 0 and len(known["date"]) == 10
    assert f"from {known['date']}" in text
    assert "True" not in text and "False" not in text and "None" not in text
    cfg_path = cli.user_home / ".lmstudio" / ".internal" / "http-server-config.json"
    cfg_path.write_text("{ broken")
    doc = cli.json("doctor", "--server", sim.base_url, code=1)
    assert any("http-server-config.json is not valid JSON" in w for w in doc["warnings"])


def test_doctor_without_lm_studio(cli: Cli) -> None:
    doc = cli.json("doctor", "--server", f"http://127.0.0.1:{free_port()}", code=1)
    text = " ".join(doc["warnings"])
    assert "does not exist" in text and "lms was not found" in text


@pytest.mark.parametrize("args", [("frobnicate",), ("status", "--no-such-option")])
def test_usage_errors_exit_2(cli: Cli, args: tuple[str, ...]) -> None:
    r = cli(*args)
    assert r.returncode == 2
    assert "usage:" in r.stderr


def test_help_lists_the_commands(cli: Cli) -> None:
    r = cli("--help")
    assert r.returncode == 0
    for word in ("status", "models", "doctor", "--demo", "--server", "LM_API_TOKEN"):
        assert word in r.stdout


@pytest.mark.parametrize(
    ("group", "forms"),
    [
        ("history", "files, log PATH, diff PATH REV [REV2], restore PATH REV, remote [URL], push"),
        ("mcp", "audit, inspect [NAME …], lockdown, restore or status"),
        ("tokens", "set PROFILE, delete PROFILE, test PROFILE, env PROFILE or scan [PATH …]"),
    ],
)
def test_a_group_without_an_action_says_which_there_are(cli: Cli, group: str, forms: str) -> None:
    r = cli(group)
    assert r.returncode == 2 and r.stdout == ""
    assert f"Say what to do with {group}:" in r.stderr and forms in r.stderr
    assert f"(see `lmstudio-tray {group} --help`)" in r.stderr


def test_demo_commands_without_a_demo_or_with_a_second_server(cli: Cli) -> None:
    # No tray runs in this test's runtime folder: nothing to act on, said in one sentence.
    r = cli("--demo", "status")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == "Demo: No demo is running; start one with `lmstudio-tray --demo`."
    doc = cli.json("--demo", "models", code=1)
    assert doc["error"]["kind"] == "DemoNotRunning"
    # --demo says where LM Studio is; so does --server: two answers are a usage error
    r = cli("--demo", "models", "--server", "http://127.0.0.1:1234")
    assert r.returncode == 2
    assert "--demo and --server both say where LM Studio is" in r.stderr
