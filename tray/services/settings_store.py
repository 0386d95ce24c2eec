"""Loads and saves the user's settings file in the OS's config folder (via platformdirs).

A file that cannot be read is reported and left alone: we start from defaults and do not
overwrite it until the user changes a setting (then the broken file is kept as `.bak`).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import platformdirs
from pydantic import ValidationError

from tray.core.errors import FileParseError
from tray.core.settings import Settings, migrate
from tray.services.files import atomic_write, read_json

__all__ = ["SettingsStore", "default_settings_path"]

log = logging.getLogger(__name__)


def default_settings_path() -> Path:
    return Path(platformdirs.user_config_dir("lmstudio-tray", appauthor=False)) / "settings.json"


class SettingsStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_settings_path()
        self.problem: FileParseError | None = None

    def load(self) -> Settings:
        """The saved settings, or defaults (with `problem` set) when the file is unusable."""
        self.problem = None
        try:
            raw = read_json(self.path)
            if not isinstance(raw, dict):
                raise FileParseError(f"{self.path} should hold a JSON object.", path=self.path)
            return Settings.model_validate(migrate(raw))
        except FileNotFoundError:
            return Settings()
        except FileParseError as exc:
            self.problem = exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            self.problem = FileParseError(
                f"{self.path}: setting {where!r} is invalid ({first['msg']}); using defaults.",
                path=self.path,
            )
        log.warning("%s", self.problem)
        return Settings()

    def save(self, settings: Settings) -> None:
        if self.problem is not None and self.path.exists():
            backup = self.path.with_suffix(".json.bak")
            shutil.copy2(self.path, backup)
            log.warning("kept the unreadable settings file as %s", backup)
            self.problem = None
        data = json.dumps(settings.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
        atomic_write(self.path, data.encode("utf-8"), mode=0o600)
