"""`lmstudio-tray --self-test`: does this installation work on this machine?

Run after installing (or by CI inside the frozen bundle) it checks what a user would
otherwise find out the hard way, prints one line per check and exits 1 when something the
app cannot work without is broken:

    Display              on Linux and the BSDs: DISPLAY or WAYLAND_DISPLAY is set (only
                         reported when neither is; the Qt checks then run with Qt's
                         offscreen platform, so everything else is still checked)  fail
    Qt platform plugin   loads (a missing xcb library or plugin aborts Qt: it is probed in a
                         child process, so the report still comes out)             fail
    System tray          a tray host is there; without one the app shows a window   warn
    Icons                every SVG resource and every tray state icon renders       fail
    SVG image plugin     Qt's `svg` image format is bundled                         warn
    Keyring              an OS keyring backend is found, not a plaintext/null/fail one
                         (nothing is stored or read)                                fail
    Settings             the settings file is readable (else defaults are used)     warn
    Server address       only reported when the active server's address is not one  warn
    LM Studio home, lms  found; missing is a normal first run (the app offers the
                         demo), so only a warning                                   warn

Works the same from a venv (`python -m tray.selftest`) and frozen: the PyInstaller entry
script hands `--self-test` here before the tray's start-up path runs, and the Qt probe
re-runs this same executable with `--qt-probe`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, TypeAdapter

from tray import APP_NAME, __version__
from tray.core.words import plural

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from PySide6.QtSvg import QSvgRenderer

__all__ = [
    "QT_PROBE_FLAG",
    "Check",
    "Level",
    "Report",
    "display_check",
    "keyring_check",
    "lmstudio_checks",
    "main",
    "probe_command",
    "qt_checks",
    "render",
    "run_self_test",
]

QT_PROBE_FLAG = "--qt-probe"
DISPLAY_CHECK = "Display"
# Qt platforms that draw without a display (QT_QPA_PLATFORM names them).
_NO_DISPLAY_NEEDED = frozenset(
    {"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"}
)
QT_PROBE_TIMEOUT_SECONDS = 60.0
_ICON_PIXELS = 32


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


class Check(BaseModel):
    name: str
    level: Level
    detail: str
    hint: str = ""  # what to do about a warning or failure


class Report(BaseModel):
    app: str
    version: str
    python: str
    platform: str
    frozen: bool
    executable: str
    checks: list[Check]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.level is Level.FAIL]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.level is Level.WARN]

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


_CHECKS = TypeAdapter(list[Check])


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def probe_command(*, frozen: bool | None = None, executable: str | None = None) -> list[str]:
    """The argv that runs the Qt checks in a child process of the same installation."""
    exe = executable or sys.executable
    if is_frozen() if frozen is None else frozen:
        return [exe, "--self-test", QT_PROBE_FLAG]
    return [exe, "-m", "tray.selftest", QT_PROBE_FLAG]


# --- Qt: run in the child ---------------------------------------------------------------


def qt_checks() -> list[Check]:
    """Platform plugin, tray, icons, SVG plugin, in this process. Creating the QApplication
    aborts the process when no platform plugin loads: call it only in the probe child."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import QByteArray, qVersion
    from PySide6.QtGui import QImageReader
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    from tray.core.status import ServerState
    from tray.ui.icons import state_icon
    from tray.ui.resources import resources_root

    app = QApplication.instance() or QApplication([APP_NAME])
    checks = [
        Check(
            name="Qt platform plugin",
            level=Level.OK,
            detail=f"{QApplication.platformName()} (Qt {qVersion()}, PySide6 {pyside_version})",
        )
    ]
    if QSystemTrayIcon.isSystemTrayAvailable():
        checks.append(Check(name="System tray", level=Level.OK, detail="available"))
    else:
        checks.append(
            Check(
                name="System tray",
                level=Level.WARN,
                detail=f"no system tray on this desktop ({QApplication.platformName()})",
                hint="The app shows a window instead. On GNOME install and enable the "
                "AppIndicator extension (gnome-shell-extension-appindicator); elsewhere add "
                "a System Tray widget to a panel.",
            )
        )

    broken: list[str] = []
    rendered = 0
    try:
        root = resources_root()
        svgs = sorted(_svg_files(root, "icons"))
        for relative, data in svgs:
            renderer = QSvgRenderer(QByteArray(data))
            if not renderer.isValid() or not _paints(renderer):
                broken.append(relative)
            else:
                rendered += 1
        for state in ServerState:
            for template in (False, True):
                icon = state_icon(state, demo=True, warning=True, template=template)
                if icon.isNull() or icon.pixmap(22, 22).isNull():
                    broken.append(f"{state.value} tray icon{' (template)' if template else ''}")
    except Exception as exc:  # a missing resource folder or a damaged icon
        broken.append(f"{type(exc).__name__}: {getattr(exc, 'message', exc)}")
    if broken or not rendered:
        checks.append(
            Check(
                name="Icons",
                level=Level.FAIL,
                detail="do not render: " + (", ".join(broken) or "no SVG icons found"),
                hint="The installation is incomplete: reinstall LM Studio Tray.",
            )
        )
    else:
        checks.append(
            Check(
                name="Icons",
                level=Level.OK,
                detail=f"{rendered} SVG files and {len(ServerState) * 2} tray state icons render",
            )
        )

    formats = {
        bytes(f.data()).decode("ascii", "replace") for f in QImageReader.supportedImageFormats()
    }
    if "svg" in formats:
        checks.append(Check(name="SVG image plugin", level=Level.OK, detail="svg image format"))
    else:
        checks.append(
            Check(
                name="SVG image plugin",
                level=Level.WARN,
                detail="Qt's svg image format plugin is missing",
                hint="Images in chat answers that are SVG will not show; reinstall the app.",
            )
        )
    del app  # the QApplication lives until the process ends; nothing else runs here
    return checks


