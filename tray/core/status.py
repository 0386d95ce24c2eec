"""What the tray knows about the server at a glance, and how often it looks again.

`ServerStatus` is the one state object the tray icon, tooltip, menu and CLI render.
`classify_failure` turns a probe's error into a state; `PollPolicy` decides the delay
before the next probe (fast while the user looks, slow when idle, backing off when down).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tray.core.backends import BackendKind
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
    "is_loopback_host",
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
            lines.append("Warning: serving on the network with authentication off")
        return tuple(lines)

    @property
    def tooltip(self) -> str:
        title = "LM Studio Tray — Demo (simulated LM Studio)" if self.demo else "LM Studio Tray"
        return "\n".join((title, f"{self.state.label} — {self.url}", *self.detail_lines))


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    return host in ("localhost", "::1", "0:0:0:0:0:0:0:1") or host.startswith("127.")


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
