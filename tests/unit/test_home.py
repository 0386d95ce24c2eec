from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from tray.core.home import HomeSource, resolve_home
from tray.services.lmstudio_home import locate_home

U = PurePosixPath("/home/ada")


@pytest.mark.parametrize(
    ("pointer", "legacy", "expected", "source"),
    [
        ("/data/lms\n", True, "/data/lms", HomeSource.POINTER),
        (
            "  /Users/ken/.cache/lm-studio  ",
            False,
            "/Users/ken/.cache/lm-studio",
            HomeSource.POINTER,
        ),
        (None, True, "/home/ada/.cache/lm-studio", HomeSource.LEGACY_CACHE),
        ("", True, "/home/ada/.cache/lm-studio", HomeSource.LEGACY_CACHE),
        (None, False, "/home/ada/.lmstudio", HomeSource.DEFAULT),
    ],
)
def test_resolution_order_matches_lm_studio(
    pointer: str | None, legacy: bool, expected: str, source: HomeSource
) -> None:
    path, got = resolve_home(user_home=U, pointer_content=pointer, legacy_cache_exists=legacy)
    assert (str(path), got) == (expected, source)


def test_override_wins_over_everything() -> None:
    path, source = resolve_home(
        user_home=U, pointer_content="/x", legacy_cache_exists=True, override=PurePosixPath("/o")
    )
    assert (str(path), source) == ("/o", HomeSource.OVERRIDE)


def test_locate_home_reads_the_pointer_and_never_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / ".lmstudio").mkdir()  # ignored: the pointer wins
    (tmp_path / ".lmstudio-home-pointer").write_text(f"{elsewhere}\n", encoding="utf-8-sig")
    loc = locate_home()
    assert loc.path == elsewhere and loc.source is HomeSource.POINTER and loc.exists
    assert str(elsewhere) in loc.describe()


def test_locate_home_without_lm_studio_leaves_the_disk_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    loc = locate_home()
    assert loc.path == tmp_path / ".lmstudio" and not loc.exists
    assert "does not exist" in loc.describe()
    assert list(tmp_path.iterdir()) == []  # LM Studio writes the pointer; we never do
