"""A stand-in xdg-desktop-portal on the session bus for the Wayland hotkey backend's tests:
it owns org.freedesktop.portal.Desktop and answers GlobalShortcuts as the portal documents
(Request objects with a Response signal, an Activated signal per press).

Usage: `fake_portal.py [bind|decline]`. Prints "ready" once it owns the name. The test
presses the shortcut by calling `org.example.FakePortal.Press` on `/test`; `Calls` returns
what was called, as JSON. Runs until killed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from jeepney import DBusAddress, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

PATH = "/org/freedesktop/portal/desktop"
IFACE = "org.freedesktop.portal.GlobalShortcuts"


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "bind"
    connection = open_dbus_connection(bus="SESSION")
    reply = connection.send_and_get_reply(message_bus.RequestName("org.freedesktop.portal.Desktop"))
    assert reply.body == (1,), reply.body  # primary owner
    sender = connection.unique_name.lstrip(":").replace(".", "_")
    sessions: list[str] = []
    calls: list[dict[str, Any]] = []
    print("ready", flush=True)

    def respond(caller: str, token: str, code: int, results: dict[str, Any]) -> None:
        who = caller.lstrip(":").replace(".", "_")
        request = DBusAddress(
            f"/org/freedesktop/portal/desktop/request/{who}/{token}",
            interface="org.freedesktop.portal.Request",
        )
        connection.send(new_signal(request, "Response", "ua{sv}", (code, results)))

    while True:
        message = connection.receive()
        header = message.header
        if header.message_type is not MessageType.method_call:
            continue
        fields = header.fields
        path, interface, member = (fields.get(k) for k in (1, 2, 3))  # HeaderFields values
        caller = fields.get(7, "")
        if member == "Get" and message.body[1] == "version":
            if message.body[0] == IFACE:
                connection.send(new_method_return(message, "v", (("u", 1),)))
            else:
                connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownProperty"))
        elif interface == IFACE and member == "CreateSession":
            options = message.body[0]
            token = options["handle_token"][1]
            session = f"{PATH}/session/{sender}/{options['session_handle_token'][1]}"
            sessions.append(session)
            calls.append({"call": "CreateSession"})
            request_path = f"{PATH}/request/{caller.lstrip(':').replace('.', '_')}/{token}"
            connection.send(new_method_return(message, "o", (request_path,)))
            respond(caller, token, 0, {"session_handle": ("s", session)})
        elif interface == IFACE and member == "BindShortcuts":
            session, shortcuts, _parent, options = message.body
            token = options["handle_token"][1]
            calls.append(
                {
                    "call": "BindShortcuts",
                    "session": session,
                    "shortcuts": [[i, {k: v[1] for k, v in d.items()}] for i, d in shortcuts],
                }
            )
            request_path = f"{PATH}/request/{caller.lstrip(':').replace('.', '_')}/{token}"
            connection.send(new_method_return(message, "o", (request_path,)))
            if mode == "decline":
                respond(caller, token, 1, {})
            else:
                bound = [
                    (
                        i,
                        {
                            "description": d["description"],
                            "trigger_description": ("s", "Ctrl+Alt+Space"),
                        },
                    )
                    for i, d in shortcuts
                ]
                respond(caller, token, 0, {"shortcuts": ("a(sa{sv})", bound)})
        elif member == "Close" and path in sessions:
            sessions.remove(path)
            calls.append({"call": "Close", "session": path})
            connection.send(new_method_return(message))
        elif member == "Press":
            for session in sessions:
                signal = new_signal(
                    DBusAddress(PATH, interface=IFACE),
                    "Activated",
                    "osta{sv}",
                    (session, message.body[0], 0, {}),
                )
                connection.send(signal)
            connection.send(new_method_return(message))
        elif member == "Calls":
            connection.send(new_method_return(message, "s", (json.dumps(calls),)))
        else:
            connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod"))


if __name__ == "__main__":
    sys.exit(main())
