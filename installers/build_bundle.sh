#!/usr/bin/env bash
# Build the one-dir bundle of LM Studio Tray with PyInstaller, reusing a cached build.
#
#   bash installers/build_bundle.sh [PYTHON]
#
# PYTHON (default: <repo>/.venv/bin/python, else python3) is an environment with the app
# installed and PyInstaller (`pip install pyinstaller`). Prints the bundle folder (which
# holds the `lmstudio-tray` executable) on the last line of stdout.
#
# Cache: $LMSTRAY_BUNDLE_CACHE (default: $XDG_CACHE_HOME/lmstudio-tray-bundle, else
# ~/.cache/lmstudio-tray-bundle) keeps one bundle per key, the SHA-256 of the app's sources,
# resources, the spec, its entry script and the versions of Python, PyInstaller and every
# installed package. Same key: no rebuild (CI restores this folder between runs). Older
# bundles are removed so the cache holds one.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${1:-}"
if [[ -z "$python" ]]; then
    if [[ -x "$repo/.venv/bin/python" ]]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
cache="${LMSTRAY_BUNDLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lmstudio-tray-bundle}"
spec="$repo/installers/pyinstaller/lmstudio-tray.spec"

say() { printf 'build_bundle: %s\n' "$*" >&2; }

if ! "$python" -c 'import PyInstaller' >/dev/null 2>&1; then
    say "PyInstaller is not installed in $python's environment: $python -m pip install pyinstaller"
    exit 69
fi

key="$(
    cd "$repo"
    {
        find tray resources installers/pyinstaller -type f \
            ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
        "$python" -c 'import sys, platform; print(sys.version, platform.machine())'
        "$python" -m pip freeze --disable-pip-version-check --exclude-editable 2>/dev/null
    } | sha256sum | cut -c1-16
)"
out="$cache/$key"
bundle="$out/dist/lmstudio-tray"

if [[ -x "$bundle/lmstudio-tray" && -f "$out/complete" ]]; then
    say "cached bundle $key is up to date"
    printf '%s\n' "$bundle"
    exit 0
fi

mkdir -p "$cache"
# One build at a time per cache (two test runs may race); others wait for it.
exec 9>"$cache/.lock"
flock 9
if [[ ! -f "$out/complete" ]]; then
    rm -rf "$out"
    say "building bundle $key (a first build takes 1-2 minutes)"
    started=$SECONDS
    "$python" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "$out/dist" --workpath "$out/build" "$spec" >&2
    rm -rf "$out/build"  # only dist/ is worth keeping
    touch "$out/complete"
    say "built in $((SECONDS - started)) s: $(du -sh "$bundle" | cut -f1) in $bundle"
    # Keep the cache to this one bundle.
    find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
fi
printf '%s\n' "$bundle"
