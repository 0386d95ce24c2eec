"""Settings of the macOS `.app` that the PyInstaller spec's BUNDLE step writes.

`LSUIElement`: a menu-bar-only app — no Dock icon, no app menu, no Cmd-Tab entry; the
status item (QSystemTrayIcon) is the whole UI. The menu bar icon itself is the monochrome
template set (resources/icons/template/*.svg, picked at run time by tray.ui.tray_icon on
macOS), which the menu bar tints for light and dark mode; ICON is the Finder/Launchpad
icon, an .icns built from resources/icons/running.svg when `iconutil` is available
(build_dmg.sh), else PyInstaller's default.
"""

from __future__ import annotations

import os

from tray import APP_ID, APP_NAME, __version__

ICON: str | None = os.environ.get("LMSTRAY_ICNS") or None

INFO_PLIST: dict[str, object] = {
    "CFBundleName": APP_NAME,
    "CFBundleDisplayName": APP_NAME,
    "CFBundleIdentifier": APP_ID,
    "CFBundleShortVersionString": __version__,
    "CFBundleVersion": __version__,
    "LSUIElement": True,
    "LSMinimumSystemVersion": "12.0",
    "NSHighResolutionCapable": True,
    "NSRequiresAquaSystemAppearance": False,  # follow dark mode
    # The global hotkey backend asks for Accessibility when it needs it; say why.
    "NSAppleEventsUsageDescription": "LM Studio Tray uses this for its global quick-chat hotkey.",
}
