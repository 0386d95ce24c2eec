from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tray.core.backends import BackendKind
from tray.core.settings import (
    LOCAL_PROFILE_ID,
    SCHEMA_VERSION,
    ServerProfile,
    Settings,
    migrate,
    profile_id_for,
)
from tray.services.settings_store import SettingsStore


def test_round_trip_keeps_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    raw = Settings().model_dump(mode="json") | {"future": [1]}
    raw["profiles"][0]["future_profile_key"] = "x"
    path.write_text(json.dumps(raw))
    store = SettingsStore(path)
    s = store.load()
    assert store.problem is None
    s.profile().server_start.cors = True
    store.save(s)
    saved = json.loads(path.read_text())
    assert saved["future"] == [1]
    assert saved["profiles"][0]["future_profile_key"] == "x"
    assert saved["profiles"][0]["server_start"]["cors"] is True
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_v1_files_migrate_to_profiles() -> None:
    v1 = {
        "schema_version": 1,
        "server_url": "http://box:1234",
        "server_start": {"port": 5555, "cors": True},
        "lms_path": "/opt/lms",
    }
    s = Settings.model_validate(migrate(v1))
    assert s.schema_version == SCHEMA_VERSION
    (p,) = s.profiles
    assert (p.id, p.base_url, p.server_start.port, p.server_start.cors) == (
        LOCAL_PROFILE_ID,
        "http://box:1234",
        5555,
        True,
    )
    assert s.active_profile == LOCAL_PROFILE_ID
    assert str(s.lms_path) == "/opt/lms"
    assert Settings.model_validate(migrate({})).profiles[0].base_url is None


def test_profiles_are_consistent() -> None:
    s = Settings(
        profiles=[
            ServerProfile(
                id="lan",
                name="LAN box",
                base_url="http://x:1",
                kind=BackendKind.OPENAI,
                use_lms=False,
            )
        ],
        active_profile="gone",
    )
    assert s.active_profile == "lan"  # a dangling reference is repaired, not fatal
    assert s.profile().kind is BackendKind.OPENAI
    with pytest.raises(KeyError):
        s.profile("nope")
    with pytest.raises(ValidationError, match="same id"):
        Settings(profiles=[ServerProfile(id="a", name="A"), ServerProfile(id="a", name="B")])
    with pytest.raises(ValidationError):
        ServerProfile(id="Not An Id", name="x")


def test_profile_ids_from_names() -> None:
    assert profile_id_for("Ollama on Mac mini!", set()) == "ollama-on-mac-mini"
    assert profile_id_for("LAN", {"lan", "lan-2"}) == "lan-3"
    assert profile_id_for("***", set()) == "server"


def test_a_broken_file_gives_defaults_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{ not json")
    store = SettingsStore(path)
    assert store.load() == Settings()
    assert store.problem is not None
    assert "line 1" in store.problem.message
    assert path.read_text() == "{ not json"  # loading never overwrites
    store.save(Settings(autostart=True))
    assert (tmp_path / "settings.json.bak").read_text() == "{ not json"
    assert json.loads(path.read_text())["autostart"] is True


def test_an_invalid_value_is_named(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 2, "polling": {"idle_seconds": 0}}))
    store = SettingsStore(path)
    assert store.load() == Settings()
    assert store.problem is not None
    assert "polling.idle_seconds" in store.problem.message


def test_settings_service_validates_saves_and_notifies(tmp_path: Path) -> None:
    from tray.services.settings_store import SettingsService

    path = tmp_path / "settings.json"
    service = SettingsService(SettingsStore(path))
    seen: list[Settings] = []
    service.subscribe(seen.append)
    service.update(lambda s: setattr(s.polling, "idle_seconds", 30.0))
    assert json.loads(path.read_text())["polling"]["idle_seconds"] == 30.0
    assert seen[-1].polling.idle_seconds == 30.0

    def bad(s: Settings) -> None:
        s.profiles.append(ServerProfile(id=LOCAL_PROFILE_ID, name="again"))

    with pytest.raises(ValidationError):
        service.update(bad)
    assert len(service.settings.profiles) == 1  # nothing changed, nothing saved
    assert len(json.loads(path.read_text())["profiles"]) == 1
    assert len(seen) == 1


def test_a_history_remote_never_carries_credentials() -> None:
    import pydantic
    import pytest

    from tray.core.settings import HistorySettings, remote_url_problem

    for fine in ("git@github.com:me/presets.git", "ssh://git@host/me/p.git", "/srv/share/p"):
        assert remote_url_problem(fine) is None
        assert HistorySettings(remote_url=fine).remote_url == fine
    for bad in (
        "https://me:hunter2@github.com/me/presets.git",
        "https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/me/p.git",
        "ssh://git:secret@host/p.git",
    ):
        problem = remote_url_problem(bad)
        assert problem is not None and "plain text" in problem
        with pytest.raises(pydantic.ValidationError):
            HistorySettings(remote_url=bad)
