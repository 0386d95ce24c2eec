"""Rules for server profiles and the numbers in Settings, shared by the Settings window, the
tray menu and tests: what a base URL may be, when `lms` can drive a server, how a profile is
labelled, and what an edit must satisfy before anything is saved.

Everything here is pure: it takes what the user typed and returns a value or sentences that
say what to fix, keyed by the field they belong to.
"""

from __future__ import annotations

from collections.abc import Sequence

import annotated_types
from pydantic import BaseModel, ConfigDict, ValidationError

from tray.core.backends import AUTO, BackendKind, KindChoice
from tray.core.errors import InvalidServerUrl
from tray.core.server_url import parse_server_url, server_host
from tray.core.settings import PollingSettings, ServerProfile, profile_id_for
from tray.core.status import is_loopback_host
from tray.core.words import with_article

__all__ = [
    "NEW_PROFILE_NAME",
    "ProfileCheck",
    "ProfileFields",
    "check_polling",
    "check_profile",
    "display_name",
    "is_this_machine",
    "lms_applies",
    "lms_note",
    "new_profile_name",
    "normalize_base_url",
    "profile_label",
    "removal_problem",
    "setting_limits",
]

NEW_PROFILE_NAME = "New server"


def normalize_base_url(text: str) -> str | None:
    """The base URL to store for what the user typed; None (empty) = this machine's LM Studio.

    The one rule for server addresses (`tray.core.server_url`): adds `http://` when no
    scheme is given, lower-cases scheme and host, drops a trailing slash and a pasted API
    root (`/v1`, `/api/v1`). Raises `InvalidServerUrl`; its `problem` says what to fix.
    """
    if not text.strip():
        return None
    return parse_server_url(text)


def is_this_machine(base_url: str | None) -> bool:
    """Whether the profile points at this machine (no URL, or a loopback host)."""
    if base_url is None:
        return True
    return is_loopback_host(server_host(base_url))


def lms_applies(kind: KindChoice, base_url: str | None) -> bool:
    """`lms` drives only the LM Studio installed on this machine (with `auto`, once the
    server turns out to be LM Studio)."""
    return kind in (AUTO, BackendKind.LMSTUDIO) and is_this_machine(base_url)


def lms_note(kind: KindChoice, base_url: str | None) -> str:
    """A sentence for the Settings window saying what `lms` would do for this profile."""
    if kind != AUTO and kind is not BackendKind.LMSTUDIO:
        return (
            "lms is LM Studio's own command; it does nothing for "
            f"{with_article(BackendKind(kind).label)} server, which the tray watches and "
            "manages through its own API."
        )
    if not is_this_machine(base_url):
        return (
            "lms controls only the LM Studio on this machine. This server is watched and "
            "managed through its HTTP API; start and stop it on the machine it runs on."
        )
    return (
        "Lets the tray start and stop the server and show each loaded model's status, "
        "queue and TTL. The tray finds lms on PATH or in LM Studio's folder."
    )


def profile_label(profile: ServerProfile) -> str:
    """How menus and lists name a profile; reduced-mode servers say so."""
    return display_name(profile.name, profile.kind)


def display_name(name: str, kind: KindChoice) -> str:
    """A profile's name as lists show it, also for one still being edited: a pinned kind
    other than LM Studio is named."""
    name = " ".join(name.split()) or "(no name)"
    if kind == AUTO or kind is BackendKind.LMSTUDIO:
        return name
    return f"{name} ({BackendKind(kind).label})"


def new_profile_name(taken: Sequence[str]) -> str:
    """ "New server", or "New server 2", … — whichever no profile uses yet."""
    names = {n.strip().casefold() for n in taken}
    candidate, n = NEW_PROFILE_NAME, 2
    while candidate.casefold() in names:
        candidate, n = f"{NEW_PROFILE_NAME} {n}", n + 1
    return candidate


