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

__all__ = ["DownloadedModelRow", "Inventory", "LoadedModelRow", "build_inventory"]


class LoadedModelRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    identifier: str
    model_key: str
    type: str | None = None
    size_bytes: int | None = None
    context_length: int | None = None
    max_context_length: int | None = None
    status: str | None = None  # idle | processingPrompt | generating | computingEmbedding
    queued: int | None = None
    ttl_seconds: float | None = None  # the idle TTL it was loaded with; None = none/unknown


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


def _from_ps(p: LmsLoadedModel) -> dict[str, object]:
    return {
        "status": p.status.value,
        "queued": p.queued,
        "ttl_seconds": p.ttl_ms / 1000 if p.ttl_ms is not None else None,
    }


def build_inventory(
    models: Sequence[ModelInfo], ps: Sequence[LmsLoadedModel] | None = None
) -> Inventory:
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
            p = by_id.pop(inst.id, None)
            loaded.append(row.model_copy(update=_from_ps(p)) if p else row)
    # Instances only `lms` knows (e.g. on an LM Link device) still count as loaded.
    for p in by_id.values():
        loaded.append(
            LoadedModelRow(
                identifier=p.identifier,
                model_key=p.model_key,
                type=p.type.value,
                size_bytes=p.size_bytes,
                context_length=p.context_length,
                max_context_length=p.max_context_length,
            ).model_copy(update=_from_ps(p))
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
