"""Works out, once, what this machine has: LM Studio's home, its server settings, the server
URL to talk to, the `lms` executable, and a token from the environment.

Both the CLI and the tray app start from this, so they always agree. Precedence for each
value: command-line option › the user's setting › what LM Studio itself uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from tray.core.backends import Capabilities, capabilities_for
from tray.core.errors import FileParseError
from tray.core.home import HomeLocation
from tray.core.server_config import HttpServerConfig
from tray.core.settings import ServerProfile, Settings
from tray.core.tokens import NoToken, StaticToken, TokenProvider
from tray.core.words import quoted
from tray.services.lms_runner import find_lms
from tray.services.lmstudio_home import locate_home, read_server_config

__all__ = ["TOKEN_ENV_VARS", "Environment", "discover", "token_from_environment"]

# LM Studio's docs and TypeScript SDK read LM_API_TOKEN; its Python SDK reads
# LMSTUDIO_API_TOKEN (FORMATS.md §2.9). Accept both, in that order.
TOKEN_ENV_VARS = ("LM_API_TOKEN", "LMSTUDIO_API_TOKEN")


class Environment(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    profile: ServerProfile
    home: HomeLocation
    server_config: HttpServerConfig | None
    server_config_error: str | None
    server_url: str
    server_url_source: str
    lms_path: Path | None
    lms_configured: Path | None = None

    @property
    def lmstudio_found(self) -> bool:
        return self.home.exists or self.lms_path is not None

    @property
    def capabilities(self) -> Capabilities:
        usable = self.lms_path is not None and self.profile.use_lms
        return capabilities_for(self.profile.kind, lms_available=usable)


def discover(
    settings: Settings,
    *,
    server: str | None = None,
    home: Path | None = None,
    lms: Path | None = None,
    profile: str | None = None,
) -> Environment:
    """Raises KeyError for a profile id that is not in the settings."""
    chosen = settings.profile(profile)
    location = locate_home(home or settings.home)
    config: HttpServerConfig | None = None
    config_error: str | None = None
    try:
        config = read_server_config(location.path)
    except FileParseError as exc:
        config_error = exc.message

    if server:
        url, url_source = server, "--server"
    elif chosen.base_url:
        url, url_source = chosen.base_url, f"profile {quoted(chosen.name)}"
    elif config is not None:
        url, url_source = config.local_url(), "LM Studio's server settings"
    else:
        url, url_source = HttpServerConfig().local_url(), "default"

    return Environment(
        profile=chosen,
        home=location,
        server_config=config,
        server_config_error=config_error,
        server_url=url.rstrip("/"),
        server_url_source=url_source,
        lms_path=find_lms(configured=lms or settings.lms_path, home=location.path),
        lms_configured=lms or settings.lms_path,
    )


def token_from_environment() -> TokenProvider:
    for name in TOKEN_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return StaticToken(SecretStr(value))
    return NoToken()
