"""Recording changes made by others to the files we keep a history of.

`OutsideChangeRecorder` asks the `FileWatcher` to watch each tracked file or folder and
records every change it reports as "changed outside the app" (a vanished file as a
deletion). Wiring: `track(...)`/`track_folder(...)`, `await watcher.start()`, then
`await recorder.catch_up()` (again after tracking more later).

Our own writes never reach it (the watcher ignores this process's `atomic_write`s), and
`FileHistory.record` skips content equal to the last version, so a change is never
recorded twice. When tracking starts (`catch_up`), the file's current content is compared
with its last version: a change made while the tray was not running is recorded then, and
a file seen for the first time gets its first version.

History calls block (disk, fsync): they run in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from tray.core.errors import TrayError
from tray.services.file_watch import FileChange, FileWatcher
from tray.services.history import FileHistory

__all__ = ["OutsideChangeRecorder"]

log = logging.getLogger(__name__)

Listener = Callable[[Path], None]


class OutsideChangeRecorder:
    """Record outside changes of tracked files and folders in `history`."""

    def __init__(
        self, history: FileHistory, watcher: FileWatcher, *, on_recorded: Listener | None = None
    ) -> None:
        self._history = history
        self._watcher = watcher
        self._on_recorded = on_recorded
        self._removers: dict[tuple[Path, str | None], Callable[[], None]] = {}
        self._pending: list[tuple[Path, str | None]] = []  # tracked, not caught up yet

    def track(self, path: Path) -> None:
        """Keep `path`'s history: every outside change from now on (see `catch_up`)."""
        path = Path(path).absolute()
        if (path, None) not in self._removers:
            self._removers[(path, None)] = self._watcher.watch_file(path, self._changed)
            self._pending.append((path, None))

    def track_folder(self, folder: Path, suffix: str | None = None) -> None:
        """Keep the history of every file directly in `folder` whose name ends with
        `suffix` (e.g. ".preset.json"), including files added or removed later."""
        folder = Path(folder).absolute()
        if (folder, suffix or "") not in self._removers:
            self._removers[(folder, suffix or "")] = self._watcher.watch_folder(
                folder, self._changed, suffix=suffix
            )
            self._pending.append((folder, suffix or ""))

    async def catch_up(self) -> None:
        """Bring the history of what `track`/`track_folder` added since the last call up to
        the files' current state: a first version for a file seen for the first time, an
        "outside" version for a change (or deletion) made while the tray was not running.

        Call it once the watcher has started (changes from then on are reported); a
        change made between the two is recorded either way, never lost."""
        pending, self._pending = self._pending, []
        for path, suffix in pending:
            if suffix is None:
                await self._catch_up(path)
                continue
            for file in await asyncio.to_thread(_files_in, path, suffix):
                await self._catch_up(file)
            for tracked in await asyncio.to_thread(self._history.tracked):
                # files of this folder recorded earlier, deleted while we were not running
                in_folder = tracked.path.parent == path and tracked.path.name.endswith(suffix)
                if in_folder and not tracked.deleted and not tracked.path.exists():
                    await self._catch_up(tracked.path)

    def untrack_all(self) -> None:
        for remove in self._removers.values():
            remove()
        self._removers.clear()
        self._pending.clear()

    async def _catch_up(self, path: Path) -> None:
        """Bring the history up to the file's state when tracking starts."""
        versions = await asyncio.to_thread(self._history.versions, path)
        exists = await asyncio.to_thread(path.is_file)
        if not versions:
            if exists:
                await self._run(
                    self._history.record, path, f"Started keeping the history of {path.name}"
                )
            return
        if not exists:
            if not versions[0].deleted:
                await self._run(
                    self._history.record_deletion,
                    path,
                    f"{path.name} was deleted outside the app (while the tray was not running)",
                    outside=True,
                )
            return
        await self._run(
            self._history.record,
            path,
            f"{path.name} changed outside the app (while the tray was not running)",
            outside=True,
        )

    async def _changed(self, change: FileChange) -> None:
        path = change.path
        if change.exists:
            await self._run(
                self._history.record, path, f"{path.name} changed outside the app", outside=True
            )
            return
        versions = await asyncio.to_thread(self._history.versions, path)
        if versions and not versions[0].deleted:
            await self._run(
                self._history.record_deletion,
                path,
                f"{path.name} was deleted outside the app",
                outside=True,
            )

    async def _run(
        self, call: Callable[..., str], path: Path, message: str, *, outside: bool = False
    ) -> None:
        try:
            if outside:
                await asyncio.to_thread(call, path, message, outside=True)
            else:
                await asyncio.to_thread(call, path, message)
        except FileNotFoundError:
            return  # gone again between the event and the read: the next event says so
        except TrayError as exc:
            # e.g. vanished between the event and the read; the next event tells the truth
            log.warning("history: could not record %s: %s", path.name, exc.message)
            return
        if self._on_recorded is not None:
            self._on_recorded(path)


def _files_in(folder: Path, suffix: str | None) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix or ""))
    except OSError:
        return []
