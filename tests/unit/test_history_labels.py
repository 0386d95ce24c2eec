"""Readable labels for the files the history keeps: a preset by its name, a load profile
by its model key (its file name carries a hash), LM Studio's defaults by the model, and
what is left by its file name — from the path, and the content where the name lives."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from tray.core.history_labels import (
    LMSTUDIO_DEFAULTS_FOLDER,
    PROFILES_FOLDER,
    SCENES_FILE,
    FileLabel,
    label_for,
    needs_content,
)
from tray.core.load_profiles import profile_file_name

HOME = PurePosixPath("/home/ann")
PRESETS = HOME / ".lmstudio" / "config-presets"
PROFILES = HOME / ".config" / "lmstudio-tray" / "load-profiles"
DEFAULTS = HOME / ".lmstudio" / ".internal" / "user-concrete-model-default-config"


def doc(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_a_preset_is_named_by_the_name_inside_it() -> None:
    path = PRESETS / "coding-2.preset.json"
    assert needs_content(path)
    label = label_for(path, doc(identifier="@local:coding", name="Coding"))
    assert label == FileLabel(kind="preset", name="Coding")
    assert label.text == "Preset: Coding"
    assert label.phrase == "the preset Coding"
    # a BOM, as LM Studio writes on Windows
    assert label_for(path, b"\xef\xbb\xbf" + doc(name="Réponses")).text == "Preset: Réponses"


@pytest.mark.parametrize("content", [None, b"{not json", b"[1, 2]", doc(name=""), doc(name=3)])
def test_a_preset_without_a_readable_name_is_named_by_its_file(content: bytes | None) -> None:
    assert label_for(PRESETS / "coding-2.preset.json", content).text == "Preset: coding-2"


def test_a_load_profile_maps_its_hashed_file_name_back_to_the_model_key() -> None:
    path = PROFILES / profile_file_name("qwen/qwen3-4b")
    assert path.name.startswith("model-qwen_qwen3-4b-")  # the hash the user must not see
    assert needs_content(path)
    content = doc(version=1, model_key="qwen/qwen3-4b", profile={"context_length": 8192})
    label = label_for(path, content)
    assert label.text == "Load profile: qwen/qwen3-4b"
    assert label.phrase == "the load profile of qwen/qwen3-4b"
    # without the content: the readable part of the file name, never the hash
    assert label_for(path).text == "Load profile: qwen_qwen3-4b"


def test_the_default_load_profile() -> None:
    path = PROFILES / profile_file_name(None)
    label = label_for(path, doc(version=1, profile={}))
    assert label.text == "Load profile: default (every model)"
    assert label.phrase == "the default load profile"


def test_lm_studio_defaults_are_named_by_the_model_in_either_naming_scheme() -> None:
    by_key = DEFAULTS / "qwen" / "qwen3-4b.json"
    by_file = DEFAULTS / "lmstudio-community" / "Qwen3-4B-GGUF" / "Qwen3-4B-Q4_K_M.gguf.json"
    assert not needs_content(by_key)
    assert label_for(by_key).text == "LM Studio defaults: qwen/qwen3-4b"
    assert label_for(by_file).text == (
        "LM Studio defaults: lmstudio-community/Qwen3-4B-GGUF/Qwen3-4B-Q4_K_M.gguf"
    )
    assert label_for(by_key).phrase == "LM Studio's defaults for qwen/qwen3-4b"
    windows = PureWindowsPath(
        r"C:\Users\ann\.lmstudio\.internal", LMSTUDIO_DEFAULTS_FOLDER, "qwen", "qwen3-4b.json"
    )
    assert label_for(windows).text == "LM Studio defaults: qwen/qwen3-4b"


def test_mcp_json_and_anything_else_keep_their_file_name() -> None:
    assert label_for(HOME / ".lmstudio" / "mcp.json").text == "mcp.json"
    assert label_for(HOME / ".cache" / "lm-studio" / "mcp.json").text == "mcp.json"
    other = label_for(HOME / "notes" / "default.json")  # not in our profiles folder
    assert other == FileLabel(kind="file", name="default.json")
    assert not needs_content(HOME / "notes" / "default.json")
    assert label_for(PROFILES / "notes.json").kind == "file"


def test_the_order_is_presets_profiles_defaults_then_mcp_json() -> None:
    labels = [
        label_for(HOME / ".lmstudio" / "mcp.json"),
        label_for(DEFAULTS / "qwen" / "qwen3-4b.json"),
        label_for(PRESETS / "b.preset.json", doc(name="beta")),
        label_for(PROFILES / "default.json"),
        label_for(PRESETS / "a.preset.json", doc(name="Alpha")),
        label_for(PROFILES / profile_file_name("a/b"), doc(model_key="a/b")),
    ]
    assert [x.text for x in sorted(labels, key=lambda x: x.sort_key)] == [
        "Preset: Alpha",
        "Preset: beta",
        "Load profile: default (every model)",
        "Load profile: a/b",
        "LM Studio defaults: qwen/qwen3-4b",
        "mcp.json",
    ]


def test_the_folder_names_are_the_ones_the_stores_use() -> None:
    from tray.services.app_paths import AppPaths
    from tray.services.model_defaults import DEFAULTS_DIR

    assert AppPaths.default().load_profiles_dir.name == PROFILES_FOLDER
    assert AppPaths.demo(Path("/demo")).load_profiles_dir.name == PROFILES_FOLDER
    assert DEFAULTS_DIR.name == LMSTUDIO_DEFAULTS_FOLDER
    assert AppPaths.default().scenes_file.name == SCENES_FILE


def test_the_scenes_file_reads_as_scenes_after_the_load_profiles() -> None:
    label = label_for(Path("/cfg/lmstudio-tray") / SCENES_FILE)
    assert (label.text, label.phrase) == ("Scenes", "the scenes")
    profile = label_for(Path("/cfg/lmstudio-tray") / PROFILES_FOLDER / "default.json")
    mcp = label_for(Path("/home/u/.lmstudio/mcp.json"))
    assert profile.sort_key < label.sort_key < mcp.sort_key
