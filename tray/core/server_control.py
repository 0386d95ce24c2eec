"""The rules of starting and stopping LM Studio's API server, without doing either.

What the menu may offer in each state (`server_actions`), what Stop must do given what
`lms` says about the server and who runs it (`plan_stop`), whether start options make
sense (`validate_start_options`), and the sentences the tray and CLI show for all of it.
`tray.services.server_controller` acts on these decisions; the views only render them.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from tray.core.backends import Capabilities
from tray.core.lms_output import (
    LmsDaemonStatus,
    LmsServerStatus,
    ServerStartOutcome,
    ServerStopOutcome,
)
from tray.core.server_config import HttpServerConfig
from tray.core.settings import ServerStartOptions
from tray.core.status import ServerState, ServerStatus, is_loopback_host, listen_place

__all__ = [
    "ALL_INTERFACES",
    "EXPOSURE_HELP_TITLE",
    "LOOPBACK",
    "SERVE_LOCALLY_TEXT",
    "BindChoice",
    "ServerActions",
    "ServerOp",
    "StopAction",
    "StopPlan",
    "bind_choice",
    "bind_exposes",
    "connect_host",
    "exposure_help",
    "plan_stop",
    "port_in_use_message",
    "seeded_options",
    "server_actions",
    "server_url",
    "show_exposure_warning",
    "start_message",
    "stop_message",
    "validate_start_options",
]

LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"
DEFAULT_PORT = 1234  # lms's own default when neither --port nor LM Studio's settings say

EXPOSURE_HELP_TITLE = "Serving on the network without authentication"
SERVE_LOCALLY_TEXT = "Serve on this computer only"


def exposure_help(listen_address: str | None) -> str:
    """What to do about a server open to the network with authentication off."""
    return (
        f"LM Studio's server listens on {listen_place(listen_address)} and does not ask for "
        "an API token, so anyone on your network can use your models (and any MCP tools they "
        "may call).\n\n"
        f"Keep it to this machine: “{SERVE_LOCALLY_TEXT}” in the tray menu restarts it "
        "bound to 127.0.0.1 (in LM Studio itself, switch off “Serve on Local Network”).\n\n"
        "Or require a token: in LM Studio open Developer → Server Settings, switch on "
        "“Require Authentication”, create a token there and give it to LM Studio Tray "
        "(API token → Manage tokens…) and to your other clients."
    )


# --- what the menu offers --------------------------------------------------------------


class ServerOp(StrEnum):
    """A server operation in progress (started from this tray)."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"

    @property
    def progress(self) -> str:
        return {
            ServerOp.START: "Starting the server…",
            ServerOp.STOP: "Stopping the server…",
            ServerOp.RESTART: "Restarting the server…",
        }[self]


class ServerActions(BaseModel):
    """Which of Start / Stop / Restart the menu enables; `why_disabled` explains the
    disabled ones (one sentence, shown as their tooltip)."""

    model_config = ConfigDict(frozen=True)

    start: bool
    stop: bool
    restart: bool
    why_disabled: str | None = None


def server_actions(
    state: ServerState, caps: Capabilities, *, busy: ServerOp | None = None
) -> ServerActions:
    """What the user may ask for now. `busy`: an operation of ours still running."""
    if not caps.server_control:
        why = caps.why_not("Starting and stopping the server")
        return ServerActions(start=False, stop=False, restart=False, why_disabled=why)
    if busy is not None:
        return ServerActions(start=False, stop=False, restart=False, why_disabled=busy.progress)
    if state is ServerState.STARTING:
        return ServerActions(
            start=False, stop=False, restart=False, why_disabled="The server is starting."
        )
    if state is ServerState.UNKNOWN:
        return ServerActions(
            start=False,
            stop=False,
            restart=False,
            why_disabled="Checking whether the server is running…",
        )
    if state is ServerState.STOPPED:
        return ServerActions(
            start=True, stop=False, restart=False, why_disabled="The server is not running."
        )
    if state.is_up:
        return ServerActions(
            start=False, stop=True, restart=True, why_disabled="The server is already running."
        )
    # Unreachable or answering strangely: we cannot tell, so every remedy stays open.
    return ServerActions(start=True, stop=True, restart=True)


def show_exposure_warning(status: ServerStatus) -> bool:
    """Whether the menu offers help about serving on the network with auth off."""
    return status.exposed is True


# --- stopping --------------------------------------------------------------------------


class StopAction(StrEnum):
    NOTHING = "nothing"  # no server is running: nothing to stop
    STOP = "stop"
    CONFIRM = "confirm"  # the LM Studio app runs it: ask before stopping


class StopPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: StopAction
    port: int | None = None
    reason: str | None = None  # why we ask (a fact), for CONFIRM and NOTHING
    question: str | None = None  # the question to put to the user, for CONFIRM


