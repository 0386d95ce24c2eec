"""Loads and saves the user's settings file in the app's config folder (`AppPaths`).

A file that cannot be read is reported and left alone: we start from defaults and do not
overwrite it until the user changes a setting (then the broken file is kept as `.bak`).

The tray and the CLI share the file, so a save never writes a whole snapshot over what
another process wrote: `SettingsService.update` re-reads the file and applies only what this
process changed (`tray.core.settings_merge`), and writes only if the file is still what it
read (compare-and-swap, tried again when it is not). The tray takes outside changes live:
`SettingsService.watch` hands the file to its `FileWatcher`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from tray.core.errors import FileParseError
from tray.core.settings import Settings, migrate
from tray.core.settings_merge import merge_settings
from tray.core.words import quoted
from tray.services.app_paths import AppPaths
from tray.services.files import atomic_write, json_of, read_bytes, sha256_hex

if TYPE_CHECKING:
    from tray.services.file_watch import FileChange, FileWatcher

__all__ = ["SettingsService", "SettingsSnapshot", "SettingsStore"]

log = logging.getLogger(__name__)

SAVE_ATTEMPTS = 5  # another process writing at the very moment we do: merge again


@dataclass(frozen=True)
class SettingsSnapshot:
    """What the file holds at one moment: the settings (defaults when it is missing or
    unusable), the SHA-256 of its bytes (None: no file) and why it is unusable."""

    settings: Settings
    sha256: str | None
    problem: FileParseError | None = None


class SettingsStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or AppPaths.default().settings_file
        self.problem: FileParseError | None = None
        self.sha256: str | None = None  # of the bytes last read or written through `load`/`save`

    def read(self) -> SettingsSnapshot:
        """The file now, without changing this store (safe from a worker thread)."""
        try:
            data = read_bytes(self.path)
        except FileNotFoundError:
            return SettingsSnapshot(Settings(), None)
        except FileParseError as exc:
            return SettingsSnapshot(Settings(), None, exc)
        digest = sha256_hex(data)
        try:
            raw = json_of(data, self.path)
            if not isinstance(raw, dict):
                raise FileParseError(f"{self.path} should hold a JSON object.", path=self.path)
            return SettingsSnapshot(Settings.model_validate(migrate(raw)), digest)
        except FileParseError as exc:
            problem = exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            problem = FileParseError(
                f"{self.path}: the setting {quoted(where)} is invalid ({first['msg']}), so the "
                "defaults are used.",
                path=self.path,
            )
        return SettingsSnapshot(Settings(), digest, problem)

    def load(self) -> Settings:
        """The saved settings, or defaults (with `problem` set) when the file is unusable."""
        return self.take(self.read())

    def take(self, snapshot: SettingsSnapshot) -> Settings:
        """Make `snapshot` what this store last read."""
        self.problem, self.sha256 = snapshot.problem, snapshot.sha256
        if snapshot.problem is not None:
            log.warning("%s", snapshot.problem)
        return snapshot.settings

    def save(self, settings: Settings) -> None:
        """Write `settings` (a file that could not be read is kept as `.bak` first)."""
        if self.problem is not None and self.path.exists():
            backup = self.path.with_suffix(".json.bak")
            shutil.copy2(self.path, backup)
            log.warning("kept the unreadable settings file as %s", backup)
            self.problem = None
        data = json.dumps(settings.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
        atomic_write(self.path, data.encode("utf-8"), mode=0o600)
        self.sha256 = sha256_hex(data.encode("utf-8"))

    def save_if_unchanged(self, settings: Settings, sha256: str | None) -> bool:
        """`save`, only if the file still has the bytes hashed `sha256` (None: no file);
        False, and nothing written, when another process changed it meanwhile."""
        try:
            now: str | None = sha256_hex(read_bytes(self.path))
        except (FileNotFoundError, FileParseError):  # as `read` sees it: no usable bytes
            now = None
        if now != sha256:
            return False
        self.save(settings)
        return True


class SettingsService:
    """The live settings of one process, changed only through `update`, which validates the
    whole result, saves it (merged with what other processes wrote meanwhile) and tells the
    listeners; `watch` / `reload_if_changed` take other processes' changes."""

    def __init__(self, store: SettingsStore) -> None:
        self.store = store
        self.settings = store.load()
        self._base = self.settings  # what the file held when this process last read or wrote
        self._listeners: list[Callable[[Settings], None]] = []

    @property
    def problem(self) -> FileParseError | None:
        return self.store.problem

    def subscribe(self, listener: Callable[[Settings], None]) -> None:
        self._listeners.append(listener)

    def update(self, change: Callable[[Settings], None]) -> Settings:
        """Apply `change` to a copy; if the result is valid, save it and make it current.

        Only what `change` changed is saved: the file is read again and another process's
        changes since this one last read it are kept (on the same field, this change wins).
        Raises pydantic's ValidationError (nothing saved) or FileWriteError (nothing
        changed in memory either).
        """
        draft = self.settings.model_copy(deep=True)
        change(draft)
        mine = Settings.model_validate(draft.model_dump())
        new = mine
        for _ in range(SAVE_ATTEMPTS):
            now = self.store.read()
            new = self._onto(mine, now)
            if self.store.save_if_unchanged(new, now.sha256):
                break
        else:  # the file keeps changing under us: this change, as merged last
            self.store.save(new)
        self._publish(new)
        return new

    def _onto(self, mine: Settings, now: SettingsSnapshot) -> Settings:
        """This process's change put onto the file as it is `now`."""
        if now.sha256 == self.store.sha256:
            return mine  # nobody else wrote since we last read or wrote it
        if now.problem is not None:
            self.store.problem = now.problem  # unusable: saved over, kept as .bak
            return mine
        merged = merge_settings(self._base, mine, now.settings)
        for field in merged.conflicts:
            log.info("settings: %s was changed by another process too; keeping this one", field)
        return merged.settings

    def reload_if_changed(self) -> bool:
        """Take the file as it is now if another process changed it (True); an unusable
        file is reported and the settings in use are kept."""
        return self._take(self.store.read())

    def watch(self, watcher: FileWatcher) -> Callable[[], None]:
        """Take outside changes of the file as they happen (read in a worker thread);
        returns the call that stops it."""
        return watcher.watch_file(self.store.path, self._changed_outside)

    async def _changed_outside(self, change: FileChange) -> None:
        known = self.store.sha256
        now = await asyncio.to_thread(self.store.read)
        if self.store.sha256 == known:  # else an update meanwhile merged it already
            self._take(now)

    def _take(self, now: SettingsSnapshot) -> bool:
        if now.sha256 == self.store.sha256:
            return False
        if now.problem is not None:
            log.warning(
                "settings changed outside the tray, but %s; keeping the settings in use",
                now.problem.message,
            )
            return False
        self.store.take(now)
        log.info("settings: taken the changes another process saved")
        self._publish(now.settings)
        return True

    def _publish(self, settings: Settings) -> None:
        self._base = self.settings = settings
        for listener in self._listeners:
            listener(settings)
