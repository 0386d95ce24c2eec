"""Questions to the user that coroutines can await, without a nested event loop.

`QMessageBox.exec()` inside a coroutine would re-enter the qasync loop; we `open()` the box
and await its answer through a future instead (DESIGN.md §2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar

from tray.ui.status_text import window_title

if TYPE_CHECKING:  # the dialog classes (and their enums) are made at the first question
    from PySide6.QtWidgets import QDialog, QWidget

__all__ = ["UnsavedAnswer", "ask_text", "ask_unsaved", "confirm"]

UnsavedAnswer = Literal["save", "discard", "cancel"]
_T = TypeVar("_T")


async def confirm(
    title: str,
    text: str,
    *,
    informative: str = "",
    yes: str = "OK",
    demo: bool = False,
    parent: QWidget | None = None,
    icon: Literal["question", "warning"] = "question",
) -> bool:
    """Ask; True only if the user pressed `yes` (Esc, closing or "Cancel" are no)."""
    from PySide6.QtWidgets import QMessageBox

    shown = QMessageBox.Icon.Warning if icon == "warning" else QMessageBox.Icon.Question
    box = QMessageBox(shown, window_title(title, demo=demo), text, parent=parent)
    if informative:
        box.setInformativeText(informative)
    accept = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return await _answer(box, lambda _: box.clickedButton() is accept)


async def ask_unsaved(
    what: str, *, demo: bool = False, parent: QWidget | None = None
) -> UnsavedAnswer:
    """Save · Discard · Cancel for unsaved changes to `what` ("the preset 'Coding'"), before
    something would drop them. Esc, closing the box or Cancel mean "keep editing"."""
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(
        QMessageBox.Icon.Warning,
        window_title("Unsaved changes", demo=demo),
        f"Save the changes to {what}?",
        parent=parent,
    )
    box.setInformativeText("Discard drops them; Cancel goes back to editing.")
    buttons = QMessageBox.StandardButton
    box.setStandardButtons(buttons.Save | buttons.Discard | buttons.Cancel)
    box.setDefaultButton(buttons.Save)
    box.setEscapeButton(buttons.Cancel)

    def said(_: int) -> UnsavedAnswer:
        clicked = box.standardButton(box.clickedButton()) if box.clickedButton() else None
        if clicked == buttons.Save:
            return "save"
        return "discard" if clicked == buttons.Discard else "cancel"

    return await _answer(box, said)


async def ask_text(
    title: str,
    label: str,
    *,
    text: str = "",
    ok: str = "OK",
    demo: bool = False,
    parent: QWidget | None = None,
) -> str | None:
    """A line of text (a name), or None when cancelled (Esc, closing, Cancel). Leading and
    trailing spaces are dropped; an empty answer counts as cancelled."""
    from PySide6.QtWidgets import QDialog, QInputDialog

    dialog = QInputDialog(parent)
    dialog.setWindowTitle(window_title(title, demo=demo))
    dialog.setLabelText(label)
    dialog.setTextValue(text)
    dialog.setOkButtonText(ok)

    def said(result: int) -> str | None:
        value = dialog.textValue().strip()
        return value if result == QDialog.DialogCode.Accepted and value else None

    return await _answer(dialog, said)


async def _answer(dialog: QDialog, said: Callable[[int], _T]) -> _T:
    """Open `dialog` without a nested event loop and await what `said(result)` makes of
    how it finished; the dialog is deleted afterwards."""
    answered: asyncio.Future[_T] = asyncio.get_running_loop().create_future()

    def on_finished(result: int) -> None:
        if not answered.done():
            answered.set_result(said(result))

    dialog.finished.connect(on_finished)
    dialog.open()
    try:
        return await answered
    finally:
        dialog.deleteLater()
