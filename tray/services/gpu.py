"""GPU memory readings from the sources the hardware really offers, behind one protocol.

`GpuProbe.read()` returns a `GpuReport`: per-device used/total bytes from NVIDIA's NVML
(`nvidia-ml-py`, imported only when asked), AMD's `amdgpu` sysfs files, or — on Apple
Silicon, where the GPU shares system RAM — `psutil`'s memory figures. Where none answers,
the report has no devices and says why. Nothing is estimated, and nothing spawns a process
(`nvidia-smi` is not an option: the status monitor polls this).

`read()` blocks briefly (a few file reads or NVML calls); the status monitor runs it in a
thread. Probes never raise: a failure is a report with `unavailable_reason`.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from tray.core.gpu import SIMULATED, GpuDevice, GpuGap, GpuReport
from tray.core.words import quoted

__all__ = [
    "SYSFS_DRM_ENV",
    "AmdSysfsProbe",
    "GpuProbe",
    "NoGpuProbe",
    "NvmlProbe",
    "SimulatedGpuProbe",
    "UnifiedMemoryProbe",
    "default_probes",
    "select_gpu_probe",
]

log = logging.getLogger(__name__)

# Test hook: read AMD cards from a fake sysfs tree instead of /sys/class/drm, so the real
# executable can be tested end to end on a machine without a GPU.
SYSFS_DRM_ENV = "LMSTRAY_SYSFS_DRM"
SYSFS_DRM = Path("/sys/class/drm")

_CARD = re.compile(r"^card(\d+)$")  # not the connectors (card0-DP-1) nor render nodes


@runtime_checkable
class GpuProbe(Protocol):
    """One source of GPU memory readings."""

    label: str  # what the source is, for messages: "NVIDIA (NVML)"

    def read(self) -> GpuReport:
        """The current reading; blocking but fast, never raises."""
        ...


class NoGpuProbe:
    """The honest answer when no source can tell: no devices, and why (at length, and in
    a few words per source for the menu)."""

    label = "none"

    def __init__(self, reason: str, gaps: Sequence[GpuGap] = ()) -> None:
        self.reason = reason
        self.gaps = tuple(gaps)

    def read(self) -> GpuReport:
        return GpuReport(unavailable_reason=self.reason, gaps=self.gaps)


def _import_optional(name: str) -> ModuleType | None:
    # importlib keeps mypy from demanding the optional package's stubs, and honours a fake
    # module placed in sys.modules by a test.
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


class NvmlProbe:
    """NVIDIA GPUs through NVML (the library behind `nvidia-smi`), via `nvidia-ml-py`.

    NVML is initialised once, on the first read; a failed initialisation (no driver, no
    `libnvidia-ml`) is remembered rather than retried on every poll.
    """

    label = "NVIDIA GPU (NVML)"
    source = "nvml"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nvml: ModuleType | None = None
        self._failed: GpuReport | None = None

    def _init(self) -> ModuleType | GpuReport:
        if self._nvml is not None:
            return self._nvml
        if self._failed is not None:
            return self._failed
        nvml = _import_optional("pynvml")
        if nvml is None:
            self._failed = GpuReport(
                unavailable_reason=(
                    "nvidia-ml-py is not installed (pip install 'lmstudio-tray[nvidia]' to "
                    "read NVIDIA GPU memory)"
                ),
                gaps=(GpuGap(vendor="NVIDIA", problem="NVML not installed"),),
            )
            return self._failed
        try:
            nvml.nvmlInit()
        except Exception as exc:  # NVMLError, or anything a broken driver install raises
            if not _is_nvml_error(nvml, exc):
                log.warning("NVML initialisation failed unexpectedly", exc_info=exc)
            message = _nvml_message(exc)
            # No driver or no library: what a machine without an NVIDIA GPU says.
            absent = any(w in message.lower() for w in ("not found", "driver not loaded"))
            self._failed = GpuReport(
                unavailable_reason=f"NVML could not start: {message}",
                gaps=(GpuGap(vendor="NVIDIA", problem=None if absent else "NVML failed"),),
            )
            return self._failed
        self._nvml = nvml
        return nvml

    def read(self) -> GpuReport:
        with self._lock:
            nvml = self._init()
            if isinstance(nvml, GpuReport):
                return nvml
            try:
                devices = tuple(self._devices(nvml))
            except Exception as exc:
                if not _is_nvml_error(nvml, exc):
                    log.warning("Reading NVML failed unexpectedly", exc_info=exc)
                return GpuReport(
                    unavailable_reason=f"NVML could not read GPU memory: {_nvml_message(exc)}",
                    gaps=(GpuGap(vendor="NVIDIA", problem="NVML could not read it"),),
                )
            if not devices:
                return GpuReport(
                    unavailable_reason="NVML found no NVIDIA GPU", gaps=(GpuGap(vendor="NVIDIA"),)
                )
            return GpuReport(devices=devices)

    def _devices(self, nvml: ModuleType) -> list[GpuDevice]:
        devices = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            if isinstance(name, bytes):  # nvidia-ml-py before 11.5 returned bytes
                name = name.decode("utf-8", "replace")
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            devices.append(
                GpuDevice(
                    name=str(name) or f"NVIDIA GPU {index}",
                    used_bytes=int(memory.used),
                    total_bytes=int(memory.total),
                    source=self.source,
                )
            )
        return devices

    def close(self) -> None:
        """Release NVML (optional: process exit does it too)."""
        with self._lock:
            if self._nvml is not None:
                try:
                    self._nvml.nvmlShutdown()
                except Exception as exc:
                    log.debug("nvmlShutdown failed: %s", exc)
                self._nvml = None


def _is_nvml_error(nvml: ModuleType, exc: BaseException) -> bool:
    error_type: Any = getattr(nvml, "NVMLError", None)
    return isinstance(error_type, type) and isinstance(exc, error_type)


def _nvml_message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith(".") else f"{text}."


class AmdSysfsProbe:
    """AMD GPUs through the `amdgpu` driver's sysfs files.

    Each `<root>/cardN/device/` of an amdgpu card holds `mem_info_vram_used` and
    `mem_info_vram_total` (bytes, decimal); `product_name`, where the driver provides it,
    names the card. Cards without these files (other drivers) are not AMD GPUs we can read.
    """

    label = "AMD GPU (sysfs)"
    source = "amd-sysfs"

    def __init__(self, root: Path = SYSFS_DRM) -> None:
        self.root = root
        self._warned: set[Path] = set()

    @classmethod
    def from_environment(cls) -> AmdSysfsProbe:
        """At /sys/class/drm, or where the `LMSTRAY_SYSFS_DRM` test hook points."""
        override = os.environ.get(SYSFS_DRM_ENV)
        return cls(Path(override)) if override else cls()

    def read(self) -> GpuReport:
        try:
            cards = sorted(
                (int(m.group(1)), entry)
                for entry in self.root.iterdir()
                if (m := _CARD.match(entry.name))
            )
        except FileNotFoundError:
            return GpuReport(
                unavailable_reason=f"{self.root} does not exist", gaps=(GpuGap(vendor="AMD"),)
            )
        except OSError as exc:
            return GpuReport(
                unavailable_reason=f"{self.root} cannot be read: {exc.strerror}",
                gaps=(GpuGap(vendor="AMD", problem="AMD GPU files unreadable"),),
            )
        devices = []
        for _, card in cards:
            device = card / "device"
            used_file = device / "mem_info_vram_used"
            total_file = device / "mem_info_vram_total"
            if not (used_file.exists() or total_file.exists()):
                continue
            devices.append(
                GpuDevice(
                    name=self._name(device) or f"AMD GPU ({card.name})",
                    used_bytes=self._bytes(used_file),
                    total_bytes=self._bytes(total_file),
                    source=self.source,
                )
            )
        if not devices:
            return GpuReport(
                unavailable_reason=f"no card with mem_info_vram_used/total under {self.root}",
                gaps=(GpuGap(vendor="AMD"),),
            )
        return GpuReport(devices=tuple(devices))

    def _bytes(self, path: Path) -> int | None:
        """The file's byte count, or None (unknown, never a guess) with one log line."""
        try:
            text = path.read_text(encoding="ascii", errors="replace").strip()
        except OSError as exc:
            self._warn_once(path, f"cannot be read ({exc.strerror})")
            return None
        if not text.isdigit():
            self._warn_once(path, f"holds {quoted(text[:40])}, not a byte count")
            return None
        return int(text)

    def _warn_once(self, path: Path, problem: str) -> None:
        # Polled every few seconds: say it once, not on every poll.
        if path not in self._warned:
            self._warned.add(path)
            log.warning("GPU memory unknown: %s %s", path, problem)

    @staticmethod
    def _name(device: Path) -> str | None:
        try:
            name = (device / "product_name").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        return name.strip() or None


