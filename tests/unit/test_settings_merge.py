"""Three-way merge of settings: only what this process changed lands on what the file holds
now; a field both changed keeps this process's value, and nothing else is lost."""

from __future__ import annotations

from pathlib import Path

from tray.core.settings import ServerProfile, Settings
from tray.core.settings_merge import merge_settings


def edited(settings: Settings, **fields: object) -> Settings:
    """A copy with dotted fields set: edited(s, **{"polling.idle_seconds": 30})."""
    data = settings.model_dump(mode="json")
    for dotted, value in fields.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value
    return Settings.model_validate(data)


def lan(name: str = "LAN box", **fields: object) -> dict[str, object]:
    return ServerProfile(id="lan", name=name, base_url="http://10.0.0.2:1234", **fields).model_dump(
        mode="json"
    )


BASE = Settings()


def test_nothing_changed_here_takes_the_file_as_it_is() -> None:
    theirs = edited(BASE, **{"mcp.keep_locked": True})
    merged = merge_settings(BASE, BASE, theirs)
    assert merged.settings == theirs and merged.conflicts == ()


def test_changes_to_different_fields_are_both_kept() -> None:
    theirs = edited(BASE, **{"mcp.keep_locked": True})  # the CLI
    mine = edited(BASE, **{"polling.idle_seconds": 30.0, "autostart": True})  # the tray
    merged = merge_settings(BASE, mine, theirs)
    assert merged.settings.mcp.keep_locked is True
    assert merged.settings.polling.idle_seconds == 30.0 and merged.settings.autostart is True
    assert merged.conflicts == ()


def test_a_field_both_changed_keeps_mine_and_loses_nothing_else() -> None:
    theirs = edited(BASE, **{"polling.idle_seconds": 60.0, "mcp.keep_locked": True})
    mine = edited(BASE, **{"polling.idle_seconds": 30.0})
    merged = merge_settings(BASE, mine, theirs)
    assert merged.settings.polling.idle_seconds == 30.0
    assert merged.settings.mcp.keep_locked is True
    assert merged.conflicts == ("polling.idle_seconds",)


def test_the_same_change_on_both_sides_is_no_conflict() -> None:
    both = edited(BASE, **{"clipboard_clear_seconds": 5})
    assert merge_settings(BASE, both, both).conflicts == ()


def test_profiles_merge_by_id() -> None:
    base = Settings.model_validate({"profiles": [BASE.profiles[0].model_dump(), lan()]})
    # Theirs renamed this machine and added a server; mine changed the LAN one's port.
    theirs_data = base.model_dump(mode="json")
    theirs_data["profiles"][0]["name"] = "Workstation"
    theirs_data["profiles"].append(
        {"id": "ollama", "name": "Ollama", "base_url": "http://127.0.0.1:11434", "kind": "openai"}
    )
    mine_data = base.model_dump(mode="json")
    mine_data["profiles"][1]["base_url"] = "http://10.0.0.2:4321"
    mine_data["active_profile"] = "lan"
    merged = merge_settings(
        base, Settings.model_validate(mine_data), Settings.model_validate(theirs_data)
    )
    got = merged.settings
    assert [p.id for p in got.profiles] == ["this-machine", "lan", "ollama"]
    assert got.profile("this-machine").name == "Workstation"
    assert got.profile("lan").base_url == "http://10.0.0.2:4321"
    assert got.active_profile == "lan" and merged.conflicts == ()


def test_a_profile_added_here_and_one_removed_there() -> None:
    base = Settings.model_validate({"profiles": [BASE.profiles[0].model_dump(), lan()]})
    theirs = base.model_copy(update={"profiles": [base.profiles[0]]})  # removed "lan"
    mine_data = base.model_dump(mode="json")
    mine_data["profiles"].append({"id": "box", "name": "Box", "base_url": "http://box:1234"})
    merged = merge_settings(base, Settings.model_validate(mine_data), theirs)
    assert [p.id for p in merged.settings.profiles] == ["this-machine", "box"]


def test_a_profile_renamed_on_both_sides_keeps_my_name_and_their_address() -> None:
    base = Settings.model_validate({"profiles": [lan()]})
    theirs = Settings.model_validate({"profiles": [lan("Theirs", use_lms=False)]})
    mine = Settings.model_validate({"profiles": [lan("Mine")]})
    merged = merge_settings(base, mine, theirs)
    got = merged.settings.profile("lan")
    assert (got.name, got.use_lms) == ("Mine", False)
    assert merged.conflicts == ("profiles[lan].name",)


def test_my_reordering_is_kept_and_their_new_profile_follows() -> None:
    two = [BASE.profiles[0].model_dump(), lan()]
    base = Settings.model_validate({"profiles": two})
    mine = Settings.model_validate({"profiles": list(reversed(two))})
    theirs = Settings.model_validate(
        {"profiles": [*two, {"id": "new", "name": "New", "base_url": "http://new:1"}]}
    )
    merged = merge_settings(base, mine, theirs)
    assert [p.id for p in merged.settings.profiles] == ["lan", "this-machine", "new"]


def test_keys_a_newer_version_wrote_survive_and_merge() -> None:
    base = Settings.model_validate({"scenes": {"coding": ["a"]}, "home": "/x"})
    theirs = Settings.model_validate({"scenes": {"coding": ["a"], "chat": ["b"]}, "home": "/x"})
    mine = base.model_copy(update={"home": Path("/y")})
    merged = merge_settings(base, mine, theirs).settings.model_dump(mode="json")
    assert merged["scenes"] == {"coding": ["a"], "chat": ["b"]}
    assert merged["home"] == "/y"


def test_a_list_that_is_not_by_id_is_one_value() -> None:
    base = Settings.model_validate({"recent": [1, 2]})
    theirs = Settings.model_validate({"recent": [1, 2, 3]})
    mine = Settings.model_validate({"recent": [2]})
    merged = merge_settings(base, mine, theirs)
    assert merged.settings.model_dump()["recent"] == [2]
    assert merged.conflicts == ("recent",)
