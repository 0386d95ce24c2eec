"""One source of the app's folders: the XDG variables move all of them, the demo keeps all
but the runtime folder in its throw-away home, and no other module works a folder out."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tray.services.app_paths import AppPaths, runtime_folder

TRAY = Path(__file__).resolve().parents[2] / "tray"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG is Linux's")


@linux_only
def test_default_follows_the_xdg_variables_as_they_are_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, sub in (
        ("XDG_CONFIG_HOME", "c"),
        ("XDG_DATA_HOME", "d"),
        ("XDG_STATE_HOME", "s"),
        ("XDG_CACHE_HOME", "k"),
        ("XDG_RUNTIME_DIR", "r"),
    ):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    paths = AppPaths.default()
    assert paths.settings_file == tmp_path / "c" / "lmstudio-tray" / "settings.json"
    assert paths.load_profiles_dir == tmp_path / "c" / "lmstudio-tray" / "load-profiles"
    assert paths.history_dir == tmp_path / "d" / "lmstudio-tray" / "history"
    assert paths.state_dir == tmp_path / "s" / "lmstudio-tray"
    assert paths.cache_dir == tmp_path / "k" / "lmstudio-tray"
    assert paths.runtime_dir == tmp_path / "r" / "lmstudio-tray"
    assert not any(p.exists() for p in (paths.config_dir, paths.data_dir, paths.state_dir))


@linux_only
def test_without_a_runtime_folder_the_temporary_one_of_the_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert runtime_folder().name.startswith("lmstudio-tray-")


def test_the_demo_keeps_everything_but_the_runtime_folder_at_home(tmp_path: Path) -> None:
    demo = AppPaths.demo(tmp_path)
    own = (
        demo.settings_file,
        demo.load_profiles_dir,
        demo.history_dir,
        demo.state_dir,
        demo.cache_dir,
    )
    assert all(p.is_relative_to(tmp_path) for p in own)
    assert len(set(own)) == len(own)
    assert demo.runtime_dir == AppPaths.default().runtime_dir  # the one tray of this user


def test_no_other_module_works_out_an_app_folder() -> None:
    found = []
    for source in TRAY.rglob("*.py"):
        if source.name == "app_paths.py":
            continue
        text = source.read_text(encoding="utf-8")
        if re.search(r"\bplatformdirs\b|XDG_(DATA|STATE|CACHE)_HOME|XDG_RUNTIME_DIR", text):
            found.append(str(source.relative_to(TRAY)))
    assert found == []
