"""`lmstudio-tray server start|stop|restart`: the real executable, the fake `lms`, a
simulated LM Studio, and the options remembered in the settings file."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import Cli, free_port  # tests/integration/cli_runner.py

from tray.simulator import Simulator


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", api_server_running=False) as s:
        s.install_fake_lms()
        yield s


def cors_setting(sim: Simulator) -> bool:
    return bool(json.loads(sim.server_config_path.read_text())["cors"])


def test_start_stop_restart_json(cli: Cli, sim: Simulator) -> None:
    port = free_port()
    doc = cli.json("server", "start", "--port", str(port), "--cors")
    started = doc["started"]
    assert (started["port"], started["url"]) == (port, f"http://127.0.0.1:{port}")
    # the bind LM Studio's own settings name (nothing was chosen for it)
    assert started["options"] == {"port": port, "bind": "127.0.0.1", "cors": True}
    assert any("CORS is enabled" in w for w in started["warnings"])
    assert sim.api_server_running and cors_setting(sim)
    assert cli.remembered() == {
        "port": port,
        "bind": "127.0.0.1",
        "cors": True,
        "remembered": True,
    }

    # Restart with nothing given: the remembered options, CORS included.
    doc = cli.json("server", "restart")
    assert doc["stopped"] == {
        "was_running": True,
        "port": port,
        "message": f"Stopped the server on port {port}.",
    }
    assert doc["started"]["port"] == port and cors_setting(sim)

    # --no-cors is passed on and remembered.
    cli.json("server", "restart", "--no-cors")
    assert not cors_setting(sim)
    assert cli.remembered()["cors"] is False

    doc = cli.json("server", "stop")
    assert doc["stopped"]["was_running"] is True
    assert not sim.api_server_running
    assert "started" not in doc


def test_text_output_and_stop_when_not_running(cli: Cli, sim: Simulator) -> None:
    port = free_port()
    r = cli("server", "start", "--port", str(port))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (f"The server is running on port {port}. (http://127.0.0.1:{port})")
    assert cli("server", "stop").stdout.strip() == f"Stopped the server on port {port}."
    r = cli("server", "stop")
    assert (r.returncode, r.stdout.strip()) == (0, "The server was not running.")


def test_port_in_use_exits_1_naming_the_port(cli: Cli, sim: Simulator) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        doc = cli.json("server", "start", "--port", str(port), code=1)
        r = cli("server", "start", "--port", str(port))
    assert doc["error"]["kind"] == "PortInUse"
    assert f"Another program is already listening on port {port}" in doc["error"]["message"]
    assert r.returncode == 1
    assert r.stderr.startswith(f"Port in use: Another program is already listening on port {port}")
    assert not sim.api_server_running
    assert not cli.settings.exists()  # nothing remembered from a failed start


def test_invalid_options_are_usage_errors(cli: Cli, sim: Simulator) -> None:
    doc = cli.json("server", "start", "--bind", "my laptop", code=2)
    assert "not an IP address" in doc["error"]["message"]
    doc = cli.json("server", "start", "--port", "70000", code=2)
    assert "Port 70000 is not valid" in doc["error"]["message"]
    assert not sim.api_server_running


def test_a_server_the_lm_studio_app_runs_needs_yes(cli: Cli, tmp_path: Path) -> None:
    with Simulator(tmp_path / ".lmstudio", gui=True) as sim:
        sim.install_fake_lms()
        doc = cli.json("server", "stop", code=1)
        assert doc["error"]["kind"] == "ServerOwnedByApp"
        assert "LM Studio app" in doc["error"]["message"]
        assert doc["error"]["message"].endswith("Add --yes to stop it anyway.")
        assert sim.api_server_running
        r = cli("server", "restart")
        assert r.returncode == 1 and "--yes to restart it anyway" in r.stderr
        assert sim.api_server_running

        doc = cli.json("server", "stop", "--yes")
        assert doc["stopped"]["was_running"] is True
        assert not sim.api_server_running


def test_lms_missing(cli: Cli) -> None:
    doc = cli.json("server", "start", code=1)
    assert doc["error"]["kind"] == "LmsNotFound"
    assert "lms was not found" in doc["error"]["message"]


def test_remembered_per_profile(cli: Cli, sim: Simulator) -> None:
    cli.settings.parent.mkdir(parents=True)
    cli.settings.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "profiles": [
                    {"id": "this-machine", "name": "This machine"},
                    {"id": "other", "name": "Other", "server_start": {"cors": True}},
                ],
            }
        )
    )
    port = free_port()
    cli.json("server", "start", "--profile", "other", "--port", str(port))
    assert cors_setting(sim)  # the profile's remembered CORS choice was passed
    raw = json.loads(cli.settings.read_text())
    assert raw["profiles"][0]["server_start"] == {
        "port": None,
        "bind": None,
        "cors": False,
        "remembered": False,
    }
    assert raw["profiles"][1]["server_start"] == {
        "port": port,
        "bind": None,
        "cors": True,
        "remembered": True,
    }
