#!/usr/bin/env bash
# Set up LM Studio Tray on a Debian/Ubuntu machine, then optionally run it or its tests.
#
#   bash installers/setup.sh                    set up only
#   bash installers/setup.sh run [APP ARGS...]  set up, then start the tray (the demo, with a
#                                               simulated LM Studio, if LM Studio is missing)
#   bash installers/setup.sh test [PYTEST ARGS...]
#                                               set up, then run the whole test suite on a
#                                               real (virtual) desktop with a tray and keyring
#
# Safe to run again, from any folder: system packages are installed only when missing (as
# root, with apt-get), and the Python environment (<repo>/.venv) is refreshed only when
# pyproject.toml changed since the last successful install.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
stamp="$venv/.lmstudio-tray-installed"

# One list for every mode: the desktop tools also serve a headless `run`, and splitting
# would save little on a machine that runs the tests anyway.
apt_packages=(
    # a virtual display, a tray host, screenshots and clicks
    xvfb xauth xdotool trayer imagemagick x11-utils
    # what Qt's xcb platform plugin loads (PySide6 wheels bring Qt, not these)
    libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libxcb-xinerama0
    libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libegl1 libgl1
    libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-dejavu-core
    # a real OS keyring (Secret Service) on a private D-Bus session
    gnome-keyring libsecret-tools dbus dbus-x11
)

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
}

