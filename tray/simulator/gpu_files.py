"""A simulated GPU for the demo, written as the files Linux's `amdgpu` driver keeps in
sysfs (`cardN/device/mem_info_vram_total`, `mem_info_vram_used`, `product_name`), so the
tray reads it through its ordinary sysfs reader and nothing in the tray is demo-only but
the label.

Used memory follows the loaded models: a little for the desktop, plus, for each instance,
its weights times the share offloaded to the GPU and its context's KV cache (the same
figures the simulated `lms load --estimate-only` gives). Real LM Studio has no such files;
this is the demo's stand-in for a graphics card, and says so in its name.
"""

from __future__ import annotations

import os
from pathlib import Path

from tray.simulator.state import SimState

__all__ = ["DESKTOP_BYTES", "GPU_NAME", "SimulatedGpu"]

GPU_NAME = "Simulated GPU (demo)"
DESKTOP_BYTES = 600 * 1024**2  # what a desktop session keeps on the card


class SimulatedGpu:
    """Keeps `<root>/card0/device/` in step with `state`'s loaded models."""

    def __init__(self, state: SimState, root: Path, total_bytes: int) -> None:
        self.state = state
        self.root = root
        self.total_bytes = total_bytes
        self._written: int | None = None

    @property
    def device_dir(self) -> Path:
        return self.root / "card0" / "device"

    def used_bytes(self) -> int:
        used = DESKTOP_BYTES
        with self.state.locked():
            instances = list(self.state.instances.values())
        for instance in instances:
            if instance.gpu_ratio <= 0:
                continue
            used += int(instance.model.size_bytes * instance.gpu_ratio)
            if instance.offload_kv_cache_to_gpu:
                used += instance.model.kv_bytes_per_token * instance.context_length
        return min(used, self.total_bytes)

    def update(self) -> None:
        """Write the files when the used memory changed (cheap to call on every sweep)."""
        used = self.used_bytes()
        if used == self._written:
            return
        device = self.device_dir
        device.mkdir(parents=True, exist_ok=True)
        if self._written is None:
            _write(device / "product_name", GPU_NAME + "\n")
            _write(device / "mem_info_vram_total", f"{self.total_bytes}\n")
        _write(device / "mem_info_vram_used", f"{used}\n")
        self._written = used


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)
