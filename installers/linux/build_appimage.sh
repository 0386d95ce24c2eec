#!/usr/bin/env bash
# Linux AppImage: builds the AppDir (AppRun, the .desktop entry, the icon, the one-dir
# bundle), then packs it with appimagetool when that is on PATH.
#
#   bash installers/linux/build_appimage.sh [PYTHON] [OUT_DIR]    (default OUT_DIR: dist/)
#
# appimagetool is not packaged by Debian and needs a download (offline machines: build
# the AppDir here, then elsewhere run `ARCH=x86_64 appimagetool OUT_DIR/LMStudioTray.AppDir`
# with appimagetool from https://github.com/AppImage/appimagetool/releases).
#
# Start at login from an AppImage: the app runs from a mount point that changes at every
# start; the autostart entry must name the .AppImage file itself ($APPIMAGE).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${1:-$repo/.venv/bin/python}"
out="${2:-$repo/dist}"
bundle="$(bash "$repo/installers/build_bundle.sh" "$python" | tail -n1)"
version="$("$bundle/lmstudio-tray" --version | awk '{print $2}')"
appdir="$out/LMStudioTray.AppDir"

rm -rf "$appdir"
mkdir -p "$appdir/usr/lib" "$appdir/usr/share/applications" "$appdir/usr/share/icons/hicolor/scalable/apps"
cp -a "$bundle" "$appdir/usr/lib/lmstudio-tray"
cp "$repo/installers/linux/lmstudio-tray.desktop" "$appdir/lmstudio-tray.desktop"
cp "$repo/installers/linux/lmstudio-tray.desktop" "$appdir/usr/share/applications/"
cp "$repo/resources/icons/running.svg" "$appdir/lmstudio-tray.svg"
cp "$repo/resources/icons/running.svg" "$appdir/usr/share/icons/hicolor/scalable/apps/lmstudio-tray.svg"
ln -sfn lmstudio-tray.svg "$appdir/.DirIcon"
cat >"$appdir/AppRun" <<'RUN'
#!/bin/sh
here="$(dirname "$(readlink -f "$0")")"
exec "$here/usr/lib/lmstudio-tray/lmstudio-tray" "$@"
RUN
chmod +x "$appdir/AppRun"

if command -v appimagetool >/dev/null 2>&1; then
    target="$out/LM_Studio_Tray-$version-$(uname -m).AppImage"
    ARCH="$(uname -m)" appimagetool --no-appstream "$appdir" "$target" >&2
    echo "$target"
else
    echo "build_appimage: appimagetool is not on PATH; the AppDir is ready: pack it with" \
         "'ARCH=$(uname -m) appimagetool $appdir'" >&2
    echo "$appdir"
fi
