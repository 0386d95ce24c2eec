"""The frozen one-dir bundle, as CI ships it: built with PyInstaller from this checkout
(installers/build_bundle.sh, cached by a hash of the sources and the spec, so a re-run
takes seconds), then run as a user would on the desktop session (Xvfb + trayer + an
unlocked Secret Service): `--self-test` passes, the command line finds its commands, and
the demo's simulated LM Studio starts from the bundle (`-m tray.simulator`).

Skips only when PyInstaller is not installed and cannot be; under CI (CI=true) that fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"

pytestmark = pytest.mark.ui


def _pyinstaller_missing() -> str | None:
    def importable() -> bool:
        probe = [sys.executable, "-c", "import PyInstaller"]
        return subprocess.run(probe, capture_output=True, check=False).returncode == 0

    if importable():
        return None
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    done = subprocess.run(
        [*pip, "pyinstaller"], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode == 0 and importable():
        return None
    return (
        f"PyInstaller is not installed and `pip install pyinstaller` failed: {done.stderr[-300:]}"
    )


@pytest.fixture(scope="module")
def bundle() -> Path:
    missing = _pyinstaller_missing()
    if missing is not None:
        if IN_CI:
            pytest.fail(missing)
        pytest.skip(missing)
    done = subprocess.run(
        ["bash", str(REPO / "installers" / "build_bundle.sh"), sys.executable],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert (folder / "lmstudio-tray").is_file(), done.stderr[-2000:]
    return folder


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    """A throw-away HOME: nothing of the developer's settings, LM Studio or `lms`."""
    return tmp_path


def run_bundle(
    bundle: Path, user_home: Path, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PATH", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        HOME=str(user_home), XDG_CONFIG_HOME=str(user_home / ".config"), PATH="/usr/bin:/bin"
    )
    return subprocess.run(
        [str(bundle / "lmstudio-tray"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=user_home,  # not the checkout: the bundle must not lean on the sources
        timeout=timeout,
        check=False,
    )


def fake_lmstudio(bundle: Path, user_home: Path) -> Path:
    """`~/.lmstudio/bin/lms` running the bundle's own fake lms (no venv Python involved)."""
    lms = user_home / ".lmstudio" / "bin" / "lms"
    lms.parent.mkdir(parents=True)
    lms.write_text(
        f'#!/bin/sh\nexec "{bundle / "lmstudio-tray"}" -m tray.simulator lms "$@"\n',
        encoding="utf-8",
    )
    lms.chmod(0o755)
    return lms


# The first test builds the bundle (1-2 minutes cold; seconds when cached).
@pytest.mark.timeout(600)
def test_self_test_passes_in_the_frozen_bundle(bundle: Path, user_home: Path) -> None:
    lms = fake_lmstudio(bundle, user_home)
    done = run_bundle(bundle, user_home, "--self-test", "--json")
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc["frozen"] is True
    checks = {c["name"]: (c["level"], c["detail"]) for c in doc["checks"]}
    assert checks["Qt platform plugin"][1].startswith("xcb"), checks
    assert checks["lms"] == ("ok", str(lms))
    assert {level for level, _ in checks.values()} == {"ok"}, checks
    assert done.returncode == 0, done.stderr

    text = run_bundle(bundle, user_home, "--self-test")
    assert text.returncode == 0
    assert text.stdout.splitlines()[-1] == "passed"


@pytest.mark.timeout(600)
def test_self_test_fails_without_a_keyring(bundle: Path, user_home: Path) -> None:
    done = subprocess.run(
        [str(bundle / "lmstudio-tray"), "--self-test"],
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"},
            "HOME": str(user_home),
            # no session bus: the Secret Service cannot answer
            "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
        },
        timeout=90,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert any(line.split()[:2] == ["fail", "Keyring"] for line in done.stdout.splitlines())


@pytest.mark.timeout(600)
def test_the_command_line_and_the_demo_simulator_work_frozen(bundle: Path, user_home: Path) -> None:
    version = run_bundle(bundle, user_home, "--version")
    assert version.returncode == 0 and version.stdout.startswith("lmstudio-tray "), version

    # Every command module is found in the frozen archive (pkgutil over the bundle).
    helptext = run_bundle(bundle, user_home, "--help").stdout
    for command in ("status", "models", "tokens", "presets", "history", "mcp", "chat"):
        assert command in helptext, helptext

    # The demo runs `sys.executable -m tray.simulator serve`: the entry script does `-m`.
    home = user_home / ".lmstudio"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    env.update(HOME=str(user_home), PATH="/usr/bin:/bin")
    sim = subprocess.Popen(
        [str(bundle / "lmstudio-tray"), "-m", "tray.simulator", "serve", "--home", str(home)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert sim.stdout is not None
        line = sim.stdout.readline()  # blocks until the simulator says where it listens
        base_url = json.loads(line)["base_url"]
        status = run_bundle(bundle, user_home, "status", "--server", base_url, "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        assert json.loads(status.stdout)["server"]["reachable"] is True
    finally:
        sim.terminate()
        sim.wait(timeout=30)
        if sim.stdout is not None:
            sim.stdout.close()
        if sim.stderr is not None:
            sim.stderr.close()

    refused = run_bundle(bundle, user_home, "-m", "json.tool")
    assert refused.returncode == 2
