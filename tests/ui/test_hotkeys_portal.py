"""The Wayland backend over a real session bus, against a stand-in GlobalShortcuts portal
(tests/ui/fake_portal.py): the session and binding it asks for, `activated` on the
portal's Activated signal, a new session for a new sequence, a declined binding, and no
portal at all. What a real desktop decides (its dialog, its trigger) is not covered."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aio import run, until  # tests/ui/aio.py
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection

from tray.core.hotkeys import RegisterResult
from tray.platform.hotkeys import select_backend
from tray.platform.hotkeys.wayland import NO_PORTAL, SHORTCUT_ID, PortalBackend

pytestmark = pytest.mark.ui
FAKE = Path(__file__).with_name("fake_portal.py")
WAYLAND = ("wayland", {"WAYLAND_DISPLAY": "wayland-0"}, "linux")
TEST_OBJECT = DBusAddress(
    "/test", bus_name="org.freedesktop.portal.Desktop", interface="org.example.FakePortal"
)


def start_portal(mode: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, str(FAKE), mode], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


@pytest.fixture
def portal(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    process = start_portal(getattr(request, "param", "bind"))
    yield process
    process.terminate()
    process.wait(timeout=10)


def portal_call(member: str, signature: str | None = None, body: tuple[Any, ...] = ()) -> Any:
    with open_dbus_connection(bus="SESSION") as connection:
        message = new_method_call(TEST_OBJECT, member, signature, body)
        return connection.send_and_get_reply(message, timeout=10).body


def calls() -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(portal_call("Calls")[0])
    return result


def test_the_portal_binds_the_shortcut_and_its_presses_activate(
    loop: asyncio.AbstractEventLoop, portal: subprocess.Popen[str]
) -> None:
    backend = select_backend(*WAYLAND)
    assert isinstance(backend, PortalBackend) and backend.version == 1
    results: list[RegisterResult] = []
    backend.result_changed.connect(results.append)
    presses: list[bool] = []
    backend.activated.connect(lambda: presses.append(True))

    async def scenario() -> None:
        try:
            await steps()
        finally:
            backend.close()
            await backend.wait_closed()

    async def steps() -> None:
        first = backend.register("ctrl+alt+space")
        assert first.kind == "pending"
        assert first.problem == "Asking the desktop to bind Ctrl+Alt+Space…"
        await until(lambda: results, "the portal's answer")
        assert results[-1].ok and results[-1].sequence == "Ctrl+Alt+Space"
        assert backend.sequence == "Ctrl+Alt+Space"
        assert backend.trigger_description == "Ctrl+Alt+Space"
        made = calls()
        assert [c["call"] for c in made] == ["CreateSession", "BindShortcuts"]
        assert made[1]["shortcuts"] == [
            [
                SHORTCUT_ID,
                {
                    "description": "Open LM Studio Tray quick chat",
                    "preferred_trigger": "CTRL+ALT+space",
                },
            ]
        ]

        await asyncio.to_thread(portal_call, "Press", "s", (SHORTCUT_ID,))
        await until(lambda: presses, "the activation")
        await asyncio.to_thread(portal_call, "Press", "s", ("someone-else",))
        await asyncio.to_thread(portal_call, "Press", "s", (SHORTCUT_ID,))
        await until(lambda: len(presses) >= 2, "the second activation")
        assert presses == [True, True]  # the other shortcut id did not count

        # A new sequence: the old session is closed, a new one binds it.
        backend.register("Meta+Shift+K")
        await until(lambda: len(results) == 2, "the second answer")
        assert results[-1].sequence == "Meta+Shift+K"
        made = calls()
        assert [c["call"] for c in made] == [
            "CreateSession",
            "BindShortcuts",
            "Close",
            "CreateSession",
            "BindShortcuts",
        ]
        assert made[2]["session"] == made[1]["session"] != made[4]["session"]
        assert made[4]["shortcuts"][0][1]["preferred_trigger"] == "LOGO+SHIFT+k"

        backend.unregister()
        await until(lambda: calls()[-1]["call"] == "Close", "the session to close")
        assert backend.sequence is None
        await asyncio.to_thread(portal_call, "Press", "s", (SHORTCUT_ID,))
        await asyncio.to_thread(calls)  # a round trip after the press
        assert len(presses) == 2

    run(loop, scenario())


@pytest.mark.parametrize("portal", ["decline"], indirect=True)
def test_a_declined_binding_says_so(
    loop: asyncio.AbstractEventLoop, portal: subprocess.Popen[str]
) -> None:
    backend = select_backend(*WAYLAND)
    results: list[RegisterResult] = []
    backend.result_changed.connect(results.append)

    async def scenario() -> None:
        backend.register("Ctrl+Alt+Space")
        await until(lambda: results, "the portal's answer")
        assert results[-1].kind == "unavailable"
        assert "the shortcut was declined in the desktop's dialog" in (results[-1].problem or "")
        backend.close()
        await backend.wait_closed()

    run(loop, scenario())


def test_without_the_portal_a_wayland_session_says_why(qapp: object) -> None:
    # The desktop session has a D-Bus session bus but no xdg-desktop-portal.
    made = select_backend(*WAYLAND)
    assert made.name == "unavailable"
    assert made.available() == (False, NO_PORTAL)
    result = made.register("Ctrl+Alt+Space")
    assert result.kind == "unavailable"
    assert result.problem == (
        "Global hotkeys are unavailable: this Wayland session has no GlobalShortcuts "
        "portal. Use the tray menu to open quick chat."
    )
