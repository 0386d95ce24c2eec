"""`LmsRunner` running the real fake `lms` executable against a simulated LM Studio.

HOME decides where lms looks for LM Studio (`~/.lmstudio` here), so every runner gets
`HOME=tmp_path`; the simulator's home is `tmp_path/.lmstudio`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from tray.core.errors import (
    LmsCommandFailed,
    LmsModelNotFound,
    LmsNotFound,
    LmsOutputError,
    LmsTimeout,
    LmStudioNotRunning,
)
from tray.core.lms_output import LmsCommand
from tray.core.load_profiles import LmsLoadArgs
from tray.services.lms_runner import (
    CREATE_NEW_PROCESS_GROUP,
    CREATE_NO_WINDOW,
    LmsProbe,
    LmsRunner,
    _own_process_group,
    find_lms,
)
from tray.simulator import Simulator, install_fake_lms, write_install_location

SMALL = "qwen/qwen3-4b"
EMBEDDING = "text-embedding-nomic-embed-text-v1.5"
HUGE = "qwen/qwen3-235b-a22b"  # larger than the simulated machine's guardrails


def runner_for(lms: Path, user_home: Path, **options: float) -> LmsRunner:
    return LmsRunner(lms, env={**os.environ, "HOME": str(user_home)}, **options)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / ".lmstudio"


@pytest.fixture
def sim(home: Path) -> Iterator[Simulator]:
    with Simulator(home, load_seconds=0.0) as simulator:
        yield simulator


@pytest.fixture
def runner(sim: Simulator, tmp_path: Path) -> LmsRunner:
    return runner_for(sim.install_fake_lms(), tmp_path)


# --- models ----------------------------------------------------------------------------


async def test_ps_empty_and_populated(runner: LmsRunner, sim: Simulator) -> None:
    assert await runner.ps() == []

    sim.state.load(EMBEDDING)
    sim.state.load(SMALL, context_length=8192, parallel=2, ttl_seconds=300)
    loaded = await runner.ps()

    assert [(m.identifier, m.type) for m in loaded] == [(SMALL, "llm"), (EMBEDDING, "embedding")]
    assert (loaded[0].context_length, loaded[0].parallel, loaded[0].ttl_ms) == (8192, 2, 300_000)
    assert loaded[1].parallel is None


async def test_ls_lists_the_downloaded_models(runner: LmsRunner, sim: Simulator) -> None:
    models = await runner.ls()
    assert {m.model_key for m in models} == set(sim.state.catalog)
    assert next(m for m in models if m.model_key == EMBEDDING).type == "embedding"


async def test_ls_empty(tmp_path: Path, home: Path) -> None:
    with Simulator(home, seed_models=False) as simulator:
        assert await runner_for(simulator.install_fake_lms(), tmp_path).ls() == []


async def test_load_passes_every_flag(runner: LmsRunner, sim: Simulator) -> None:
    outcome = await runner.load(
        SMALL,
        LmsLoadArgs(gpu=0.5, context_length=8192, parallel=3, ttl_seconds=600, identifier="mine"),
    )

    assert outcome.identifier == "mine"
    assert outcome.size_bytes is not None and outcome.size_bytes > 0
    instance = sim.state.instances["mine"]
    assert instance.model.key == SMALL
    assert (instance.context_length, instance.parallel, instance.ttl_seconds) == (8192, 3, 600)
    assert instance.gpu_ratio == pytest.approx(0.5)


@pytest.mark.parametrize(("gpu", "ratio"), [("off", 0.0), ("max", 1.0)])
async def test_load_gpu_words(
    runner: LmsRunner, sim: Simulator, gpu: Literal["off", "max"], ratio: float
) -> None:
    outcome = await runner.load(SMALL, LmsLoadArgs(gpu=gpu))
    assert outcome.identifier == SMALL
    assert sim.state.instances[SMALL].gpu_ratio == ratio


async def test_load_without_flags_uses_lm_studio_defaults(
    runner: LmsRunner, sim: Simulator
) -> None:
    first = await runner.load(SMALL)
    second = await runner.load(SMALL)
    assert (first.identifier, second.identifier) == (SMALL, f"{SMALL}:2")
    assert sim.state.loaded_identifiers() == [SMALL, f"{SMALL}:2"]
    assert sim.state.instances[SMALL].ttl_seconds is None


async def test_load_of_an_unknown_model(runner: LmsRunner, sim: Simulator) -> None:
    with pytest.raises(LmsModelNotFound, match="nope/nothing"):
        await runner.load("nope/nothing")
    assert sim.state.loaded_identifiers() == []


async def test_load_with_an_invalid_gpu_ratio(runner: LmsRunner, sim: Simulator) -> None:
    with pytest.raises(LmsCommandFailed, match="Number out of range"):
        await runner.load(SMALL, LmsLoadArgs(gpu=1.5))
    assert sim.state.loaded_identifiers() == []


# --- estimates -------------------------------------------------------------------------


@pytest.mark.parametrize("units", ["GiB", "GB"])
async def test_estimate_in_both_units(
    runner: LmsRunner, sim: Simulator, units: Literal["GiB", "GB"]
) -> None:
    sim.state.estimate_units = units
    expected = sim.state.estimate(SMALL, context_length=8192, gpu_ratio=0.5)["memory"]

    estimate = await runner.estimate(SMALL, gpu=0.5, context_length=8192)

    assert estimate.model == SMALL
    assert (estimate.context_length, estimate.gpu_offload_ratio) == (8192, 0.5)
    # lms prints two decimals: the bytes agree to within that rounding.
    assert estimate.gpu_memory_bytes == pytest.approx(expected["totalVramBytes"], rel=0.01)
    assert estimate.total_memory_bytes == pytest.approx(expected["totalBytes"], rel=0.01)
    assert estimate.passes_guardrails
    assert sim.state.loaded_identifiers() == []


async def test_estimate_of_a_model_that_will_fail_to_load(runner: LmsRunner) -> None:
    estimate = await runner.estimate(HUGE)
    assert not estimate.passes_guardrails
    assert estimate.total_memory_bytes > 100 * 1000**3


async def test_estimate_of_an_unknown_model(runner: LmsRunner) -> None:
    with pytest.raises(LmsModelNotFound):
        await runner.estimate("nope/nothing")


# --- unload ----------------------------------------------------------------------------


async def test_unload_one(runner: LmsRunner, sim: Simulator) -> None:
    sim.state.load(SMALL)
    sim.state.load(EMBEDDING)
    outcome = await runner.unload(SMALL)
    assert (outcome.identifiers, outcome.count) == ((SMALL,), 1)
    assert sim.state.loaded_identifiers() == [EMBEDDING]


async def test_unload_unknown_is_an_error_although_lms_exits_0(
    runner: LmsRunner, sim: Simulator
) -> None:
    sim.state.load(SMALL)
    with pytest.raises(LmsModelNotFound, match='identifier "ghost"') as caught:
        await runner.unload("ghost")
    assert caught.value.exit_code == 0
    assert sim.state.loaded_identifiers() == [SMALL]


async def test_unload_all(runner: LmsRunner, sim: Simulator) -> None:
    sim.state.load(SMALL)
    sim.state.load(EMBEDDING)
    outcome = await runner.unload_all()
    assert (set(outcome.identifiers), outcome.count) == ({SMALL, EMBEDDING}, 2)
    assert sim.state.loaded_identifiers() == []


async def test_unload_all_with_nothing_loaded(runner: LmsRunner) -> None:
    outcome = await runner.unload_all()
    assert (outcome.identifiers, outcome.count) == ((), 0)


# --- server ----------------------------------------------------------------------------


async def test_server_status_stop_start(runner: LmsRunner, sim: Simulator) -> None:
    status = await runner.server_status()
    assert (status.running, status.port) == (True, sim.api_port)

    stopped = await runner.server_stop()
    assert (stopped.was_running, stopped.port) == (True, sim.api_port)
    assert not sim.api_server_running
    assert (await runner.server_status()).running is False

    port = _free_port()
    started = await runner.server_start(port=port)
    assert (started.port, started.accepts_network) == (port, False)
    assert sim.api_server_running
    assert (await runner.server_status()).port == port


async def test_server_stop_when_not_running(runner: LmsRunner, sim: Simulator) -> None:
    sim.stop_api_server()
    outcome = await runner.server_stop()
    assert (outcome.was_running, outcome.port) == (False, None)


async def test_server_start_on_the_network_with_cors(runner: LmsRunner, sim: Simulator) -> None:
    outcome = await runner.server_start(port=_free_port(), bind="0.0.0.0", cors=True)
    assert outcome.accepts_network
    assert any("CORS is enabled" in warning for warning in outcome.warnings)
    assert sim.api_server_running


async def test_server_start_on_a_port_in_use(runner: LmsRunner, sim: Simulator) -> None:
    sim.stop_api_server()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LmsCommandFailed, match="try to use another port") as caught:
            await runner.server_start(port=port)
    assert caught.value.title == "Server did not start"
    assert not sim.api_server_running


# --- daemon and LM Studio not running --------------------------------------------------


async def test_daemon_status_running(runner: LmsRunner, sim: Simulator) -> None:
    status = await runner.daemon_status()
    assert (status.running, status.pid, status.is_daemon) == (True, sim.pid, True)


async def test_probe_never_wakes_a_stopped_lm_studio(tmp_path: Path, home: Path) -> None:
    lms = install_fake_lms(home)
    write_install_location(home)  # a waking command could start the simulator from here
    probe = LmsProbe(runner_for(lms, tmp_path))

    assert (await probe.server_status()).running is False
    assert (await probe.daemon_status()).running is False
    assert not (home / ".internal" / "http-server.json").exists()
    assert {name for name in vars(LmsProbe) if not name.startswith("_")} == {
        "server_status",
        "daemon_status",
    }


@pytest.mark.skipif(sys.platform != "linux", reason="/proc to see the woken daemon die")
async def test_ps_does_wake_a_stopped_lm_studio(tmp_path: Path, home: Path) -> None:
    # The counterpart of the probe test: the same setup does start LM Studio for `ps`.
    assert LmsCommand.PS.wakes_lm_studio
    lms = install_fake_lms(home)
    write_install_location(home)
    info = home / ".internal" / "http-server.json"
    try:
        assert await runner_for(lms, tmp_path).ps() == []
        assert info.exists()
    finally:
        if info.exists():
            pid = json.loads(info.read_text())["pid"]
            os.kill(pid, signal.SIGTERM)
            assert _gone(pid)


@pytest.mark.parametrize("command", ["ps", "ls", "unload_all", "server_start"])
async def test_lm_studio_not_running_and_not_installed(
    tmp_path: Path, home: Path, command: str
) -> None:
    runner = runner_for(install_fake_lms(home), tmp_path)
    with pytest.raises(LmStudioNotRunning, match="Failed to start or connect"):
        await getattr(runner, command)()


# --- finding and running lms -----------------------------------------------------------


async def test_missing_lms(tmp_path: Path) -> None:
    runner = LmsRunner(tmp_path / "bin" / "lms")
    with pytest.raises(LmsNotFound, match="lms ships with LM Studio") as caught:
        await runner.server_status()
    assert str(tmp_path / "bin" / "lms") in caught.value.message


async def test_lms_that_is_not_executable(tmp_path: Path) -> None:
    lms = tmp_path / "lms"
    lms.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(LmsNotFound, match="not executable"):
        await LmsRunner(lms).version()


def test_find_lms_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configured = _executable(tmp_path / "custom" / "lms")
    on_path = _executable(tmp_path / "path" / "lms")
    in_home = _executable(tmp_path / ".lmstudio" / "bin" / "lms")
    home = tmp_path / ".lmstudio"
    monkeypatch.setenv("PATH", str(on_path.parent))

    assert find_lms(configured=configured, home=home) == configured
    assert find_lms(configured=None, home=home) == on_path
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_lms(configured=None, home=home) == in_home
    # A configured path is taken at its word: a wrong one is not replaced by another lms.
    assert find_lms(configured=tmp_path / "gone", home=home) is None
    assert find_lms(configured=None, home=tmp_path / "nowhere") is None


def test_discover_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(LmsNotFound) as caught:
        LmsRunner.discover(configured=None, home=tmp_path / ".lmstudio")
    message = caught.value.message
    assert "PATH" in message
    assert str(tmp_path / ".lmstudio" / "bin" / "lms") in message
    assert "lms bootstrap" in message
    with pytest.raises(LmsNotFound) as configured:
        LmsRunner.discover(configured=tmp_path / "mine", home=tmp_path / ".lmstudio")
    assert f"looked in: {tmp_path / 'mine'})" in configured.value.message


async def test_discover_finds_the_fake_in_home(
    tmp_path: Path, home: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    sim.install_fake_lms()
    runner = LmsRunner.discover(
        configured=None, home=home, env={**os.environ, "HOME": str(tmp_path)}
    )
    assert runner.executable == home / "bin" / "lms"
    assert await runner.version()


HANGING = "#!/bin/sh\nsleep 300 &\necho $$ $! > {pids}.tmp\nmv {pids}.tmp {pids}\nwait\n"
posix_only = pytest.mark.skipif(
    sys.platform != "linux", reason="a shell script as lms; /proc to see it die"
)


@posix_only
async def test_hanging_lms_is_killed_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    lms = _executable(tmp_path / "lms", HANGING.format(pids=pids))
    runner = LmsRunner(lms, timeout=1.0)

    with pytest.raises(LmsTimeout, match="did not finish within 1 s"):
        await runner.server_status()

    shell, child = (int(p) for p in pids.read_text().split())
    assert _gone(shell)
    assert _gone(child)


@posix_only
async def test_cancelled_call_leaves_no_process(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    runner = LmsRunner(_executable(tmp_path / "lms", HANGING.format(pids=pids)))
    call = asyncio.ensure_future(runner.server_status())
    # Another process writes the file: there is no event to await, so poll.
    while not pids.exists():  # noqa: ASYNC110
        await asyncio.sleep(0.01)

    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    shell, child = (int(p) for p in pids.read_text().split())
    assert _gone(shell)
    assert _gone(child)


@posix_only
async def test_output_past_the_cap_is_refused(tmp_path: Path) -> None:
    lms = _executable(tmp_path / "lms", "#!/bin/sh\nhead -c 9000000 /dev/zero\n")
    with pytest.raises(LmsOutputError, match="printed more than 8 MiB"):
        await LmsRunner(lms).ps()


# --- helpers ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _executable(path: Path, text: str = "#!/bin/sh\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _gone(pid: int) -> bool:
    """True once `pid` is dead. SIGKILL lands asynchronously and an orphan may stay a
    zombie until init reaps it, so wait for the kernel to say "dead" (bounded)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def test_lms_on_windows_starts_in_its_own_group_without_a_console_window() -> None:
    """lms.exe is a console program: a tray with no console would flash one per call.
    (Built here, run only on Windows: the flags are checked, not their effect.)"""
    flags = _own_process_group("win32")["creationflags"]
    assert flags & CREATE_NO_WINDOW and flags & CREATE_NEW_PROCESS_GROUP
    # the values Python itself uses on Windows
    assert getattr(subprocess, "CREATE_NO_WINDOW", CREATE_NO_WINDOW) == 0x08000000
    assert _own_process_group("linux") == {"start_new_session": True}
