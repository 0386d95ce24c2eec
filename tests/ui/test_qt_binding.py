"""The Qt binding itself must not corrupt the interpreter.

PySide6 6.12.0 takes a reference from `None` on every call of a Qt method that returns
nothing and never gives it back; on Python 3.11 a busy process (polling, a streaming
popup) then aborts with "Fatal Python error: none_dealloc" at a random moment. pyproject
excludes that release; this test fails on any binding that leaks the same way.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QLabel


def test_void_qt_calls_do_not_leak_references_to_none(qapp: QApplication) -> None:
    label = QLabel()
    label.setText("warm up")
    before = sys.getrefcount(None)
    for i in range(1000):
        label.setText(str(i))
        label.setToolTip("")
    after = sys.getrefcount(None)
    # Other threads may take or drop a few references meanwhile; a leak is 2,000.
    assert abs(before - after) < 100, f"None lost {before - after} references in 2,000 calls"