class SimulatedGpuProbe(AmdSysfsProbe):
    """The demo's graphics card: the simulator keeps it in the files of the `amdgpu` shape
    (`tray.simulator.gpu_files`), so it is read the ordinary way and only marked apart."""

    label = "Simulated GPU (demo)"
    source = SIMULATED


class UnifiedMemoryProbe:
    """Apple Silicon: the GPU uses system RAM, so its memory is the machine's memory.

    "Used" is total minus what macOS could hand out without swapping (`available`), which
    is what limits loading another model.
    """

    label = "Apple Silicon unified memory"
    source = "unified-memory"
    device_name = "Apple Silicon unified memory (shared with the system)"

    def __init__(self, *, system: str | None = None, machine: str | None = None) -> None:
        self._system = sys.platform if system is None else system
        self._machine = platform.machine() if machine is None else machine

    @property
    def applies(self) -> bool:
        return self._system == "darwin" and self._machine == "arm64"

    def read(self) -> GpuReport:
        if not self.applies:
            return GpuReport(
                unavailable_reason="unified memory is read on Apple Silicon only",
                gaps=(GpuGap(vendor="Apple"),),
            )
        psutil = _import_optional("psutil")
        if psutil is None:
            return GpuReport(
                unavailable_reason="psutil is not installed (pip install 'lmstudio-tray[apple]' "
                "to read unified memory)",
                gaps=(GpuGap(vendor="Apple", problem="psutil not installed"),),
            )
        try:
            memory = psutil.virtual_memory()
            total, available = int(memory.total), int(memory.available)
        except Exception as exc:
            log.warning("psutil could not read memory", exc_info=exc)
            return GpuReport(
                unavailable_reason=f"psutil could not read memory: {exc}",
                gaps=(GpuGap(vendor="Apple", problem="psutil could not read it"),),
            )
        device = GpuDevice(
            name=self.device_name,
            used_bytes=max(0, total - available),
            total_bytes=total,
            source=self.source,
        )
        return GpuReport(devices=(device,))


