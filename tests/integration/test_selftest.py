"""`python -m tray.selftest` as a user runs it: a real child process, a throw-away HOME, real
keyring backends chosen the way a user would (PYTHON_KEYRING_BACKEND), a real Qt.

Without a desktop, Qt runs on its offscreen platform here (it has no tray: a warning); the
test that needs everything to pass runs only inside installers/desktop-session.sh, and the
frozen bundle gets the same check in tests/ui/test_bundle.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tray.simulator import install_fake_lms

IN_DESKTOP_SESSION = os.environ.get("LMSTRAY_DESKTOP") == "1"


def self_test(
    user_home: Path, *, qt: str | None = "offscreen", keyring: str | None = None
) -> tuple[int, dict[str, Any], str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PATH", "QT_QPA_PLATFORM", "PYTHON_KEYRING_BACKEND")
    }
    env.update(
        HOME=str(user_home),
        XDG_CONFIG_HOME=str(user_home / ".config"),
        PATH="/usr/bin:/bin",  # no real `lms` from the developer's PATH
    )
    if qt is not None:
        env["QT_QPA_PLATFORM"] = qt
    if keyring is not None:
        env["PYTHON_KEYRING_BACKEND"] = keyring
    done = subprocess.run(
        [sys.executable, "-m", "tray.selftest", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )
    doc: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, doc, done.stderr


def levels(doc: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["level"] for c in doc["checks"]}


def detail(doc: dict[str, Any], name: str) -> str:
    return next(str(c["detail"]) for c in doc["checks"] if c["name"] == name)


def test_missing_lmstudio_and_tray_are_warnings_a_fail_keyring_is_a_failure(
    tmp_path: Path,
) -> None:
    code, doc, _ = self_test(tmp_path, keyring="keyring.backends.fail.Keyring")
    assert levels(doc) == {
        "Qt platform plugin": "ok",
        "System tray": "warn",  # offscreen has no tray: the app would show its window
        "Icons": "ok",
        "SVG image plugin": "ok",
        "Keyring": "fail",
        "Settings": "ok",
        "LM Studio home": "warn",
        "lms": "warn",
    }
    assert detail(doc, "Qt platform plugin").startswith("offscreen")
    assert "No OS keyring" in detail(doc, "Keyring")
    assert str(tmp_path / ".lmstudio") in detail(doc, "LM Studio home")
    assert code == doc["exit_code"] == 1
    assert doc["frozen"] is False


def test_the_null_keyring_is_refused(tmp_path: Path) -> None:
    code, doc, _ = self_test(tmp_path, keyring="keyring.backends.null.Keyring")
    assert levels(doc)["Keyring"] == "fail"
    assert "null backend" in detail(doc, "Keyring")
    assert code == 1


def test_a_qt_platform_that_cannot_load_is_reported_not_a_crash(tmp_path: Path) -> None:
    # Qt aborts the process when its platform plugin fails: the probe child dies, the
    # report still comes out, with Qt's own words.
    code, doc, _ = self_test(
        tmp_path, qt="no-such-platform", keyring="keyring.backends.fail.Keyring"
    )
    assert levels(doc)["Qt platform plugin"] == "fail"
    assert "no-such-platform" in detail(doc, "Qt platform plugin")
    assert "Icons" not in levels(doc)  # the Qt checks could not run
    assert code == 1


def test_lmstudio_home_lms_and_a_damaged_settings_file(tmp_path: Path) -> None:
    home = tmp_path / ".lmstudio"
    lms = install_fake_lms(home)
    settings = tmp_path / ".config" / "lmstudio-tray" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text("{ not json", encoding="utf-8")
    _, doc, _ = self_test(tmp_path, keyring="keyring.backends.fail.Keyring")
    found = levels(doc)
    assert found["LM Studio home"] == "ok"
    assert detail(doc, "LM Studio home").startswith(str(home))
    assert found["lms"] == "ok"
    assert detail(doc, "lms") == str(lms)
    assert found["Settings"] == "warn"  # defaults are used: not a failure
    assert str(settings) in detail(doc, "Settings")


def test_text_report_says_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    env.update(
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / ".config"),
        PATH="/usr/bin:/bin",
        QT_QPA_PLATFORM="offscreen",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    done = subprocess.run(
        [sys.executable, "-m", "tray.selftest"],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("LM Studio Tray ")
    assert any(line.split()[:2] == ["fail", "Keyring"] for line in lines)
    assert any("AppIndicator" in line for line in lines)  # the tray hint
    assert lines[-1].startswith("FAILED: 1 of 8 checks failed")


def without_display(user_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The self-test where there is no display at all: an ssh login, a container, a cron job."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PATH", "QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(
        HOME=str(user_home),
        XDG_CONFIG_HOME=str(user_home / ".config"),
        PATH="/usr/bin:/bin",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    return subprocess.run(
        [sys.executable, "-m", "tray.selftest", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )


def test_without_a_display_it_says_so_first_and_still_checks_the_rest(tmp_path: Path) -> None:
    # It used to open with Qt's "xcb-cursor0 or libxcb-cursor0 is needed", as if a library
    # were missing, and skip the icon and SVG checks.
    text = without_display(tmp_path)
    first = text.stdout.splitlines()[0]
    assert first.startswith("No display: DISPLAY and WAYLAND_DISPLAY are not set")
    assert "Run lmstudio-tray inside a desktop session" in first
    assert "xcb-cursor" not in text.stdout
    assert text.returncode == 1

    done = without_display(tmp_path, "--json")
    doc = json.loads(done.stdout)
    assert doc["checks"][0]["name"] == "Display" and doc["checks"][0]["level"] == "fail"
    assert "desktop session" in doc["checks"][0]["hint"]
    assert levels(doc) == {
        "Display": "fail",
        "Qt platform plugin": "warn",  # not tried: there is nothing to show it on
        "System tray": "warn",
        "Icons": "ok",  # still checked, with Qt's offscreen platform
        "SVG image plugin": "ok",
        "Keyring": "fail",
        "Settings": "ok",
        "LM Studio home": "warn",
        "lms": "warn",
    }
    assert "not tried without a display" in detail(doc, "Qt platform plugin")
    assert done.returncode == doc["exit_code"] == 1


def test_a_server_address_that_is_not_one_is_reported(tmp_path: Path) -> None:
    settings = tmp_path / ".config" / "lmstudio-tray" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "profiles": [{"id": "lan", "name": "GPU box", "base_url": "http://gpu:99999"}],
                "active_profile": "lan",
            }
        )
    )
    _, doc, _ = self_test(tmp_path, keyring="keyring.backends.fail.Keyring")
    assert levels(doc)["Server address"] == "warn"
    assert f"“GPU box” in the settings file {settings}" in detail(doc, "Server address")


@pytest.mark.skipif(not IN_DESKTOP_SESSION, reason="needs installers/desktop-session.sh")
def test_everything_passes_on_a_real_desktop(tmp_path: Path) -> None:
    install_fake_lms(tmp_path / ".lmstudio")
    code, doc, err = self_test(tmp_path, qt=None)
    assert {c["level"] for c in doc["checks"]} == {"ok"}, doc
    assert detail(doc, "Qt platform plugin").startswith("xcb")
    assert code == 0, err
