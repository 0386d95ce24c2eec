"""LM Studio's HTTP server settings file, `<home>/.internal/http-server-config.json`.

Only `port` and `networkInterface` are read by LM Studio's own CLI; the other keys are
observed on real installs (FORMATS.md §2.6). Everything is optional and unknown keys are
kept, because LM Studio owns this file and changes it between versions.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tray.core.status import is_loopback_host

__all__ = ["API_SERVER_PORTS", "DEFAULT_PORT", "HttpServerConfig", "api_server_port"]

DEFAULT_PORT = 1234
# Where lms looks for LM Studio's local API server when `.internal/http-server.json` names
# none that answers (lmstudio-js `lms-common/src/apiServerPorts.ts`, FORMATS §1.2).
API_SERVER_PORTS = (41343, 52993, 16141, 39414, 22931)


def api_server_port(info: object) -> int | None:
    """The port `.internal/http-server.json` names for LM Studio's local API server (not
    the HTTP API's), or None — read as lms's `readLocalAPIServerPort` does: an integer
    1–65535 under `port`, anything else is no hint."""
    if not isinstance(info, dict):
        return None
    port = info.get("port")
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return port
    return None


class HttpServerConfig(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    port: int | None = None
    network_interface: str | None = Field(default=None, alias="networkInterface")
    cors: bool | None = None
    jit: bool | None = Field(default=None, alias="justInTimeModelLoading")
    auto_start: bool | None = Field(default=None, alias="autoStartOnLaunch")

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORT

    @property
    def beyond_loopback(self) -> bool | None:
        """True when LM Studio serves on the network ("Serve on Local Network")."""
        if self.network_interface is None:
            return None
        return not is_loopback_host(self.network_interface)

    @property
    def listen_address(self) -> str | None:
        """Where LM Studio's server listens, as `host:port` (None: the file does not say)."""
        if self.network_interface is None:
            return None
        host = self.network_interface
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.effective_port}"

    def local_url(self) -> str:
        """The URL to reach this server from this machine (0.0.0.0 is reached via loopback)."""
        host = self.network_interface or "127.0.0.1"
        if not is_loopback_host(host) and host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.effective_port}"
