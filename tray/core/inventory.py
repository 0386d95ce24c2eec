"""Loaded and downloaded models, merged from the HTTP API and (when available) `lms ps`.

`GET /api/v1/models` is cheap and always there, but lacks what a user asks first — is the
model busy, how many requests wait, when will it be evicted — which only `lms ps --json`
has (FORMATS.md §3.1). The HTTP list is the truth for what exists; `lms` fills in gaps.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from tray.core.api import ModelInfo
from tray.core.lms_output import LmsLoadedModel

__all__ = [
    "VISION_NOTE",
    "DownloadedModelRow",
    "Inventory",
    "LoadedModelRow",
    "build_inventory",
    "kind_label",
]


class LoadedModelRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    identifier: str
    model_key: str
    type: str | None = None
    size_bytes: int | None = None
    vram_bytes: int | None = None  # the part in the GPU's memory, where the server tells
    context_length: int | None = None
    max_context_length: int | None = None
    status: str | None = None  # idle | processingPrompt | generating | computingEmbedding
    queued: int | None = None
    ttl_seconds: float | None = None  # the idle TTL it was loaded with; None = none/unknown
    ttl_remaining_seconds: float | None = None  # until eviction if it stays idle
    parallel: int | None = None
    # What the tray asked for when it loaded the model (LM Studio may give less, silently).
    requested_context_length: int | None = None

    @property
    def context_short(self) -> bool:
        """LM Studio allocated less context than was asked for."""
        return (
            self.requested_context_length is not None
            and self.context_length is not None
            and self.context_length < self.requested_context_length
        )


class DownloadedModelRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_key: str
    type: str | None = None
    display_name: str | None = None
    size_bytes: int | None = None
    max_context_length: int | None = None
    format: str | None = None
    quantization: str | None = None


class Inventory(BaseModel):
    model_config = ConfigDict(frozen=True)

    loaded: tuple[LoadedModelRow, ...]
    downloaded: tuple[DownloadedModelRow, ...]


def _from_ps(p: LmsLoadedModel, now_ms: int | None) -> dict[str, object]:
    remaining = None
    if p.ttl_ms is not None and p.last_used_time is not None and now_ms is not None:
        remaining = max(0.0, (p.ttl_ms - (now_ms - p.last_used_time)) / 1000)
    return {
        "status": p.status.value,
        "queued": p.queued,
        "ttl_seconds": p.ttl_ms / 1000 if p.ttl_ms is not None else None,
        "ttl_remaining_seconds": remaining,
        "parallel": p.parallel,
    }


def build_inventory(
    models: Sequence[ModelInfo],
    ps: Sequence[LmsLoadedModel] | None = None,
    *,
    now_ms: int | None = None,
) -> Inventory:
    """`now_ms` (unix ms) lets TTLs count down; without it the time left is unknown."""
    by_id = {p.identifier: p for p in ps or ()}
    loaded: list[LoadedModelRow] = []
    for m in models:
        for inst in m.loaded_instances:
            row = LoadedModelRow(
                identifier=inst.id,
                model_key=m.key,
                type=m.type,
                size_bytes=m.size_bytes,
                context_length=inst.config.context_length,
                max_context_length=m.max_context_length,
            )
            if inst.config.parallel is not None:
                row = row.model_copy(update={"parallel": inst.config.parallel})
            p = by_id.pop(inst.id, None)
            loaded.append(row.model_copy(update=_from_ps(p, now_ms)) if p else row)
    # Instances on an LM Link device are listed only by `lms`; a local instance the HTTP
    # API no longer lists is gone (evicted since `lms ps` ran), whatever `lms` said then.
    for p in by_id.values():
        if p.device_identifier is None:
            continue
        loaded.append(
            LoadedModelRow(
                identifier=p.identifier,
                model_key=p.model_key,
                type=p.type.value,
                size_bytes=p.size_bytes,
                context_length=p.context_length,
                max_context_length=p.max_context_length,
            ).model_copy(update=_from_ps(p, now_ms))
        )
    downloaded = tuple(
        DownloadedModelRow(
            model_key=m.key,
            type=m.type,
            display_name=m.display_name,
            size_bytes=m.size_bytes,
            max_context_length=m.max_context_length,
            format=m.format,
            quantization=m.quantization.name if m.quantization else None,
        )
        for m in models
    )
    return Inventory(loaded=tuple(loaded), downloaded=downloaded)


VISION_NOTE = "Reads images as well as text (LM Studio says it supports vision)."


def kind_label(model: ModelInfo) -> str:
    """What kind of model it is, in a word or two: "Embedding", "Vision LLM" or "LLM"."""
    if model.is_embedding:
        return "Embedding"
    return "Vision LLM" if model.supports_vision else "LLM"
