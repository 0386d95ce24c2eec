"""Questions to the user that coroutines can await, without a nested event loop.

`QMessageBox.exec()` inside a coroutine would re-enter the qasync loop; we `open()` the box
and await its answer through a future instead (DESIGN.md §2).
"""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QMessageBox, QWidget

from tray.ui.status_text import window_title

__all__ = ["confirm"]


async def confirm(
    title: str,
    text: str,
    *,
    informative: str = "",
    yes: str = "OK",
    demo: bool = False,
    parent: QWidget | None = None,
    icon: QMessageBox.Icon = QMessageBox.Icon.Question,
) -> bool:
    """Ask; True only if the user pressed `yes` (Esc, closing or "Cancel" are no)."""
    box = QMessageBox(icon, window_title(title, demo=demo), text, parent=parent)
    if informative:
        box.setInformativeText(informative)
    accept = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def on_finished(_: int) -> None:
        if not answered.done():
            answered.set_result(box.clickedButton() is accept)

    box.finished.connect(on_finished)
    box.open()
    try:
        return await answered
    finally:
        box.deleteLater()
