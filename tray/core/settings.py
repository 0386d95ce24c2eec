"""The user's settings: a versioned pydantic model and pure migrations between versions.

Secrets never live here (tokens go to the OS keyring). Unknown keys written by a newer
version are kept, so downgrading and upgrading again loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SCHEMA_VERSION", "ServerStartOptions", "Settings", "migrate"]

SCHEMA_VERSION = 1


class ServerStartOptions(BaseModel):
    """What `lms server start` was last given; `lms` forgets CORS unless told each time."""

    model_config = ConfigDict(extra="allow")

    port: int | None = Field(default=None, ge=0, le=65535)
    bind: str | None = None
    cors: bool = False


class Settings(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    server_url: str | None = Field(
        default=None, description="LM Studio server; None = read LM Studio's own settings"
    )
    home: Path | None = Field(
        default=None, description="LM Studio home; None = as LM Studio finds it"
    )
    lms_path: Path | None = Field(default=None, description="`lms` executable; None = search")
    server_start: ServerStartOptions = Field(default_factory=ServerStartOptions)


# Each entry upgrades a raw dict from version N to N+1; pure, tested one by one.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring a settings dict of any older schema version up to SCHEMA_VERSION."""
    data = dict(raw)
    version = int(data.get("schema_version", 0) or 0)
    if version == 0:
        data["schema_version"] = version = 1
    while version < SCHEMA_VERSION:
        data = _MIGRATIONS[version](data)
        version += 1
        data["schema_version"] = version
    return data
