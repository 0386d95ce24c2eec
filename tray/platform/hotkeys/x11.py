"""Global hotkeys on X11: a passive `XGrabKey` on the root window through libX11 (ctypes).

The backend opens its own X connection (Qt's stays untouched), grabs the key once for every
combination of CapsLock, NumLock and ScrollLock, and learns of presses through a
`QSocketNotifier` on the connection's file descriptor — no thread. Another client holding
the same combination makes the X server answer `BadAccess`, which an error handler
installed around the grab turns into a conflict result. `XlibGrabber` is the Qt-free part
(also used by the test helper that plays "another program").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier

from tray.core.hotkeys import X11_KEYSYMS, X11_LOCK_MASK, X11_MODIFIER_MASKS, lock_variants
from tray.core.hotkeys import parse_hotkey as _parse
from tray.platform.hotkeys.base import (
    HotkeyBackend,
    RegisterResult,
    checked,
    conflict,
    invalid,
    registered,
    unavailable,
)

__all__ = ["GrabOutcome", "X11Backend", "XlibGrabber", "load_xlib"]

log = logging.getLogger(__name__)

_KEY_PRESS, _KEY_RELEASE = 2, 3
_GRAB_MODE_ASYNC = 1
_BAD_ACCESS = 10
_X_GRAB_KEY = 33  # X_GrabKey request code


class _XErrorEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("resourceid", ctypes.c_ulong),
        ("serial", ctypes.c_ulong),
        ("error_code", ctypes.c_ubyte),
        ("request_code", ctypes.c_ubyte),
        ("minor_code", ctypes.c_ubyte),
    ]


class _XKeyEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("root", ctypes.c_ulong),
        ("subwindow", ctypes.c_ulong),
        ("time", ctypes.c_ulong),
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("x_root", ctypes.c_int),
        ("y_root", ctypes.c_int),
        ("state", ctypes.c_uint),
        ("keycode", ctypes.c_uint),
        ("same_screen", ctypes.c_int),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("type", ctypes.c_int), ("xkey", _XKeyEvent), ("pad", ctypes.c_long * 24)]


class _XModifierKeymap(ctypes.Structure):
    _fields_ = [("max_keypermod", ctypes.c_int), ("modifiermap", ctypes.POINTER(ctypes.c_ubyte))]


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_XErrorEvent))


def load_xlib() -> Any:
    """libX11 with the signatures we call, or raise OSError when it is not installed."""
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    lib = ctypes.CDLL(name)
    p, ul, i, ui = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_uint
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "XOpenDisplay": (p, [ctypes.c_char_p]),
        "XCloseDisplay": (i, [p]),
        "XConnectionNumber": (i, [p]),
        "XDefaultRootWindow": (ul, [p]),
        "XStringToKeysym": (ul, [ctypes.c_char_p]),
        "XKeysymToKeycode": (ctypes.c_ubyte, [p, ul]),
        "XGrabKey": (i, [p, i, ui, ul, i, i, i]),
        "XUngrabKey": (i, [p, i, ui, ul]),
        "XSync": (i, [p, i]),
        "XFlush": (i, [p]),
        "XPending": (i, [p]),
        "XNextEvent": (i, [p, ctypes.POINTER(_XEvent)]),
        "XPeekEvent": (i, [p, ctypes.POINTER(_XEvent)]),
        "XSetErrorHandler": (p, [p]),
        "XGetModifierMapping": (ctypes.POINTER(_XModifierKeymap), [p]),
        "XFreeModifiermap": (i, [ctypes.POINTER(_XModifierKeymap)]),
        "XkbSetDetectableAutoRepeat": (i, [p, i, ctypes.POINTER(ctypes.c_int)]),
    }
    for function, (restype, argtypes) in signatures.items():
        getattr(lib, function).restype = restype
        getattr(lib, function).argtypes = argtypes
    return lib


class GrabOutcome:
    """What a grab attempt gave: "ok", "conflict" or "nokey" (the keymap has no such key)."""

    OK, CONFLICT, NO_KEY = "ok", "conflict", "nokey"


class XlibGrabber:
    """One X connection that holds at most one key grab on the root window. Qt-free."""

    def __init__(self, display: bytes | None = None, xlib: Any | None = None) -> None:
        """Raise OSError when libX11 is missing or the display cannot be opened."""
        self._x = xlib or load_xlib()
        self._dpy = self._x.XOpenDisplay(display)
        if not self._dpy:
            raise OSError("cannot open the X display")
        self._root = self._x.XDefaultRootWindow(self._dpy)
        self._grabs: list[tuple[int, int]] = []
        self._pressed: set[int] = set()
        # The modifier state of the last press (tests check NumLock was on).
        self.last_state = 0
        # Without this, a held key arrives as KeyRelease+KeyPress pairs; with it, as
        # KeyPress repeats only, which `_pressed` filters.
        supported = ctypes.c_int(0)
        self._x.XkbSetDetectableAutoRepeat(self._dpy, 1, ctypes.byref(supported))

    @property
    def fd(self) -> int:
        return int(self._x.XConnectionNumber(self._dpy))

    def _lock_masks(self) -> list[int]:
        """CapsLock plus the ModN masks NumLock and ScrollLock sit on in this keymap."""
        masks = [X11_LOCK_MASK]
        wanted = {
            int(self._x.XKeysymToKeycode(self._dpy, self._x.XStringToKeysym(name)))
            for name in (b"Num_Lock", b"Scroll_Lock")
        } - {0}
        mapping = self._x.XGetModifierMapping(self._dpy)
        try:
            per = mapping.contents.max_keypermod
            for index in range(8):
                for slot in range(per):
                    if mapping.contents.modifiermap[index * per + slot] in wanted:
                        masks.append(1 << index)
        finally:
            self._x.XFreeModifiermap(mapping)
        return masks

    def grab(self, sequence: str) -> str:
        """Grab `sequence` (valid Qt portable text) in place of the current grab. On a
        conflict nothing stays grabbed and the previous grab is gone too; the caller
        re-grabs it if wanted."""
        self.ungrab()
        hotkey = _parse(sequence)
        keysym = self._x.XStringToKeysym(X11_KEYSYMS[hotkey.key].encode())
        keycode = int(self._x.XKeysymToKeycode(self._dpy, keysym)) if keysym else 0
        if not keycode:
            return GrabOutcome.NO_KEY
        errors: list[int] = []
        ours = self._dpy

        def on_error(display: int | None, event: Any) -> int:
            if display == ours:
                errors.append(event.contents.error_code)
            return 0

        handler = _ERROR_HANDLER(on_error)  # kept alive until the handler is restored
        previous = self._x.XSetErrorHandler(ctypes.cast(handler, ctypes.c_void_p))
        try:
            # Flush older requests' errors first, so only the grab's are counted.
            self._x.XSync(self._dpy, 0)
            errors.clear()
            base = hotkey.mask(X11_MODIFIER_MASKS)
            for mask in lock_variants(base, self._lock_masks()):
                self._x.XGrabKey(
                    self._dpy, keycode, mask, self._root, 1, _GRAB_MODE_ASYNC, _GRAB_MODE_ASYNC
                )
                self._grabs.append((keycode, mask))
            self._x.XSync(self._dpy, 0)
        finally:
            self._x.XSetErrorHandler(previous)
        del handler
        if _BAD_ACCESS in errors:
            self.ungrab()
            return GrabOutcome.CONFLICT
        if errors:
            log.warning("X errors while grabbing %s: %s", sequence, errors)
        return GrabOutcome.OK

    def sync(self) -> None:
        """One round trip: the server has sent everything it had for us."""
        self._x.XSync(self._dpy, 0)

    def ungrab(self) -> None:
        for keycode, mask in self._grabs:
            self._x.XUngrabKey(self._dpy, keycode, mask, self._root)
        if self._grabs:
            self._grabs = []
            self._x.XFlush(self._dpy)
        self._pressed.clear()

    def drain(self) -> int:
        """Read every queued event; return how many new presses of the grabbed key came
        (a held key's repeats are not new presses)."""
        presses = 0
        event = _XEvent()
        grabbed = {keycode for keycode, _ in self._grabs}
        while self._x.XPending(self._dpy):
            self._x.XNextEvent(self._dpy, ctypes.byref(event))
            key = event.xkey
            if event.type == _KEY_PRESS and key.keycode in grabbed:
                if key.keycode not in self._pressed:
                    self._pressed.add(key.keycode)
                    self.last_state = int(key.state)
                    presses += 1
            elif event.type == _KEY_RELEASE and not self._is_repeat(key):
                self._pressed.discard(key.keycode)
        return presses

    def _is_repeat(self, release: _XKeyEvent) -> bool:
        """Without detectable auto-repeat, a repeat is a release followed at once by a
        press of the same key with the same time stamp."""
        if not self._x.XPending(self._dpy):
            return False
        following = _XEvent()
        self._x.XPeekEvent(self._dpy, ctypes.byref(following))
        return bool(
            following.type == _KEY_PRESS
            and following.xkey.keycode == release.keycode
            and following.xkey.time == release.time
        )

    def close(self) -> None:
        if self._dpy:
            self.ungrab()
            self._x.XCloseDisplay(self._dpy)
            self._dpy = None


class X11Backend(HotkeyBackend):
    """`XlibGrabber` wired to Qt: a socket notifier on the X connection emits `activated`."""

    name = "X11"

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        grabber_factory: Callable[[], XlibGrabber] = XlibGrabber,
    ) -> None:
        super().__init__(parent)
        self._grabber: XlibGrabber | None = None
        self._problem = ""
        self._sequence: str | None = None
        try:
            self._grabber = grabber_factory()
        except OSError as exc:
            self._problem = f"the X11 display cannot be opened ({exc})"
            log.info("X11 hotkeys unavailable: %s", exc)
            return
        self._notifier = QSocketNotifier(self._grabber.fd, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read)

    def available(self) -> tuple[bool, str]:
        return (self._grabber is not None, self._problem)

    def register(self, sequence: str) -> RegisterResult:
        portable, problem = checked(sequence)
        if problem is not None:
            return problem
        if self._grabber is None:
            return unavailable(portable, self._problem)
        previous = self._sequence
        outcome = self._grabber.grab(portable)
        if outcome == GrabOutcome.OK:
            self._sequence = portable
            result = registered(portable)
        else:
            # Keep the hotkey that worked rather than none at all.
            self._sequence = None
            if previous is not None and self._grabber.grab(previous) == GrabOutcome.OK:
                self._sequence = previous
            if outcome == GrabOutcome.CONFLICT:
                result = conflict(portable)
            else:
                result = invalid(
                    portable, f"This keyboard layout has no key for {portable}; choose another."
                )
        # XSync may have pulled events into Xlib's queue, where the notifier cannot see them.
        self._read()
        log.info("hotkey %s: %s", portable, result.kind)
        return result

    def unregister(self) -> None:
        if self._grabber is not None:
            self._grabber.ungrab()
            self._read()
        self._sequence = None

    @property
    def sequence(self) -> str | None:
        """The grabbed sequence, if any."""
        return self._sequence

    def sync(self) -> None:
        """Round trip to the X server, then read what came (tests; nothing else needs it)."""
        if self._grabber is not None:
            self._grabber.sync()
            self._read()

    @property
    def last_state(self) -> int:
        """The X modifier state of the last press."""
        return self._grabber.last_state if self._grabber is not None else 0

    def close(self) -> None:
        if self._grabber is not None:
            self._notifier.setEnabled(False)
            self._grabber.close()
            self._grabber = None
            self._problem = "the hotkey backend was closed"
        self._sequence = None

    def _read(self) -> None:
        if self._grabber is None:
            return
        for _ in range(self._grabber.drain()):
            self.activated.emit()
