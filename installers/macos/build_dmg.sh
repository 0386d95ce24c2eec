#!/usr/bin/env bash
# macOS: build "LM Studio Tray.app" with PyInstaller and pack it into a .dmg with an
# /Applications shortcut (hdiutil, built into macOS). Run on a Mac, from a venv with the
# app and PyInstaller installed:
#
#   bash installers/macos/build_dmg.sh [PYTHON] [OUT_DIR]     (default OUT_DIR: dist/)
#
# Signing and notarising need an Apple Developer ID: set CODESIGN_IDENTITY to sign the .app
# (hardened runtime); notarise the .dmg afterwards with `xcrun notarytool submit --wait`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${1:-$repo/.venv/bin/python}"
out="${2:-$repo/dist}"
[[ "$(uname -s)" == Darwin ]] || { echo "build_dmg: run this on macOS" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The Finder icon: an .icns from the colour SVG (qlmanage renders SVG; iconutil packs).
iconset="$work/lmstudio-tray.iconset"
mkdir -p "$iconset"
if qlmanage -t -s 1024 -o "$work" "$repo/resources/icons/running.svg" >/dev/null 2>&1; then
    for size in 16 32 128 256 512; do
        sips -z "$size" "$size" "$work/running.svg.png" --out "$iconset/icon_${size}x${size}.png" >/dev/null
        sips -z $((size * 2)) $((size * 2)) "$work/running.svg.png" --out "$iconset/icon_${size}x${size}@2x.png" >/dev/null
    done
    iconutil -c icns "$iconset" -o "$work/lmstudio-tray.icns" && export LMSTRAY_ICNS="$work/lmstudio-tray.icns"
fi

"$python" -m PyInstaller --noconfirm --distpath "$work/dist" --workpath "$work/build" \
    "$repo/installers/pyinstaller/lmstudio-tray.spec"
app="$work/dist/LM Studio Tray.app"
if [[ -n "${CODESIGN_IDENTITY:-}" ]]; then
    codesign --deep --force --options runtime --sign "$CODESIGN_IDENTITY" "$app"
fi
"$app/Contents/MacOS/lmstudio-tray" --self-test || echo "build_dmg: the self-test reported a problem (see above)" >&2

version="$("$app/Contents/MacOS/lmstudio-tray" --version | awk '{print $2}')"
stage="$work/dmg"
mkdir -p "$stage" "$out"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
dmg="$out/LM-Studio-Tray-$version-macos-$(uname -m).dmg"
rm -f "$dmg"
hdiutil create -volname "LM Studio Tray" -srcfolder "$stage" -fs HFS+ -format UDZO "$dmg"
echo "$dmg"
