"""Which kind of server answers at an address, and what each kind's own API says.

Detection is a short, ordered list of GETs, stopping at the first that tells (`DETECTION`):

1. `GET /api/v1/models` — LM Studio 0.4 and later (`{"models": [...]}`);
2. `GET /api/v0/models` — LM Studio 0.3.x (`{"object": "list", "data": [...]}` whose items
   carry `state`);
3. `GET /api/version` — Ollama (`{"version": "0.12.6"}`; docs.ollama.com/api/version);
4. `GET /props` — llama.cpp's own server (`default_generation_settings`, `total_slots`,
   `model_path`; ggml-org/llama.cpp tools/server/README.md);
5. `GET /v1/models` — any OpenAI-compatible server; llama.cpp's server says
   `"owned_by": "llamacpp"` there and llama-cpp-python's `"owned_by": "me"`, so both are
   still known as llama.cpp.

LM Studio answers the first, so it costs one GET as before; a plain OpenAI-compatible
server costs five, once — on first contact and when it comes back after being down.

Everything here is pure: the services side sends the requests (`tray.services.backends`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tray.core.api import ResponseModel
from tray.core.backends import BackendKind
from tray.core.inventory import DownloadedModelRow, LoadedModelRow

__all__ = [
    "DETECTION",
    "KEEP_FOREVER_AFTER_S",
    "DetectionStep",
    "LlamaCppProps",
    "LlamaCppSlot",
    "OllamaPs",
    "OllamaRunning",
    "OllamaTag",
    "OllamaTags",
    "ServerIdentity",
    "llamacpp_rows",
    "ollama_downloaded_rows",
    "ollama_loaded_rows",
    "read_slots",
    "v0_downloaded_rows",
    "v0_loaded_rows",
]


class ServerIdentity(BaseModel):
    """What answers at an address: its kind, its version when it tells it, and for LM
    Studio whether only the 0.3 API (v0) is there."""

    model_config = ConfigDict(frozen=True)

    kind: BackendKind
    version: str | None = None
    legacy: bool = False


# --- the detection steps --------------------------------------------------------------


class DetectionStep(BaseModel):
    """One GET and how to read its answer: `read(status, json)` gives the identity, or
    None when this answer does not tell (go on to the next step)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: str
    read: Callable[[int, Any], ServerIdentity | None]
    kinds: tuple[BackendKind, ...]  # what this step can find


def _ok_dict(status: int, body: Any) -> dict[str, Any] | None:
    return body if 200 <= status < 300 and isinstance(body, dict) and "error" not in body else None


