"""The files the tray keeps a history of and hears changes to: LM Studio's config presets
and `mcp.json` (watched for drift while locked down), the per-model default files we
wrote, and our own load profiles.

One `FileWatcher` serves them all (and the settings file, which the app gives it too);
changes made behind the tray's back become "changed outside the app" versions through
the `OutsideChangeRecorder`, and `watch(home)` points it all at another LM Studio home
when the settings change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tray.services.file_watch import FileChange, FileWatcher
from tray.services.history_recorder import OutsideChangeRecorder
from tray.services.lmstudio_home import mcp_file, presets_dir
from tray.services.mcp_lockdown import DriftCallback, McpLockdown
from tray.services.workspace import Workspace

__all__ = ["WatchedFiles"]

PRESET_SUFFIX = ".preset.json"


class WatchedFiles:
    """`on_recorded(path)` after each outside change is kept as a version,
    `on_preset_changed(change)` for each change in the presets folder, `on_drift` for
    `mcp.json` (see `McpLockdown.watch`)."""

    def __init__(
        self,
        workspace: Workspace,
        watcher: FileWatcher,
        lockdown: McpLockdown,
        *,
        on_recorded: Callable[[Path], None],
        on_preset_changed: Callable[[FileChange], None],
        on_drift: DriftCallback,
    ) -> None:
        self._workspace = workspace
        self._watcher = watcher
        self._lockdown = lockdown
        self._on_preset_changed = on_preset_changed
        self._on_drift = on_drift
        self.recorder = OutsideChangeRecorder(workspace.history, watcher, on_recorded=on_recorded)
        self.home: Path | None = None
        self._unwatch_presets: Callable[[], None] | None = None

    async def watch(self, home: Path) -> None:
        """Keep and watch the files of the LM Studio home `home` (and ours) from now on.
        Raises TrayError when the history cannot be read."""
        self.recorder.untrack_all()
        if self._unwatch_presets is not None:
            self._unwatch_presets()
        self.home = home
        presets = presets_dir(home)
        self.recorder.track_folder(presets, PRESET_SUFFIX)
        self.recorder.track(mcp_file(home))
        self.recorder.track_folder(self._workspace.load_profiles.folder, ".json")
        # LM Studio's per-model default files that we wrote once (and so keep versions of).
        internal = home / ".internal"
        for tracked in await asyncio.to_thread(self._workspace.history.tracked):
            if tracked.path.is_relative_to(internal) and not tracked.deleted:
                self.recorder.track(tracked.path)
        self._unwatch_presets = self._watcher.watch_folder(
            presets, self._on_preset_changed, suffix=PRESET_SUFFIX
        )
        await self._watcher.start()
        await self._lockdown.watch(mcp_file(home), self._on_drift, watcher=self._watcher)

    async def catch_up(self) -> None:
        """Versions for what changed while the tray was off."""
        await self.recorder.catch_up()

    async def stop(self) -> None:
        await self._lockdown.stop_watching()
        await self._watcher.stop()
