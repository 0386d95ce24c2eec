"""Loaded models as the user handles them: the set to restore after "Eject all", what a
load or a restore came to, and the words the menu and CLI show for a loaded model.

Pure rules and texts; `tray.services.model_manager` does the loading and saving.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tray.core.gpu import format_bytes
from tray.core.instances import LiveInstance
from tray.core.inventory import LoadedModelRow
from tray.core.words import plural

__all__ = [
    "BUSY_STATUSES",
    "LoadedResult",
    "RestoreModel",
    "RestoreOutcome",
    "RestorePoint",
    "busy_rows",
    "eject_needs_confirmation",
    "eject_question",
    "format_duration",
    "load_outcome_text",
    "restore_outcome_text",
    "row_label",
    "row_lines",
    "row_summary",
    "status_word",
]

# Work in flight that an eject would cut off.
BUSY_STATUSES = frozenset({"generating", "processingPrompt", "computingEmbedding"})

_STATUS_WORDS = {
    "idle": "idle",
    "processingPrompt": "processing prompt",
    "generating": "generating",
    "computingEmbedding": "computing embedding",
    "unknown": "status unknown",
}


# --- restore points --------------------------------------------------------------------


class RestoreModel(BaseModel):
    """One loaded instance and the settings to load it again with."""

    model_config = ConfigDict(frozen=True)

    model_key: str
    identifier: str
    # What to ask for: what the user asked for when we know it, else what it had.
    context_length: int | None = Field(default=None, gt=0)
    parallel: int | None = Field(default=None, gt=0)
    ttl_seconds: int | None = Field(default=None, gt=0)
    gpu_ratio: float | None = Field(default=None, ge=0, le=1)  # only when we loaded it


class RestorePoint(BaseModel):
    """The set that was loaded before "Eject all", for one server profile."""

    model_config = ConfigDict(frozen=True)

    taken_at: datetime
    profile_id: str
    models: tuple[RestoreModel, ...] = ()
    restored_at: datetime | None = None  # set once every model came back

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[LoadedModelRow],
        *,
        profile_id: str,
        taken_at: datetime,
        gpu_ratios: Mapping[str, float] | None = None,
    ) -> RestorePoint:
        gpu = gpu_ratios or {}
        return cls(
            taken_at=taken_at,
            profile_id=profile_id,
            models=tuple(
                RestoreModel(
                    model_key=r.model_key,
                    identifier=r.identifier,
                    context_length=r.requested_context_length or r.context_length,
                    parallel=r.parallel,
                    # lms takes whole seconds, at least 1.
                    ttl_seconds=max(1, round(r.ttl_seconds)) if r.ttl_seconds else None,
                    gpu_ratio=gpu.get(r.identifier),
                )
                for r in rows
            ),
        )

    @property
    def pending(self) -> bool:
        return self.restored_at is None and bool(self.models)


class RestoreOutcome(BaseModel):
    """What happened to one model of a restore point."""

    model_config = ConfigDict(frozen=True)

    model_key: str
    identifier: str  # the one it had
    loaded_as: str | None = None  # the one it has now; None if it did not load
    already_loaded: bool = False
    not_restored: tuple[str, ...] = ()  # settings that could not be carried over
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class LoadedResult(BaseModel):
    """What a load came to, including what LM Studio really allocated."""

    model_config = ConfigDict(frozen=True)

    model_key: str
    identifier: str
    via: Literal["lms", "rest"] | None  # None: nothing was loaded (see already_loaded)
    context_length: int | None = None  # allocated; None if LM Studio did not say
    requested_context_length: int | None = None
    size_bytes: int | None = None
    load_seconds: float | None = None
    not_applied: tuple[str, ...] = ()  # asked-for settings the REST API cannot carry
    # The model was loaded already (core/instances.py): this is that instance, not a new one.
    already_loaded: bool = False

    @classmethod
    def existing(cls, instance: LiveInstance) -> LoadedResult:
        """The result of a load that found `instance` already there and loaded nothing."""
        return cls(
            model_key=instance.model_key,
            identifier=instance.identifier,
            via=None,
            context_length=instance.context_length,
            size_bytes=instance.size_bytes,
            already_loaded=True,
        )

    @property
    def context_short(self) -> bool:
        return (
            self.requested_context_length is not None
            and self.context_length is not None
            and self.context_length < self.requested_context_length
        )


# --- rules -----------------------------------------------------------------------------


def eject_needs_confirmation(row: LoadedModelRow) -> bool:
    """Ejecting cuts off work in flight: ask first when the model is busy or has a queue."""
    return row.status in BUSY_STATUSES or bool(row.queued)


def busy_rows(rows: Sequence[LoadedModelRow]) -> list[LoadedModelRow]:
    return [r for r in rows if eject_needs_confirmation(r)]


def eject_question(row: LoadedModelRow) -> tuple[str, str]:
    """(text, informative text) of the confirmation before ejecting a busy model."""
    doing = status_word(row.status) if row.status in BUSY_STATUSES else "busy"
    text = f"{row.identifier} is {doing}. Eject it anyway?"
    waiting = f" and {plural(row.queued, 'queued request')}" if row.queued else ""
    return text, f"The answer in progress{waiting} will fail, and its memory is freed at once."


def eject_all_question(rows: Sequence[LoadedModelRow]) -> tuple[str, str] | None:
    """(text, informative text) of the confirmation before ejecting every loaded model,
    or None when none of them is busy (no question needed)."""
    busy = busy_rows(rows)
    if not busy:
        return None
    names = ", ".join(r.identifier for r in busy)
    verb = "is" if len(busy) == 1 else "are"
    what = "it" if len(rows) == 1 else f"all {plural(len(rows), 'model')}"
    return (
        f"{names} {verb} still working. Eject {what} anyway?",
        "Answers in progress will fail. Restore loads the same set again.",
    )


# --- words -----------------------------------------------------------------------------


def status_word(status: str | None) -> str:
    if status is None:
        return "status unknown"
    return _STATUS_WORDS.get(status, status)


def format_duration(seconds: float) -> str:
    """`45s`, `9m`, `1h 5m`: a TTL at a glance."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    hours, minutes = divmod(s // 60, 60)
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