def _lmstudio_v1(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    if d is not None and isinstance(d.get("models"), list):
        return ServerIdentity(kind=BackendKind.LMSTUDIO)
    return None


def _lmstudio_v0(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    data = d.get("data") if d is not None else None
    if isinstance(data, list) and all(isinstance(m, dict) and "state" in m for m in data):
        # An empty list says little, but /api/v0 is LM Studio's own prefix.
        return ServerIdentity(kind=BackendKind.LMSTUDIO, legacy=True)
    return None


def _ollama(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    if d is not None and isinstance(d.get("version"), str) and len(d) <= 2:
        return ServerIdentity(kind=BackendKind.OLLAMA, version=d["version"])
    return None


def _llamacpp_props(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    markers = ("default_generation_settings", "total_slots", "model_path")
    if d is not None and any(k in d for k in markers):
        build = d.get("build_info")
        return ServerIdentity(
            kind=BackendKind.LLAMACPP, version=build if isinstance(build, str) else None
        )
    return None


def _openai(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    data = d.get("data") if d is not None else None
    if not isinstance(data, list):
        return None
    owners = {m.get("owned_by") for m in data if isinstance(m, dict)}
    if owners & {"llamacpp", "me"}:  # llama.cpp's server, llama-cpp-python's server
        return ServerIdentity(kind=BackendKind.LLAMACPP)
    return ServerIdentity(kind=BackendKind.OPENAI)


_LM, _ALL = (BackendKind.LMSTUDIO,), tuple(BackendKind)
DETECTION: tuple[DetectionStep, ...] = (
    DetectionStep(path="/api/v1/models", read=_lmstudio_v1, kinds=_LM),
    DetectionStep(path="/api/v0/models", read=_lmstudio_v0, kinds=_LM),
    DetectionStep(path="/api/version", read=_ollama, kinds=(BackendKind.OLLAMA,)),
    DetectionStep(path="/props", read=_llamacpp_props, kinds=(BackendKind.LLAMACPP,)),
    DetectionStep(
        path="/v1/models", read=_openai, kinds=(BackendKind.LLAMACPP, BackendKind.OPENAI)
    ),
)


# --- Ollama (docs.ollama.com/api) -----------------------------------------------------


class OllamaDetails(ResponseModel):
    format: str | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None


class OllamaRunning(ResponseModel):
    """One item of `GET /api/ps`."""

    name: str
    model: str | None = None
    size: int | None = None  # bytes in memory, VRAM and RAM together
    size_vram: int | None = None  # the part in VRAM
    context_length: int | None = None
    expires_at: datetime | None = None
    details: OllamaDetails | None = None


class OllamaPs(ResponseModel):
    models: tuple[OllamaRunning, ...] = ()


class OllamaTag(ResponseModel):
    """One item of `GET /api/tags` (a downloaded model)."""

    name: str
    model: str | None = None
    size: int | None = None
    modified_at: str | None = None
    details: OllamaDetails | None = None


class OllamaTags(ResponseModel):
    models: tuple[OllamaTag, ...] = ()


# Ollama's keep_alive -1 ("forever") shows as an expiry centuries away; past this many
# seconds the time left is not worth showing.
KEEP_FOREVER_AFTER_S = 10 * 365 * 24 * 3600.0


def ollama_loaded_rows(ps: OllamaPs, *, now: datetime) -> tuple[LoadedModelRow, ...]:
    rows = []
    for m in ps.models:
        left: float | None = None
        if m.expires_at is not None:
            seconds = (m.expires_at - now).total_seconds()
            left = max(0.0, seconds) if seconds < KEEP_FOREVER_AFTER_S else None
        rows.append(
            LoadedModelRow(
                identifier=m.name,
                model_key=m.model or m.name,
                type="llm",
                size_bytes=m.size,
                vram_bytes=m.size_vram,
                context_length=m.context_length,
                ttl_remaining_seconds=left,
            )
        )
    return tuple(rows)


def ollama_downloaded_rows(tags: OllamaTags) -> tuple[DownloadedModelRow, ...]:
    return tuple(
        DownloadedModelRow(
            model_key=t.name,
            type="llm",
            size_bytes=t.size,
            format=t.details.format if t.details else None,
            quantization=t.details.quantization_level if t.details else None,
        )
        for t in tags.models
    )


# --- LM Studio 0.3 (REST v0) ----------------------------------------------------------


def v0_loaded_rows(models: Any) -> tuple[LoadedModelRow, ...]:
    """Rows of the loaded models in `/api/v0/models` (`V0Model` items)."""
    return tuple(
        LoadedModelRow(
            identifier=m.id,
            model_key=m.id,
            type=m.type,
            context_length=m.loaded_context_length,
            max_context_length=m.max_context_length,
        )
        for m in models
        if m.state == "loaded"
    )


def v0_downloaded_rows(models: Any) -> tuple[DownloadedModelRow, ...]:
    return tuple(
        DownloadedModelRow(
            model_key=m.id,
            type=m.type,
            max_context_length=m.max_context_length,
            format=m.compatibility_type,
            quantization=m.quantization,
        )
        for m in models
    )


# --- llama.cpp's server ---------------------------------------------------------------


class LlamaCppProps(ResponseModel):
    """What `GET /props` says that the tray shows (llama.cpp's own server only)."""

    model_path: str | None = None
    model_alias: str | None = None
    total_slots: int | None = None
    build_info: str | None = None
    default_generation_settings: dict[str, Any] | None = None

    @property
    def n_ctx(self) -> int | None:
        settings = self.default_generation_settings or {}
        value = settings.get("n_ctx")
        return value if isinstance(value, int) else None

    @classmethod
    def read(cls, body: Any) -> LlamaCppProps | None:
        try:
            return cls.model_validate(body) if isinstance(body, dict) else None
        except ValidationError:
            return None


class LlamaCppSlot(ResponseModel):
    """One item of llama-server's `GET /slots` (tools/server/README.md)."""

    id: int | None = None
    n_ctx: int | None = None
    is_processing: bool = False


def read_slots(body: Any) -> tuple[LlamaCppSlot, ...] | None:
    """`/slots`' array, or None when the answer is not one (`--no-slots`: 501)."""
    if not isinstance(body, list):
        return None
    try:
        return tuple(LlamaCppSlot.model_validate(item) for item in body)
    except ValidationError:
        return None


def llamacpp_rows(
    served: tuple[str, ...],
    props: LlamaCppProps | None,
    slots: tuple[LlamaCppSlot, ...] | None = None,
) -> tuple[LoadedModelRow, ...]:
    """The model a llama.cpp server serves is loaded (it loads it at start); with its
    slots, whether it is busy and how many requests it is answering."""
    busy = sum(1 for s in slots if s.is_processing) if slots is not None else None
    return tuple(
        LoadedModelRow(
            identifier=model,
            model_key=model,
            type="llm",
            context_length=props.n_ctx if props else None,
            parallel=props.total_slots if props else None,
            status=None if busy is None else ("generating" if busy else "idle"),
            queued=None if not busy or busy < 2 else busy - 1,
        )
        for model in served
    )