def default_probes() -> list[GpuProbe]:
    """The sources this machine may have, in the order they are tried."""
    probes: list[GpuProbe] = [NvmlProbe(), AmdSysfsProbe.from_environment()]
    unified = UnifiedMemoryProbe()
    if unified.applies:
        probes.append(unified)
    return probes


def _either(labels: Sequence[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + f" or {labels[-1]}"


def select_gpu_probe(candidates: Sequence[GpuProbe] | None = None) -> GpuProbe:
    """The first source that finds a device; else a `NoGpuProbe` saying why each failed."""
    probes = list(candidates) if candidates is not None else default_probes()
    reasons: list[str] = []
    gaps: list[GpuGap] = []
    for probe in probes:
        report = probe.read()
        if report.devices:
            log.info(
                "GPU memory from %s: %s", probe.label, ", ".join(d.name for d in report.devices)
            )
            return probe
        reasons.append(f"{probe.label}: {report.unavailable_reason or 'no device found'}")
        gaps.extend(report.gaps)
        if isinstance(probe, NvmlProbe):
            probe.close()
    what = _either([p.label for p in probes]) or "GPU memory source"
    reason = f"No {what} found" + (f" — {'; '.join(reasons)}" if reasons else "")
    reason = reason if reason.endswith(".") else f"{reason}."
    log.info("GPU memory unknown: %s", reason)
    return NoGpuProbe(reason, gaps)
