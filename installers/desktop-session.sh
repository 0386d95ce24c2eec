#!/usr/bin/env bash
# Run a command on a real (virtual) desktop: an Xvfb display, a system tray host (trayer)
# and an unlocked OS keyring (gnome-keyring's Secret Service on a private D-Bus session).
#
#   bash installers/desktop-session.sh CMD [ARGS...]
#
# The UI tests and a headless `setup.sh run` use it; CMD's exit code is ours. Everything
# started here is stopped on every exit path, and the keyring lives in a throw-away folder
# so the user's own keyrings are never touched.
set -euo pipefail

if [[ $# -eq 0 || "$1" == "--inside-bus" && $# -eq 1 ]]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 64
fi

# Second stage, run by the first inside the private D-Bus session: start and unlock the
# keyring there (its data in the throw-away folder), run CMD, stop the keyring daemon.
if [[ "$1" == "--inside-bus" ]]; then
    shift
    keyring_env="$(printf %s "$LMSTRAY_KEYRING_PASSWORD" \
        | XDG_DATA_HOME="$LMSTRAY_KEYRING_DATA" gnome-keyring-daemon --unlock --components=secrets)"
    pid_file="$LMSTRAY_KEYRING_DATA/../cmd.pid"
    unset LMSTRAY_KEYRING_PASSWORD LMSTRAY_KEYRING_DATA
    while IFS= read -r line; do
        [[ "$line" == *=* ]] && export "${line?}"
    done <<<"$keyring_env"
    # The daemon forks away from us; the bus knows its pid.
    keyring_pid="$(dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
        org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets \
        2>/dev/null | awk '/uint32/ {print $2}')" || keyring_pid=""
    trap '[[ -n "$keyring_pid" ]] && kill "$keyring_pid" 2>/dev/null || true' EXIT
    # In the background (stdin kept) so the first stage can stop CMD before the display.
    "$@" <&0 &
    echo "$!" >"$pid_file"
    status=0
    wait "$!" || status=$?
    exit "$status"
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for tool in setsid Xvfb trayer dbus-run-session dbus-send gnome-keyring-daemon python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "desktop-session: '$tool' is missing; run 'bash installers/setup.sh' as root" \
             "or install the packages it names." >&2
        exit 69
    fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/lmstudio-tray-desktop.XXXXXX")"
xvfb_pid=""
trayer_pid=""

stop() {  # stop PID, politely first; it may already be gone
    local pid="$1"
    [[ -n "$pid" ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    # CMD first, while its display still exists: X clients die noisily without one.
    [[ -s "$work/cmd.pid" ]] && stop "$(cat "$work/cmd.pid")"
    stop "$trayer_pid"
    stop "$xvfb_pid"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Xvfb and trayer get their own sessions (setsid) so that Ctrl+C, which the terminal sends
# to the whole foreground group, stops CMD first and not the display under it; `cleanup`
# stops them after CMD. A free display number: Xvfb writes the one it picked to fd 3.
setsid Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" \
    >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do
    [[ -s "$work/display" ]] && break
    if ! kill -0 "$xvfb_pid" 2>/dev/null; then
        echo "desktop-session: Xvfb exited at start:" >&2
        cat "$work/xvfb.log" >&2
        exit 70
    fi
    sleep 0.1
done
if [[ ! -s "$work/display" ]]; then
    echo "desktop-session: Xvfb did not report a display within 10 s:" >&2
    cat "$work/xvfb.log" >&2
    exit 70
fi
DISPLAY=":$(tr -d '[:space:]' <"$work/display")"
export DISPLAY

# A dark panel at the top right, so screenshots show the icon as users see it.
setsid trayer --edge top --align right --widthtype request --height 32 --SetDockType true \
    --transparent true --alpha 0 --tint 0x303030 >"$work/trayer.log" 2>&1 &
trayer_pid=$!
if ! python3 "$here/wait_for_tray.py" --timeout 15; then
    echo "desktop-session: the tray host (trayer) did not come up; its log:" >&2
    cat "$work/trayer.log" >&2
    exit 70
fi

# Qt and gnome-keyring want a private runtime folder; give them one if the OS did not.
if [[ -z "${XDG_RUNTIME_DIR:-}" || ! -d "${XDG_RUNTIME_DIR}" ]]; then
    export XDG_RUNTIME_DIR="$work/runtime"
    mkdir -m 700 "$XDG_RUNTIME_DIR"
fi
mkdir -m 700 "$work/keyrings"
export LMSTRAY_KEYRING_DATA="$work/keyrings"
LMSTRAY_KEYRING_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export LMSTRAY_KEYRING_PASSWORD
export QT_QPA_PLATFORM=xcb
export LMSTRAY_DESKTOP=1
echo "desktop-session: display $DISPLAY (Xvfb 1280x800, trayer), private D-Bus session" \
     "and unlocked keyring" >&2

status=0
dbus-run-session -- bash "$here/desktop-session.sh" --inside-bus "$@" || status=$?
exit "$status"
