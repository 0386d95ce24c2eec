"""Garbage that holds Qt objects is freed on the Qt thread, never in a worker thread that
happened to allocate (tray/ui/main_thread_gc.py; the app and this tier install it)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer
from pytestqt.qtbot import QtBot


class _CycleWithATimer:
    """A Qt object with a running timer, kept only by a reference cycle."""

    def __init__(self, seen: list[str]) -> None:
        self.me = self
        self.seen = seen
        self.owner = QObject()
        self.timer = QTimer(self.owner)
        self.timer.start(60_000)

    def __del__(self) -> None:
        self.seen.append(threading.current_thread().name)


def _make_cycles() -> None:
    for _ in range(50_000):  # far past every generation's threshold
        a: list[object] = []
        a.append(a)


def test_cycles_holding_qt_objects_are_collected_on_the_qt_thread(qtbot: QtBot) -> None:
    assert not gc.isenabled()  # automatic collection could run in any thread
    seen: list[str] = []
    _CycleWithATimer(seen)
    worker = threading.Thread(target=_make_cycles, name="worker")
    worker.start()
    worker.join()
    assert seen == []  # the worker's allocations collected nothing
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen == [threading.main_thread().name]
