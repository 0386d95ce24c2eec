"""What each kind of server can do, declared up front.

The tray works with LM Studio fully and with any OpenAI-compatible server (Ollama,
llama.cpp's server, …) in a reduced mode. Views ask `Capabilities` what to show; they never
find out by catching an exception.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = ["NO_HOME_REASON", "BackendKind", "Capabilities", "capabilities_for", "config_items"]


class BackendKind(StrEnum):
    LMSTUDIO = "lmstudio"
    OPENAI = "openai"  # any OpenAI-compatible server

    @property
    def label(self) -> str:
        return {BackendKind.LMSTUDIO: "LM Studio", BackendKind.OPENAI: "OpenAI-compatible"}[self]


class Capabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: BackendKind
    rest_models: bool  # /api/v1/models: loaded instances, sizes, context
    server_control: bool  # start/stop through `lms server`
    load_unload: bool  # load and eject models
    lms: bool  # `lms ps` (status, queue, TTL), `lms load` flags
    native_chat: bool  # /api/v1/chat with its event stream

    def why_not(self, what: str) -> str:
        """A sentence for a menu or dialog explaining a missing capability."""
        if self.kind is BackendKind.OPENAI:
            return f"{what} needs LM Studio; this server is only OpenAI-compatible."
        return f"{what} needs LM Studio's `lms` on this machine."


def capabilities_for(kind: BackendKind, *, lms_available: bool) -> Capabilities:
    """`lms_available`: the profile may use `lms` and it was found (a local LM Studio)."""
    if kind is BackendKind.OPENAI:
        return Capabilities(
            kind=kind,
            rest_models=False,
            server_control=False,
            load_unload=False,
            lms=False,
            native_chat=False,
        )
    return Capabilities(
        kind=kind,
        rest_models=True,
        server_control=lms_available,
        load_unload=True,
        lms=lms_available,
        native_chat=True,
    )


NO_HOME_REASON = (
    "LM Studio's folder was not found on this machine (is LM Studio installed? Settings → "
    "LM Studio folder)."
)


def config_items(caps: Capabilities, *, home_found: bool) -> dict[str, str | None]:
    """Which configuration windows can work now: name → None, or why not.

    Presets are LM Studio's files on this machine; load profiles are ours but are applied
    when the tray loads a model, which an OpenAI-compatible server cannot do; the history
    is ours and always there."""
    return {
        "presets": None if home_found else NO_HOME_REASON,
        "profiles": None if caps.load_unload else caps.why_not("Load profiles"),
        "history": None,
    }
