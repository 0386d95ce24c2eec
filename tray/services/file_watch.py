"""Noticing changes made to our files by someone else: LM Studio writing a preset, an
editor or the "Add to LM Studio" deeplink changing `mcp.json`, another program.

`FileWatcher` watches the folders of the files it is given (a file replaced atomically is
a new inode, so watching the file alone would lose it) through watchfiles (inotify,
FSEvents, ReadDirectoryChangesW; polling only where those are missing), debounces bursts,
and reports a `FileChange` only when a file's content really changed: it keeps each
file's SHA-256 and compares, so a touch or a rewrite with the same bytes says nothing,
and a write this process made through `files.atomic_write` is taken as ours and not
reported. A folder that does not exist yet is watched through its nearest existing
parent until it appears.

Callbacks run on the asyncio loop that called `start()`; they may be plain functions or
coroutine functions. The OS watch runs in one worker thread that sleeps in the kernel
between events (it checks for a stop request every `step_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from tray.core.errors import TrayError
from tray.services.files import read_bytes, sha256_hex, written_by_this_process

__all__ = ["ChangeCallback", "FileChange", "FileWatcher"]

log = logging.getLogger(__name__)

ChangeCallback = Callable[["FileChange"], Awaitable[None] | None]


class FileChange(BaseModel):
    """A file's content changed outside this process (or the file appeared/vanished)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    exists: bool
    sha256: str | None  # None: the file is gone (or unreadable)
    previous_sha256: str | None  # None: it did not exist when we last looked


@dataclass(eq=False)
class _Target:
    path: Path  # a file, or a folder
    is_folder: bool
    suffix: str | None
    callback: ChangeCallback

    def matches(self, changed: Path) -> bool:
        if not self.is_folder:
            return changed == self.path
        if changed.parent != self.path:
            return False
        return self.suffix is None or changed.name.endswith(self.suffix)


@dataclass
class _Thread:
    stop: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


def _hash_of(path: Path) -> str | None:
    try:
        return sha256_hex(read_bytes(path))
    except (OSError, TrayError):  # gone, a folder, unreadable or too large: no content
        return None


