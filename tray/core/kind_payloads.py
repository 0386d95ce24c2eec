"""What each kind of server other than LM Studio 0.4+ says in its own API, and how the tray
shows it: Ollama's `/api/ps` and `/api/tags` (docs.ollama.com/api), llama.cpp's `/props`
and `/slots` (ggml-org/llama.cpp tools/server/README.md), LM Studio 0.3's REST v0 list —
each turned into the tray's model rows.

Imported only once such a server answers (`tray.services.backends`): a tray watching
LM Studio never loads these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from tray.core.api import ResponseModel
from tray.core.inventory import DownloadedModelRow, LoadedModelRow

__all__ = [
    "KEEP_FOREVER_AFTER_S",
    "LlamaCppProps",
    "LlamaCppSlot",
    "OllamaPs",
    "OllamaRunning",
    "OllamaTag",
    "OllamaTags",
    "llamacpp_rows",
    "ollama_downloaded_rows",
    "ollama_loaded_rows",
    "read_slots",
    "v0_downloaded_rows",
    "v0_loaded_rows",
]


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
