"""Finds LM Studio's home folder and reads the files in it that the tray needs.

Read-only: LM Studio writes `~/.lmstudio-home-pointer` when it resolves its home; we never
do, so a machine without LM Studio stays untouched.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import ValidationError

from tray.core.errors import FileParseError
from tray.core.home import POINTER_FILE_NAME, HomeLocation, resolve_home
from tray.core.server_config import HttpServerConfig
from tray.services.files import read_json, read_text

__all__ = [
    "count_model_default_configs",
    "count_presets",
    "current_server_config",
    "locate_home",
    "mcp_file",
    "presets_dir",
    "read_server_config",
    "server_config_path",
]


def _user_home() -> Path:
    # LM Studio uses realpath(os.homedir()); HOME decides on POSIX as it does for Node.
    return Path(os.path.realpath(Path.home()))


def locate_home(override: Path | None = None) -> HomeLocation:
    user_home = _user_home()
    pointer = user_home / POINTER_FILE_NAME
    try:
        pointer_content: str | None = read_text(pointer)
    except (FileNotFoundError, FileParseError):
        pointer_content = None
    path, source = resolve_home(
        user_home=user_home,
        pointer_content=pointer_content,
        legacy_cache_exists=(user_home / ".cache" / "lm-studio").is_dir(),
        override=override.expanduser() if override is not None else None,
    )
    return HomeLocation(path=path, source=source, exists=path.is_dir(), pointer_file=pointer)


def server_config_path(home: Path) -> Path:
    return home / ".internal" / "http-server-config.json"


def read_server_config(home: Path) -> HttpServerConfig | None:
    """The server settings, or None when LM Studio has not written them yet.

    Raises FileParseError when the file exists but cannot be understood.
    """
    path = server_config_path(home)
    try:
        raw = read_json(path)
    except FileNotFoundError:
        return None
    if not isinstance(raw, dict):
        raise FileParseError(f"{path} should hold a JSON object.", path=path)
    try:
        return HttpServerConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FileParseError(f"{path}: {where}: {first['msg']}.", path=path) from exc


async def current_server_config(home: Path) -> HttpServerConfig | None:
    """LM Studio's server settings as they are now, read in a thread (the tray asks at
    every status look; the CLI once): None when missing. Raises FileParseError."""
    return await asyncio.to_thread(read_server_config, home)


def presets_dir(home: Path) -> Path:
    """LM Studio's config presets (`*.preset.json`, FORMATS.md §2.3)."""
    return home / "config-presets"


def mcp_file(home: Path) -> Path:
    """LM Studio's MCP server list (FORMATS.md §2.2)."""
    return home / "mcp.json"


def count_presets(home: Path) -> int:
    folder = presets_dir(home)
    return sum(1 for _ in folder.glob("*.preset.json")) if folder.is_dir() else 0


def count_model_default_configs(home: Path) -> int:
    folder = home / ".internal" / "user-concrete-model-default-config"
    return sum(1 for _ in folder.rglob("*.json")) if folder.is_dir() else 0
