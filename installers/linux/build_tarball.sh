#!/usr/bin/env bash
# Linux tarball: lmstudio-tray-<version>-linux-<arch>.tar.gz holding the one-dir bundle,
# the menu entry, the icon and install.sh (a per-user install, no root needed).
#
#   bash installers/linux/build_tarball.sh [PYTHON] [OUT_DIR]     (default OUT_DIR: dist/)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${1:-$repo/.venv/bin/python}"
out="${2:-$repo/dist}"
bundle="$(bash "$repo/installers/build_bundle.sh" "$python" | tail -n1)"
version="$("$bundle/lmstudio-tray" --version | awk '{print $2}')"
name="lmstudio-tray-$version-linux-$(uname -m)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/$name" "$out"
cp -a "$bundle" "$stage/$name/lmstudio-tray"
cp "$repo/installers/linux/lmstudio-tray.desktop" "$repo/installers/linux/install.sh" "$stage/$name/"
cp "$repo/resources/icons/running.svg" "$stage/$name/lmstudio-tray.svg"
chmod +x "$stage/$name/install.sh"
# Reproducible-ish: fixed owner and sorted names.
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
