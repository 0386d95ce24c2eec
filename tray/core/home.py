"""How LM Studio finds its home folder, as a pure decision over facts about the disk.

LM Studio (`findLMStudioHome.ts`, FORMATS.md §1.1): the pointer file
`realpath(~)/.lmstudio-home-pointer` wins (its content, trimmed); else `~/.cache/lm-studio`
if it exists; else `~/.lmstudio`. LM Studio then writes the pointer; we never do.
The reading of the disk lives in `tray.services.lmstudio_home`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path, PurePath

from pydantic import BaseModel, ConfigDict

__all__ = ["POINTER_FILE_NAME", "HomeLocation", "HomeSource", "resolve_home"]

POINTER_FILE_NAME = ".lmstudio-home-pointer"


class HomeSource(StrEnum):
    OVERRIDE = "override"  # --home or the setting
    POINTER = "pointer"  # ~/.lmstudio-home-pointer
    LEGACY_CACHE = "legacy-cache"  # ~/.cache/lm-studio exists
    DEFAULT = "default"  # ~/.lmstudio


class HomeLocation(BaseModel):
    """Where the LM Studio home is, and how we know."""

    model_config = ConfigDict(frozen=True)

    path: Path
    source: HomeSource
    exists: bool
    pointer_file: Path

    def describe(self) -> str:
        how = {
            HomeSource.OVERRIDE: "set with --home or in Settings",
            HomeSource.POINTER: f"named by {self.pointer_file}",
            HomeSource.LEGACY_CACHE: "the legacy ~/.cache/lm-studio folder",
            HomeSource.DEFAULT: "the default ~/.lmstudio",
        }[self.source]
        state = "" if self.exists else " (does not exist)"
        return f"{self.path}{state} — {how}"


def resolve_home(
    *,
    user_home: PurePath,
    pointer_content: str | None,
    legacy_cache_exists: bool,
    override: PurePath | None = None,
) -> tuple[Path, HomeSource]:
    """Decide the home path the way LM Studio does.

    `user_home` is `realpath(os.homedir())`; `pointer_content` is the pointer file's text,
    or None when the file is absent or unreadable. An empty pointer is treated as absent,
    as LM Studio would fail to use it.
    """
    if override is not None:
        return Path(override), HomeSource.OVERRIDE
    if pointer_content is not None and pointer_content.strip():
        return Path(pointer_content.strip()), HomeSource.POINTER
    if legacy_cache_exists:
        return Path(user_home) / ".cache" / "lm-studio", HomeSource.LEGACY_CACHE
    return Path(user_home) / ".lmstudio", HomeSource.DEFAULT