def _nearest_existing(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            return candidate
    return None


class FileWatcher:
    """Watch files and folders for content changes made by others; see the module doc."""

    def __init__(
        self, *, debounce_ms: int = 300, step_ms: int = 250, force_polling: bool | None = None
    ) -> None:
        self._debounce_ms = debounce_ms
        self._step_ms = step_ms
        self._force_polling = force_polling
        self._targets: list[_Target] = []
        self._hashes: dict[Path, str | None] = {}
        self._roots: frozenset[Path] = frozenset()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: _Thread | None = None
        self._pending: set[Path] = set()
        self._processing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # strong refs: the loop keeps weak ones
        self._lock = asyncio.Lock()

    # --- what to watch --------------------------------------------------------------

    def watch_file(self, path: Path, callback: ChangeCallback) -> Callable[[], None]:
        """Report content changes of `path` (including it appearing or vanishing)."""
        return self._add(_Target(Path(path).absolute(), False, None, callback))

    def watch_folder(
        self, folder: Path, callback: ChangeCallback, *, suffix: str | None = None
    ) -> Callable[[], None]:
        """Report content changes of the files directly in `folder` (whose names end with
        `suffix`, when given): files added, changed or removed."""
        return self._add(_Target(Path(folder).absolute(), True, suffix, callback))

    def _add(self, target: _Target) -> Callable[[], None]:
        self._targets.append(target)
        if self._loop is not None:
            self._spawn(self._prime([target]))
        self._restart_if_roots_changed()

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._targets.remove(target)
            self._restart_if_roots_changed()

        return remove

    @staticmethod
    def _files_of(target: _Target) -> list[Path]:
        if not target.is_folder:
            return [target.path]
        try:
            return [p for p in target.path.iterdir() if target.matches(p) and p.is_file()]
        except OSError:
            return []

    def _wanted_roots(self) -> frozenset[Path]:
        roots = set()
        for target in self._targets:
            folder = target.path if target.is_folder else target.path.parent
            nearest = _nearest_existing(folder)
            if nearest is not None:
                roots.add(nearest)
        return frozenset(roots)

    # --- running --------------------------------------------------------------------

    async def start(self) -> None:
        """Begin watching (on the running loop); idempotent. Returns once every watched
        file's current content is known, so a change from then on is reported."""
        self._loop = asyncio.get_running_loop()
        await self._prime(list(self._targets))
        self._restart_if_roots_changed(force=self._worker is None)
        worker = self._worker
        if worker is not None:
            await asyncio.to_thread(worker.ready.wait, 10)

    async def _prime(self, targets: list[_Target]) -> None:
        """Remember the current content of the targets' files (in a thread: disk I/O)."""

        def hashes() -> dict[Path, str | None]:
            return {p: _hash_of(p) for t in targets for p in self._files_of(t)}

        for path, digest in (await asyncio.to_thread(hashes)).items():
            self._hashes.setdefault(path, digest)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Stop watching and wait for the worker thread to end."""
        worker, self._worker = self._worker, None
        self._roots = frozenset()
        if worker is not None and worker.thread is not None:
            worker.stop.set()
            await asyncio.to_thread(worker.thread.join)
        tasks = [*self._tasks, *([self._processing] if self._processing else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None

    @property
    def watching(self) -> frozenset[Path]:
        """The folders the OS is asked to watch (for tests and diagnostics)."""
        return self._roots

    def _restart_if_roots_changed(self, *, force: bool = False) -> None:
        if self._loop is None:
            return
        roots = self._wanted_roots()
        if roots == self._roots and not force:
            return
        old, self._worker = self._worker, None
        if old is not None:
            old.stop.set()  # it ends within step_ms; nothing waits for it
        self._roots = roots
        if not roots:
            return
        worker = _Thread()
        worker.thread = threading.Thread(
            target=self._run, args=(sorted(roots), worker), name="file-watch", daemon=True
        )
        self._worker = worker
        worker.thread.start()
        log.debug("watching %s", ", ".join(str(r) for r in sorted(roots)))

    def _run(self, roots: list[Path], worker: _Thread) -> None:
        # RustNotify is what watchfiles.watch() drives; used directly so that we know when
        # the OS watches are in place (start() waits for that; a change right after it
        # returns is not missed). Imported here: the tray shows its icon before this loads.
        from watchfiles._rust_notify import RustNotify

        loop = self._loop
        try:
            notify = RustNotify(
                [str(r) for r in roots],
                False,
                bool(self._force_polling),
                300,
                False,
                True,
            )
        except Exception:
            log.warning("cannot watch %s", ", ".join(map(str, roots)), exc_info=True)
            worker.ready.set()
            return
        worker.ready.set()
        try:
            with notify:
                while not worker.stop.is_set():
                    changes = notify.watch(self._debounce_ms, self._step_ms, 0, worker.stop)
                    if not isinstance(changes, set):
                        continue  # "stop" ends the loop; "signal"/"timeout" wait again
                    paths = {Path(p) for _change, p in changes}
                    if loop is not None and not loop.is_closed():
                        loop.call_soon_threadsafe(self._on_changes, paths)
        except Exception:
            # The OS ran out of watches, or a watched folder vanished: say so; the next
            # change of the set of targets (or a restart) tries again.
            log.warning("watching %s stopped", ", ".join(map(str, roots)), exc_info=True)

    def _on_changes(self, paths: set[Path]) -> None:
        if self._loop is None:
            return
        self._pending |= paths
        if self._processing is None or self._processing.done():
            self._processing = self._loop.create_task(self._process())

    async def _process(self) -> None:
        async with self._lock:
            while self._pending:
                paths, self._pending = self._pending, set()
                # A folder we waited for may have appeared: watch it directly now, and look
                # at every file, since writes before the new watch was in place went unseen.
                worker = self._worker
                self._restart_if_roots_changed()
                if self._worker is not worker and self._worker is not None:
                    await asyncio.to_thread(self._worker.ready.wait, 10)
                    paths |= {p for t in self._targets for p in self._files_of(t)}
                    paths |= set(self._hashes)
                await self._check(paths)

    async def _check(self, paths: set[Path]) -> None:
        candidates: dict[Path, list[_Target]] = {}
        for changed in paths:
            for target in self._targets:
                if target.matches(changed):
                    candidates.setdefault(changed, []).append(target)
                elif target.is_folder and changed == target.path:
                    # the folder itself appeared or was replaced: look at all its files
                    for path in self._files_of(target) + [
                        p for p in self._hashes if p.parent == target.path
                    ]:
                        candidates.setdefault(path, []).append(target)
        for path, targets in candidates.items():
            digest = await asyncio.to_thread(_hash_of, path)
            previous = self._hashes.get(path)
            if digest == previous:
                continue
            self._hashes[path] = digest
            if digest is not None and written_by_this_process(path, digest):
                log.debug("our own write to %s", path)
                continue
            change = FileChange(
                path=path, exists=digest is not None, sha256=digest, previous_sha256=previous
            )
            log.info("%s changed outside this process", path)
            for target in dict.fromkeys(targets):
                await self._call(target.callback, change)

    @staticmethod
    async def _call(callback: ChangeCallback, change: FileChange) -> None:
        try:
            result = callback(change)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("a file-change callback failed for %s", change.path)
