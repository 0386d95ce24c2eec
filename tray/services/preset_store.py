"""LM Studio's config presets on disk: `<home>/config-presets/*.preset.json`.

Every write goes through `atomic_write` and is recorded in the tray's `FileHistory` (the
version found before our change too, so each step can be undone), with a message that says
what changed. A save names the hash of the bytes the editor started from and is refused
with `PresetChanged` when the file no longer has it: an outside change (LM Studio writing
the preset) is never overwritten silently. An unparsable file is listed with its error and
never rewritten. All calls block; callers on the event loop use `asyncio.to_thread`.
"""

from __future__ import annotations

import builtins
import logging
import os
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tray.core.errors import (
    ConfigError,
    FileParseError,
    FileWriteError,
    InvalidPreset,
    NotFound,
    PresetChanged,
)
from tray.core.presets import (
    PRESET_SUFFIX,
    Preset,
    describe_changes,
    edited_fields,
    preset_file_name,
    sha256_of,
    unique_name,
    validate,
)
from tray.core.words import quoted
from tray.services.files import atomic_write, read_bytes
from tray.services.history import FileHistory

__all__ = ["DeletedPreset", "PresetStore", "PresetSummary"]

log = logging.getLogger(__name__)


class PresetSummary(BaseModel):
    """One file of the folder; `error` is set (and name is the file's stem) when it cannot
    be read as a preset."""

    model_config = ConfigDict(frozen=True)

    file_name: str
    path: Path
    name: str
    identifier: str | None = None
    sha256: str | None = None
    error: str | None = None


