"""GPU memory as the device reports it, next to what LM Studio says its models take.

Readings come from real sources only (NVML, AMD sysfs, unified memory on Apple Silicon;
the demo's simulated card, named as such);
where none answers the report says "unknown" and why — nothing is guessed. The why comes
twice: `unavailable_reason`, every source's whole story (for the log and `gpu`), and
`gaps`, a few words per source that `why_unknown` turns into the menu's line
("GPU memory: unknown — NVML not installed; no AMD GPU found").
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

__all__ = ["SIMULATED", "GpuDevice", "GpuGap", "GpuReport", "format_bytes", "memory_line"]

SIMULATED = "simulated"  # the source of the demo's graphics card


class GpuDevice(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    used_bytes: int | None = None
    total_bytes: int | None = None
    source: str  # "nvml", "amd-sysfs", "unified-memory"; SIMULATED in the demo

    @property
    def used_fraction(self) -> float | None:
        if self.used_bytes is None or not self.total_bytes:
            return None
        return self.used_bytes / self.total_bytes


class GpuGap(BaseModel):
    """Why one source gave no reading, in a few words: `problem` None means it simply
    found no GPU of its `vendor` ("NVIDIA", "AMD", "Apple"); else what is in the way
    ("NVML not installed")."""

    model_config = ConfigDict(frozen=True)

    vendor: str
    problem: str | None = None


class GpuReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    devices: tuple[GpuDevice, ...] = ()
    unavailable_reason: str | None = None  # set when devices is empty: why we cannot tell
    gaps: tuple[GpuGap, ...] = ()  # the same, a few words per source

    @property
    def why_unknown(self) -> str | None:
        """Why there is no reading, short enough for a menu line; None with a reading."""
        if self.devices and self.used_bytes is not None and self.total_bytes is not None:
            return None
        if self.devices:
            return f"{_either([d.name for d in self.devices])} did not report it"
        problems = list(dict.fromkeys(g.problem for g in self.gaps if g.problem))
        absent = list(dict.fromkeys(g.vendor for g in self.gaps if g.problem is None))
        if absent:
            problems.append(f"no {_either(absent)} GPU found")
        if problems:
            return "; ".join(problems)
        return _short(self.unavailable_reason) or "no GPU memory source answered"

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


def memory_line(report: GpuReport | None, models_bytes: int | None = None) -> str | None:
    """The tray menu's (and tooltip's) GPU line: used of total, with LM Studio's own
    figure beside it, or "unknown" and why — never left out once the GPU was looked at.
    None only when nobody looked (no report)."""
    if report is None:
        return None
    why = report.why_unknown
    if why is not None:
        return f"GPU memory: unknown — {why}"
    line = (
        f"GPU memory: {format_bytes(report.used_bytes)} of {format_bytes(report.total_bytes)} used"
    )
    if any(d.source == SIMULATED for d in report.devices):
        line = line.replace("GPU memory:", "GPU memory (simulated):", 1)
    if models_bytes is not None:
        line += f" (LM Studio's models: {format_bytes(models_bytes)})"
    return line


def _either(items: Sequence[str]) -> str:
    """ "a", "a or b", "a, b or c"."""
    if len(items) <= 2:
        return " or ".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def _short(reason: str | None) -> str | None:
    """The first clause of a long reason, without its final full stop."""
    if not reason:
        return None
    return reason.split(" — ")[0].split("; ")[0].rstrip(".")


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
