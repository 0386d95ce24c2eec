"""Rules for server profiles: base URLs, when `lms` applies, labels, edits and removal."""

from __future__ import annotations

import pytest

from tray.core.backends import BackendKind
from tray.core.errors import InvalidServerUrl
from tray.core.profiles import (
    ProfileFields,
    check_polling,
    check_profile,
    display_name,
    is_this_machine,
    lms_applies,
    lms_note,
    new_profile_name,
    normalize_base_url,
    profile_label,
    removal_problem,
    setting_limits,
)
from tray.core.settings import (
    LOCAL_PROFILE_ID,
    NotificationSettings,
    PollingSettings,
    ServerProfile,
    ServerStartOptions,
    Settings,
)

LOCAL = ServerProfile(id=LOCAL_PROFILE_ID, name="This machine")
OLLAMA = ServerProfile(
    id="ollama", name="Ollama", base_url="http://127.0.0.1:11434", kind=BackendKind.OPENAI
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("", None),
        ("   ", None),
        ("http://192.168.1.20:1234", "http://192.168.1.20:1234"),
        ("  localhost:11434 ", "http://localhost:11434"),
        ("HTTP://GPU-Box:1234/", "http://gpu-box:1234"),
        ("http://gpu-box:1234/v1", "http://gpu-box:1234"),
        ("https://lm.example.com/api/v1/", "https://lm.example.com"),
        ("http://proxy/lmstudio/v1", "http://proxy/lmstudio"),
        ("http://[::1]:1234", "http://[::1]:1234"),
        ("gpu-box", "http://gpu-box"),
    ],
)
def test_base_urls_are_normalised(typed: str, stored: str | None) -> None:
    assert normalize_base_url(typed) == stored


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("ftp://box:1234", "http:// or https://"),
        ("http://", "host name or IP"),
        ("http://box:99999", "1 to 65535"),
        ("http://box:0", "1 to 65535"),
        ("http://box:12ab", "1 to 65535"),
        ("http://user:secret@box:1234", "OS keyring"),
        ("http://box:1234/?x=1", "should end after"),
        ("http://my box:1234", "spaces"),
        ("htp:/192.168.1.20:99999", "(not htp:)"),  # was saved as http://htp/192.168.1.20…
        ("http://[::1", "Close the bracket"),  # was a ValueError out of urlsplit
    ],
)
def test_bad_base_urls_say_what_to_fix(typed: str, says: str) -> None:
    with pytest.raises(InvalidServerUrl) as info:
        normalize_base_url(typed)
    assert says in info.value.problem
    assert "secret" not in str(info.value)
    check = check_profile(ProfileFields(name="GPU box", base_url=typed))
    assert check.errors == {"base_url": info.value.problem}  # the sentence next to the field
    assert not is_this_machine(typed)  # and nothing else raises on what is typed so far


def test_lms_only_applies_to_lmstudio_on_this_machine() -> None:
    assert is_this_machine(None)
    assert is_this_machine("http://127.0.0.1:1234") and is_this_machine("http://localhost:1")
    assert not is_this_machine("http://192.168.1.20:1234")
    assert lms_applies(BackendKind.LMSTUDIO, None)
    assert lms_applies(BackendKind.LMSTUDIO, "http://localhost:1234")
    assert not lms_applies(BackendKind.LMSTUDIO, "http://gpu-box:1234")
    assert not lms_applies(BackendKind.OPENAI, None)
    assert "OpenAI-compatible" in lms_note(BackendKind.OPENAI, None)
    assert "only the LM Studio on this machine" in lms_note(
        BackendKind.LMSTUDIO, "http://gpu-box:1234"
    )
    assert "start and stop" in lms_note(BackendKind.LMSTUDIO, None)


def test_labels_mark_reduced_mode() -> None:
    assert profile_label(LOCAL) == "This machine"
    assert profile_label(OLLAMA) == "Ollama (OpenAI-compatible)"
    assert display_name("  ", BackendKind.LMSTUDIO) == "(no name)"


def test_new_profile_names_do_not_collide() -> None:
    assert new_profile_name(["This machine"]) == "New server"
    assert new_profile_name(["new server ", "New server 2"]) == "New server 3"


def test_a_new_profile_gets_a_unique_id_and_a_sensible_use_lms() -> None:
    check = check_profile(
        ProfileFields(name="  GPU   box ", base_url="gpu-box:1234/v1", use_lms=True),
        other_names=["This machine"],
        taken_ids=[LOCAL_PROFILE_ID, "gpu-box"],
    )
    assert check.ok and check.errors == {}
    assert check.profile is not None
    assert check.profile.name == "GPU box"
    assert check.profile.id == "gpu-box-2"
    assert check.profile.base_url == "http://gpu-box:1234"
    assert check.profile.use_lms is False  # lms cannot drive another machine


def test_editing_keeps_the_id_and_what_the_form_does_not_show() -> None:
    existing = LOCAL.model_copy(update={"server_start": ServerStartOptions(port=4321, cors=True)})
    check = check_profile(
        ProfileFields(name="Workstation", base_url="", kind=BackendKind.LMSTUDIO, use_lms=True),
        other_names=["Ollama"],
        existing=existing,
    )
    assert check.profile is not None
    assert check.profile.id == LOCAL_PROFILE_ID
    assert check.profile.server_start == ServerStartOptions(port=4321, cors=True)
    assert (check.profile.base_url, check.profile.use_lms) == (None, True)


def test_invalid_edits_report_each_field() -> None:
    check = check_profile(
        ProfileFields(name="ollama", base_url="ftp://x"), other_names=["This machine", " Ollama"]
    )
    assert not check.ok and check.profile is None
    assert set(check.errors) == {"name", "base_url"}
    assert "already called" in check.errors["name"]
    assert "http://" in check.errors["base_url"]
    assert "name" in check_profile(ProfileFields(name="   ", base_url=""), other_names=[]).errors
    assert "name" in check_profile(ProfileFields(name="x" * 81, base_url=""), other_names=[]).errors


def test_the_last_profile_cannot_be_removed() -> None:
    assert "at least one server" in (removal_problem(0) or "")
    assert removal_problem(1) is None


def test_limits_come_from_the_settings_model() -> None:
    assert setting_limits(PollingSettings, "interactive_seconds") == (0.5, 60)
    assert setting_limits(PollingSettings, "down_max_seconds") == (5, 3600)
    assert setting_limits(NotificationSettings, "vram_threshold_percent") == (50, 100)
    # Whatever the limits say, values just inside pass the model's own validation.
    for name in ("interactive_seconds", "idle_seconds", "down_max_seconds"):
        low, high = setting_limits(PollingSettings, name)
        PollingSettings(**{name: low})
        PollingSettings(**{name: high})


def test_polling_rules() -> None:
    defaults = Settings().polling
    assert (
        check_polling(
            defaults.interactive_seconds, defaults.idle_seconds, defaults.down_max_seconds
        )
        == {}
    )
    assert set(check_polling(30, 10, 120)) == {"interactive_seconds"}
    assert set(check_polling(2, 15, 10)) == {"down_max_seconds"}
    assert "between 0.5 and 60" in check_polling(0.1, 15, 120)["interactive_seconds"]
