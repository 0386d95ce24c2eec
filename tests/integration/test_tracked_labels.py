"""Labels of tracked files read from a real history: the files written by the real stores
(a preset, load profiles, LM Studio's per-model defaults, mcp.json), a deleted preset
named from its last version, and a preset renamed since."""

from __future__ import annotations

from pathlib import Path

from tray.core.load_profiles import LoadProfile
from tray.services.history import FileHistory
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_defaults import LmStudioDefaults
from tray.services.preset_store import PresetStore
from tray.services.tracked_labels import tracked_labels


def test_every_kind_of_tracked_file_gets_its_readable_label(tmp_path: Path) -> None:
    history = FileHistory(tmp_path / "history")
    home = tmp_path / ".lmstudio"
    presets = PresetStore(home / "config-presets", history)
    coding = presets.create("Coding")
    old = presets.create("Old")
    presets.delete(old.origin or "")
    profiles = LoadProfileStore(tmp_path / "config" / "load-profiles", history)
    profiles.save(LoadProfile(context_length=4096))
    profiles.save(LoadProfile(context_length=8192, write_lmstudio_defaults=True), "qwen/qwen3-4b")
    LmStudioDefaults(home, history).write("qwen/qwen3-4b", LoadProfile(context_length=8192))
    mcp = home / "mcp.json"
    mcp.write_text('{"mcpServers": {}}')
    history.record(mcp, "Started keeping the history of mcp.json")

    files = history.tracked()
    labels = tracked_labels(history, files)
    assert sorted(label.text for label in labels.values()) == [
        "LM Studio defaults: qwen/qwen3-4b",
        "Load profile: default (every model)",
        "Load profile: qwen/qwen3-4b",
        "Preset: Coding",
        "Preset: Old",  # deleted: named from the version before the deletion
        "mcp.json",
    ]
    assert labels[presets.folder / (coding.origin or "")].text == "Preset: Coding"
