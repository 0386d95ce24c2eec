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
import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QCursor, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
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
    code_blocks,
    view_error,
)
from tray.core.conversation import ModelChoice, model_note
from tray.core.errors import TrayError
from tray.services.quick_chat import QuickChat
from tray.ui.markdown_view import MarkdownView
from tray.ui.quick_chat_parts import (
    ErrorBar,
    LoadProgress,
    Pickers,
    ThinkingFold,
    ToolLines,
    fit_list_to_items,
    hint_label,
    place_near,
)
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = [
    "COPY_ANSWER_TEXT",
    "COPY_CODE_TEXT",
    "NEW_CHAT_TEXT",
    "SEND_TEXT",
    "STOP_TEXT",
    "QuickChatWindow",
]

log = logging.getLogger(__name__)

SEND_TEXT = "Ask"
STOP_TEXT = "Stop"
NEW_CHAT_TEXT = "New chat"
COPY_ANSWER_TEXT = "Copy answer"
COPY_CODE_TEXT = "Copy code"
NO_PRESET_TEXT = "No preset"
FRAME_MS = 16

INPUT_PLACEHOLDER = "Ask a question — Enter sends it, Esc hides this window"
WAITING_FIX = "Start the server: your question is asked as soon as it is up."


def _default_copy(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


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

        self._set_up_window(demo)
        layout = self._build_frame()
        layout.addLayout(self._build_header(demo))
        layout.addLayout(self._build_pickers())
        self.note_label = hint_label(wrap=True)
        self.load_progress = LoadProgress()
        self.thinking = ThinkingFold()
        self.thinking.button.toggled.connect(self._relayout)
        self.tools = ToolLines()
        self.transcript = MarkdownView(self._copy)
        self.transcript.setPlaceholderText(
            "Enter asks, Esc hides. The conversation stays until New chat."
        )
        self.error_bar = self._build_error_bar()
        self.stats_label = hint_label()
        for part in (self.note_label, self.load_progress, self.thinking, self.tools):
            layout.addWidget(part)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.error_bar)
        layout.addWidget(self.stats_label)
        layout.addLayout(self._build_input_row())

        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setInterval(FRAME_MS)
        self._frame_timer.timeout.connect(self._render_pending)
        chat.subscribe(self._world_changed)

    def _set_up_window(self, demo: bool) -> None:
        self.setWindowTitle(window_title("Quick chat", demo=demo))
        self.setWindowFlags(
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
        )
        self.setObjectName("quickChat")
        self.resize(560, 480)

    def _build_frame(self) -> QVBoxLayout:
        """Frameless: draw our own border, so the window stands out from what is behind."""
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
        return layout

    def _build_header(self, demo: bool) -> QHBoxLayout:
        top = QHBoxLayout()
        self.title_label = QLabel("Quick chat" + (" — Demo" if demo else ""))
        self.title_label.setStyleSheet("font-weight: bold;")
        self.new_button = QToolButton()
        self.new_button.setText(NEW_CHAT_TEXT)
        self.new_button.clicked.connect(self.new_chat)
        top.addWidget(self.title_label)
        top.addStretch(1)
        top.addWidget(self.new_button)
        return top

    def _build_pickers(self) -> Pickers:
        self.pickers = Pickers()
        self.model_combo = self.pickers.model_combo
        self.preset_combo = self.pickers.preset_combo
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        return self.pickers

    def _build_error_bar(self) -> ErrorBar:
        bar = ErrorBar()
        bar.start_server_button.clicked.connect(self._on_start_server)
        bar.token_button.clicked.connect(lambda: self._chat.open_tokens())
        return bar

    def _build_input_row(self) -> QHBoxLayout:
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
        for widget in (self.input, self.send_button, self.copy_button, self.code_button):
            bottom.addWidget(widget, 1 if widget is self.input else 0)
        return bottom

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
        fit_list_to_items(self.model_combo)
        self._model_changed()

        preset = self.preset_combo.currentText()
        self.preset_combo.clear()
        self.preset_combo.addItem(NO_PRESET_TEXT, None)
        for label, options in self._chat.presets():
            self.preset_combo.addItem(label, options)
        found = self.preset_combo.findText(preset)
        self.preset_combo.setCurrentIndex(max(0, found))
        fit_list_to_items(self.preset_combo)

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
            elif not self._chat.server_starting and self.load_progress.isVisible():
                # The start failed (the tray says why): the question still waits.
                self.load_progress.hide()
                self.error_bar.show()
        if self.isVisible() and not self.pickers.lists_open():
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
                self.error_bar.show_text(model_note(None))
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
            self.error_bar.show_text(model_note(None))
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
        for part in (self.error_bar, self.load_progress):
            part.hide()
        self.thinking.reset()
        self.tools.reset()

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
                self.load_progress.follow(update)
            elif isinstance(update, Notice):
                self.transcript.add_note(update.text)
            elif isinstance(update, ToolLine):
                self.tools.set_line(update.index, update.text)
            else:
                if blocks or tail is not None:
                    self.transcript.add_blocks(blocks)
                    self.transcript.set_tail(tail or "")
                    blocks, tail = [], None
                self._show_end(update)
        if reasoning:
            self.thinking.add("".join(reasoning), len(reasoning))
        if blocks:
            self.transcript.add_blocks(blocks)
        if tail is not None:
            self.transcript.set_tail(tail)
        self.frames += 1
        self.render_seconds += loop.time() - began

    def _relayout(self) -> None:
        # Shown or hidden rows take effect now, not on the next paint: no stale gap.
        layout = self.frame.layout()
        if layout is not None:
            layout.activate()

    def _show_end(self, update: ChatUpdate) -> None:
        self.send_button.setText(SEND_TEXT)
        self.load_progress.hide()
        self.thinking.finish()
        self.copy_button.setEnabled(any(self._pieces))
        self._offer_code_blocks()
        if isinstance(update, Finished):
            self.stats_label.setText(update.stats.text)
            self.stats_label.setVisible(bool(update.stats.text))
        elif isinstance(update, Failed):
            if update.truncated:
                self.transcript.add_note("(The answer was cut off here.)")
            self.error_bar.show_error(update.error)
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

    def _on_start_server(self) -> None:
        self.error_bar.hide()
        if self._waiting is not None:
            self._apply(Progress(label="Waiting for the server to start…", fraction=None))
            self._render_pending()
        self._chat.start_server()

    def _copy(self, text: str) -> None:
        self._copy_text(text)
