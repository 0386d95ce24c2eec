"""The user's settings: a versioned pydantic model and pure migrations between versions.

Secrets never live here (tokens go to the OS keyring). Unknown keys written by a newer
version are kept, so downgrading and upgrading again loses nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tray.core.backends import AUTO, KindChoice
from tray.core.errors import FileParseError, NotFound
from tray.core.words import quoted

__all__ = [
    "LOCAL_PROFILE_ID",
    "SCHEMA_VERSION",
    "ActivitySettings",
    "HistorySettings",
    "McpSettings",
    "NotificationSettings",
    "PollingSettings",
    "QuickChatSettings",
    "ServerProfile",
    "ServerStartOptions",
    "Settings",
    "StartupSettings",
    "migrate",
    "profile_id_for",
    "remote_url_problem",
]

SCHEMA_VERSION = 3
LOCAL_PROFILE_ID = "this-machine"


class ServerStartOptions(BaseModel):
    """What `lms server start` was last given; `lms` forgets CORS unless told each time."""

    model_config = ConfigDict(extra="allow")

    port: int | None = Field(default=None, ge=0, le=65535)
    bind: str | None = None
    cors: bool = False
    remembered: bool = Field(
        default=False,
        description="the user (or a start) chose these; False: follow LM Studio's own "
        "server settings (`cors`, `networkInterface`) until then",
    )

    @model_validator(mode="before")
    @classmethod
    def _chosen_before_the_flag(cls, data: object) -> object:
        """Settings from before `remembered` existed: options that differ from the
        defaults were a choice (every start saved its options then)."""
        if isinstance(data, dict) and "remembered" not in data:
            chosen = (
                data.get("port") is not None or data.get("bind") is not None or data.get("cors")
            )
            return {**data, "remembered": bool(chosen)}
        return data

    def same_choice(self, other: ServerStartOptions) -> bool:
        """The same port, bind and CORS (whether remembered or not)."""
        return self.model_dump(exclude={"remembered"}) == other.model_dump(exclude={"remembered"})


class ServerProfile(BaseModel):
    """One server the tray can watch: this machine's LM Studio, one on the LAN, Ollama,
    llama.cpp's server or any OpenAI-compatible one; `kind` "auto" finds out which."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="stable; keyring key")
    name: str = Field(min_length=1, max_length=80)
    base_url: str | None = Field(
        default=None, description="None = this machine's LM Studio, as its own settings say"
    )
    kind: KindChoice = AUTO
    use_lms: bool = Field(default=True, description="`lms` drives this server (local only)")
    server_start: ServerStartOptions = Field(default_factory=ServerStartOptions)


class NotificationSettings(BaseModel):
    """Notifications for what the user did not do; each kind can be switched off."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    server_stopped: bool = True
    model_evicted: bool = True
    vram_high: bool = True
    exposed: bool = True
    context_full: bool = True  # a prediction stopped at a full context (Activity)
    prediction_failed: bool = True
    vram_threshold_percent: int = Field(default=90, ge=50, le=100)


class PollingSettings(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    interactive_seconds: float = Field(default=2.0, ge=0.5, le=60)
    idle_seconds: float = Field(default=15.0, ge=2, le=600)
    down_max_seconds: float = Field(default=120.0, ge=5, le=3600)


class QuickChatSettings(BaseModel):
    """The quick-chat popup and its global hotkey."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    # Qt portable key sequence text ("Ctrl+Alt+Space"); None = the platform's default
    # (Ctrl+Alt+Space; on macOS Cmd+Shift+Space, which Qt spells "Ctrl+Shift+Space": its
    # "Ctrl" is the Command key there, see core/hotkeys.py).
    hotkey: str | None = None
    hotkey_enabled: bool = True
    # The preset whose system prompt and sampling the popup uses (identifier or file
    # name); None = none.
    preset: str | None = None