mode="setup"
if [[ $# -gt 0 ]]; then
    case "$1" in
        run | test) mode="$1"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage; exit 64 ;;
    esac
fi

python_ok() {  # python_ok PYTHON: is it Python >= 3.11?
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

deb_installed() {  # Ubuntu 24.04 renamed some libraries with a t64 suffix
    local name
    for name in "$1" "$1t64"; do
        [[ "$(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null)" == installed ]] \
            && return 0
    done
    return 1
}

install_system_packages() {
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
        say "not a Debian/Ubuntu system: make sure Xvfb, trayer, xdotool, ImageMagick," \
            "gnome-keyring and dbus are installed if you run the tests."
        return 0
    fi
    local wanted=("${apt_packages[@]}") missing=() package
    command -v python3 >/dev/null 2>&1 || wanted+=(python3)
    # Debian's Python needs python3-venv for `python3 -m venv` (it carries ensurepip).
    if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip' >/dev/null 2>&1 \
        && [[ ! -x "$venv/bin/python" ]]; then
        wanted+=(python3-venv)
    fi
    for package in "${wanted[@]}"; do
        deb_installed "$package" || missing+=("$package")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ "$(id -u)" -ne 0 ]]; then
        say "some system packages are missing; install them with:"
        printf '\n    sudo apt-get install -y %s\n\n' "${missing[*]}" >&2
        say "(going on: only what needs them will fail)"
        return 0
    fi
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

make_venv() {
    if [[ -x "$venv/bin/python" ]] && python_ok "$venv/bin/python"; then
        return 0
    fi
    local python
    python="$(find_python)" || die "LM Studio Tray needs Python 3.11 or newer, and none was" \
        "found (python3 is $(python3 --version 2>&1 || echo missing)). Install python3.11" \
        "or newer (Debian 12: apt-get install python3 python3-venv) and run this again."
    [[ -e "$venv" ]] && { say "replacing the unusable environment in $venv"; rm -rf "$venv"; }
    say "creating the Python environment in $venv with $python ($("$python" --version 2>&1))"
    "$python" -m venv "$venv" \
        || die "'$python -m venv' failed (see above); on Debian/Ubuntu it needs python3-venv."
}

install_python_packages() {
    local want
    want="$(cat "$repo/pyproject.toml" <("$venv/bin/python" --version 2>&1) | sha256sum | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
        && "$venv/bin/python" -c 'import tray' >/dev/null 2>&1; then
        return 0
    fi
    say "installing LM Studio Tray and its test tools into $venv (a first install" \
        "downloads about 350 MB, mostly Qt, and compiles llama.cpp for the tests: about" \
        "4 minutes on 2 cores, once, since pip caches the wheel it builds)"
    # llama-cpp-python (test extra) ships only an sdist: build libllama alone, for any
    # AVX2 x86-64 CPU (ggml's baseline without GGML_NATIVE) rather than for this one
    # (-march=native could make a cached wheel crash on another machine), without the
    # multimodal library (mtmd/llava), llama.cpp's tools, examples and tests, and its
    # HTTPS support: all unused. A CMAKE_ARGS already set wins. pip's wheel cache is keyed
    # by the sdist, not by these flags: to rebuild with others, first
    # `pip cache remove llama_cpp_python`.
    local llama_cmake_args=(
        -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TOOLS=OFF
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF
    )
    CMAKE_ARGS="${CMAKE_ARGS:-${llama_cmake_args[*]}}" \
        "$venv/bin/python" -m pip install --disable-pip-version-check -q -e "${repo}[test]"
    printf '%s\n' "$want" >"$stamp"
}

refuse_plaintext_keyring() {
    # keyrings.alt makes `keyring` fall back to a plaintext file without a word: tokens
    # must fail loudly instead when no real keyring exists.
    if "$venv/bin/python" -c 'import importlib.util, sys
sys.exit(importlib.util.find_spec("keyrings.alt") is None)' 2>/dev/null; then
        say "removing keyrings.alt from $venv: it would store API tokens in plaintext"
        "$venv/bin/python" -m pip uninstall --disable-pip-version-check -q -y keyrings.alt
    fi
}

lmstudio_installed() {
    # The status command reports what this machine has; its exit code is about the server,
    # so read its output whatever the code. Anything unexpected counts as "not installed".
    local report
    report="$("$venv/bin/lmstudio-tray" status --json 2>/dev/null || true)"
    printf '%s' "$report" | "$venv/bin/python" -c '
import json, sys
try:
    report = json.load(sys.stdin)
    found = bool(report["home"]["exists"]) and bool(report["lms"]["path"])
except Exception:
    found = False
sys.exit(0 if found else 1)'
}

run_app() {
    local args=("$@")
    if ! lmstudio_installed; then
        say "LM Studio not found: starting the demo with a simulated LM Studio"
        [[ " ${args[*]-} " == *" --demo "* ]] || args=(--demo "${args[@]}")
    fi
    if [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]]; then
        exec "$venv/bin/lmstudio-tray" "${args[@]}"
    fi
    say "no display here: running the tray on a virtual desktop (Xvfb + tray host)."
    # The display number is only known inside the session, so the hint is printed there.
    exec bash "$repo/installers/desktop-session.sh" bash -c '
        echo "setup: the tray is on the virtual display $DISPLAY. To see it, from another" \
             "terminal: DISPLAY=$DISPLAY import -window root /tmp/lmstudio-tray.png" \
             "and open /tmp/lmstudio-tray.png. Stop with Ctrl+C." >&2
        exec "$@"' lmstudio-tray "$venv/bin/lmstudio-tray" "${args[@]}"
}

install_system_packages
make_venv
install_python_packages
refuse_plaintext_keyring

export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"
cd "$repo"
case "$mode" in
    setup) say "ready. Start the tray: bash installers/setup.sh run;" \
               "run the tests: bash installers/setup.sh test" ;;
    run) run_app "$@" ;;
    test)
        # No arguments: the whole suite, each UI test file in a fresh process (see
        # installers/run_tests.py); with arguments: one pytest run of exactly those.
        if [[ $# -eq 0 ]]; then
            exec bash "$repo/installers/desktop-session.sh" "$venv/bin/python" "$repo/installers/run_tests.py"
        fi
        exec bash "$repo/installers/desktop-session.sh" "$venv/bin/python" -m pytest "$@" ;;
esac
