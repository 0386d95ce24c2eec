"""What the tray knows about the server at a glance, and how often it looks again.

`ServerStatus` is the one state object the tray icon, tooltip, menu and CLI render.
`classify_failure` turns a probe's error into a state; `PollPolicy` decides the delay
before the next probe (fast while the user looks, slow when idle, backing off when down).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tray.core.backends import BackendKind, server_title
from tray.core.errors import (
    AuthError,
    RequestTimeout,
    ServerUnreachable,
    TrayError,
)
from tray.core.gpu import GpuReport, format_bytes, memory_line
from tray.core.inventory import LoadedModelRow
from tray.core.words import plural

__all__ = [
    "PollPolicy",
    "ServerState",
    "ServerStatus",
    "classify_failure",
    "exposure_sentence",
    "is_loopback_host",
    "listen_place",
]


class ServerState(StrEnum):
    UNKNOWN = "unknown"  # not probed yet
    STOPPED = "stopped"  # a local server with nothing listening on its port
    STARTING = "starting"  # we asked `lms server start` and wait for it
    RUNNING = "running"  # answers, no token needed
    RUNNING_AUTH = "running-auth"  # answers, requires a token, and ours is accepted
    AUTH_REQUIRED = "auth-required"  # answers 401: no token, or ours is refused
    UNREACHABLE = "unreachable"  # a remote server that does not answer, or a timeout
    ERROR = "error"  # answers, but not as LM Studio should

    @property
    def is_up(self) -> bool:
        return self in (ServerState.RUNNING, ServerState.RUNNING_AUTH, ServerState.AUTH_REQUIRED)

    @property
    def label(self) -> str:
        return {
            ServerState.UNKNOWN: "Checking…",
            ServerState.STOPPED: "Server stopped",
            ServerState.STARTING: "Server starting…",
            ServerState.RUNNING: "Server running",
            ServerState.RUNNING_AUTH: "Server running (token required)",
            ServerState.AUTH_REQUIRED: "Server needs an API token",
            ServerState.UNREACHABLE: "Server unreachable",
            ServerState.ERROR: "Server error",
        }[self]


class ServerStatus(BaseModel):
    """One observation of one server, ready to render."""

    model_config = ConfigDict(frozen=True)

    url: str
    state: ServerState = ServerState.UNKNOWN
    kind: BackendKind = BackendKind.LMSTUDIO
    # Whether `kind` was found out (or pinned by the profile); until then LM Studio is assumed.
    kind_known: bool = False
    legacy: bool = False  # LM Studio 0.3.x: only its REST API v0 answers
    profile_name: str | None = None
    version: str | None = None
    auth_required: bool | None = None
    loaded: tuple[LoadedModelRow, ...] = ()
    # Reduced mode (OpenAI-compatible servers): the ids `/v1/models` lists; what is loaded
    # is not knowable there.
    served_models: tuple[str, ...] = ()
    error: str | None = Field(default=None, description="A sentence for the user")
    checked_at: datetime | None = None
    demo: bool = False
    # Serves beyond this machine (e.g. 0.0.0.0) with authentication off; None = unknown.
    exposed: bool | None = None
    # Where the server listens (`host:port` from LM Studio's own settings), when known: the
    # URL we talk to says 127.0.0.1 even when it listens on every interface.
    listen_address: str | None = None
    gpu: GpuReport | None = None

    @property
    def models_bytes(self) -> int | None:
        """What LM Studio's loaded models take, by its own figures."""
        sizes = [m.size_bytes for m in self.loaded]
        return None if None in sizes else sum(s for s in sizes if s is not None)

    @property
    def detail_lines(self) -> tuple[str, ...]:
        """What is worth saying beyond state and URL: loaded models, or why it is down."""
        lines: list[str] = []
        if self.kind is BackendKind.OPENAI and self.state.is_up:
            n = len(self.served_models)
            lines.append(f"{plural(n, 'model')} served (OpenAI-compatible)")
        elif self.legacy and self.state.is_up:
            lines.append(
                f"{plural(len(self.loaded), 'model')} loaded · LM Studio 0.3: update to 0.4 "
                "to load and eject from the tray"
            )
        elif self.state.is_up and self.state is not ServerState.AUTH_REQUIRED:
            n = len(self.loaded)
            models = f"{plural(n, 'model')} loaded" if n else "No models loaded"
            if n and self.models_bytes is not None:
                models += f" ({format_bytes(self.models_bytes)})"
            lines.append(models)
        elif self.error and not self.state.is_up:
            lines.append(self.error)
        gpu = memory_line(self.gpu, self.models_bytes if self.loaded else None)
        if gpu is not None:
            lines.append(gpu)
        if self.exposed:
            lines.append(f"Warning: {exposure_sentence(self.listen_address)}")
        return tuple(lines)

    @property
    def title(self) -> str:
        """The server in a few words: "Ollama 0.12.6", "LM Studio 0.4.2"."""
        return server_title(self.kind, self.version, legacy=self.legacy)

    @property
    def where(self) -> str:
        """ "http://127.0.0.1:1234", or for another kind "Ollama 0.12.6 at http://…"."""
        plain = self.kind is BackendKind.LMSTUDIO and not self.legacy
        return self.url if plain or not self.kind_known else f"{self.title} at {self.url}"

    @property
    def menu_note(self) -> str:
        """A saved server's state in a few words for the Server submenu: "running · Ollama
        0.12.6 · 1 loaded", "stopped", "checking…"."""
        words = {
            ServerState.UNKNOWN: "checking…",
            ServerState.STOPPED: "stopped",
            ServerState.STARTING: "starting…",
            ServerState.RUNNING: "running",
            ServerState.RUNNING_AUTH: "running",
            ServerState.AUTH_REQUIRED: "needs a token",
            ServerState.UNREACHABLE: "unreachable",
            ServerState.ERROR: "error",
        }
        parts = [words[self.state]]
        if self.state.is_up and self.kind_known:
            parts.append(self.title)
        if self.state in (ServerState.RUNNING, ServerState.RUNNING_AUTH) and self.loaded:
            parts.append(f"{len(self.loaded)} loaded")
        return " · ".join(parts)

    @property
    def tooltip(self) -> str:
        title = "LM Studio Tray — Demo (simulated LM Studio)" if self.demo else "LM Studio Tray"
        return "\n".join((title, f"{self.state.label} — {self.where}", *self.detail_lines))


