#!/usr/bin/env bash
# Install (or remove) an unpacked LM Studio Tray tarball for the current user: the app in
# ~/.local/opt/lmstudio-tray, `lmstudio-tray` in ~/.local/bin, the menu entry and icon.
#
#   ./install.sh              install (again: replaces the previous version)
#   ./install.sh --uninstall  remove it (settings, history and tokens stay)
#
# Start at login is switched on from the app (Settings → Start at login): the app writes
# the XDG autostart entry itself, pointing at this installed executable.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
opt="$HOME/.local/opt/lmstudio-tray"
bin="$HOME/.local/bin"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
}

if [[ "${1:-}" == "--uninstall" ]]; then
    rm -rf "$opt"
    rm -f "$bin/lmstudio-tray" "$data/applications/lmstudio-tray.desktop" \
          "$data/icons/hicolor/scalable/apps/lmstudio-tray.svg"
    refresh
    echo "LM Studio Tray removed. Settings, history and tokens are kept; see the user guide to remove them."
    exit 0
fi

[[ -x "$here/lmstudio-tray/lmstudio-tray" ]] || { echo "install.sh: run it from the unpacked tarball" >&2; exit 1; }
rm -rf "$opt.new"
mkdir -p "$opt.new" "$bin" "$data/applications" "$data/icons/hicolor/scalable/apps"
cp -a "$here/lmstudio-tray/." "$opt.new/"
rm -rf "$opt"
mv "$opt.new" "$opt"
ln -sfn "$opt/lmstudio-tray" "$bin/lmstudio-tray"
# Exec/TryExec with the absolute path: ~/.local/bin is not on every session's PATH.
sed -e "s|^Exec=.*|Exec=$opt/lmstudio-tray|" -e "s|^TryExec=.*|TryExec=$opt/lmstudio-tray|" \
    "$here/lmstudio-tray.desktop" >"$data/applications/lmstudio-tray.desktop"
cp "$here/lmstudio-tray.svg" "$data/icons/hicolor/scalable/apps/lmstudio-tray.svg"
refresh
echo "LM Studio Tray installed in $opt. Check it with: $bin/lmstudio-tray --self-test"