def plan_stop(server: LmsServerStatus, daemon: LmsDaemonStatus | None) -> StopPlan:
    """What Stop must do, from `lms server status` and `lms daemon status` (neither wakes
    LM Studio). `isDaemon: false` means the LM Studio app itself runs the server
    (FORMATS §1.11): stopping it is allowed, but not behind the user's back. An older
    `lms` that does not say (`is_daemon` None), or has no `daemon` group at all (`daemon`
    None), is taken to be the headless daemon: the server's own status decides."""
    if not server.running or (daemon is not None and not daemon.running):
        return StopPlan(action=StopAction.NOTHING, reason="The server is not running.")
    if daemon is not None and daemon.is_daemon is False:
        where = f"on port {server.port} " if server.port is not None else ""
        pid = f" (PID {daemon.pid})" if daemon.pid is not None else ""
        return StopPlan(
            action=StopAction.CONFIRM,
            port=server.port,
            reason=(
                f"The server {where}is run by the LM Studio app{pid}, not by the headless "
                "daemon: stopping it here stops it in LM Studio too, for every app that uses it."
            ),
            question="Stop LM Studio's server anyway?",
        )
    return StopPlan(action=StopAction.STOP, port=server.port)


# --- start options ---------------------------------------------------------------------


def seeded_options(
    remembered: ServerStartOptions, config: HttpServerConfig | None
) -> ServerStartOptions:
    """What Start uses. Real `lms server start` turns CORS off without `--cors` and serves
    on 127.0.0.1 without `--bind` (FORMATS §1.8), so until the user has chosen, LM Studio's
    own settings (`http-server-config.json`: `cors`, `networkInterface`) are passed on: the
    tray's first Start must not silently switch off CORS or serving on the network."""
    if remembered.remembered or config is None:
        return remembered
    return remembered.model_copy(
        update={
            "bind": config.network_interface or remembered.bind,
            "cors": bool(config.cors) if config.cors is not None else remembered.cors,
        }
    )


class BindChoice(StrEnum):
    LOOPBACK = "loopback"  # 127.0.0.1: this computer only
    ALL = "all"  # 0.0.0.0: every network interface
    CUSTOM = "custom"


def bind_choice(bind: str | None) -> BindChoice:
    if bind is None or bind == LOOPBACK:
        return BindChoice.LOOPBACK
    if bind == ALL_INTERFACES:
        return BindChoice.ALL
    return BindChoice.CUSTOM


def bind_exposes(bind: str | None) -> bool:
    """Whether a server bound here is reachable from other computers. None is lms's
    default, 127.0.0.1 (unless LMS_SERVER_HOST says otherwise, which we cannot see)."""
    return bind is not None and not is_loopback_host(bind)


def validate_start_options(options: ServerStartOptions) -> tuple[str, ...]:
    """Every problem with these options, as sentences; empty when they are fine."""
    problems: list[str] = []
    if options.port is not None and not 1 <= options.port <= 65535:
        problems.append(f"Port {options.port} is not valid: use a number from 1 to 65535.")
    if options.bind is not None:
        bind = options.bind.strip()
        if not bind:
            problems.append(
                "The address to listen on is empty: use 127.0.0.1 for this computer only, "
                "or 0.0.0.0 for every network interface."
            )
        elif bind != "localhost":
            try:
                ipaddress.ip_address(bind.strip("[]"))
            except ValueError:
                problems.append(
                    f"“{bind}” is not an IP address to listen on: use 127.0.0.1 for this "
                    "computer only, 0.0.0.0 for every network interface, or one of this "
                    "computer's addresses."
                )
    return tuple(problems)


def connect_host(bind: str | None) -> str:
    """Where to reach a server bound to `bind` from this machine (a wildcard bind is
    reached via loopback)."""
    if bind is None or bind in (ALL_INTERFACES, "::", "[::]", "localhost"):
        return LOOPBACK
    return bind.strip("[]")


def server_url(port: int, bind: str | None) -> str:
    host = connect_host(bind)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# --- sentences -------------------------------------------------------------------------


def port_in_use_message(port: int, bind: str | None) -> str:
    where = f"port {port}" if connect_host(bind) == LOOPBACK else f"{connect_host(bind)}:{port}"
    return (
        f"Another program is already listening on {where}, so LM Studio's server cannot "
        "use it. Choose another port in Server options… (or `--port`), or stop that program."
    )


def start_message(outcome: ServerStartOutcome) -> str:
    text = f"The server is running on port {outcome.port}."
    if outcome.accepts_network:
        text += " It accepts connections from other computers on the network."
    return text


def stop_message(outcome: ServerStopOutcome) -> str:
    if not outcome.was_running:
        return "The server was not running."
    where = f" on port {outcome.port}" if outcome.port is not None else ""
    return f"Stopped the server{where}."
