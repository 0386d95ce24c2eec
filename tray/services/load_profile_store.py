"""Our load profiles on disk: one JSON file per profile (`default.json`, and one per model
with an override) in the app's config folder, each save written atomically, re-read and
recorded in the file history with a message saying what changed.

All calls block (disk I/O, the history's fsyncs); callers on the event loop use
`asyncio.to_thread`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from tray.core.errors import ConfigError, FileParseError, FileWriteError
from tray.core.load_profiles import (
    FIELD_WORDS,
    PROFILE_FIELDS,
    LoadProfile,
    effective,
    profile_file_name,
    validate_profile,
)
from tray.services.app_paths import AppPaths
from tray.services.files import atomic_write, read_json
from tray.services.history import FileHistory

__all__ = ["LoadProfileStore", "ProfileEntry", "ProfileFile"]

log = logging.getLogger(__name__)


class ProfileFile(BaseModel):
    """What one of our profile files holds (the model key is inside, since file names are
    made safe and cannot be turned back into keys)."""

    model_config = ConfigDict(extra="ignore")

    version: int = 1
    model_key: str | None = None  # None: the default profile
    profile: LoadProfile = LoadProfile()


class ProfileEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_key: str | None
    profile: LoadProfile
    path: Path


class LoadProfileStore:
    """The default profile and per-model overrides, in `folder` (default: the app's)."""

    def __init__(self, folder: Path | None = None, history: FileHistory | None = None) -> None:
        self.folder = folder if folder is not None else AppPaths.default().load_profiles_dir
        self._history = history

    def path_for(self, model_key: str | None) -> Path:
        return self.folder / profile_file_name(model_key)

    # --- reading ---------------------------------------------------------------------

    def _read(self, path: Path) -> ProfileFile | None:
        try:
            raw = read_json(path)
        except FileNotFoundError:
            return None
        try:
            return ProfileFile.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise FileParseError(
                f"{path} is not a load profile ({where}: {first['msg']}). Fix or delete it; "
                "its earlier versions are in the file history.",
                path=path,
            ) from None

    def default(self) -> LoadProfile:
        found = self._read(self.path_for(None))
        return found.profile if found is not None else LoadProfile()

    def for_model(self, model_key: str) -> LoadProfile | None:
        found = self._read(self.path_for(model_key))
        return found.profile if found is not None else None

    def effective(self, model_key: str) -> LoadProfile:
        """What a load of `model_key` uses: its override over the default."""
        return effective(self.default(), self.for_model(model_key))

    def list(self) -> list[ProfileEntry]:
        """The default (always, even before it was saved) and every override, by key.
        Unreadable files are skipped (and logged)."""
        entries = [ProfileEntry(model_key=None, profile=self.default(), path=self.path_for(None))]
        if not self.folder.is_dir():
            return entries
        overrides = []
        for path in sorted(self.folder.glob("model-*.json")):
            try:
                found = self._read(path)
            except ConfigError as exc:
                log.warning("skipping load profile %s: %s", path.name, exc.message)
                continue
            if found is not None and found.model_key is not None:
                overrides.append(
                    ProfileEntry(model_key=found.model_key, profile=found.profile, path=path)
                )
        return entries + sorted(overrides, key=lambda e: (e.model_key or "").lower())

    # --- writing ---------------------------------------------------------------------

    def save(self, profile: LoadProfile, model_key: str | None = None) -> str | None:
        """Write the default profile (`model_key` None) or a model's override; returns the
        history commit (None without history)."""
        problems = validate_profile(profile.model_dump(), is_default=model_key is None)
        if problems:
            raise ConfigError(" ".join(problems.values()), path=self.path_for(model_key))
        path = self.path_for(model_key)
        old = self._read_quietly(path)
        document = ProfileFile(model_key=model_key, profile=profile)
        data = json.dumps(document.model_dump(mode="json", exclude_none=True), indent=2) + "\n"
        if old is not None:
            self._record(path, f"{_whose(model_key)} before this app changed it", label="before")
        atomic_write(path, data.encode("utf-8"))
        if self._read(path) != document:  # re-read: what is on disk is what we meant
            raise FileWriteError(f"{path} did not read back as written.", path=path)
        message = f"{_whose(model_key)}: {change_summary(old, profile)}"
        log.info("saved %s", message)
        return self._record(path, message)

    def delete(self, model_key: str) -> str | None:
        """Remove a model's override (its last version stays in the history)."""
        path = self.path_for(model_key)
        if not path.exists():
            return None
        # Its content first (it may have been edited by hand since), then the deletion.
        self._record(path, f"{_whose(model_key)} before this app deleted it", label="before")
        try:
            path.unlink()
        except OSError as exc:
            raise FileWriteError(
                f"Could not delete {path}: {exc.strerror or exc}.", path=path
            ) from exc
        log.info("deleted the load profile of %s", model_key)
        if self._history is None:
            return None
        return self._history.record_deletion(path, f"{_whose(model_key)}: deleted")

    def _read_quietly(self, path: Path) -> LoadProfile | None:
        try:
            found = self._read(path)
        except ConfigError:
            return LoadProfile()  # unreadable: it is recorded before being replaced
        return found.profile if found is not None else None

    def _record(self, path: Path, message: str, *, label: str | None = None) -> str | None:
        if self._history is None:
            return None
        return self._history.record(path, message, label=label)


def _whose(model_key: str | None) -> str:
    return "Default load profile" if model_key is None else f"Load profile of {model_key}"


def change_summary(old: LoadProfile | None, new: LoadProfile) -> str:
    """ "context length 4,096 → 8,192, flash attention not set → on" (or "created")."""
    before = old if old is not None else LoadProfile()
    parts = []
    for name in PROFILE_FIELDS:
        a, b = before.value_text(name), new.value_text(name)
        if a != b:
            parts.append(f"{FIELD_WORDS[name]} {a} → {b}")
    if before.write_lmstudio_defaults != new.write_lmstudio_defaults:
        parts.append(
            "writes LM Studio's own default"
            if new.write_lmstudio_defaults
            else "no longer writes LM Studio's own default"
        )
    if old is None:
        return "created" + (f" ({', '.join(parts)})" if parts else "")
    return ", ".join(parts) if parts else "saved unchanged"