def _context_text(row: LoadedModelRow) -> str | None:
    if row.context_length is None:
        return None
    text = f"ctx {row.context_length:,}"
    if row.max_context_length:
        text += f" / {row.max_context_length:,}"
    if row.context_short and row.requested_context_length is not None:
        text += f" (asked {row.requested_context_length:,}!)"
    return text


def _ttl_text(row: LoadedModelRow) -> str | None:
    if row.ttl_remaining_seconds is not None:
        return f"TTL {format_duration(row.ttl_remaining_seconds)} left"
    if row.ttl_seconds is not None:
        return f"TTL {format_duration(row.ttl_seconds)}"
    if row.status is not None:  # `lms ps` was read: no TTL means none
        return "no TTL"
    return None


def _activity_text(row: LoadedModelRow) -> str | None:
    if row.status is None:
        return None
    text = status_word(row.status)
    if row.queued:
        text += f", {row.queued} queued"
    return text


def row_lines(row: LoadedModelRow) -> tuple[str, ...]:
    """The lines of a loaded model's submenu: memory and context, then TTL and activity.
    Facts nobody told us are left out rather than shown as '?'."""
    first = [t for t in (_memory_text(row), _context_text(row)) if t]
    second = [t for t in (_ttl_text(row), _activity_text(row)) if t]
    return tuple(" · ".join(parts) for parts in (first, second) if parts)


def _memory_text(row: LoadedModelRow) -> str | None:
    """ "8.20 GB", or with Ollama's split "8.20 GB (81% in VRAM)"."""
    if not row.size_bytes:
        return None
    text = format_bytes(row.size_bytes)
    if row.vram_bytes is not None:
        share = round(100 * row.vram_bytes / row.size_bytes)
        text += " (all in VRAM)" if share >= 100 else f" ({share}% in VRAM)"
    return text


def row_summary(row: LoadedModelRow) -> str:
    """One line, e.g. `8.20 GB · ctx 8,192 / 32,768 (asked 16,384!) · TTL 9m left ·
    generating, 2 queued`."""
    return " · ".join(row_lines(row))


def row_label(row: LoadedModelRow) -> str:
    """The submenu's own entry: the identifier, marked when busy or short of context."""
    marks = []
    if row.status in BUSY_STATUSES:
        marks.append(status_word(row.status))
    if row.context_short:
        marks.append("less context than asked")
    return f"{row.identifier} — {', '.join(marks)}" if marks else row.identifier


def load_outcome_text(result: LoadedResult) -> str:
    """A sentence or two on how a load went, flagging a context shortfall."""
    if result.already_loaded:
        context = (
            f" with {result.context_length:,} tokens of context"
            if result.context_length is not None
            else ""
        )
        return (
            f"{result.model_key} is already loaded as “{result.identifier}”{context}, so it "
            "was not loaded again. A second copy needs an identifier of its own: set one in its "
            "load profile, or give --identifier on the command line."
        )
    parts = [f"Loaded {result.model_key} as “{result.identifier}”"]
    if result.context_length is not None:
        parts.append(f" with {result.context_length:,} tokens of context")
    if result.load_seconds is not None:
        parts.append(f" in {result.load_seconds:.1f} s")
    text = "".join(parts) + "."
    if result.context_short and result.requested_context_length is not None:
        text += (
            f" LM Studio allocated less context than the {result.requested_context_length:,} "
            "tokens asked for (memory may be short): long prompts will be cut."
        )
    if result.not_applied:
        text += (
            f" Not applied ({', '.join(result.not_applied)}): LM Studio's REST API cannot set "
            "them; they need `lms` on this machine."
        )
    return text


def restore_outcome_text(outcomes: Sequence[RestoreOutcome]) -> str:
    """A summary of a restore: how many came back, and what did not."""
    if not outcomes:
        return "There was nothing to restore."
    back = [o for o in outcomes if o.ok]
    lines = [f"Restored {len(back)} of {plural(len(outcomes), 'model')}."]
    for o in outcomes:
        if o.error is not None:
            lines.append(f"{o.identifier}: {o.error}")
        elif o.already_loaded:
            lines.append(f"{o.identifier}: was already loaded.")
        else:
            if o.loaded_as is not None and o.loaded_as != o.identifier:
                lines.append(f"{o.identifier}: came back as “{o.loaded_as}”.")
            if o.not_restored:
                lines.append(
                    f"{o.identifier}: not restored without lms: {', '.join(o.not_restored)}."
                )
    return "\n".join(lines)
