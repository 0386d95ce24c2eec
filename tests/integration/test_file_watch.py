"""FileWatcher on real folders with the OS's change notifications: outside writes (by
another process) are reported once, our own atomic writes and same-content rewrites are
not, and folders that appear later are picked up.

"Nothing was reported" is never shown by waiting: each such test then makes a sentinel
change that must be reported, and checks that it arrives first and alone.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tray.services.file_watch import FileChange, FileWatcher
from tray.services.files import atomic_write

WAIT = 15.0


def write_elsewhere(path: Path, text: str) -> None:
    """Write from another process, as LM Studio or an editor would (plain, not atomic)."""
    code = "import sys; open(sys.argv[1], 'w', encoding='utf-8').write(sys.argv[2])"
    subprocess.run([sys.executable, "-c", code, str(path), text], check=True)


def replace_elsewhere(path: Path, text: str) -> None:
    """Write a temp file and rename it over `path` from another process (atomic editors)."""
    code = (
        "import os, sys; tmp = sys.argv[1] + '.tmp~'; open(tmp, 'w').write(sys.argv[2]); "
        "os.replace(tmp, sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", code, str(path), text], check=True)


class Recorder:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[FileChange] = asyncio.Queue()

    def __call__(self, change: FileChange) -> None:
        self.queue.put_nowait(change)

    async def next(self) -> FileChange:
        return await asyncio.wait_for(self.queue.get(), WAIT)

    def empty(self) -> bool:
        return self.queue.empty()


@pytest.fixture
async def watcher() -> AsyncIterator[FileWatcher]:
    w = FileWatcher(debounce_ms=100, step_ms=50)
    try:
        yield w
    finally:
        await w.stop()


async def test_an_outside_write_is_reported_with_both_hashes(
    tmp_path: Path, watcher: FileWatcher
) -> None:
    target = tmp_path / "mcp.json"
    target.write_text("{}")
    seen = Recorder()
    watcher.watch_file(target, seen)
    await watcher.start()

    write_elsewhere(target, '{"mcpServers": {}}')
    change = await seen.next()
    assert change.path == target.absolute()
    assert change.exists
    assert change.previous_sha256 is not None
    assert change.sha256 not in (None, change.previous_sha256)


async def test_our_own_atomic_write_is_not_reported(tmp_path: Path, watcher: FileWatcher) -> None:
    ours = tmp_path / "ours.preset.json"
    theirs = tmp_path / "theirs.preset.json"
    ours.write_text("{}")
    theirs.write_text("{}")
    seen = Recorder()
    watcher.watch_folder(tmp_path, seen, suffix=".preset.json")
    await watcher.start()

    await asyncio.to_thread(atomic_write, ours, b'{"name": "mine"}')
    write_elsewhere(theirs, '{"name": "LM Studio"}')  # the sentinel
    change = await seen.next()
    assert change.path == theirs.absolute()
    assert seen.empty()


async def test_a_rewrite_with_the_same_content_is_not_reported(
    tmp_path: Path, watcher: FileWatcher
) -> None:
    same = tmp_path / "a.json"
    other = tmp_path / "b.json"
    same.write_text("unchanged")
    other.write_text("x")
    seen = Recorder()
    watcher.watch_file(same, seen)
    watcher.watch_file(other, seen)
    await watcher.start()

    write_elsewhere(same, "unchanged")
    os.utime(same)
    write_elsewhere(other, "y")  # the sentinel
    change = await seen.next()
    assert change.path == other.absolute()
    assert seen.empty()


async def test_replace_by_rename_and_deletion_are_reported(
    tmp_path: Path, watcher: FileWatcher
) -> None:
    target = tmp_path / "mcp.json"
    target.write_text("{}")
    seen = Recorder()
    watcher.watch_file(target, seen)
    await watcher.start()

    replace_elsewhere(target, '{"mcpServers": {"x": {}}}')
    assert (await seen.next()).exists

    target.unlink()
    gone = await seen.next()
    assert not gone.exists
    assert gone.sha256 is None


async def test_a_folder_that_appears_later_is_watched(tmp_path: Path, watcher: FileWatcher) -> None:
    presets = tmp_path / "home" / "config-presets"
    seen = Recorder()
    watcher.watch_folder(presets, seen, suffix=".preset.json")
    (tmp_path / "home").mkdir()
    await watcher.start()

    presets.mkdir()
    write_elsewhere(presets / "notes.txt", "not a preset")
    write_elsewhere(presets / "new.preset.json", "{}")
    change = await seen.next()
    assert change.path == (presets / "new.preset.json").absolute()
    assert change.previous_sha256 is None
    assert presets.absolute() in watcher.watching


async def test_after_unwatch_nothing_is_reported(tmp_path: Path, watcher: FileWatcher) -> None:
    dropped = tmp_path / "dropped.json"
    kept = tmp_path / "kept.json"
    dropped.write_text("1")
    kept.write_text("1")
    gone, stays = Recorder(), Recorder()
    unwatch = watcher.watch_file(dropped, gone)
    watcher.watch_file(kept, stays)
    await watcher.start()
    unwatch()

    write_elsewhere(dropped, "2")
    write_elsewhere(kept, "2")
    assert (await stays.next()).path == kept.absolute()
    assert gone.empty()


async def test_a_failing_callback_does_not_stop_the_others(
    tmp_path: Path, watcher: FileWatcher
) -> None:
    target = tmp_path / "x.json"
    target.write_text("1")
    seen = Recorder()

    def broken(change: FileChange) -> None:
        raise RuntimeError("boom")

    watcher.watch_file(target, broken)
    watcher.watch_file(target, seen)
    await watcher.start()
    write_elsewhere(target, "2")
    assert (await seen.next()).exists


async def test_stop_ends_the_worker_thread(tmp_path: Path) -> None:
    watcher = FileWatcher(debounce_ms=100, step_ms=50)
    watcher.watch_folder(tmp_path, Recorder())
    await watcher.start()
    assert any(t.name == "file-watch" for t in threading.enumerate())
    await watcher.stop()
    assert not [t for t in threading.enumerate() if t.name == "file-watch"]
