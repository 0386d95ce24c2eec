"""Watch, from a separate X client, for the moment a tray icon is embedded and painted.

Qt creates the tray icon's window at the root; the tray host (trayer) takes it in with
XEMBED by reparenting it into a socket window of its own. We select SubstructureNotify on
the root window, so the X server tells us of that `ReparentNotify` as it happens (no
polling for it). From then on we read the icon window's pixels (`XGetImage`, every 2 ms)
until they are not all one colour: the app has painted its icon. Both the bare tray and
the app are timed by the same code, from just before the process is started.

libX11 through ctypes, like installers/wait_for_tray.py: nothing to install.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import select
import time

_REPARENT_NOTIFY = 21
_SUBSTRUCTURE_NOTIFY_MASK = 1 << 19
_Z_PIXMAP = 2
_ALL_PLANES = ctypes.c_ulong(~0 & 0xFFFFFFFFFFFFFFFF)


class _XReparentEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("event", ctypes.c_ulong),
        ("window", ctypes.c_ulong),
        ("parent", ctypes.c_ulong),
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("override_redirect", ctypes.c_int),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("type", ctypes.c_int), ("xreparent", _XReparentEvent), ("pad", ctypes.c_long * 24)]


class _XImage(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int),
        ("data", ctypes.POINTER(ctypes.c_ubyte)),
        ("byte_order", ctypes.c_int),
        ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int),
        ("bitmap_pad", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int),
        ("bits_per_pixel", ctypes.c_int),
    ]


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


@_ERROR_HANDLER
def _ignore_errors(display: int | None, event: int | None) -> int:
    # XGetImage on a window that is not viewable yet answers BadMatch; Xlib's default
    # handler would exit the process. We just try again.
    return 0


class _XWindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("rest", ctypes.c_byte * 256),
    ]


def _xlib() -> ctypes.CDLL:
    x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XSelectInput.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long]
    x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XPending.argtypes = [ctypes.c_void_p]
    x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.POINTER(_XEvent)]
    x.XConnectionNumber.argtypes = [ctypes.c_void_p]
    x.XGetImage.restype = ctypes.POINTER(_XImage)
    x.XGetImage.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_ulong,
        ctypes.c_int,
    ]
    x.XGetWindowAttributes.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.POINTER(_XWindowAttributes),
    ]
    x.XFree.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x.XSetErrorHandler(_ignore_errors)
    return x


class TrayWatch:
    """Arm before starting the process; `wait()` returns (embedded, painted) in seconds
    since `arm()` (the caller starts the process right after arming)."""

    def __init__(self) -> None:
        self._x = _xlib()
        self._dpy = self._x.XOpenDisplay(None)
        if not self._dpy:
            raise RuntimeError("no X display: run inside installers/desktop-session.sh")
        self._root = self._x.XDefaultRootWindow(self._dpy)
        self._x.XSelectInput(self._dpy, self._root, _SUBSTRUCTURE_NOTIFY_MASK)
        self._t0 = 0.0

    def arm(self) -> None:
        self._drain()
        self._t0 = time.monotonic()

    def _drain(self) -> list[_XReparentEvent]:
        self._x.XSync(self._dpy, 0)
        got: list[_XReparentEvent] = []
        event = _XEvent()
        while self._x.XPending(self._dpy):
            self._x.XNextEvent(self._dpy, ctypes.byref(event))
            if event.type == _REPARENT_NOTIFY:
                r = event.xreparent
                if r.event == self._root and r.parent != self._root:
                    got.append(_XReparentEvent.from_buffer_copy(r))
        return got

    def _painted(self, window: int) -> bool:
        attrs = _XWindowAttributes()
        if not self._x.XGetWindowAttributes(self._dpy, window, ctypes.byref(attrs)):
            return False
        w, h = attrs.width, attrs.height
        if w <= 0 or h <= 0:
            return False
        image = self._x.XGetImage(self._dpy, window, 0, 0, w, h, _ALL_PLANES, _Z_PIXMAP)
        if not image:
            return False
        try:
            img = image.contents
            step = img.bits_per_pixel // 8
            raw = ctypes.string_at(img.data, img.bytes_per_line * img.height)
            pixels = {
                raw[y * img.bytes_per_line + x * step : y * img.bytes_per_line + (x + 1) * step]
                for y in range(img.height)
                for x in range(img.width)
            }
            return len(pixels) > 2  # a drawn icon has edges and shades, a bare socket not
        finally:
            self._x.XFree(img.data)
            self._x.XFree(image)

    def wait(self, timeout: float = 30.0) -> tuple[float, float]:
        fd = self._x.XConnectionNumber(self._dpy)
        deadline = self._t0 + timeout
        window = 0
        embedded = 0.0
        while not window:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the tray host never embedded an icon")
            select.select([fd], [], [], min(left, 0.05))
            for r in self._drain():
                window, embedded = r.window, time.monotonic() - self._t0
                break
        while not self._painted(window):
            if time.monotonic() > deadline:
                raise TimeoutError("the embedded icon was never painted")
            time.sleep(0.002)
        return embedded, time.monotonic() - self._t0

    def close(self) -> None:
        self._x.XCloseDisplay(self._dpy)