def _svg_files(node: Traversable, relative: str) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    folder = node
    for part in relative.split("/"):
        folder = folder / part
    for child in folder.iterdir():
        name = f"{relative}/{child.name}"
        if child.is_dir():
            found += _svg_files(node, name)
        elif child.name.endswith(".svg"):
            found.append((name, child.read_bytes()))
    return found


def _paints(renderer: QSvgRenderer) -> bool:
    """Whether the SVG puts at least one visible pixel on a transparent image."""
    from PySide6.QtGui import QImage, QPainter

    image = QImage(_ICON_PIXELS, _ICON_PIXELS, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return any(
        image.pixelColor(x, y).alpha() > 0 for y in range(_ICON_PIXELS) for x in range(_ICON_PIXELS)
    )


def _qt_probe_main() -> int:
    try:
        checks = qt_checks()
    except Exception as exc:
        checks = [
            Check(
                name="Qt",
                level=Level.FAIL,
                detail=f"{type(exc).__name__}: {exc}",
                hint="Reinstall LM Studio Tray.",
            )
        ]
    sys.stdout.write(_CHECKS.dump_json(checks).decode("utf-8") + "\n")
    sys.stdout.flush()
    return 0


def display_check(
    environ: Mapping[str, str] | None = None, platform_name: str = sys.platform
) -> Check | None:
    """A failing check when the tray has no display to show on (Linux and the BSDs without
    DISPLAY or WAYLAND_DISPLAY), else None. Windows and macOS always have their desktop."""
    env = os.environ if environ is None else environ
    if platform_name in ("win32", "darwin", "cygwin"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    platforms = {p.split(":")[0].strip().lower() for p in env.get("QT_QPA_PLATFORM", "").split(";")}
    if platforms & _NO_DISPLAY_NEEDED:
        return None  # asked for on purpose (CI, a check over ssh)
    return Check(
        name=DISPLAY_CHECK,
        level=Level.FAIL,
        detail="DISPLAY and WAYLAND_DISPLAY are not set, so the tray has no desktop to show in",
        hint="Run lmstudio-tray inside a desktop session (or over ssh -X); without one, "
        "the Qt checks run on Qt's offscreen platform.",
    )


def _without_display(checks: list[Check]) -> list[Check]:
    """The probe's checks as they read when Qt ran offscreen for want of a display: what
    needs the desktop was not tried, which is not the same as broken."""
    again = "Run the self-test again inside the desktop session."
    shown: list[Check] = []
    for check in checks:
        if check.name == "Qt platform plugin" and check.level is Level.OK:
            versions = check.detail.removeprefix("offscreen").strip()
            check = Check(
                name=check.name,
                level=Level.WARN,
                detail="the desktop's plugin (xcb or wayland) was not tried without a display; "
                f"Qt itself starts offscreen {versions}",
                hint=again,
            )
        elif check.name == "System tray":
            check = Check(
                name=check.name,
                level=Level.WARN,
                detail="not checked without a display",
                hint=again,
            )
        shown.append(check)
    return shown


def run_qt_probe(
    command: list[str] | None = None,
    *,
    timeout: float = QT_PROBE_TIMEOUT_SECONDS,
    offscreen: bool = False,
) -> list[Check]:
    """The Qt checks from a child process; a child that dies (Qt aborts when no platform
    plugin loads) or hangs is a failure of the platform plugin, with Qt's own words.
    `offscreen` runs Qt on its offscreen platform (for when there is no display)."""
    argv = command or probe_command()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"} if offscreen else None
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return [
            Check(
                name="Qt platform plugin",
                level=Level.FAIL,
                detail=f"Qt did not start within {timeout:.0f} s",
                hint="Check that the display answers (DISPLAY / WAYLAND_DISPLAY).",
            )
        ]
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    if done.returncode == 0 and lines:
        try:
            return _CHECKS.validate_json(lines[-1])
        except ValueError:
            pass
    said = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return [
        Check(
            name="Qt platform plugin",
            level=Level.FAIL,
            detail=f"Qt could not start (exit code {done.returncode}): "
            + (" / ".join(said[-4:]) or "no message"),
            hint=_platform_hint(),
        )
    ]


def _platform_hint() -> str:
    if sys.platform.startswith("linux"):
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            return "No display: run it inside a desktop session (DISPLAY or WAYLAND_DISPLAY)."
        return (
            "Qt's xcb plugin needs libxcb-cursor0, libxkbcommon-x11-0, libxcb-icccm4, "
            "libxcb-keysyms1, libxcb-shape0, libxcb-randr0, libxcb-render-util0, "
            "libxcb-image0 and libegl1; install the missing ones with your package manager."
        )
    return "Reinstall LM Studio Tray."


# --- the rest: in this process, without Qt ------------------------------------------------


def keyring_check() -> Check:
    """Which keyring tokens would go to, resolved the way the token vault does (refusing
    plaintext, null and fail backends). Reads and stores nothing, so no unlock prompt."""
    try:
        from tray.core.errors import TrayError
        from tray.services.token_vault import TokenVault

        name = asyncio.run(TokenVault().backend_name())
    except TrayError as exc:
        return Check(
            name="Keyring",
            level=Level.FAIL,
            detail=exc.message,
            hint="API tokens can then only be kept for one session.",
        )
    except Exception as exc:  # a backend module that does not import in this bundle
        return Check(
            name="Keyring",
            level=Level.FAIL,
            detail=f"keyring failed: {type(exc).__name__}: {exc}",
            hint="Reinstall LM Studio Tray.",
        )
    return Check(name="Keyring", level=Level.OK, detail=name)


def lmstudio_checks(settings_path: Path | None = None) -> list[Check]:
    """Settings readable; LM Studio's home and `lms` found (missing: warnings)."""
    from tray.services.environment import discover
    from tray.services.settings_store import SettingsService, SettingsStore

    service = SettingsService(SettingsStore(settings_path))
    checks: list[Check] = []
    if service.problem is not None:
        checks.append(
            Check(
                name="Settings",
                level=Level.WARN,
                detail=service.problem.message,
                hint="The app uses default settings; saving them keeps the old file as .bak.",
            )
        )
    else:
        checks.append(
            Check(
                name="Settings",
                level=Level.OK,
                detail=f"{service.store.path} (or defaults when absent)",
            )
        )
    env = discover(service.settings, settings_file=service.store.path)
    if env.server_url_error is not None:
        checks.append(
            Check(
                name="Server address",
                level=Level.WARN,
                detail=env.server_url_error.message,
                hint="Correct it in Settings › Servers; until then the tray cannot reach it.",
            )
        )
    first_run = "Normal before LM Studio's first run: install LM Studio and start it once, or "
    if env.home.exists:
        checks.append(Check(name="LM Studio home", level=Level.OK, detail=env.home.describe()))
    else:
        checks.append(
            Check(
                name="LM Studio home",
                level=Level.WARN,
                detail=f"not found: {env.home.describe()}",
                hint=first_run + "try the app with --demo.",
            )
        )
    if env.lms_path is not None:
        checks.append(Check(name="lms", level=Level.OK, detail=str(env.lms_path)))
    else:
        checks.append(
            Check(
                name="lms",
                level=Level.WARN,
                detail="LM Studio's command-line tool was not found (PATH, ~/.lmstudio/bin)",
                hint=first_run + "set its path in Settings; the tray works without it "
                "through the server's REST API.",
            )
        )
    return checks


def run_self_test(
    *, settings_path: Path | None = None, qt_probe: list[str] | None = None
) -> Report:
    display = display_check()
    checks = [display] if display is not None else []
    # Without a display Qt's own platform would only abort: check the rest offscreen —
    # unless QT_QPA_PLATFORM names a platform, which is then what gets tried.
    offscreen = display is not None and not os.environ.get("QT_QPA_PLATFORM")
    probed = run_qt_probe(qt_probe, offscreen=offscreen)
    checks += _without_display(probed) if offscreen else probed
    checks.append(keyring_check())
    checks += lmstudio_checks(settings_path)
    return Report(
        app=APP_NAME,
        version=__version__,
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.release()} ({platform.machine()})",
        frozen=is_frozen(),
        executable=sys.executable,
        checks=checks,
    )


def render(report: Report) -> str:
    how = "frozen bundle" if report.frozen else f"Python {report.python}"
    lines = [f"{report.app} {report.version} self-test — {how}, {report.platform}"]
    display = next((c for c in report.checks if c.name == DISPLAY_CHECK), None)
    if display is not None and display.level is not Level.OK:
        # Said first: it explains every other line (the tray cannot show; Qt ran offscreen).
        lines.insert(0, f"No display: {display.detail}. {display.hint}")
    width = max(len(c.name) for c in report.checks)
    for check in report.checks:
        lines.append(f"  {check.level.value:<4}  {check.name:<{width}}  {check.detail}")
        if check.hint and check.level is not Level.OK and check is not display:
            lines.append(f"        {'':<{width}}  → {check.hint}")
    if report.failures:
        summary = f"FAILED: {len(report.failures)} of {len(report.checks)} checks failed"
    else:
        summary = "passed"
    if report.warnings:
        summary += f" ({plural(len(report.warnings), 'warning')})"
    lines.append(summary)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Exit code 0: works (warnings allowed); 1: a check failed."""
    parser = argparse.ArgumentParser(
        prog="lmstudio-tray --self-test",
        description="Check that this installation of LM Studio Tray works on this machine.",
    )
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(QT_PROBE_FLAG, action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--settings", metavar="FILE", type=Path, default=None, help=argparse.SUPPRESS
    )
    args, _ignored = parser.parse_known_args(argv)
    if args.qt_probe:
        return _qt_probe_main()
    report = run_self_test(settings_path=args.settings)
    if args.json:
        doc = report.model_dump(mode="json")
        doc["exit_code"] = report.exit_code
        text = json.dumps(doc, indent=2)
    else:
        text = render(report)
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `--self-test | head -1`: the reader has what it wanted
        from tray.cli import reader_gone

        reader_gone()
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