class DeletedPreset(BaseModel):
    """What `delete` did and how to undo it."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: Path
    commit: str

    @property
    def restore_hint(self) -> str:
        return (
            f"Preset {quoted(self.name)} was deleted; its last version is kept in the tray's "
            f"history ({self.commit[:12]}). To bring it back: "
            f'lmstudio-tray history restore "{self.path}" {self.commit[:12]}'
        )


def _stem(file_name: str) -> str:
    return file_name[: -len(PRESET_SUFFIX)] if file_name.endswith(PRESET_SUFFIX) else file_name


class PresetStore:
    """The presets in `folder` (LM Studio's `config-presets`), with history."""

    def __init__(self, folder: Path, history: FileHistory) -> None:
        self.folder = Path(folder)
        self.history = history

    # --- reading ------------------------------------------------------------------------

    def _files(self) -> list[Path]:
        try:
            entries = list(self.folder.iterdir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigError(
                f"Could not read the presets folder {self.folder}: {exc.strerror}.",
                path=self.folder,
            ) from exc
        return sorted(
            (p for p in entries if p.name.endswith(PRESET_SUFFIX) and p.is_file()),
            key=lambda p: p.name.casefold(),
        )

    def list(self) -> list[PresetSummary]:
        found: list[PresetSummary] = []
        for path in self._files():
            try:
                data = read_bytes(path)
                preset = Preset.parse(data, origin=path.name)
            except FileParseError as exc:
                found.append(
                    PresetSummary(
                        file_name=path.name, path=path, name=_stem(path.name), error=exc.message
                    )
                )
                continue
            except FileNotFoundError:
                continue  # removed while we listed
            found.append(
                PresetSummary(
                    file_name=path.name,
                    path=path,
                    name=preset.name or _stem(path.name),
                    identifier=preset.identifier,
                    sha256=sha256_of(data),
                )
            )
        found.sort(key=lambda s: s.name.casefold())
        return found

    def path_of(self, name: str) -> Path:
        """The file of the preset called `name` (display name, file stem, file name or
        identifier)."""
        summaries = self.list()
        matchers: tuple[Callable[[PresetSummary], bool], ...] = (
            lambda s: s.name == name,
            lambda s: s.name.casefold() == name.casefold(),
            lambda s: s.file_name == name or _stem(s.file_name) == name,
            lambda s: s.identifier is not None and s.identifier == name,
        )
        for match in matchers:
            hits = [s for s in summaries if match(s)]
            if hits:
                return hits[0].path
        known = ", ".join(quoted(s.name) for s in summaries) or "none"
        raise NotFound(
            f"There is no preset {quoted(name)} in {self.folder} (presets: {known}).",
            path=self.folder,
        )

    def load(self, name: str) -> Preset:
        return self.load_path(self.path_of(name))

    def load_path(self, path: Path) -> Preset:
        try:
            data = read_bytes(path)
        except FileNotFoundError:
            raise NotFound(f"The preset file {path} no longer exists.", path=path) from None
        try:
            return Preset.parse(data, origin=path.name)
        except FileParseError as exc:
            raise FileParseError(
                f"{path.name}: {exc.message}", path=path, line=exc.line, column=exc.column
            ) from None

    def current_sha256(self, path: Path) -> str | None:
        """The hash of the file now (None: it does not exist)."""
        try:
            return sha256_of(read_bytes(path))
        except FileNotFoundError:
            return None

    def _taken(self, *, besides: Path | None = None) -> builtins.list[str]:
        names: builtins.list[str] = []
        for s in self.list():
            if besides is not None and s.path == besides:
                continue
            names += [s.name, s.file_name]
        return names

    # --- writing ------------------------------------------------------------------------

    def _record_before(self, path: Path, what: str) -> None:
        """Keep the version found on disk before we change it (a no-op if recorded)."""
        if path.exists():
            self.history.record(path, what, label="before")

    def _record_after(self, path: Path, message: str) -> None:
        try:
            self.history.record(path, message)
        except ConfigError as exc:  # the file is saved; the next record catches up
            log.warning("saved %s but could not record it in the history: %s", path, exc.message)

    def _record_deletion(self, path: Path, message: str) -> None:
        try:
            self.history.record_deletion(path, message)
        except ConfigError as exc:  # its last version is recorded; only the mark is missing
            log.warning("deleted %s but could not record that: %s", path, exc.message)

    def _write(self, path: Path, preset: Preset, message: str) -> Preset:
        data = preset.to_bytes()
        atomic_write(path, data)
        self._record_after(path, message)
        return Preset.parse(data, origin=path.name)

    def save(self, preset: Preset, *, expected_sha256: str | None) -> Preset:
        """Write `preset` over the file it was read from; returns it as now on disk.

        `expected_sha256` is the hash of the bytes the edit started from (`preset.sha256`
        of what `load` gave); a file that no longer has it raises `PresetChanged` and is
        left alone. Only the fields the edit changed are validated (a value another
        program wrote does not block an unrelated edit)."""
        if preset.origin is None:
            raise ConfigError("This preset has no file yet; create it first.")
        path = self.folder / preset.origin
        if self.current_sha256(path) != expected_sha256:
            raise PresetChanged(
                f"{path.name} was changed outside LM Studio Tray since it was opened, so it "
                "was not saved. Reload it, or merge your edits with the new version.",
                path=path,
            )
        before = self.load_path(path)
        touched = edited_fields(before, preset)
        problems = validate(preset, taken_names=self._taken(besides=path), only=touched)
        if problems:
            raise InvalidPreset([(p.field, p.message) for p in problems], path=path)
        changes = describe_changes(before, preset)
        if not changes and not preset.changed:
            return before
        self._record_before(path, f"Preset {quoted(before.name)} before the tray changed it")
        summary = ", ".join(changes) or "saved"
        return self._write(path, preset, f"Preset {quoted(preset.name)}: {summary}")

    def _new_file(self, preset: Preset, message: str) -> Preset:
        problems = validate(preset, taken_names=self._taken())
        if problems:
            raise InvalidPreset([(p.field, p.message) for p in problems])
        path = self.folder / preset_file_name(preset.name)
        if path.exists():  # a name that differs only in characters a file name cannot hold
            raise InvalidPreset(
                [("name", f"The file {path.name} already exists; choose another name.")],
                path=path,
            )
        return self._write(path, preset, message)

    def create(self, name: str) -> Preset:
        """A new, empty local preset called `name`."""
        return self._new_file(Preset.new(name.strip()), f"Preset {quoted(name.strip())} created")

    def duplicate(self, name: str, new_name: str) -> Preset:
        source = self.load(name)
        copy = source.as_new()
        copy.rename(new_name.strip())
        return self._new_file(
            copy, f"Preset {quoted(new_name.strip())} created as a copy of {quoted(name)}"
        )

    def rename(self, name: str, new_name: str) -> Preset:
        """New name, identifier (for a local preset) and file name; the old file's last
        version stays in the history."""
        path = self.path_of(name)
        preset = self.load_path(path)
        old_name = preset.name
        new_name = new_name.strip()
        preset.rename(new_name)
        problems = validate(preset, taken_names=self._taken(besides=path), only=["name"])
        if problems:
            raise InvalidPreset([(p.field, p.message) for p in problems], path=path)
        target = self.folder / preset_file_name(new_name)
        message = f"Preset {quoted(old_name)} renamed to {quoted(new_name)}"
        self._record_before(
            path, f"Preset {quoted(old_name)} before it was renamed to {quoted(new_name)}"
        )
        if target.name == path.name:
            return self._write(path, preset, message)
        if target.name.casefold() == path.name.casefold():
            # Only the case changes: on Windows and macOS both names are one file, so
            # write it in place and rename it (writing the new then deleting the old
            # would delete it).
            atomic_write(path, preset.to_bytes())
            self._replace(path, target)
            self._record_after(target, message)
            return self.load_path(target)
        if target.exists():
            raise InvalidPreset(
                [("name", f"The file {target.name} already exists; choose another name.")],
                path=target,
            )
        written = self._write(target, preset, message)
        self._unlink(path)
        self._record_deletion(path, f"{path.name} renamed to {target.name}")
        return written

    def delete(self, name: str) -> DeletedPreset:
        """Remove the file after recording its last version; the result says how to
        restore it."""
        path = self.path_of(name)
        display = self.load_path(path).name if self._parses(path) else _stem(path.name)
        commit = self.history.record(path, f"Preset {quoted(display)} as it was before deleting it")
        self._unlink(path)
        self._record_deletion(path, f"Preset {quoted(display)} deleted")
        return DeletedPreset(name=display, path=path, commit=commit)

    def import_file(self, source: Path) -> Preset:
        """Copy a preset file into the folder; a name in use gets " 2", " 3"…"""
        try:
            data = read_bytes(Path(source))
        except FileNotFoundError:
            raise NotFound(f"{source} does not exist.", path=Path(source)) from None
        try:
            preset = Preset.parse(data)
        except FileParseError as exc:
            raise FileParseError(
                f"{Path(source).name} is not a preset: {exc.message}", path=Path(source)
            ) from None
        wanted = preset.name.strip() or _stem(Path(source).name)
        name = unique_name(wanted, self._taken())
        imported = preset.as_new()
        if name != preset.name:
            imported.rename(name)
        return self._new_file(imported, f"Preset {quoted(name)} imported from {Path(source).name}")

    def export(self, name: str, target: Path) -> Path:
        """Copy the preset's file, byte for byte, to `target` (a file the user chose)."""
        path = self.path_of(name)
        atomic_write(Path(target), read_bytes(path))
        return Path(target)

    # --- helpers ------------------------------------------------------------------------

    def _parses(self, path: Path) -> bool:
        try:
            self.load_path(path)
        except (FileParseError, ConfigError):
            return False
        return True

    @staticmethod
    def _unlink(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise FileWriteError(
                f"Could not delete {path}: {exc.strerror}. The file is unchanged.", path=path
            ) from exc

    @staticmethod
    def _replace(src: Path, dst: Path) -> None:
        try:
            os.replace(src, dst)
        except OSError as exc:
            raise FileWriteError(
                f"Could not rename {src.name} to {dst.name}: {exc.strerror}.", path=src
            ) from exc
