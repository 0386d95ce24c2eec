"""Global hotkeys on Wayland: the xdg-desktop-portal `GlobalShortcuts` interface on the
session bus. Wayland gives clients no key grabs; the portal asks the desktop (KDE Plasma
5.27+, GNOME 48+, Hyprland, …) to bind a shortcut for us.

Flow: `CreateSession` → its Request's `Response` gives the session handle →
`BindShortcuts` with our one shortcut and the sequence as `preferred_trigger` (the desktop
may ask the user, or choose another trigger) → an `Activated` signal on each press. Those
answers arrive later, so `register` returns a "pending" result and `result_changed` carries
the outcome. A new sequence closes the session and binds again in a new one (the portal
has no "unbind"). A session bus without the portal makes the backend unavailable.

D-Bus goes through jeepney (pure Python; keyring already depends on it on Linux) on the
asyncio loop the app runs, because QtDBus from Python cannot marshal the portal's
`a(sa{sv})` argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from PySide6.QtCore import QObject

from tray.core.hotkeys import (
    RegisterResult,
    describe,
    parse_hotkey,
    portal_request_path,
    portal_trigger,
)
from tray.platform.hotkeys.base import HotkeyBackend, checked, registered, unavailable

__all__ = ["NO_PORTAL", "SHORTCUT_ID", "PortalBackend"]

log = logging.getLogger(__name__)

_SERVICE = "org.freedesktop.portal.Desktop"
_PATH = "/org/freedesktop/portal/desktop"
_IFACE = "org.freedesktop.portal.GlobalShortcuts"
SHORTCUT_ID = "quick-chat"
NO_PORTAL = "this Wayland session has no GlobalShortcuts portal"
_TIMEOUT = 5.0


def _portal_version() -> tuple[int | None, str]:
    """The GlobalShortcuts portal's version, or None and why not (blocking, local bus)."""
    try:
        from jeepney import DBusAddress, MessageType, Properties  # type: ignore[import-untyped]
        from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]
    except ImportError:
        return None, "the jeepney D-Bus library is not installed"
    try:
        connection = open_dbus_connection(bus="SESSION")
    except Exception as exc:  # no address, refused, auth: all mean "no session bus"
        log.info("no D-Bus session bus: %s", exc)
        return None, "there is no D-Bus session bus for the desktop portal"
    with connection:
        address = DBusAddress(_PATH, bus_name=_SERVICE, interface=_IFACE)
        try:
            reply = connection.send_and_get_reply(
                Properties(address).get("version"), timeout=_TIMEOUT
            )
        except TimeoutError:
            return None, NO_PORTAL
        if reply.header.message_type is MessageType.error:
            return None, NO_PORTAL
        _signature, version = reply.body[0]
        return int(version), ""


