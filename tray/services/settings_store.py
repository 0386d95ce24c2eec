"""Loads and saves the user's settings file in the app's config folder (`AppPaths`).

A file that cannot be read is reported and left alone: we start from defaults and do not
overwrite it until the user changes a setting (then the broken file is kept as `.bak`).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from tray.core.errors import FileParseError
from tray.core.settings import Settings, migrate
from tray.services.app_paths import AppPaths
from tray.services.files import atomic_write, read_json

__all__ = ["SettingsService", "SettingsStore"]

log = logging.getLogger(__name__)


class SettingsStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or AppPaths.default().settings_file
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


class SettingsService:
    """The live settings of one process: read once, changed only through `update`, which
    validates the whole result, saves it atomically and tells the listeners."""

    def __init__(self, store: SettingsStore) -> None:
        self.store = store
        self.settings = store.load()
        self._listeners: list[Callable[[Settings], None]] = []

    @property
    def problem(self) -> FileParseError | None:
        return self.store.problem

    def subscribe(self, listener: Callable[[Settings], None]) -> None:
        self._listeners.append(listener)

    def update(self, change: Callable[[Settings], None]) -> Settings:
        """Apply `change` to a copy; if the result is valid, save it and make it current.

        Raises pydantic's ValidationError (nothing saved) or FileWriteError (nothing
        changed in memory either).
        """
        draft = self.settings.model_copy(deep=True)
        change(draft)
        new = Settings.model_validate(draft.model_dump())
        self.store.save(new)
        self.settings = new
        for listener in self._listeners:
            listener(new)
        return new
