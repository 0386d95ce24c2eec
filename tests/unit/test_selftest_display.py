"""`--self-test` knows when there is no display, and says so before anything else."""

from __future__ import annotations

import pytest

from tray.selftest import Check, Level, Report, display_check, render


@pytest.mark.parametrize(
    ("environ", "platform", "missing"),
    [
        ({}, "linux", True),
        ({"DISPLAY": ""}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({}, "freebsd14", True),
        ({"DISPLAY": ":0"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),  # asked for on purpose
        ({"QT_QPA_PLATFORM": "wayland;vnc:size=800x600"}, "linux", False),
        ({}, "win32", False),
        ({}, "darwin", False),
    ],
)
def test_no_display_is_noticed_only_where_one_is_needed(
    environ: dict[str, str], platform: str, missing: bool
) -> None:
    check = display_check(environ, platform)
    assert (check is not None) is missing
    if check is not None:
        assert check.level is Level.FAIL
        assert "DISPLAY and WAYLAND_DISPLAY" in check.detail


def test_the_report_opens_with_the_missing_display() -> None:
    display = display_check({}, "linux")
    assert display is not None
    report = Report(
        app="LM Studio Tray",
        version="1",
        python="3.11",
        platform="Linux",
        frozen=False,
        executable="python",
        checks=[display, Check(name="Icons", level=Level.OK, detail="render")],
    )
    lines = render(report).splitlines()
    assert lines[0] == f"No display: {display.detail}. {display.hint}"
    assert lines[1].startswith("LM Studio Tray 1 self-test")
    assert sum(display.hint in line for line in lines) == 1  # said once
