"""`ServerController` driving the fake `lms` against a simulated LM Studio.

HOME decides where lms looks for LM Studio, so every runner gets `HOME=tmp_path` and the
simulator lives in `tmp_path/.lmstudio`.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tray.core.errors import (
    ConfigError,
    LmsNotFound,
    LmStudioNotRunning,
    PortInUse,
    ServerOwnedByApp,
)
from tray.core.server_control import StopAction
from tray.core.settings import LOCAL_PROFILE_ID, ServerStartOptions
from tray.services.lms_runner import LmsRunner
from tray.services.server_controller import LM_STUDIO, OTHER_PROGRAM, ServerController
from tray.services.settings_store import SettingsService, SettingsStore
from tray.simulator import Simulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path) -> SettingsService:
    return SettingsService(SettingsStore(tmp_path / "config" / "settings.json"))


def make_sim(tmp_path: Path, **options: bool) -> Simulator:
    return Simulator(tmp_path / ".lmstudio", tokens_per_second=2000, **options)  # type: ignore[arg-type]


def controller_for(
    tmp_path: Path, settings: SettingsService, *, older_lms: bool = False
) -> ServerController:
    lms = tmp_path / ".lmstudio" / "bin" / "lms"
    env = {**os.environ, "HOME": str(tmp_path)}
    if older_lms:  # no `lms daemon` group (before lms 5793881, 2025-11)
        env["LMSTUDIO_SIM_LMS"] = "older"
    runner = LmsRunner(lms, env=env, timeout=20)
    return ServerController(runner, settings, LOCAL_PROFILE_ID, home=tmp_path / ".lmstudio")


@pytest.fixture
def stopped_sim(tmp_path: Path) -> Iterator[Simulator]:
    with make_sim(tmp_path, api_server_running=False) as sim:
        sim.install_fake_lms()
        yield sim


@pytest.fixture
def controller(tmp_path: Path, settings: SettingsService) -> ServerController:
    return controller_for(tmp_path, settings)


def saved_profile(settings: SettingsService) -> dict[str, object]:
    raw = json.loads(settings.store.path.read_text(encoding="utf-8"))
    (profile,) = raw["profiles"]
    start: dict[str, object] = profile["server_start"]
    return start


async def test_start_on_a_free_port_and_remember_the_options(
    controller: ServerController, stopped_sim: Simulator, settings: SettingsService
) -> None:
    port = free_port()
    assert await controller.port_in_use(port, None) is None

    outcome = await controller.start(ServerStartOptions(port=port, cors=True))

    assert outcome.port == port
    assert stopped_sim.api_server_running and stopped_sim.api_port == port
    # lms was given --cors: LM Studio's own settings now say so.
    assert json.loads(stopped_sim.server_config_path.read_text())["cors"] is True
    assert await controller.port_in_use(port, None) == LM_STUDIO
    assert controller.options == ServerStartOptions(port=port, cors=True, remembered=True)
    assert saved_profile(settings) == {
        "port": port,
        "bind": None,
        "cors": True,
        "remembered": True,
    }


async def test_start_without_options_uses_the_remembered_ones(
    controller: ServerController, stopped_sim: Simulator
) -> None:
    port = free_port()
    controller.remember(ServerStartOptions(port=port, bind="127.0.0.1", cors=False))
    outcome = await controller.start()
    assert outcome.port == port
    assert json.loads(stopped_sim.server_config_path.read_text())["cors"] is False


async def test_cors_off_is_passed_on_every_start(
    controller: ServerController, stopped_sim: Simulator
) -> None:
    port = free_port()
    await controller.start(ServerStartOptions(port=port, cors=True))
    await controller.restart(ServerStartOptions(port=port, cors=False))
    assert json.loads(stopped_sim.server_config_path.read_text())["cors"] is False
    assert controller.options.cors is False


async def test_until_the_user_chooses_start_keeps_lm_studios_cors_and_network_settings(
    controller: ServerController, stopped_sim: Simulator
) -> None:
    """Real `lms server start` turns CORS off without --cors and serves on 127.0.0.1
    without --bind: the first Start must pass on what LM Studio was set to."""
    port = free_port()
    lm_studio_settings = {"port": port, "cors": True, "networkInterface": "0.0.0.0"}
    stopped_sim.server_config_path.write_text(json.dumps(lm_studio_settings))

    outcome = await controller.start()
    assert outcome.accepts_network
    config = json.loads(stopped_sim.server_config_path.read_text())
    assert (config["cors"], config["networkInterface"]) == (True, "0.0.0.0")
    assert controller.options.remembered is False  # still following LM Studio
    assert (await controller.restart()).accepts_network

    # once the user has chosen, the choice holds whatever LM Studio's file says
    await controller.restart(ServerStartOptions(port=port, cors=False))
    assert controller.options.remembered is True
    stopped_sim.server_config_path.write_text(json.dumps(lm_studio_settings))
    outcome = await controller.restart()
    config = json.loads(stopped_sim.server_config_path.read_text())
    assert (config["cors"], config["networkInterface"], outcome.accepts_network) == (
        False,
        "127.0.0.1",
        False,
    )


async def test_start_on_the_network_says_so(
    controller: ServerController, stopped_sim: Simulator
) -> None:
    outcome = await controller.start(ServerStartOptions(port=free_port(), bind="0.0.0.0"))
    assert outcome.accepts_network
    assert json.loads(stopped_sim.server_config_path.read_text())["networkInterface"] == "0.0.0.0"


async def test_a_port_held_by_another_program_is_named(
    controller: ServerController, stopped_sim: Simulator, settings: SettingsService
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert await controller.port_in_use(port, None) == OTHER_PROGRAM

        with pytest.raises(PortInUse) as caught:
            await controller.start(ServerStartOptions(port=port))

    assert caught.value.port == port
    assert f"Another program is already listening on port {port}" in caught.value.message
    assert not stopped_sim.api_server_running
    assert controller.options == ServerStartOptions()  # a failed start is not remembered
    assert not settings.store.path.exists()


async def test_invalid_options_are_refused_before_anything_runs(
    controller: ServerController, stopped_sim: Simulator
) -> None:
    with pytest.raises(ConfigError, match="not an IP address"):
        await controller.start(ServerStartOptions(port=free_port(), bind="my laptop"))
    assert not stopped_sim.api_server_running


async def test_stop_restart_and_stop_when_not_running(
    controller: ServerController, stopped_sim: Simulator
) -> None:
    port = free_port()
    await controller.start(ServerStartOptions(port=port))

    restarted = await controller.restart()
    assert restarted.port == port and stopped_sim.api_server_running

    stopped = await controller.stop()
    assert (stopped.was_running, stopped.port) == (True, port)
    assert not stopped_sim.api_server_running
    assert await controller.port_in_use(port, None) is None

    again = await controller.stop()
    assert again.was_running is False

    # Restart of a stopped server just starts it.
    assert (await controller.restart()).port == port
    assert stopped_sim.api_server_running


async def test_stop_and_restart_with_an_lms_that_has_no_daemon_group(
    tmp_path: Path, settings: SettingsService, stopped_sim: Simulator
) -> None:
    controller = controller_for(tmp_path, settings, older_lms=True)
    port = free_port()
    await controller.start(ServerStartOptions(port=port))
    assert (await controller.plan_stop()).action is StopAction.STOP
    assert (await controller.restart()).port == port and stopped_sim.api_server_running
    assert (await controller.stop()).was_running is True
    assert not stopped_sim.api_server_running
    assert (await controller.stop()).was_running is False


async def test_a_server_the_lm_studio_app_runs_is_not_stopped_without_a_yes(
    tmp_path: Path, settings: SettingsService
) -> None:
    with make_sim(tmp_path, gui=True) as sim:
        sim.install_fake_lms()
        controller = controller_for(tmp_path, settings)
        plan = await controller.plan_stop()
        assert plan.action is StopAction.CONFIRM

        with pytest.raises(ServerOwnedByApp) as caught:
            await controller.stop()
        assert "LM Studio app" in caught.value.message
        assert caught.value.question.endswith("?")
        assert caught.value.port == sim.api_port
        assert sim.api_server_running

        with pytest.raises(ServerOwnedByApp):
            await controller.restart()
        assert sim.api_server_running

        outcome = await controller.stop(confirmed=True)
        assert outcome.was_running and not sim.api_server_running


async def test_lms_missing(tmp_path: Path, settings: SettingsService) -> None:
    controller = controller_for(tmp_path, settings)  # no fake lms installed
    with pytest.raises(LmsNotFound, match="lms was not found"):
        await controller.start(ServerStartOptions(port=free_port()))
    with pytest.raises(LmsNotFound):
        await controller.stop()


async def test_lm_studio_not_installed(tmp_path: Path, settings: SettingsService) -> None:
    with make_sim(tmp_path) as sim:
        sim.install_fake_lms()
    # The simulated LM Studio is gone and nothing says where to wake it from.
    controller = controller_for(tmp_path, settings)
    with pytest.raises(LmStudioNotRunning, match="no valid installation"):
        await controller.start(ServerStartOptions(port=free_port()))
    stopped = await controller.stop()
    assert stopped.was_running is False
