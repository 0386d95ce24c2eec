"""Our scenes on disk: one file (`scenes.json` in the app's config folder), each save
written atomically, read back, and recorded in the file history with a message saying
what changed — like the load profiles beside it.

All calls block (disk I/O, the history's fsyncs); callers on the event loop use
`asyncio.to_thread`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import ValidationError

from tray.core.errors import ConfigError, FileParseError, FileWriteError, NotFound
from tray.core.scenes import FREE_GPU, Scene, ScenesFile, find_scene
from tray.core.words import quoted
from tray.services.files import atomic_write, read_json
from tray.services.history import FileHistory

__all__ = ["SceneStore"]

log = logging.getLogger(__name__)


class SceneStore:
    """The user's scenes, in `path`."""

    def __init__(self, path: Path, history: FileHistory | None = None) -> None:
        self.path = path
        self._history = history

    def list(self) -> list[Scene]:
        """The saved scenes, in their order (no file: none)."""
        return list(self._read().scenes)

    def get(self, name: str) -> Scene:
        """The scene called `name` ("Free GPU" is built in); `NotFound` names the others."""
        scenes = self.list()
        found = find_scene(scenes, name)
        if found is None:
            names = ", ".join(quoted(s.name) for s in scenes) or "none saved yet"
            raise NotFound(f"There is no scene {quoted(name)} (scenes: {names}; and {FREE_GPU}).")
        return found

    def save(self, scene: Scene, *, replacing: str | None = None, new: bool = False) -> str | None:
        """Add `scene`, or replace the one called `replacing` (a rename or an edit) keeping
        its place; returns the history commit (None without history). Without `replacing`
        a scene of the same name is replaced, unless `new` says the scene must not exist
        yet (a window's New or Duplicate): then the name clash is an error."""
        if scene.name.casefold() == FREE_GPU.casefold():
            raise ConfigError(f"{quoted(FREE_GPU)} is built in: give the scene another name.")
        current = self._read()
        scenes = list(current.scenes)
        old = replacing if replacing is not None else scene.name
        index = next((i for i, s in enumerate(scenes) if s.name.casefold() == old.casefold()), None)
        if new:
            index = None
        for i, other in enumerate(scenes):
            if i != index and other.name.casefold() == scene.name.casefold():
                raise ConfigError(f"A scene called {quoted(other.name)} exists already.")
        if index is None:
            scenes.append(scene)
            what = f"Scene {quoted(scene.name)} added"
        else:
            was = scenes[index].name
            scenes[index] = scene
            what = (
                f"Scene {quoted(was)} renamed {quoted(scene.name)}"
                if was != scene.name
                else f"Scene {quoted(scene.name)} changed"
            )
        return self._write(ScenesFile(scenes=tuple(scenes)), what)

    def delete(self, name: str) -> str | None:
        current = self._read()
        kept = tuple(s for s in current.scenes if s.name.casefold() != name.casefold())
        if len(kept) == len(current.scenes):
            raise NotFound(f"There is no saved scene {quoted(name)}.")
        return self._write(ScenesFile(scenes=kept), f"Scene {quoted(name)} deleted")

    # --- the file -----------------------------------------------------------------------

    def _read(self) -> ScenesFile:
        try:
            raw = read_json(self.path)
        except FileNotFoundError:
            return ScenesFile()
        try:
            return ScenesFile.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise FileParseError(
                f"{self.path} does not hold scenes ({where}: {first['msg']}). Fix it, or put "
                "back an earlier version from the history.",
                path=self.path,
            ) from None

    def _write(self, document: ScenesFile, message: str) -> str | None:
        if self.path.exists() and self._history is not None:
            # What is there (perhaps edited by hand) is kept before it is replaced.
            self._history.record(self.path, "Scenes before this app changed them", label="before")
        data = json.dumps(document.model_dump(mode="json", exclude_none=True), indent=2) + "\n"
        atomic_write(self.path, data.encode("utf-8"))
        if self._read() != document:  # re-read: what is on disk is what we meant
            raise FileWriteError(f"{self.path} did not read back as written.", path=self.path)
        log.info("%s", message)
        if self._history is None:
            return None
        return self._history.record(self.path, message)
