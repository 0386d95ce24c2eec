from __future__ import annotations

import json
from pathlib import Path

from tray.core.settings import SCHEMA_VERSION, Settings, migrate
from tray.services.settings_store import SettingsStore


def test_round_trip_keeps_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "server_url": "http://h:1", "future": [1]}))
    store = SettingsStore(path)
    s = store.load()
    assert s.server_url == "http://h:1" and store.problem is None
    s.server_start.cors = True
    store.save(s)
    saved = json.loads(path.read_text())
    assert saved["future"] == [1] and saved["server_start"]["cors"] is True
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_unversioned_files_migrate() -> None:
    assert migrate({"server_url": "x"})["schema_version"] == SCHEMA_VERSION


def test_a_broken_file_gives_defaults_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{ not json")
    store = SettingsStore(path)
    assert store.load() == Settings()
    assert store.problem is not None and "line 1" in store.problem.message
    assert path.read_text() == "{ not json"  # loading never overwrites
    store.save(Settings(server_url="http://x:1"))
    assert (tmp_path / "settings.json.bak").read_text() == "{ not json"
    assert json.loads(path.read_text())["server_url"] == "http://x:1"


def test_an_invalid_value_is_named(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"server_start": {"port": 99999}}))
    store = SettingsStore(path)
    assert store.load() == Settings()
    assert store.problem is not None and "server_start.port" in store.problem.message
