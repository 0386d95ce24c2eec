"""Before a load: will it fit in free GPU memory? `preflight` compares `lms load
--estimate-only` — corrected for parallel slots, which the estimate ignores — with the GPU's
free memory, and says so in one sentence with the numbers ("It needs about 9.80 GB of GPU
memory and only 6.10 GB is free."), the how and the what-to-do in `details` behind it.

Pure: the estimate and the GPU reading come in as values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, computed_field

from tray.core.gpu import GpuReport, format_bytes
from tray.core.lms_output import LoadEstimate
from tray.core.words import plural

if TYPE_CHECKING:
    from tray.core.load_profiles import GpuSetting, LoadProfile

__all__ = ["KvShape", "Preflight", "kv_bytes_per_token_from_estimates", "preflight"]


class KvShape(BaseModel):
    """A model's KV-cache shape, when known (llama.cpp: K and V per layer, per KV head)."""

    model_config = ConfigDict(frozen=True)

    layers: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    bytes_per_value: float = Field(default=2.0, gt=0)  # f16 cache

    @property
    def bytes_per_token(self) -> int:
        return round(2 * self.layers * self.kv_heads * self.head_dim * self.bytes_per_value)


def kv_bytes_per_token_from_estimates(low: LoadEstimate, high: LoadEstimate) -> int | None:
    """KV-cache bytes per token of context from two estimates at different context
    lengths: the model part is the same, so the difference is context. Total memory is
    used (not GPU memory) so a partial GPU offload does not scale it."""
    if low.context_length is None or high.context_length is None:
        return None
    tokens = high.context_length - low.context_length
    grown = high.total_memory_bytes - low.total_memory_bytes
    if tokens <= 0 or grown <= 0:
        return None
    return round(grown / tokens)


class Preflight(BaseModel):
    """The verdict, `sentence` (one, with the numbers) and `details` (the rest: how the
    estimate was made, what to do when it does not fit)."""

    model_config = ConfigDict(frozen=True)

    fits: bool | None  # None: we cannot tell (no GPU numbers)
    estimate_bytes: int  # GPU memory, corrected for parallel slots
    lms_estimate_bytes: int  # what lms said
    parallel_extra_bytes: int = 0
    free_bytes: int | None = None
    passes_guardrails: bool = True
    low_confidence: bool = False
    sentence: str
    details: tuple[str, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def text(self) -> str:
        """The sentence and its details, for a place with room for all of it (the CLI)."""
        return " ".join((self.sentence, *self.details))


def preflight(
    estimate: LoadEstimate,
    *,
    profile: LoadProfile,
    gpu: GpuReport | None,
    kv_bytes_per_token: int | None,
) -> Preflight:
    """Will the load fit in free VRAM?

    LM Studio's estimate ignores parallel slots. We add, for slots beyond the first, one
    more context's worth of KV cache each: extra = (parallel − 1) × context × KV bytes per
    token, scaled by the GPU offload ratio (the cache sits with its layers) and zero when
    the KV cache stays in RAM. This is an upper bound: with LM Studio's unified KV cache
    (its default) the slots share one context and need less. Without a context length or a
    per-token size we do not correct, and say so.
    """
    base = estimate.gpu_memory_bytes
    extra = 0
    details: list[str] = []
    slots = profile.parallel or 1
    if slots > 1:
        context = profile.context_length or estimate.context_length
        if context is not None and kv_bytes_per_token is not None:
            ratio = _gpu_fraction(profile.gpu_offload, estimate.gpu_offload_ratio)
            if profile.offload_kv_cache_to_gpu is False:
                ratio = 0.0
            extra = round((slots - 1) * context * kv_bytes_per_token * ratio)
            if extra:
                details.append(
                    f"lms estimates {format_bytes(base)}; the tray adds {format_bytes(extra)} "
                    f"of KV cache for {plural(slots - 1, 'more parallel slot')}, which lms "
                    "leaves out. That is an upper bound: LM Studio's unified KV cache, its "
                    "default, may need less."
                )
        else:
            details.append(
                f"Not corrected for {plural(slots, 'parallel slot')}: the size of the KV "
                "cache per token is unknown, so it may need more than this."
            )
    total = base + extra
    free = _free(gpu)
    if free is None:
        fits: bool | None = None if estimate.passes_guardrails else False
    else:
        fits = total <= free and estimate.passes_guardrails
    need = f"about {format_bytes(total)} of GPU memory"
    if not estimate.passes_guardrails:
        if free is None:
            sentence = f"LM Studio expects this load to fail; it needs {need}."
        elif total <= free:
            sentence = (
                f"LM Studio expects this load to fail, although it needs only {need} and "
                f"{format_bytes(free)} is free."
            )
        else:
            sentence = (
                f"LM Studio expects this load to fail: it needs {need} and only "
                f"{format_bytes(free)} is free."
            )
        details.append("LM Studio's resource guardrails said so when asked for an estimate.")
    elif free is None:
        why = gpu.why_unknown if gpu is not None else None
        sentence = f"It needs {need}; how much is free is unknown" + (f" ({why})." if why else ".")
    elif total <= free:
        sentence = f"It needs {need} and {format_bytes(free)} is free."
    else:
        sentence = f"It needs {need} and only {format_bytes(free)} is free."
    if free is not None and total > free:
        details.append(
            f"That is {format_bytes(total - free)} short: lower the context length, parallel "
            "slots or GPU offload, or eject another model."
        )
    if gpu is not None and gpu.used_bytes is not None and gpu.total_bytes is not None:
        details.append(
            f"GPU memory now: {format_bytes(gpu.used_bytes)} of "
            f"{format_bytes(gpu.total_bytes)} used."
        )
    if estimate.confidence == "low":
        details.append("lms says its own confidence in this estimate is low.")
    return Preflight(
        fits=fits,
        estimate_bytes=total,
        lms_estimate_bytes=base,
        parallel_extra_bytes=extra,
        free_bytes=free,
        passes_guardrails=estimate.passes_guardrails,
        low_confidence=estimate.confidence == "low",
        sentence=sentence,
        details=tuple(details),
    )


def _gpu_fraction(asked: GpuSetting | None, estimated: float | None) -> float:
    if asked == "off":
        return 0.0
    if asked == "max" or (asked is None and estimated is None):
        return 1.0
    if asked is None:
        return estimated if estimated is not None else 1.0
    return float(asked)


def _free(gpu: GpuReport | None) -> int | None:
    if gpu is None or gpu.total_bytes is None or gpu.used_bytes is None:
        return None
    return max(0, gpu.total_bytes - gpu.used_bytes)
