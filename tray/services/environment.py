"""Works out, once, what this machine has: LM Studio's home, its server settings, the server
URL to talk to, the `lms` executable, and a token from the environment.

Both the CLI and the tray app start from this, so they always agree. Precedence for each
value: command-line option › the user's setting › what LM Studio itself uses.

The server address goes through `tray.core.server_url`, whichever of those it comes from. One
that is not an address is kept as typed, with the error naming where it came from
(`server_url_error`): the CLI refuses it (exit 2), the tray shows it and lets the user fix it
in Settings — its HTTP client refuses the address too, so nothing fails deeper down.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tray.core.backends import AUTO, BackendKind, Capabilities, KindChoice, capabilities_for
from tray.core.errors import FileParseError, InvalidServerUrl
from tray.core.home import HomeLocation
from tray.core.server_config import HttpServerConfig
from tray.core.server_kinds import ServerIdentity
from tray.core.server_url import parse_server_url
from tray.core.settings import ServerProfile, Settings
from tray.core.tokens import NoToken, StaticToken, TokenProvider
from tray.core.words import quoted
from tray.services.lms_runner import find_lms
from tray.services.lmstudio_home import locate_home, read_server_config, server_config_path

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
    # Set when the address is not one (then `server_url` is the text as it was given).
    server_url_error: InvalidServerUrl | None = Field(default=None, exclude=True)
    lms_path: Path | None
    lms_configured: Path | None = None
    # What answered at `server_url` once asked (`with_identity`); None = not asked yet.
    identity: ServerIdentity | None = None

    @property
    def lmstudio_found(self) -> bool:
        return self.home.exists or self.lms_path is not None

    @property
    def kind_choice(self) -> KindChoice:
        """The profile's kind ("auto" unless the user pinned one), also for an address
        given with --server."""
        return self.profile.kind

    @property
    def assumed_kind(self) -> BackendKind:
        """What answered, once known; before that the pinned kind, else LM Studio."""
        if self.identity is not None:
            return self.identity.kind
        choice = self.kind_choice
        return BackendKind.LMSTUDIO if choice == AUTO else BackendKind(choice)

    def with_identity(self, identity: ServerIdentity | None) -> Environment:
        """This environment once the server said what it is."""
        return self if identity == self.identity else self.model_copy(update={"identity": identity})

    @property
    def lms_usable(self) -> bool:
        return self.lms_path is not None and self.profile.use_lms

    @property
    def capabilities(self) -> Capabilities:
        """What the server can do as far as is known before asking it (`assumed_kind`);
        once it answered, `capabilities_as` its real kind."""
        legacy = self.identity is not None and self.identity.legacy
        return self.capabilities_as(self.assumed_kind, legacy=legacy)

    def capabilities_as(self, kind: BackendKind, *, legacy: bool = False) -> Capabilities:
        lms = self.lms_usable and kind is BackendKind.LMSTUDIO
        return capabilities_for(kind, lms_available=lms, legacy=legacy)


def discover(
    settings: Settings,
    *,
    server: str | None = None,
    home: Path | None = None,
    lms: Path | None = None,
    profile: str | None = None,
    settings_file: Path | None = None,
) -> Environment:
    """What this machine has, for the profile `profile` (default: the active one).

    Raises `NotFound` for a profile id that is not in the settings. `settings_file` only
    names the file in the sentence about a profile's address that is not one."""
    chosen = settings.find_profile(profile)
    location = locate_home(home or settings.home)
    config: HttpServerConfig | None = None
    config_error: str | None = None
    try:
        config = read_server_config(location.path)
    except FileParseError as exc:
        config_error = exc.message

    # (the address, the short label `doctor` shows, where it came from in a sentence)
    if server:  # "" is not given (the demo's, before its simulator has started)
        url, url_source, where = server, "--server", "given with --server"
    elif chosen.base_url:
        in_file = f"the settings file {settings_file}" if settings_file else "the settings"
        url, url_source = chosen.base_url, f"profile {quoted(chosen.name)}"
        where = f"of the server profile “{chosen.name}” in {in_file}"
    elif config is not None:
        url, url_source = config.local_url(), "LM Studio's server settings"
        where = f"made from LM Studio's server settings in {server_config_path(location.path)}"
    else:
        url, url_source, where = HttpServerConfig().local_url(), "default", "by default"
    error: InvalidServerUrl | None = None
    try:
        url = parse_server_url(url, source=where)
    except InvalidServerUrl as exc:
        error, url = exc, url.strip()

    return Environment(
        profile=chosen,
        home=location,
        server_config=config,
        server_config_error=config_error,
        server_url=url,
        server_url_source=url_source,
        server_url_error=error,
        lms_path=find_lms(configured=lms or settings.lms_path, home=location.path),
        lms_configured=lms or settings.lms_path,
    )


def token_from_environment() -> TokenProvider:
    for name in TOKEN_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return StaticToken(SecretStr(value))
    return NoToken()
