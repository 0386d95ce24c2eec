"""Incremental Markdown rendering for a streamed answer, with Qt's own Markdown reader.

The document is a frozen part (questions and finished answer blocks, each rendered once
with `QTextCursor.insertMarkdown`) followed by the open *tail* block, the only part that
is removed and rendered again as it grows. So the cost of a frame depends on the size of
the tail, never on the length of the answer (`tray.core.chat_view.BlockSplitter` decides
where blocks end, never inside a fenced code block).

Right-clicking a code block offers "Copy code block" (Qt marks the blocks its Markdown
reader made from a fence with `BlockCodeFence`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import (
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
)
from PySide6.QtWidgets import QTextBrowser, QWidget

__all__ = ["COPY_CODE_TEXT", "MarkdownView"]

log = logging.getLogger(__name__)

COPY_CODE_TEXT = "Copy code block"


class MarkdownView(QTextBrowser):
    """A read-only transcript: `add_question`, `add_blocks`, `set_tail`, `clear_all`."""

    def __init__(self, copy_text: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._copy_text = copy_text
        self.setOpenExternalLinks(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.document().setDocumentMargin(8)
        self._tail_start = 0  # where the tail begins: everything before it is frozen
        self._tail = ""
        self.blocks_rendered = 0  # finished blocks rendered (each exactly once)

    # --- content -------------------------------------------------------------------

    def clear_all(self) -> None:
        self.clear()
        self._tail_start, self._tail, self.blocks_rendered = 0, "", 0

    def add_question(self, text: str) -> None:
        """The user's question, as a plain frozen paragraph above its answer."""
        cursor = self._end_of_frozen()
        fmt = QTextCharFormat()
        fmt.setFontWeight(700)
        fmt.setForeground(self.palette().link())
        if cursor.position() > 0:
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        cursor.insertText("› " + text, fmt)
        self._tail_start = cursor.position()
        self._scroll_to_end()

    def add_blocks(self, blocks: tuple[str, ...] | list[str]) -> None:
        """Finished Markdown blocks: rendered once, frozen, never touched again."""
        if not blocks:
            return
        at_end = self._at_end()
        cursor = self._cut_tail()
        for block in blocks:
            self._insert_markdown(cursor, block)
            self.blocks_rendered += 1
        self._tail_start = cursor.position()
        if at_end:
            self._scroll_to_end()

    def set_tail(self, tail: str, *, scroll: bool | None = None) -> None:
        """The open block: the previous tail is removed and this one rendered."""
        if tail == self._tail:
            return
        at_end = self._at_end() if scroll is None else scroll
        cursor = self._cut_tail()
        if tail.strip():
            self._insert_markdown(cursor, tail)
        self._tail = tail
        if at_end:
            self._scroll_to_end()

    def add_note(self, text: str) -> None:
        """A frozen, dimmed line (e.g. "Stopped.")."""
        self.set_tail("")
        cursor = self._end_of_frozen()
        fmt = QTextCharFormat()
        fmt.setFontItalic(True)
        fmt.setForeground(self.palette().placeholderText())
        if cursor.position() > 0:
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        cursor.insertText(text, fmt)
        self._tail_start = cursor.position()
        self._scroll_to_end()

    # --- code blocks ---------------------------------------------------------------

    def code_at(self, pos: QPoint) -> str | None:
        """The text of the fenced code block under a viewport position, or None."""
        block = self.cursorForPosition(pos).block()
        if not _is_code(block.blockFormat()):
            return None
        first = block
        while first.previous().isValid() and _is_code(first.previous().blockFormat()):
            first = first.previous()
        lines: list[str] = []
        current = first
        while current.isValid() and _is_code(current.blockFormat()):
            lines.append(current.text())
            current = current.next()
        return "\n".join(lines)

    def _context_menu(self, pos: QPoint) -> None:
        menu = self.createStandardContextMenu(pos)
        code = self.code_at(pos)
        if code is not None:
            action = menu.addAction(COPY_CODE_TEXT)
            action.triggered.connect(lambda: self._copy_text(code))
            menu.insertAction(menu.actions()[0], action)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.viewport().mapToGlobal(pos))

    # --- plumbing ------------------------------------------------------------------

    def _cut_tail(self) -> QTextCursor:
        """Remove the rendered tail; the cursor is left at the end of the frozen part."""
        cursor = self._end_of_frozen()
        cursor.setPosition(self.document().characterCount() - 1, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._tail = ""
        return cursor

    def _insert_markdown(self, cursor: QTextCursor, markdown: str) -> None:
        """One block of Markdown as its own paragraph(s) at the cursor.

        Rendered in a small document of its own (cost: this block only); the first
        paragraph's block format (heading, code fence) is set again after the insert,
        because an inserted fragment's first paragraph takes the format of the paragraph
        it lands in."""
        piece = QTextDocument()
        piece.setMarkdown(markdown)
        self._shade_code(piece)
        first_format = piece.begin().blockFormat()
        if cursor.position() > 0:
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        start = cursor.position()
        cursor.insertFragment(QTextDocumentFragment(piece))
        fix = QTextCursor(self.document())
        fix.setPosition(start)
        fix.setBlockFormat(first_format)

    def _shade_code(self, piece: QTextDocument) -> None:
        """Qt's Markdown reader marks code blocks but paints them like text: shade them."""
        block = piece.begin()
        shade = self.palette().alternateBase()
        while block.isValid():
            fmt = block.blockFormat()
            if _is_code(fmt):
                fmt.setBackground(shade)
                QTextCursor(block).setBlockFormat(fmt)
            block = block.next()

    def _end_of_frozen(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.setPosition(min(self._tail_start, self.document().characterCount() - 1))
        return cursor

    def _at_end(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())


def _is_code(fmt: QTextBlockFormat) -> bool:
    return fmt.hasProperty(QTextFormat.Property.BlockCodeFence) or fmt.nonBreakableLines()
