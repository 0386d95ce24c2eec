"""`lmstudio-tray gpu`: the real executable against a simulated LM Studio, on this machine's
real GPU sources (none here: the honest "unknown") and on a fake AMD sysfs tree."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tray.simulator import Simulator

EXE = Path(sys.executable).with_name("lmstudio-tray")
GB = 1024**3


def run(user_home: Path, *args: str, sysfs: Path | None = None) -> subprocess.CompletedProcess[str]:
    drop = ("LM_API_TOKEN", "LMSTUDIO_API_TOKEN", "LMSTRAY_SYSFS_DRM")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(HOME=str(user_home), XDG_CONFIG_HOME=str(user_home / ".config"))
    if sysfs is not None:
        env["LMSTRAY_SYSFS_DRM"] = str(sysfs)
    return subprocess.run(
        [str(EXE), "gpu", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def gpu_json(user_home: Path, *args: str, sysfs: Path | None = None) -> dict[str, Any]:
    r = run(user_home, *args, "--json", sysfs=sysfs)
    assert r.returncode == 0, r.stdout + r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)  # exactly one JSON document
    return doc


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=2000) as s:
        s.install_fake_lms()
        yield s


@pytest.fixture
def amd_card(tmp_path: Path) -> Path:
    root = tmp_path / "sysfs-drm"
    device = root / "card0" / "device"
    device.mkdir(parents=True)
    (device / "mem_info_vram_used").write_text(f"{6 * GB}\n")
    (device / "mem_info_vram_total").write_text(f"{16 * GB}\n")
    (device / "product_name").write_text("Radeon RX 7800 XT\n")
    (root / "card1" / "device").mkdir(parents=True)  # another driver's card: no VRAM files
    return root


def nvml_installed() -> bool:
    return importlib.util.find_spec("pynvml") is not None


def sizes(sim: Simulator, *keys: str) -> int:
    return sum(sim.state.catalog[k].size_bytes for k in keys)


@pytest.mark.skipif(
    Path("/sys/class/drm").exists() or nvml_installed(),
    reason="this machine may have a real GPU source; the test is about the honest 'unknown'",
)
def test_no_gpu_here_is_an_answer_with_the_reason(tmp_path: Path, sim: Simulator) -> None:
    sim.state.load("qwen/qwen3-4b")
    sim.state.load("google/gemma-3-12b")
    doc = gpu_json(tmp_path)
    assert doc["devices"] == []
    reason = doc["unavailable_reason"]
    assert reason.startswith("No NVIDIA GPU (NVML) or AMD GPU (sysfs) found")
    assert "nvidia-ml-py is not installed" in reason
    assert "/sys/class/drm does not exist" in reason
    assert doc["lmstudio_models_bytes"] == sizes(sim, "qwen/qwen3-4b", "google/gemma-3-12b")
    assert doc["lmstudio_models"] == 2
    assert doc["server"] == {
        "url": sim.base_url,
        "state": "running",
        "kind": "lmstudio",
        "error": None,
    }

    text = run(tmp_path)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("GPU memory: unknown. No NVIDIA GPU (NVML) or AMD GPU (sysfs)")
    assert lines[1] == "LM Studio: 2 loaded models take 10.65 GB (by LM Studio's own figures)"


@pytest.mark.skipif(nvml_installed(), reason="NVML would be chosen before the fake AMD card")
def test_a_fake_amd_card_end_to_end(tmp_path: Path, sim: Simulator, amd_card: Path) -> None:
    sim.state.load("qwen/qwen3-4b")
    doc = gpu_json(tmp_path, sysfs=amd_card)
    assert doc["devices"] == [
        {
            "name": "Radeon RX 7800 XT",
            "used_bytes": 6 * GB,
            "total_bytes": 16 * GB,
            "source": "amd-sysfs",
        }
    ]
    assert doc["unavailable_reason"] is None
    assert doc["lmstudio_models_bytes"] == sizes(sim, "qwen/qwen3-4b")

    text = run(tmp_path, sysfs=amd_card)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == [
        "Device                   Used       Total  Used %  Source",
        "Radeon RX 7800 XT     6.44 GB    17.18 GB     38%  amd-sysfs",
        "LM Studio: 1 loaded model takes 2.50 GB (by LM Studio's own figures)",
    ]


def test_no_models_loaded_is_zero_not_unknown(
    tmp_path: Path, sim: Simulator, amd_card: Path
) -> None:
    doc = gpu_json(tmp_path, sysfs=amd_card)
    assert (doc["lmstudio_models_bytes"], doc["lmstudio_models"]) == (0, 0)


def test_server_down_still_answers_for_the_gpu(tmp_path: Path, amd_card: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    doc = gpu_json(tmp_path, "--server", url, sysfs=amd_card)
    assert doc["lmstudio_models_bytes"] is None
    assert doc["lmstudio_models"] is None
    assert doc["server"]["state"] == "stopped"
    assert doc["server"]["error"]
    if not nvml_installed():
        assert doc["devices"][0]["name"] == "Radeon RX 7800 XT"
    text = run(tmp_path, "--server", url, sysfs=amd_card)
    assert text.returncode == 0
    assert text.stdout.splitlines()[-1] == (
        f"LM Studio: server stopped at {url}, loaded models unknown"
    )


def test_an_unknown_profile_is_not_found(tmp_path: Path) -> None:
    r = run(tmp_path, "--profile", "nope")
    assert r.returncode == 1
    assert "There is no server profile “nope” in the settings" in r.stderr