class ProfileFields(BaseModel):
    """A profile as the user typed it, before any rule is applied."""

    model_config = ConfigDict(frozen=True)

    name: str
    base_url: str
    kind: KindChoice = AUTO
    use_lms: bool = True


class ProfileCheck(BaseModel):
    """The result of checking a profile edit: the profile to save, or what to fix."""

    model_config = ConfigDict(frozen=True)

    profile: ServerProfile | None = None
    errors: dict[str, str] = {}  # field name ("name", "base_url") -> sentence

    @property
    def ok(self) -> bool:
        return self.profile is not None


def check_profile(
    fields: ProfileFields,
    *,
    other_names: Sequence[str] = (),
    taken_ids: Sequence[str] = (),
    existing: ServerProfile | None = None,
) -> ProfileCheck:
    """Check one profile edit; `other_names` are the names of the other profiles.

    `existing` is the profile being edited (its id and any settings the form does not show,
    such as the remembered server-start options, are kept); None makes a new profile with
    an id derived from its name, unique among `taken_ids` (pass every id ever used in this
    settings file, so a new profile never inherits a removed one's keyring token).
    """
    errors: dict[str, str] = {}
    name = " ".join(fields.name.split())
    if not name:
        errors["name"] = "Give the server a name, for example “GPU box” or “Ollama”."
    elif len(name) > 80:
        errors["name"] = "Keep the name under 80 characters."
    elif any(" ".join(n.split()).casefold() == name.casefold() for n in other_names):
        errors["name"] = f"Another server is already called “{name}”."
    base_url: str | None = None
    try:
        base_url = normalize_base_url(fields.base_url)
    except InvalidServerUrl as exc:
        errors["base_url"] = exc.problem
    if errors:
        return ProfileCheck(errors=errors)

    update = {
        "name": name,
        "base_url": base_url,
        "kind": fields.kind,
        "use_lms": fields.use_lms and lms_applies(fields.kind, base_url),
    }
    if existing is not None:
        data = existing.model_dump() | update
    else:
        data = {"id": profile_id_for(name, set(taken_ids)), **update}
    try:
        return ProfileCheck(profile=ServerProfile.model_validate(data))
    except ValidationError as exc:  # the rules above should have caught it; say what broke
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "name"
        return ProfileCheck(errors={field: f"{first['msg']}."})


def removal_problem(remaining_after: int) -> str | None:
    """Why a profile cannot be removed when `remaining_after` would be left, or None."""
    if remaining_after < 1:
        return "The tray needs at least one server; add another before removing this one."
    return None


def check_polling(
    interactive_seconds: float, idle_seconds: float, down_max_seconds: float
) -> dict[str, str]:
    """Problems with polling delays beyond each field's own limits, keyed by field."""
    errors: dict[str, str] = {}
    if interactive_seconds > idle_seconds:
        errors["interactive_seconds"] = (
            "Looking while the menu is open should not be slower than looking when idle."
        )
    if down_max_seconds < idle_seconds:
        errors["down_max_seconds"] = (
            "The longest wait while the server is down should be at least the idle delay."
        )
    for name, value in (
        ("interactive_seconds", interactive_seconds),
        ("idle_seconds", idle_seconds),
        ("down_max_seconds", down_max_seconds),
    ):
        low, high = setting_limits(PollingSettings, name)
        if not low <= value <= high:
            errors[name] = f"Choose between {low:g} and {high:g} seconds."
    return errors


def setting_limits(model: type[BaseModel], field: str) -> tuple[float, float]:
    """The (min, max) a numeric setting's model allows, so editors offer exactly that range."""
    low, high = float("-inf"), float("inf")
    for rule in model.model_fields[field].metadata:
        if isinstance(rule, annotated_types.Ge):
            low = float(rule.ge)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Gt):
            low = float(rule.gt)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Le):
            high = float(rule.le)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Lt):
            high = float(rule.lt)  # type: ignore[arg-type]
    return low, high