class PortalBackend(HotkeyBackend):
    name = "Wayland portal"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.version, self._problem = _portal_version()
        self._task: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self._sequence: str | None = None
        self.trigger_description: str | None = None

    def available(self) -> tuple[bool, str]:
        return not self._problem, self._problem

    @property
    def sequence(self) -> str | None:
        """The sequence the desktop bound, if any."""
        return self._sequence

    def register(self, sequence: str) -> RegisterResult:
        portable, problem = checked(sequence)
        if problem is not None:
            return problem
        if self._problem:
            return unavailable(portable, self._problem)
        self.unregister()
        self._task = asyncio.get_event_loop().create_task(self._session(portable))
        return RegisterResult(
            ok=False,
            sequence=portable,
            kind="pending",
            problem=f"Asking the desktop to bind {describe(portable, 'linux')}…",
        )

    def unregister(self) -> None:
        # Cancelling the task closes the portal session, which drops its shortcut.
        if self._task is not None:
            self._task.cancel()
            self._stopping.add(self._task)
            self._task.add_done_callback(self._stopping.discard)
            self._task = None
        self._sequence = None

    async def wait_closed(self) -> None:
        """Wait until cancelled sessions are closed on the bus (call after `close()` before
        the loop ends, so no task outlives it)."""
        await asyncio.gather(*self._stopping, return_exceptions=True)

    def close(self) -> None:
        self.unregister()
        self._problem = "the hotkey backend was closed"

    async def _session(self, sequence: str) -> None:
        try:
            await self._bind_and_listen(sequence)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("GlobalShortcuts portal failed: %s", exc)
            self.result_changed.emit(unavailable(sequence, f"the desktop portal failed ({exc})"))

    async def _bind_and_listen(self, sequence: str) -> None:
        from jeepney import DBusAddress, MatchRule, MessageType, new_method_call
        from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
        from jeepney.io.asyncio import open_dbus_router  # type: ignore[import-untyped]

        portal = DBusAddress(_PATH, bus_name=_SERVICE, interface=_IFACE)
        async with open_dbus_router(bus="SESSION") as router:

            async def request(
                method: str, signature: str, body: tuple[Any, ...], **more: tuple[str, str]
            ) -> Any:
                """Call a method that answers through a Request object; its results."""
                token = f"lmstray{secrets.token_hex(4)}"
                path = portal_request_path(router.unique_name, token)
                rule = MatchRule(
                    type="signal",
                    interface="org.freedesktop.portal.Request",
                    member="Response",
                    path=path,
                )
                await router.send_and_get_reply(message_bus.AddMatch(rule))
                # Listen before calling, so a quick answer is not missed.
                with router.filter(rule) as responses:
                    options = {"handle_token": ("s", token), **more}
                    call = new_method_call(portal, method, signature, (*body, options))
                    reply = await router.send_and_get_reply(call)
                    if reply.header.message_type is MessageType.error:
                        raise RuntimeError(f"{method}: {reply.body[0] if reply.body else ''}")
                    response = await responses.get()
                code, results = response.body
                return code, results

            code, results = await request(
                "CreateSession",
                "a{sv}",
                (),
                session_handle_token=("s", f"lmstray{secrets.token_hex(4)}"),
            )
            if code != 0:
                self.result_changed.emit(
                    unavailable(sequence, "the desktop refused a shortcuts session")
                )
                return
            session = str(results["session_handle"][1])
            try:
                activated = MatchRule(
                    type="signal", interface=_IFACE, member="Activated", path=_PATH
                )
                await router.send_and_get_reply(message_bus.AddMatch(activated))
                with router.filter(activated) as presses:
                    shortcut = (
                        SHORTCUT_ID,
                        {
                            "description": ("s", "Open LM Studio Tray quick chat"),
                            "preferred_trigger": ("s", portal_trigger(parse_hotkey(sequence))),
                        },
                    )
                    code, results = await request(
                        "BindShortcuts", "oa(sa{sv})sa{sv}", (session, [shortcut], "")
                    )
                    bound = {
                        shortcut_id: details
                        for shortcut_id, details in results.get("shortcuts", ("", []))[1]
                    }
                    if code != 0 or SHORTCUT_ID not in bound:
                        # 1: the user dismissed the desktop's dialog; 2: it failed.
                        why = (
                            "the shortcut was declined in the desktop's dialog"
                            if code == 1
                            else "the desktop did not bind the shortcut"
                        )
                        self.result_changed.emit(unavailable(sequence, why))
                        return
                    trigger = bound[SHORTCUT_ID].get("trigger_description")
                    self.trigger_description = str(trigger[1]) if trigger else None
                    self._sequence = sequence
                    self.result_changed.emit(registered(sequence))
                    while True:
                        signal = await presses.get()
                        if str(signal.body[0]) == session and signal.body[1] == SHORTCUT_ID:
                            self.activated.emit()
            finally:
                close = new_method_call(
                    DBusAddress(
                        session, bus_name=_SERVICE, interface="org.freedesktop.portal.Session"
                    ),
                    "Close",
                )
                with contextlib.suppress(Exception):
                    await router.send_and_get_reply(close)
