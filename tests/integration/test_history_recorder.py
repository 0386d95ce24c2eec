"""Outside changes (written by another process while the recorder runs) become versions
"changed outside the app"; our own atomic writes are not recorded twice."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tray.services.file_watch import FileWatcher
from tray.services.files import atomic_write
from tray.services.history import FileHistory
from tray.services.history_recorder import OutsideChangeRecorder

WAIT = 30.0


@dataclass
class Rig:
    history: FileHistory
    recorder: OutsideChangeRecorder
    seen: list[Path]
    watcher: FileWatcher
    recorded: asyncio.Event


async def until(rig: Rig, cond: Callable[[], bool], what: str) -> None:
    """Wait until `cond` holds, re-checking after each version the recorder records."""
    while True:
        rig.recorded.clear()  # before checking: a recording in between wakes us up
        if cond():
            return
        try:
            await asyncio.wait_for(rig.recorded.wait(), WAIT)
        except TimeoutError:
            pytest.fail(f"never happened: {what}")


def other_process_writes(path: Path, text: str | None) -> None:
    """Another program (a real subprocess) writes or deletes the file."""
    code = f"import pathlib; p = pathlib.Path({str(path)!r}); " + (
        "p.unlink()" if text is None else f"p.write_text({text!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture
async def rig(
    tmp_path: Path,
) -> AsyncIterator[Rig]:
    history = FileHistory(tmp_path / "history")
    watcher = FileWatcher(debounce_ms=50, step_ms=50)
    seen: list[Path] = []
    recorded = asyncio.Event()

    def on_recorded(path: Path) -> None:
        seen.append(path)
        recorded.set()

    recorder = OutsideChangeRecorder(history, watcher, on_recorded=on_recorded)
    try:
        yield Rig(
            history, recorder, seen, watcher, recorded
        )  # tests start the watcher after tracking
    finally:
        recorder.untrack_all()
        await watcher.stop()


async def test_outside_changes_to_a_file_are_recorded(tmp_path: Path, rig: Rig) -> None:
    history, recorder = rig.history, rig.recorder
    f = tmp_path / "lms" / "mcp.json"
    f.parent.mkdir()
    f.write_text('{"mcpServers": {}}')
    recorder.track(f)
    await rig.watcher.start()
    await recorder.catch_up()
    [first] = history.versions(f)
    assert first.by == "tray" and "Started keeping" in first.summary
    other_process_writes(f, '{"mcpServers": {"x": {"url": "https://x"}}}')
    await until(rig, lambda: len(history.versions(f)) == 2, "the outside change recorded")
    latest = history.versions(f)[0]
    assert latest.by == "outside" and latest.summary == "mcp.json changed outside the app"
    assert [c.text for c in history.diff(f, first.commit, latest.commit).changes] == [
        'server x added: "https://x"'
    ]
    # our own write (through atomic_write + record) is one version, not two
    atomic_write(f, b'{"mcpServers": {}}')
    history.record(f, "Locked down mcp.json")
    other_process_writes(f, '{"mcpServers": {"y": {"command": "npx"}}}')
    await until(rig, lambda: len(history.versions(f)) == 4, "the second outside change")
    assert [v.by for v in history.versions(f)] == ["outside", "tray", "outside", "tray"]
    other_process_writes(f, None)
    await until(rig, lambda: history.versions(f)[0].deleted, "the deletion recorded")
    assert history.versions(f)[0].by == "outside"


async def test_a_folder_of_presets_added_changed_and_removed(tmp_path: Path, rig: Rig) -> None:
    history, recorder, seen = rig.history, rig.recorder, rig.seen
    folder = tmp_path / "config-presets"
    folder.mkdir()
    old = folder / "old.preset.json"
    old.write_text('{"name": "old", "operation": {"fields": []}}')
    (folder / "notes.txt").write_text("not a preset")
    recorder.track_folder(folder, ".preset.json")
    await rig.watcher.start()
    await recorder.catch_up()
    assert [t.path for t in history.tracked()] == [old]
    new = folder / "new.preset.json"
    other_process_writes(new, '{"name": "new", "operation": {"fields": []}}')
    await until(rig, lambda: len(history.versions(new)) == 1, "a preset created by LM Studio")
    other_process_writes(old, None)
    await until(rig, lambda: any(t.deleted for t in history.tracked()), "a preset deleted")
    assert {(t.path.name, t.deleted) for t in history.tracked()} == {
        ("new.preset.json", False),
        ("old.preset.json", True),
    }
    assert new in seen and old in seen


async def test_changes_while_not_running_are_caught_up(tmp_path: Path) -> None:
    history = FileHistory(tmp_path / "history")
    f = tmp_path / "coder.preset.json"
    f.write_text('{"name": "a", "operation": {"fields": []}}')
    history.record(f, "Saved preset")
    f.write_text('{"name": "b", "operation": {"fields": []}}')  # while the tray was closed
    watcher = FileWatcher(debounce_ms=50, step_ms=50)
    recorder = OutsideChangeRecorder(history, watcher)
    recorder.track(f)
    await watcher.start()
    try:
        await recorder.catch_up()
        latest = history.versions(f)[0]
        assert latest.by == "outside" and "not running" in latest.summary
        assert [
            c.text
            for c in history.diff(f, history.previous(f, latest.commit), latest.commit).changes
        ] == ['name "a" → "b"']
    finally:
        recorder.untrack_all()
        await watcher.stop()
