"""The Load profiles form's rows: a "set" checkbox per field, its editor, what applies when
it is not set, and the field's own error under it; the neutral values an unset editor
shows, and the spin boxes the numbers use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QCheckBox, QLabel, QSpinBox, QWidget

from tray.core.load_profiles import FIELD_LABELS

__all__ = ["GPU_MODES", "NEUTRAL", "ON_OFF", "ProfileRow", "spin_box"]

GPU_MODES = ("Max (all layers)", "Off (CPU only)", "Share of layers")
ON_OFF = ("On", "Off")
NEUTRAL: dict[str, Any] = {
    "context_length": 4096,
    "gpu_offload": "max",
    "flash_attention": True,
    "offload_kv_cache_to_gpu": True,
    "eval_batch_size": 512,
    "num_experts": 1,
    "parallel": 1,
    "ttl_seconds": 3600,
    "identifier": "",
}


class ProfileRow:
    """One field: a "set" checkbox, its editor, and what applies when it is not set."""

    def __init__(self, name: str, editor: QWidget, on_change: Callable[[], None]) -> None:
        self.name = name
        self.enabled = QCheckBox(FIELD_LABELS[name])
        self.editor = editor
        self.inherited = QLabel()
        self.inherited.setStyleSheet("color: palette(placeholder-text);")
        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e;")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.enabled.toggled.connect(self._toggled)
        self.enabled.toggled.connect(lambda _: on_change())
        self._toggled(False)

    def _toggled(self, on: bool) -> None:
        self.editor.setEnabled(on)
        self.inherited.setVisible(not on)


def spin_box(low: int, high: int, *, step: int = 1) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setGroupSeparatorShown(True)
    return spin