def listen_place(listen_address: str | None) -> str:
    """Where a server listens, in words: "every network interface (0.0.0.0:1234)"."""
    if listen_address is None:
        return "the network"
    host = listen_address.rsplit(":", 1)[0].strip("[]")
    if host in ("0.0.0.0", "::"):
        return f"every network interface ({listen_address})"
    return listen_address


def exposure_sentence(listen_address: str | None) -> str:
    """The warning about a server open to the network with authentication off."""
    return f"open to the network on {listen_place(listen_address)}, with authentication off"


def is_loopback_host(host: str) -> bool:
    """Does `host` (a name or an address, IPv6 with or without brackets) stay on this
    machine? `localhost` and its subdomains (RFC 6761), `localhost.localdomain`,
    127.0.0.0/8, ::1 and IPv4-mapped loopback are; 0.0.0.0 ("every interface") is not.
    The one rule for the menu's exposure warning, the MCP audit and server profiles."""
    h = host.strip().strip("[]").rstrip(".").lower()
    if h in ("localhost", "localhost.localdomain") or h.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(h.split("%", 1)[0])  # fe80::1%eth0: no zone
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def classify_failure(error: TrayError, *, local: bool) -> ServerState:
    """The state a failed probe stands for.

    A refused connection to a server on this machine means LM Studio's server is stopped;
    anywhere else (or a timeout) we only know we cannot reach it.
    """
    if isinstance(error, AuthError):
        return ServerState.AUTH_REQUIRED
    if isinstance(error, ServerUnreachable) and not isinstance(error, RequestTimeout):
        return ServerState.STOPPED if local else ServerState.UNREACHABLE
    if isinstance(error, RequestTimeout):
        return ServerState.UNREACHABLE
    return ServerState.ERROR


class PollPolicy(BaseModel):
    """Delays between status probes, in seconds.

    Probes are cheap HTTP GETs; still, an idle tray should cost nothing noticeable, so we
    probe slowly unless the user is looking. A server that does not answer backs off
    exponentially (timeouts and remote hosts cost something); a stopped local server —
    a refused loopback connection, the normal state of many machines and nearly free to
    detect — is simply checked at the idle pace, so starting it from LM Studio shows up
    within one idle interval.
    """

    model_config = ConfigDict(frozen=True)

    interactive: float = 2.0
    idle: float = 15.0
    down_initial: float = 5.0
    down_max: float = 120.0

    def next_delay(self, state: ServerState, *, interactive: bool, failures: int) -> float:
        if interactive:
            return self.interactive
        if state.is_up or failures <= 0:
            return self.idle
        backoff = min(self.down_max, self.down_initial * 2.0 ** (failures - 1))
        return min(backoff, self.idle) if state is ServerState.STOPPED else backoff
