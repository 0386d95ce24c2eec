"""GPU memory as the device reports it, next to what LM Studio says its models take.

Readings come from real sources only (NVML, AMD sysfs, unified memory on Apple Silicon);
where none answers the report says "unknown" and why — nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

__all__ = ["GpuDevice", "GpuReport", "format_bytes"]


class GpuDevice(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    used_bytes: int | None = None
    total_bytes: int | None = None
    source: str  # "nvml", "amd-sysfs", "unified-memory"

    @property
    def used_fraction(self) -> float | None:
        if self.used_bytes is None or not self.total_bytes:
            return None
        return self.used_bytes / self.total_bytes


class GpuReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    devices: tuple[GpuDevice, ...] = ()
    unavailable_reason: str | None = None  # set when devices is empty: why we cannot tell

    @property
    def used_bytes(self) -> int | None:
        return _sum([d.used_bytes for d in self.devices])

    @property
    def total_bytes(self) -> int | None:
        return _sum([d.total_bytes for d in self.devices])

    @property
    def used_fraction(self) -> float | None:
        used, total = self.used_bytes, self.total_bytes
        return used / total if used is not None and total else None


def _sum(values: Sequence[int | None]) -> int | None:
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def format_bytes(n: int | None) -> str:
    """Decimal units as LM Studio shows sizes (`4.68 GB`); "?" for unknown."""
    if n is None:
        return "?"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}" if unit in ("TB", "GB") else f"{n / scale:.0f} {unit}"
    return f"{n} B"
