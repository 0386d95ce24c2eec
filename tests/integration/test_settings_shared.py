"""The settings file shared by the tray and the CLI: each process saves only what it changed
onto what the file holds now, and the tray takes the CLI's changes while it runs. Real
files, the real `lmstudio-tray` executable and the real FileWatcher."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cli_runner import Cli  # tests/integration/cli_runner.py

from tray.core.errors import FileWriteError
from tray.core.settings import ServerProfile, Settings
from tray.services.file_watch import FileWatcher
from tray.services.settings_store import SettingsService, SettingsStore

WAIT = 15.0


def service(path: Path) -> SettingsService:
    return SettingsService(SettingsStore(path))


def on_disk(path: Path) -> Settings:
    return Settings.model_validate(json.loads(path.read_text(encoding="utf-8")))


def keep_locked(s: Settings) -> None:
    s.mcp.keep_locked = True


def idle_30(s: Settings) -> None:
    s.polling.idle_seconds = 30.0


def test_two_services_on_one_file_keep_each_others_changes(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    tray, cli = service(path), service(path)  # both read the same (missing) file
    cli.update(keep_locked)
    tray.update(idle_30)  # the tray never read the CLI's change: it must not undo it
    saved = on_disk(path)
    assert saved.mcp.keep_locked is True and saved.polling.idle_seconds == 30.0
    assert tray.settings == saved  # and the tray now runs with both
    cli.update(lambda s: setattr(s, "autostart", True))
    saved = on_disk(path)
    assert (saved.mcp.keep_locked, saved.polling.idle_seconds, saved.autostart) == (
        True,
        30.0,
        True,
    )


def test_the_same_field_changed_by_both_keeps_the_later_and_everything_else(
    tmp_path: Path,
) -> None:
    path = tmp_path / "settings.json"
    tray, cli = service(path), service(path)
    cli.update(lambda s: (setattr(s.polling, "idle_seconds", 60.0), keep_locked(s)))
    tray.update(idle_30)
    saved = on_disk(path)
    assert (saved.polling.idle_seconds, saved.mcp.keep_locked) == (30.0, True)


def test_server_profiles_added_on_both_sides_are_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    tray, cli = service(path), service(path)
    cli.update(
        lambda s: s.profiles.append(ServerProfile(id="lan", name="LAN", base_url="http://lan:1"))
    )
    tray.update(
        lambda s: s.profiles.append(ServerProfile(id="box", name="Box", base_url="http://b:1"))
    )
    tray.update(lambda s: setattr(s.profiles[0], "name", "Workstation"))
    assert [(p.id, p.name) for p in on_disk(path).profiles] == [
        ("this-machine", "Workstation"),
        ("lan", "LAN"),
        ("box", "Box"),
    ]


def test_an_unreadable_outside_change_is_not_taken(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    tray = service(path)
    tray.update(idle_30)
    path.write_text("{ broken", encoding="utf-8")
    assert tray.reload_if_changed() is False
    assert tray.settings.polling.idle_seconds == 30.0
    tray.update(keep_locked)  # the broken file is kept aside, not merged
    assert path.with_suffix(".json.bak").read_text(encoding="utf-8") == "{ broken"
    assert on_disk(path).polling.idle_seconds == 30.0


def test_a_file_that_cannot_be_written_is_a_write_error_and_changes_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "blocker").write_text("a file where the folder should be", encoding="utf-8")
    tray = service(tmp_path / "blocker" / "settings.json")
    with pytest.raises(FileWriteError, match="Could not save"):
        tray.update(idle_30)
    assert tray.settings == Settings()


@pytest.fixture
async def watcher() -> AsyncIterator[FileWatcher]:
    w = FileWatcher(debounce_ms=100, step_ms=50)
    try:
        yield w
    finally:
        await w.stop()


async def test_a_cli_change_while_the_tray_runs_is_taken_live_and_kept(
    cli: Cli, tmp_path: Path, watcher: FileWatcher
) -> None:
    tray = service(cli.settings)
    tray.update(idle_30)
    heard: asyncio.Queue[Settings] = asyncio.Queue()
    tray.subscribe(heard.put_nowait)
    tray.watch(watcher)
    await watcher.start()

    remote = tmp_path / "shared-history"
    r = await asyncio.to_thread(cli, "history", "remote", str(remote))
    assert r.returncode == 0, r.stdout + r.stderr

    taken = await asyncio.wait_for(heard.get(), WAIT)
    assert taken.history.remote_url == str(remote)
    assert tray.settings.history.remote_url == str(remote)
    tray.update(keep_locked)
    saved = on_disk(cli.settings)
    assert saved.history.remote_url == str(remote)
    assert (saved.polling.idle_seconds, saved.mcp.keep_locked) == (30.0, True)
