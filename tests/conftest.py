"""Set-up for every test tier: no test may write into the developer's own files, nor find or
hand over to the developer's own running tray.

HOME and every XDG folder (config, data, state, cache, runtime) point at throw-away folders:
for the whole run from the start (module imports and session fixtures included), and at
fresh ones for each test. Subprocesses that build their environment from `os.environ`
inherit them. installers/run_tests.py checks that folders given to the run stay empty.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

XDG_HOMES = {  # where each lives under HOME by the XDG base directory spec's defaults
    "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
    "XDG_CACHE_HOME": ".cache",
}

_run_folder: Path | None = None


def private_home(home: Path, runtime: Path) -> dict[str, str]:
    """HOME, the XDG folders inside it and a private runtime folder (0700, as the spec
    wants), all created."""
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    for var, sub in XDG_HOMES.items():
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    return env


def pytest_configure(config: pytest.Config) -> None:
    """Before any test module is imported: the run's own HOME and XDG folders."""
    global _run_folder
    # An X server's cookie is found through HOME unless XAUTHORITY names it: keep it.
    cookie = Path.home() / ".Xauthority"
    if "XAUTHORITY" not in os.environ and cookie.is_file():
        os.environ["XAUTHORITY"] = str(cookie)
    _run_folder = Path(tempfile.mkdtemp(prefix="lmstudio-tray-test-home-"))
    os.environ.update(private_home(_run_folder / "home", _run_folder / "runtime"))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _run_folder is not None:
        shutil.rmtree(_run_folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _private_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test gets a home and folders of its own: settings, history and state written
    through the app's default paths land there, and the one-tray-per-user lock and channel
    live in its runtime folder (a real tray's, which a test must never talk to, elsewhere)."""
    root = tmp_path_factory.mktemp("user")
    for var, value in private_home(root / "home", root / "runtime").items():
        monkeypatch.setenv(var, value)
    return root / "home"