class HistorySettings(BaseModel):
    """The version history of presets, load profiles and mcp.json."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    # An optional git remote for sharing presets and profiles across machines; None = none.
    # Never with a password or token in it: settings are a plain file (see
    # `remote_url_problem`).
    remote_url: str | None = None

    @field_validator("remote_url")
    @classmethod
    def _no_credentials(cls, value: str | None) -> str | None:
        problem = remote_url_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value


def remote_url_problem(url: str) -> str | None:
    """Why `url` may not be a history remote, or None. A password or token inside the URL
    would be stored in plain text (settings, the repository's config): refused, with the
    ways that keep the secret out of files."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "This remote URL cannot be read."
    web = parts.scheme.lower() in ("http", "https")
    if parts.password is not None or (web and parts.username):
        return (
            "A remote URL must not carry a user name, password or token: it would be stored "
            "in plain text. Use an SSH URL (git@host:me/presets.git) with your SSH key, or "
            "a folder (a shared drive)."
        )
    return None


class McpSettings(BaseModel):
    """MCP lockdown choices; the lockdown record itself lives in the app's state folder."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    # After a lockdown, put it back when anything changes mcp.json (and record the attempt).
    keep_locked: bool = False
    # Notify when mcp.json changes behind our back (locked or not).
    notify_changes: bool = True
    # After such a change, inspect again (without asking) the servers that were inspected
    # before with the very same launch, and notify when their tools changed (T7).
    reinspect_on_change: bool = False


class StartupSettings(BaseModel):
    """What the tray does when it starts (with start-at-login: a machine ready after
    login)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    start_server: bool = False  # start the API server when it is not running
    scene: str | None = Field(default=None, min_length=1)  # apply this scene


class ActivitySettings(BaseModel):
    """The Activity feature (`lms log stream`): live activity in the tray icon."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    # The tooltip shows the last tok/s and requests in the last minute, the icon a busy
    # mark while a prediction runs; keeps an `lms log stream` child running while the
    # server is up, so it is off until asked for.
    live: bool = False


def _local_profile() -> ServerProfile:
    return ServerProfile(id=LOCAL_PROFILE_ID, name="This machine")


class Settings(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    profiles: list[ServerProfile] = Field(default_factory=lambda: [_local_profile()])
    active_profile: str = LOCAL_PROFILE_ID
    home: Path | None = Field(
        default=None, description="LM Studio home; None = as LM Studio finds it"
    )
    lms_path: Path | None = Field(default=None, description="`lms` executable; None = search")
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    polling: PollingSettings = Field(default_factory=PollingSettings)
    autostart: bool = False
    # After copying a token, clear the clipboard this many seconds later if it still holds
    # it (0 = never).
    clipboard_clear_seconds: int = Field(default=30, ge=0, le=3600)
    quick_chat: QuickChatSettings = Field(default_factory=QuickChatSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    on_start: StartupSettings = Field(default_factory=StartupSettings)
    activity: ActivitySettings = Field(default_factory=ActivitySettings)

    @model_validator(mode="after")
    def _consistent_profiles(self) -> Settings:
        if not self.profiles:
            self.profiles.append(_local_profile())
        ids = [p.id for p in self.profiles]
        if len(set(ids)) != len(ids):
            raise ValueError("two server profiles have the same id")
        if self.active_profile not in ids:
            # validate_assignment re-runs this validator; assign through __dict__ to avoid
            # recursion while still repairing a dangling reference.
            self.__dict__["active_profile"] = ids[0]
        return self

    def profile(self, profile_id: str | None = None) -> ServerProfile:
        """The profile with this id, or the active one."""
        wanted = profile_id or self.active_profile
        for p in self.profiles:
            if p.id == wanted:
                return p
        raise KeyError(wanted)

    def find_profile(self, profile_id: str | None = None) -> ServerProfile:
        """As `profile`, for an id the user gave: `NotFound` says which ids there are."""
        try:
            return self.profile(profile_id)
        except KeyError:
            known = ", ".join(p.id for p in self.profiles)
            raise NotFound(
                f"There is no server profile “{profile_id}” in the settings (known: {known})."
            ) from None


def profile_id_for(name: str, taken: set[str]) -> str:
    """A stable id from a display name, unique among `taken`."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50] or "server"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 had one server: `server_url` and `server_start` at the top level."""
    data = dict(data)
    profile: dict[str, Any] = {"id": LOCAL_PROFILE_ID, "name": "This machine"}
    url = data.pop("server_url", None)
    if url:
        profile["base_url"] = url
    start = data.pop("server_start", None)
    if start:
        profile["server_start"] = start
    data["profiles"] = [profile]
    data["active_profile"] = LOCAL_PROFILE_ID
    return data


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v2 knew two kinds, "lmstudio" (the default, written for every profile) and "openai"
    (the only choice for Ollama or llama.cpp): neither was a pin. v3 finds out ("auto")."""
    data = dict(data)
    profiles = data.get("profiles")
    if isinstance(profiles, list):
        data["profiles"] = [
            {**p, "kind": AUTO}
            if isinstance(p, dict) and p.get("kind") in ("lmstudio", "openai", None)
            else p
            for p in profiles
        ]
    return data


# Each entry upgrades a raw dict from version N to N+1; pure, tested one by one.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
}


def _schema_version(value: Any) -> int:
    """The file's schema version; a hand-edited or damaged one is a FileParseError (the
    settings store then starts on defaults and says so), never a crash."""
    if value is None or value is False:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,6}\s*", value):
        value = int(value)  # an older hand edit; int() accepted it before
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FileParseError(
            "The settings file's schema_version should be a whole number, "
            f"not {quoted(str(value))}."
        )
    return value


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring a settings dict of any older schema version up to SCHEMA_VERSION."""
    data = dict(raw)
    version = _schema_version(data.get("schema_version", 0))
    data["schema_version"] = version = max(version, 1)
    while version < SCHEMA_VERSION:
        data = _MIGRATIONS[version](data)
        version += 1
        data["schema_version"] = version
    return data
