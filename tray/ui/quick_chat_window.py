"""The quick-chat popup: a frameless, always-on-top window that appears near the pointer,
asks the chosen model and shows the streamed answer as it arrives.

Created once and re-shown (`show_near_pointer`), so showing is instant; Esc or losing the
focus hides it and the conversation stays until "New chat". Updates from
`QuickChatService.ask` are collected and rendered once per frame (~16 ms): finished
Markdown blocks are appended once, only the open tail is rendered again
(`MarkdownView`), so a 2,000 tokens/s stream costs the same per token at its end as at
its start. Stop cancels the request at once (the connection closes).

No LM Studio rule lives here: the models, presets and loading come from one
`QuickChat` (`tray.services.quick_chat`), the picker order and notes from
`tray.core.conversation`, errors and their fixes from `tray.core.chat_view`.

A question asked while the server is down waits: the popup says so, offers Start server,
and asks it once when the next status says the server is up.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QCursor, QGuiApplication, QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tray.core.chat_options import ChatOptions
from tray.core.chat_view import (
    AnswerDelta,
    ChatUpdate,
    Failed,
    Finished,
    Notice,
    Progress,
    ReasoningDelta,
    Stopped,
    ToolLine,
    ViewError,
    code_blocks,
    view_error,
)
from tray.core.conversation import ModelChoice, model_note
from tray.core.errors import TrayError
from tray.services.quick_chat import QuickChat
from tray.ui.markdown_view import MarkdownView
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = [
    "COPY_ANSWER_TEXT",
    "COPY_CODE_TEXT",
    "ENTER_TOKEN_TEXT",
    "NEW_CHAT_TEXT",
    "SEND_TEXT",
    "START_SERVER_TEXT",
    "STOP_TEXT",
    "QuickChatWindow",
]

log = logging.getLogger(__name__)

SEND_TEXT = "Ask"
STOP_TEXT = "Stop"
NEW_CHAT_TEXT = "New chat"
COPY_ANSWER_TEXT = "Copy answer"
COPY_CODE_TEXT = "Copy code"
START_SERVER_TEXT = "Start server"
ENTER_TOKEN_TEXT = "Enter token…"
NO_PRESET_TEXT = "No preset"
FRAME_MS = 16
POINTER_GAP = 12  # pixels between the pointer and the window's corner

INPUT_PLACEHOLDER = "Ask a question — Enter sends it, Esc hides this window"
WAITING_FIX = "Start the server: your question is asked as soon as it is up."


def _default_copy(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def place_near(pointer: QPoint, size: tuple[int, int], available: QRect) -> QPoint:
    """Top-left corner for a window of `size` next to `pointer`, inside `available`
    (below-right of the pointer, flipped to the other side where it would not fit)."""
    width, height = size
    x, y = pointer.x() + POINTER_GAP, pointer.y() + POINTER_GAP
    if x + width > available.right():
        x = pointer.x() - POINTER_GAP - width
    if y + height > available.bottom():
        y = pointer.y() - POINTER_GAP - height
    x = max(available.left(), min(x, available.right() - width + 1))
    y = max(available.top(), min(y, available.bottom() - height + 1))
    return QPoint(x, y)


class QuickChatWindow(QWidget):
    """The popup, constructed once by the app over one `QuickChat`: its models, presets,
    load descriptions and the getting ready of a model; its `start_server()` and
    `open_tokens()` are the fixes offered inline under an error."""

    def __init__(
        self,
        chat: QuickChat,
        *,
        copy_text: Callable[[str], None] = _default_copy,
        demo: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._chat = chat
        self._service = chat.service
        self._copy_text = copy_text
        # A question asked while the server was down (and the model picked, if any),
        # asked again once it is up.
        self._waiting: tuple[str, ModelChoice | None] | None = None
        self._was_up: bool | None = None
        self.hide_on_focus_loss = True
        self._models: list[ModelChoice] = []
        self._pending: list[ChatUpdate] = []
        self._task: asyncio.Task[None] | None = None
        self._pieces: list[str] = []  # the answer as it arrived; joined when asked for
        self.frames = 0  # rendered frames (tests print render cost per frame)
        self.render_seconds = 0.0
        self._loading = False  # getting the model ready: Stop cancels that wait
        self._tools: dict[int, str] = {}
        self._thinking_pieces = 0

        self.setWindowTitle(window_title("Quick chat", demo=demo))
        self.setWindowFlags(
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
        )
        self.setObjectName("quickChat")
        self.resize(560, 480)

        # Frameless: draw our own border, so the window stands out from what is behind.
        self.frame = QFrame(self)
        self.frame.setObjectName("quickChatFrame")
        self.frame.setStyleSheet(
            "#quickChatFrame { border: 1px solid palette(mid); border-radius: 6px;"
            " background: palette(window); }"
        )
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.frame)
        layout = QVBoxLayout(self.frame)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(6)

        top = QHBoxLayout()
        self.title_label = QLabel("Quick chat" + (" — Demo" if demo else ""))
        self.title_label.setStyleSheet("font-weight: bold;")
        self.new_button = QToolButton()
        self.new_button.setText(NEW_CHAT_TEXT)
        self.new_button.clicked.connect(self.new_chat)
        top.addWidget(self.title_label)
        top.addStretch(1)
        top.addWidget(self.new_button)
        layout.addLayout(top)

        # The pickers get a row of their own: model keys are long and must be readable.
        pickers = QHBoxLayout()
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Model: loaded models first")
        # A key longer than the row is elided in the box (not the popup widened); the
        # list shows every key whole.
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.setMinimumContentsLength(24)
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("Preset: system prompt and sampling")
        self.preset_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.preset_combo.setMinimumContentsLength(10)
        pickers.addWidget(self.model_combo, 3)
        pickers.addWidget(self.preset_combo, 1)
        layout.addLayout(pickers)

        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: palette(placeholder-text);")
        self.note_label.hide()
        layout.addWidget(self.note_label)

        self.progress = QProgressBar()
        self.progress.setFixedHeight(4)
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 1000)
        self.progress_label = QLabel()
        self.progress_label.setStyleSheet("color: palette(placeholder-text);")
        self.progress.hide()
        self.progress_label.hide()
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)

        self.thinking_button = QToolButton()
        self.thinking_button.setCheckable(True)
        self.thinking_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.thinking_button.setArrowType(Qt.ArrowType.RightArrow)
        self.thinking_button.setAutoRaise(True)
        self.thinking_button.toggled.connect(self._toggle_thinking)
        self.thinking_text = QPlainTextEdit()
        self.thinking_text.setReadOnly(True)
        self.thinking_text.setMaximumHeight(110)
        self.thinking_text.setStyleSheet("color: palette(placeholder-text);")
        self.thinking_button.hide()
        self.thinking_text.hide()
        layout.addWidget(self.thinking_button)
        layout.addWidget(self.thinking_text)

        self.tools_label = QLabel()
        self.tools_label.setStyleSheet("font-family: monospace;")
        self.tools_label.hide()
        layout.addWidget(self.tools_label)

        self.transcript = MarkdownView(self._copy)
        self.transcript.setPlaceholderText(
            "Enter asks, Esc hides. The conversation stays until New chat."
        )
        layout.addWidget(self.transcript, 1)

        self.error_frame = QFrame()
        self.error_frame.setObjectName("quickChatError")
        self.error_frame.setStyleSheet(
            "#quickChatError { border: 1px solid #c0392b; border-radius: 4px; }"
        )
        error_layout = QHBoxLayout(self.error_frame)
        error_layout.setContentsMargins(8, 6, 8, 6)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_server_button = QPushButton(START_SERVER_TEXT)
        self.start_server_button.clicked.connect(self._on_start_server)
        self.token_button = QPushButton(ENTER_TOKEN_TEXT)
        self.token_button.clicked.connect(lambda: self._chat.open_tokens())
        error_layout.addWidget(self.error_label, 1)
        error_layout.addWidget(self.start_server_button)
        error_layout.addWidget(self.token_button)
        self.error_frame.hide()
        layout.addWidget(self.error_frame)

        self.stats_label = QLabel()
        self.stats_label.setStyleSheet("color: palette(placeholder-text);")
        self.stats_label.hide()
        layout.addWidget(self.stats_label)

        bottom = QHBoxLayout()
        self.input = QLineEdit()
        self.input.setPlaceholderText(INPUT_PLACEHOLDER)
        self.input.returnPressed.connect(self._send_or_stop)
        self.send_button = QPushButton(SEND_TEXT)
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self._send_or_stop)
        self.copy_button = QToolButton()
        self.copy_button.setText(COPY_ANSWER_TEXT)
        self.copy_button.clicked.connect(self.copy_answer)
        self.copy_button.setEnabled(False)
        self.code_button = QToolButton()
        self.code_button.setText(COPY_CODE_TEXT)
        self.code_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.code_menu = QMenu(self.code_button)
        self.code_button.setMenu(self.code_menu)
        self.code_button.hide()
        bottom.addWidget(self.input, 1)
        bottom.addWidget(self.send_button)
        bottom.addWidget(self.copy_button)
        bottom.addWidget(self.code_button)
        layout.addLayout(bottom)

        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setInterval(FRAME_MS)
        self._frame_timer.timeout.connect(self._render_pending)
        chat.subscribe(self._world_changed)

    # --- showing -------------------------------------------------------------------

    def show_near_pointer(self) -> None:
        """Show (or raise) the popup next to the pointer, on the pointer's screen, with the
        focus in the input."""
        self.refresh_choices()
        pointer = QCursor.pos()
        screen = QGuiApplication.screenAt(pointer) or QGuiApplication.primaryScreen()
        self.move(place_near(pointer, (self.width(), self.height()), screen.availableGeometry()))
        self.show()
        self.raise_()
        self.activateWindow()
        self.input.setFocus(Qt.FocusReason.PopupFocusReason)

    def refresh_choices(self) -> None:
        """Read the models and presets again, keeping the current choices if still there."""
        current = self.current_model()
        self._models = self._chat.choices()
        # With the server down nothing is known to be loaded: no "(not loaded)" then.
        say_loaded = self._chat.server_up is not False
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for choice in self._models:
            suffix = "  (not loaded)" if say_loaded and not choice.loaded else ""
            self.model_combo.addItem(choice.shown + suffix, choice.key)
            self.model_combo.setItemData(
                self.model_combo.count() - 1, choice.shown, Qt.ItemDataRole.ToolTipRole
            )
        keys = [c.key for c in self._models]
        if current is not None and current.key in keys:
            self.model_combo.setCurrentIndex(keys.index(current.key))
        self.model_combo.blockSignals(False)
        _fit_list_to_items(self.model_combo)
        self._model_changed()

        preset = self.preset_combo.currentText()
        self.preset_combo.clear()
        self.preset_combo.addItem(NO_PRESET_TEXT, None)
        for label, options in self._chat.presets():
            self.preset_combo.addItem(label, options)
        found = self.preset_combo.findText(preset)
        self.preset_combo.setCurrentIndex(max(0, found))
        _fit_list_to_items(self.preset_combo)

    def _world_changed(self) -> None:
        """A new server status, model list or preset list: follow it while shown (not while
        a list is open under the pointer), and ask a waiting question once the server is up."""
        up = self._chat.server_up
        if up and self._was_up is False:  # just came up: what it has may have changed
            spawn(self._chat.refresh_downloaded(), doing="Listing downloaded models")
        self._was_up = up
        if self._waiting is not None and not self.busy:
            if up:
                self._ask_waiting()
            elif not self._chat.server_starting and self.progress_label.isVisible():
                # The start failed (the tray says why): the question still waits.
                self.progress.hide()
                self.progress_label.hide()
                self.error_frame.show()
        if not self.isVisible() or self.model_combo.view().isVisible():
            return
        if self.preset_combo.view().isVisible():
            return
        self.refresh_choices()

    def current_model(self) -> ModelChoice | None:
        index = self.model_combo.currentIndex()
        return self._models[index] if 0 <= index < len(self._models) else None

    def current_options(self) -> ChatOptions | None:
        options = self.preset_combo.currentData()
        return options if isinstance(options, ChatOptions) else None

    def _ask_waiting(self) -> None:
        assert self._waiting is not None
        question, choice = self._waiting
        self._waiting = None
        if choice is None:  # nothing was offered while the server was down
            self.refresh_choices()
            choice = self.current_model()
            if choice is None:
                self._show_error_text(model_note(None))
                return
        self._start_answer(question, again=True)
        self._task = spawn(self._run(question, choice), doing="Asking the model")

    def _model_changed(self, *_: object) -> None:
        choice = self.current_model()
        description = ""
        if choice is not None and not choice.loaded:
            description = self._chat.describe_load(choice.key)
        note = model_note(choice, description, server_up=self._chat.server_up)
        self.model_combo.setToolTip(choice.shown if choice is not None else "")
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))
        self._relayout()

    # --- hiding --------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and not self.isActiveWindow():
            # Decide on the next turn: a combo's list or a context menu takes the
            # activation for a moment without the user leaving the popup.
            QTimer.singleShot(0, self._hide_if_left)

    def _hide_if_left(self) -> None:
        if not self.hide_on_focus_loss or not self.isVisible() or self.isActiveWindow():
            return
        if QApplication.activePopupWidget() is not None:
            return
        active = QApplication.activeWindow()
        if active is not None and (active is self or self.isAncestorOf(active)):
            return
        self.hide()

    # --- asking --------------------------------------------------------------------

    @property
    def answer(self) -> str:
        """The last answer's Markdown text (what Copy answer copies)."""
        return "".join(self._pieces)

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def _send_or_stop(self) -> None:
        if self.busy:
            self.stop()
            return
        question = self.input.text().strip()
        if question:
            self.ask(question)

    def ask(self, question: str) -> asyncio.Task[None] | None:
        """Ask with the chosen model and preset; the answer streams into the transcript."""
        if self.busy:
            return None
        choice = self.current_model()
        if choice is None and self._chat.server_up is not False:
            self._show_error_text(model_note(None))
            return None
        self.input.clear()
        self._waiting = None  # a new question replaces one that waited for the server
        self._start_answer(question)
        if choice is None:  # the server is down and offered nothing yet: wait for it
            self._fail(question, None, Failed(error=view_error(self._chat.down_error())))
            self.send_button.setText(SEND_TEXT)
            return None
        self._task = spawn(self._run(question, choice), doing="Asking the model")
        return self._task

    def stop(self) -> None:
        """Stop the answer now; the service closes the connection."""
        self._service.stop()
        if self._task is not None and not self._task.done() and self._loading:
            self._task.cancel()

    def new_chat(self) -> None:
        self._waiting = None
        self.stop()
        self._service.new_chat()
        self._pending.clear()
        self.transcript.clear_all()
        self._reset_answer_area()
        self.stats_label.hide()
        self.copy_button.setEnabled(False)
        self.code_button.hide()
        self._pieces = []
        self.input.setFocus()

    def copy_answer(self) -> None:
        if answer := self.answer:
            self._copy(answer)

    async def _run(self, question: str, choice: ModelChoice) -> None:
        try:
            self._loading = True
            if not choice.loaded:
                self._apply(Progress(label=f"Getting {choice.shown} ready…", fraction=None))
                self._render_pending()
            try:
                ready = await self._chat.prepare(choice.key)
            except TrayError as exc:
                self._fail(question, choice, Failed(error=view_error(exc)))
                return
            finally:
                self._loading = False
            if ready.note:
                self.transcript.add_note(ready.note)
            async for update in self._service.ask(question, ready.model, self.current_options()):
                if isinstance(update, Failed):
                    self._fail(question, choice, update)
                else:
                    self._apply(update)
        except asyncio.CancelledError:
            self._apply(Stopped())
            self._render_pending()
            raise
        finally:
            self._render_pending()
            self.send_button.setText(SEND_TEXT)

    def _fail(self, question: str, choice: ModelChoice | None, failed: Failed) -> None:
        """Show a failure; a question the server was not up for waits for it."""
        if failed.error.action == "start_server":
            self._waiting = (question, choice)
            self.note_label.hide()  # the error below says it, with the fix
            failed = failed.model_copy(
                update={"error": failed.error.model_copy(update={"fix": WAITING_FIX})}
            )
        self._apply(failed)
        self._render_pending()

    @property
    def waiting_question(self) -> str | None:
        """The question that waits for the server to be up, if any."""
        return self._waiting[0] if self._waiting is not None else None

    def _start_answer(self, question: str, *, again: bool = False) -> None:
        self._pending.clear()
        self._reset_answer_area()
        self._pieces = []
        self.stats_label.hide()
        self.copy_button.setEnabled(False)
        self.code_button.hide()
        if not again:  # a waiting question is already in the transcript
            self.transcript.add_question(question)
        self.send_button.setText(STOP_TEXT)

    def _reset_answer_area(self) -> None:
        self.error_frame.hide()
        self.progress.hide()
        self.progress_label.hide()
        self.thinking_text.clear()
        self.thinking_button.setChecked(False)
        self.thinking_button.hide()
        self.thinking_text.hide()
        self.tools_label.clear()
        self.tools_label.hide()
        self._tools = {}
        self._thinking_pieces = 0

    # --- rendering: once per frame -------------------------------------------------

    def _apply(self, update: ChatUpdate) -> None:
        self._pending.append(update)
        if isinstance(update, Finished | Failed | Stopped):
            self._render_pending()  # the end shows at once (Stop within one frame)
        elif not self._frame_timer.isActive():
            self._frame_timer.start()

    def _render_pending(self) -> None:
        self._frame_timer.stop()
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        loop = asyncio.get_event_loop()
        began = loop.time()
        blocks: list[str] = []
        tail: str | None = None
        reasoning: list[str] = []
        for update in pending:
            if isinstance(update, AnswerDelta):
                self._pieces.append(update.text)  # `+=` would copy the whole answer
                blocks += update.blocks
                tail = update.tail
            elif isinstance(update, ReasoningDelta):
                reasoning.append(update.text)
            elif isinstance(update, Progress):
                self._show_progress(update)
            elif isinstance(update, Notice):
                self.transcript.add_note(update.text)
            elif isinstance(update, ToolLine):
                self._tools[update.index] = update.text
                self.tools_label.setText("\n".join(self._tools[i] for i in sorted(self._tools)))
                self.tools_label.show()
            else:
                if blocks or tail is not None:
                    self.transcript.add_blocks(blocks)
                    self.transcript.set_tail(tail or "")
                    blocks, tail = [], None
                self._show_end(update)
        if reasoning:
            self._add_reasoning("".join(reasoning), len(reasoning))
        if blocks:
            self.transcript.add_blocks(blocks)
        if tail is not None:
            self.transcript.set_tail(tail)
        self.frames += 1
        self.render_seconds += loop.time() - began

    def _show_progress(self, update: Progress) -> None:
        if not update.label:
            self.progress.hide()
            self.progress_label.hide()
            return
        if update.fraction is None:
            self.progress.setRange(0, 0)  # busy indicator
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(update.fraction * 1000))
        self.progress_label.setText(update.label)
        self.progress.show()
        self.progress_label.show()

    def _add_reasoning(self, text: str, pieces: int) -> None:
        cursor = self.thinking_text.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self._thinking_pieces += pieces
        self.thinking_button.setText(f"Thinking… ({self._thinking_pieces:,} tokens)")
        self.thinking_button.show()

    def _toggle_thinking(self, shown: bool) -> None:
        self.thinking_text.setVisible(shown)
        self.thinking_button.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
        self._relayout()

    def _relayout(self) -> None:
        # Shown or hidden rows take effect now, not on the next paint: no stale gap.
        layout = self.frame.layout()
        if layout is not None:
            layout.activate()

    def _show_end(self, update: ChatUpdate) -> None:
        self.send_button.setText(SEND_TEXT)
        self.progress.hide()
        self.progress_label.hide()
        if self.thinking_button.isVisible():
            self.thinking_button.setText(
                self.thinking_button.text().replace("Thinking…", "Thought")
            )
        self.copy_button.setEnabled(any(self._pieces))
        self._offer_code_blocks()
        if isinstance(update, Finished):
            self.stats_label.setText(update.stats.text)
            self.stats_label.setVisible(bool(update.stats.text))
        elif isinstance(update, Failed):
            if update.truncated:
                self.transcript.add_note("(The answer was cut off here.)")
            self._show_error(update.error)
        elif isinstance(update, Stopped):
            self.transcript.add_note("(Stopped.)")

    def _offer_code_blocks(self) -> None:
        self.code_menu.clear()
        found = code_blocks(self.answer)
        for number, block in enumerate(found, 1):
            first = block.code.strip().split("\n", 1)[0][:40]
            label = f"{number}. {block.language or 'code'}: {first}"
            action = self.code_menu.addAction(label)
            action.triggered.connect(lambda _=False, code=block.code: self._copy(code))
        self.code_button.setVisible(bool(found))

    def _show_error(self, error: ViewError) -> None:
        title, message, fix = (html.escape(t) for t in (error.title, error.message, error.fix))
        self.error_label.setText(f"<b>{title}</b><br>{message}<br><i>{fix}</i>")
        self.start_server_button.setVisible(error.action == "start_server")
        self.token_button.setVisible(error.action == "enter_token")
        self.error_frame.show()

    def _show_error_text(self, text: str) -> None:
        self.error_label.setText(text)
        self.start_server_button.hide()
        self.token_button.hide()
        self.error_frame.show()

    def _on_start_server(self) -> None:
        self.error_frame.hide()
        if self._waiting is not None:
            self._apply(Progress(label="Waiting for the server to start…", fraction=None))
            self._render_pending()
        self._chat.start_server()

    def _copy(self, text: str) -> None:
        self._copy_text(text)


def _fit_list_to_items(combo: QComboBox) -> None:
    """Let a combo's drop-down list be as wide as its longest item (the closed box may
    elide it), so that no model name is cut off where the user picks it."""
    view = combo.view()
    metrics = view.fontMetrics()
    widest = max(
        (metrics.horizontalAdvance(combo.itemText(i)) for i in range(combo.count())), default=0
    )
    # the item's own margins and the scroll bar that a long list gets
    view.setMinimumWidth(
        widest + 4 * metrics.averageCharWidth() + view.verticalScrollBar().sizeHint().width()
    )
