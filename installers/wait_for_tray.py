#!/usr/bin/env python3
"""Wait until an X11 system tray host owns the `_NET_SYSTEM_TRAY_S<screen>` selection.

The desktop session starts a tray host (trayer) and must not run the app or the tests
before it is ready, or Qt would see no tray. Standard library only (ctypes on libX11):
this runs before, and independently of, the project's virtual environment.
Exit codes: 0 the tray has an owner, 1 timed out, 2 no X display.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import sys
import time


def _load_xlib() -> ctypes.CDLL:
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    xlib = ctypes.CDLL(name)
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XDefaultScreen.argtypes = [ctypes.c_void_p]
    xlib.XDefaultScreen.restype = ctypes.c_int
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    xlib.XGetSelectionOwner.restype = ctypes.c_ulong
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    return xlib


def wait_for_tray(timeout: float, interval: float = 0.05) -> int:
    xlib = _load_xlib()
    display = xlib.XOpenDisplay(None)
    if not display:
        print("wait_for_tray: cannot open the X display (is DISPLAY set?)", file=sys.stderr)
        return 2
    try:
        selection = f"_NET_SYSTEM_TRAY_S{xlib.XDefaultScreen(display)}".encode()
        # only_if_exists=False: the atom may not exist until the tray host creates it.
        atom = xlib.XInternAtom(display, selection, 0)
        deadline = time.monotonic() + timeout
        while True:
            if xlib.XGetSelectionOwner(display, atom):
                return 0
            if time.monotonic() >= deadline:
                print(
                    f"wait_for_tray: no system tray host owned {selection.decode()} "
                    f"within {timeout:g} s",
                    file=sys.stderr,
                )
                return 1
            time.sleep(interval)
    finally:
        xlib.XCloseDisplay(display)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds (default 15)")
    return wait_for_tray(parser.parse_args().timeout)


if __name__ == "__main__":
    sys.exit(main())
