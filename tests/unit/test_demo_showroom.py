"""The demo's showroom: LM Studio files that the tray's own readers take as real ones, risks
the audit finds, and a simulated graphics card whose use follows the loaded models."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tray.core.gpu import memory_line
from tray.core.presets import Preset, validate
from tray.core.tokens import TOKEN_PATTERN
from tray.services.gpu import SimulatedGpuProbe
from tray.services.mcp_audit import audit_file
from tray.simulator.demo_acts import demo_act
from tray.simulator.gpu_files import DESKTOP_BYTES, GPU_NAME, SimulatedGpu
from tray.simulator.showroom import PRESETS, demo_loads, write_showroom_files
from tray.simulator.state import SimState

GIB = 1024**3


def test_presets_are_lm_studio_presets_with_a_system_prompt_and_sampling(tmp_path: Path) -> None:
    home, user_home = tmp_path / ".lmstudio", tmp_path
    written = write_showroom_files(home, user_home)
    presets = sorted((home / "config-presets").glob("*.preset.json"))
    assert len(presets) >= 3 and set(presets) <= set(written)
    for path in presets:
        preset = Preset.parse(path.read_bytes(), origin=str(path))
        assert validate(preset) == [], path
        assert preset.get("system_prompt")
        assert preset.get("temperature") is not None
    assert {p["name"] for p in PRESETS.values()} >= {"Coding", "Concise", "Creative"}


def test_mcp_json_holds_the_risks_the_audit_explains(tmp_path: Path) -> None:
    home = tmp_path / ".lmstudio"
    write_showroom_files(home, tmp_path)
    report, doc = asyncio.run(audit_file(home / "mcp.json", lmstudio_home=home, server_auth=None))
    assert doc is not None and len(doc.servers) >= 5
    ids = {f.id for f in report.findings}
    # a token-shaped secret, a floating package, the Docker socket, the whole home folder
    assert {"S1", "C3", "C10", "P1"} <= ids, ids
    assert "S5" not in ids  # the made-up token is not taken for a placeholder
    # no token-shaped text in the source: the secret is made at run time
    source = Path("tray/simulator/showroom.py").read_text(encoding="utf-8")
    token = json.loads((home / "mcp.json").read_text())["mcpServers"]["github"]["env"]
    assert token["GITHUB_PERSONAL_ACCESS_TOKEN"] not in source


def test_files_the_user_changed_are_never_overwritten(tmp_path: Path) -> None:
    home = tmp_path / ".lmstudio"
    home.mkdir()
    (home / "mcp.json").write_text('{"mcpServers": {}}')
    written = write_showroom_files(home, tmp_path)
    assert home / "mcp.json" not in written
    assert (home / "mcp.json").read_text() == '{"mcpServers": {}}'
    assert write_showroom_files(home, tmp_path) == []  # a second start writes nothing


def test_demo_loads_two_models_one_with_identifier_context_and_timeout() -> None:
    loads = demo_loads()
    assert len(loads) == 2
    own = [load for load in loads if load.identifier is not None]
    assert len(own) == 1 and own[0].context_length and own[0].ttl_seconds


def test_simulated_gpu_memory_follows_the_loaded_models_and_reads_as_simulated(
    tmp_path: Path,
) -> None:
    state = SimState()
    gpu = SimulatedGpu(state, tmp_path / "gpu", 24 * GIB)
    probe = SimulatedGpuProbe(tmp_path / "gpu")
    gpu.update()
    (idle,) = probe.read().devices
    assert idle.name == GPU_NAME and idle.source == "simulated"
    assert memory_line(probe.read()) == "GPU memory (simulated): 629 MB of 25.77 GB used"
    assert idle.used_bytes == DESKTOP_BYTES and idle.total_bytes == 24 * GIB

    identifier = state.load("qwen/qwen3-4b", context_length=8192)
    gpu.update()
    (busy,) = probe.read().devices
    model = state.catalog["qwen/qwen3-4b"]
    expected = DESKTOP_BYTES + model.size_bytes + model.kv_bytes_per_token * 8192
    assert busy.used_bytes == expected

    state.unload(identifier)
    gpu.update()
    assert probe.read().devices[0].used_bytes == DESKTOP_BYTES


def test_demo_acts_change_what_real_lm_studio_would_have_changed(tmp_path: Path) -> None:
    state = SimState()
    token = demo_act(state, tmp_path, "demo.requireToken", {})["token"]
    assert TOKEN_PATTERN.fullmatch(token) and state.auth_token == token
    assert demo_act(state, tmp_path, "demo.requireToken", {})["token"] != token  # new each time
    demo_act(state, tmp_path, "demo.allowWithoutToken", {})
    assert state.auth_token is None

    (tmp_path / "mcp.json").write_text('{"mcpServers": {"shell": {"command": "x"}}}')
    added = demo_act(state, tmp_path, "demo.changeMcpJson", {})["server"]
    servers = json.loads((tmp_path / "mcp.json").read_text())["mcpServers"]
    assert added == "shell-2" and set(servers) == {"shell", "shell-2"}  # nothing replaced

    plain = state.load("qwen/qwen3-4b")
    timed = state.load("google/gemma-3-12b", ttl_seconds=1800)
    assert demo_act(state, tmp_path, "demo.evictIdle", {})["identifier"] == timed
    state.tick()
    assert state.loaded_identifiers() == [plain]  # the one with a timeout went first
