"""Readable names for the files the history keeps — "Preset: Coding", "Load profile:
qwen/qwen3-4b", "LM Studio defaults: qwen/qwen3-4b", "mcp.json" — instead of the names on
disk, some of which carry a hash (a load profile is `model-qwen_qwen3-4b-1a2b3c4d.json`).

Pure: the path says what kind of file it is (a `*.preset.json`, a file in our
`load-profiles` folder, one under LM Studio's `user-concrete-model-default-config`, an
`mcp.json`); for presets and load profiles the name comes from the content — the preset's
`name`, the profile's `model_key` — which the caller reads from the history when
`needs_content` says so. Without content (or with content that does not parse) the file
name gives what it can.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tray.core.presets import PRESET_SUFFIX

__all__ = [
    "LMSTUDIO_DEFAULTS_FOLDER",
    "PROFILES_FOLDER",
    "SCENES_FILE",
    "FileKind",
    "FileLabel",
    "label_for",
    "needs_content",
]

# The folder our load profiles live in (`app_paths.AppPaths.load_profiles_dir`, under
# the OS's config folder) and LM Studio's per-model defaults folder (FORMATS §2.5); a test
# keeps these in step with the services that own the folders.
PROFILES_FOLDER = "load-profiles"
LMSTUDIO_DEFAULTS_FOLDER = "user-concrete-model-default-config"
SCENES_FILE = "scenes.json"  # `app_paths.AppPaths.scenes_file`
_PROFILE_FILE = re.compile(r"model-(?P<readable>.+)-[0-9a-f]{8}\.json")  # profile_file_name

FileKind = Literal["preset", "load_profile", "scenes", "lmstudio_defaults", "mcp", "file"]
_ORDER: dict[str, int] = {
    "preset": 0,
    "load_profile": 1,
    "scenes": 2,
    "lmstudio_defaults": 3,
    "mcp": 4,
    "file": 5,
}


class FileLabel(BaseModel):
    """What a tracked file is, in the user's words. `name` is the preset's name, the model
    key, or the file name; None for the default load profile."""

    model_config = ConfigDict(frozen=True)

    kind: FileKind
    name: str | None

    @property
    def text(self) -> str:
        """The title in a list: "Preset: Coding"."""
        if self.kind == "preset":
            return f"Preset: {self.name}"
        if self.kind == "load_profile":
            return f"Load profile: {self.name or 'default (every model)'}"
        if self.kind == "lmstudio_defaults":
            return f"LM Studio defaults: {self.name}"
        if self.kind == "scenes":
            return "Scenes"
        return str(self.name)

    @property
    def phrase(self) -> str:
        """The file inside a sentence: "Put back the preset Coding as it was …"."""
        if self.kind == "preset":
            return f"the preset {self.name}"
        if self.kind == "load_profile":
            return f"the load profile of {self.name}" if self.name else "the default load profile"
        if self.kind == "lmstudio_defaults":
            return f"LM Studio's defaults for {self.name}"
        if self.kind == "scenes":
            return "the scenes"
        return str(self.name)

    @property
    def sort_key(self) -> tuple[int, str]:
        """Presets first, then load profiles (the default first), LM Studio's defaults,
        `mcp.json`, anything else; by name within each."""
        return _ORDER[self.kind], (self.name or "").casefold()


def _kind(path: PurePath) -> FileKind:
    name = path.name
    if name.endswith(PRESET_SUFFIX):
        return "preset"
    if LMSTUDIO_DEFAULTS_FOLDER in path.parts[:-1] and name.endswith(".json"):
        return "lmstudio_defaults"
    if path.parent.name == PROFILES_FOLDER and (
        name == "default.json" or _PROFILE_FILE.fullmatch(name)
    ):
        return "load_profile"
    if name == "mcp.json":
        return "mcp"
    if name == SCENES_FILE:
        return "scenes"
    return "file"


def needs_content(path: PurePath) -> bool:
    """Whether `label_for` reads a name from the file's content (a preset, a profile)."""
    return _kind(path) in ("preset", "load_profile")


def _document(content: bytes | None) -> dict[str, Any]:
    if content is None:
        return {}
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def label_for(path: PurePath, content: bytes | None = None) -> FileLabel:
    """The readable label of the tracked file at `path`; `content` is its last recorded
    content (only read for presets and load profiles)."""
    kind = _kind(path)
    name = path.name
    if kind == "preset":
        title = _text(_document(content).get("name")) or name[: -len(PRESET_SUFFIX)] or name
        return FileLabel(kind=kind, name=title)
    if kind == "load_profile":
        if name == "default.json":
            return FileLabel(kind=kind, name=None)
        key = _text(_document(content).get("model_key"))
        match = _PROFILE_FILE.fullmatch(name)
        return FileLabel(kind=kind, name=key or (match["readable"] if match else name))
    if kind == "lmstudio_defaults":
        parts = path.parts
        inside = parts[len(parts) - parts[::-1].index(LMSTUDIO_DEFAULTS_FOLDER) :]
        model = "/".join(inside)
        return FileLabel(kind=kind, name=model.removesuffix(".json"))
    return FileLabel(kind=kind, name=name)
