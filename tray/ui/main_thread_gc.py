"""Python's cycle collector, run on the Qt thread only.

The collector runs in whichever thread happens to allocate when a generation passes its
threshold: a keyring call, a file read in `asyncio.to_thread`, a dulwich commit. If the
garbage it finds holds a Qt object (a window's slot closure, a dialog in a cycle with its
lambdas), that object is destroyed on the wrong thread: Qt warns "Timers cannot be stopped
from another thread" at best and crashes at random at worst. So automatic collection is
switched off and the same thresholds are checked from a timer on the Qt thread — the
approach PyQt and PySide users have long used for this.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

__all__ = ["MainThreadCollector"]

CHECK_EVERY_MS = 500


class MainThreadCollector(QObject):
    """Switches automatic collection off for its lifetime and collects on its own
    thread, generation by generation, when Python's own thresholds say so."""

    def __init__(self, parent: QObject | None = None, *, every_ms: int = CHECK_EVERY_MS) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(every_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect the generations whose allocation count passed its threshold (the
        oldest one such, which collects the younger ones with it)."""
        counts = gc.get_count()
        due = [
            g
            for g, (n, limit) in enumerate(zip(counts, self._thresholds, strict=True))
            if n > limit
        ]
        if due:
            gc.collect(due[-1])

    def stop(self) -> None:
        """Back to automatic collection (as it was before), after one last full pass."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
