"""What each kind of server can do, declared up front, and how a profile names its kind.

The tray is the companion of every local LLM server a developer runs: LM Studio (0.4 and
later through its REST API v1, 0.3.x through v0), Ollama, llama.cpp's server and any
OpenAI-compatible one. A profile says which kind it is, or `auto` (the default): then the
tray finds out (`tray.core.server_kinds`). Views ask `Capabilities` what to show; they never
find out by catching an exception, and never branch on the kind themselves.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AUTO",
    "KIND_CHOICES",
    "NO_HOME_REASON",
    "BackendKind",
    "Capabilities",
    "KindChoice",
    "capabilities_for",
    "choice_label",
    "config_items",
    "parse_kind_choice",
    "server_title",
]


class BackendKind(StrEnum):
    LMSTUDIO = "lmstudio"
    OLLAMA = "ollama"
    LLAMACPP = "llama.cpp"  # llama.cpp's own server, or llama-cpp-python's
    OPENAI = "openai"  # any other OpenAI-compatible server

    @property
    def label(self) -> str:
        return {
            BackendKind.LMSTUDIO: "LM Studio",
            BackendKind.OLLAMA: "Ollama",
            BackendKind.LLAMACPP: "llama.cpp server",
            BackendKind.OPENAI: "OpenAI-compatible",
        }[self]


AUTO: Literal["auto"] = "auto"
# What a profile stores: a kind it is pinned to, or "auto" (find out at first contact).
KindChoice = BackendKind | Literal["auto"]
KIND_CHOICES: tuple[str, ...] = (AUTO, *(k.value for k in BackendKind))


def parse_kind_choice(text: str) -> KindChoice:
    """`auto` or a kind's name, as typed on the command line; raises ValueError."""
    t = text.strip().lower()
    if t == AUTO:
        return AUTO
    aliases = {"llamacpp": "llama.cpp", "llama-cpp": "llama.cpp", "lm-studio": "lmstudio"}
    return BackendKind(aliases.get(t, t))


def server_title(kind: BackendKind, version: str | None, *, legacy: bool = False) -> str:
    """ "Ollama 0.12.6", "LM Studio 0.3", "llama.cpp server" — the server in a few words."""
    if version:
        return f"{kind.label} {version}"
    if kind is BackendKind.LMSTUDIO and legacy:
        return "LM Studio 0.3"
    return kind.label


def choice_label(choice: KindChoice) -> str:
    return "Detect automatically" if choice == AUTO else BackendKind(choice).label


class Capabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: BackendKind
    rest_models: bool  # LM Studio's REST API v1: loaded instances, sizes, context
    lists_loaded: bool  # the server tells which models are loaded (any kind's own API)
    server_control: bool  # start/stop through `lms server`
    load_unload: bool  # load and eject models
    lms: bool  # `lms ps` (status, queue, TTL), `lms load` flags
    native_chat: bool  # /api/v1/chat with its event stream
    legacy: bool = False  # LM Studio 0.3.x: REST API v0 only

    @property
    def load_profiles(self) -> bool:
        """Load profiles, scenes and the Load model dialog: LM Studio's loads."""
        return self.kind is BackendKind.LMSTUDIO and self.load_unload

    def why_not(self, what: str) -> str:
        """A sentence for a menu or dialog explaining a missing capability."""
        if self.kind is BackendKind.LMSTUDIO and self.legacy:
            return (
                f"{what} needs LM Studio 0.4 or later; this server is LM Studio 0.3, whose "
                "API cannot do it (update LM Studio)."
            )
        if self.kind is BackendKind.LMSTUDIO:
            return f"{what} needs LM Studio's `lms` on this machine."
        if self.kind is BackendKind.OLLAMA:
            return f"{what} needs LM Studio; Ollama's API cannot do it."
        if self.kind is BackendKind.LLAMACPP:
            return (
                f"{what} needs LM Studio or Ollama; a llama.cpp server serves the model it "
                "was started with."
            )
        return f"{what} needs LM Studio or Ollama; this server is only OpenAI-compatible."


def capabilities_for(
    kind: BackendKind, *, lms_available: bool, legacy: bool = False
) -> Capabilities:
    """`lms_available`: the profile may use `lms` and it was found (a local LM Studio);
    `legacy`: LM Studio answers only its REST API v0 (0.3.x)."""
    if kind is BackendKind.LMSTUDIO:
        return Capabilities(
            kind=kind,
            rest_models=not legacy,
            lists_loaded=True,
            server_control=lms_available,
            load_unload=not legacy,  # 0.3's API cannot load or eject
            lms=lms_available,
            native_chat=not legacy,
            legacy=legacy,
        )
    return Capabilities(
        kind=kind,
        rest_models=False,
        # Ollama: /api/ps; llama.cpp: the one model it serves (/props, /v1/models).
        lists_loaded=kind in (BackendKind.OLLAMA, BackendKind.LLAMACPP),
        server_control=False,
        load_unload=kind is BackendKind.OLLAMA,  # keep_alive through /api/generate
        lms=False,
        native_chat=False,
    )


NO_HOME_REASON = (
    "LM Studio's folder was not found on this machine (is LM Studio installed? Settings → "
    "LM Studio folder)."
)


def config_items(caps: Capabilities, *, home_found: bool) -> dict[str, str | None]:
    """Which configuration windows can work now: name → None, or why not.

    Presets are LM Studio's files on this machine; load profiles are ours but are applied
    when the tray loads a model in LM Studio, which no other server can do; the history
    is ours and always there."""
    return {
        "presets": None if home_found else NO_HOME_REASON,
        "profiles": None if caps.load_profiles else caps.why_not("Load profiles"),
        "history": None,
    }
