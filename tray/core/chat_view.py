"""The quick chat's stream-to-view model: pure folding of a chat stream into what a view
shows, without Qt and without I/O.

`ChatView` takes the native events of `/api/v1/chat` (FORMATS §3.6) or the normalised
OpenAI deltas of `/v1/chat/completions` (§3.9) and returns, for each, the `ChatUpdate`s a
view applies: a progress line (model load, prompt processing), reasoning text, tool-call
lines, the answer as *finished* Markdown blocks (rendered once, never again) plus the open
*tail* block (re-rendered as it grows), final stats, an error with its fix, a stop.

Why blocks: re-rendering the whole answer per token makes each token cost more as the
answer grows. A block is finished at a blank line outside a fenced code block, so a
boundary never splits a code fence (its blank lines stay inside the tail until the fence
closes). `BlockSplitter` scans each arrived character once.

Times come from the caller (`at=` seconds on any monotonic clock): core reads no clock.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tray.core.chat_events import (
    ChatEndEvent,
    ChatEvent,
    ErrorEvent,
    MessageDeltaEvent,
    ModelLoadEndEvent,
    ModelLoadProgressEvent,
    ModelLoadStartEvent,
    PromptProcessingEndEvent,
    PromptProcessingProgressEvent,
    PromptProcessingStartEvent,
    ReasoningDeltaEvent,
    ReasoningEndEvent,
    ToolCallArgumentsEvent,
    ToolCallFailureEvent,
    ToolCallStartEvent,
    ToolCallSuccessEvent,
)
from tray.core.errors import (
    ApiError,
    AuthError,
    EndpointNotSupported,
    ModelNotFound,
    RequestTimeout,
    ServerUnreachable,
    StreamTruncated,
    TrayError,
)
from tray.core.openai_stream import CompletionDelta

__all__ = [
    "AnswerDelta",
    "BlockSplitter",
    "ChatUpdate",
    "ChatView",
    "CodeBlock",
    "ErrorAction",
    "ErrorKind",
    "Failed",
    "Finished",
    "Notice",
    "Progress",
    "ReasoningDelta",
    "Stopped",
    "ToolLine",
    "ViewError",
    "ViewStats",
    "code_blocks",
    "view_error",
]


# --- Markdown blocks -----------------------------------------------------------------


def _fence_of(line: str) -> str | None:
    """The fence marker (```` ``` ```` or `~~~`, any length ≥ 3) opening/closing a line."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:  # four spaces: an indented code line, not a fence
        return None
    for char in ("`", "~"):
        if stripped.startswith(char * 3):
            count = len(stripped) - len(stripped.lstrip(char))
            return char * count
    return None


# The open tail is re-rendered on every frame; past this many characters it is cut into a
# finished block, so a paragraph or code block that never ends (a runaway model, a hostile
# server) cannot make each frame cost more than the last.
MAX_TAIL_CHARS = 4000


class BlockSplitter:
    """Splits Markdown arriving in pieces into finished blocks and an open tail.

    A block ends at a blank line outside a fenced code block. Each character is scanned
    once (`_scanned` marks how far the tail's complete lines were looked at). A tail longer
    than `MAX_TAIL_CHARS` is cut at its last complete line (a paragraph then shows as two;
    a code block is closed and reopened with the same fence, so each part still renders as
    code), or at its last space when it has no line break.
    """

    def __init__(self, max_tail: int = MAX_TAIL_CHARS) -> None:
        self.tail = ""
        self._max_tail = max_tail
        self._scanned = 0  # tail[:_scanned] is made of complete, examined lines
        self._fence: str | None = None  # the open fence's marker, None outside a fence
        self._fence_line = ""  # the line that opened it (marker and info string)
        self._has_content = False  # the tail has a non-blank line before the scan point

    def feed(self, text: str) -> list[str]:
        """Add text; returns the blocks it finished (without their trailing blank lines)."""
        self.tail += text
        finished: list[str] = []
        while True:
            end = self.tail.find("\n", self._scanned)
            if end < 0:
                if len(self.tail) > self._max_tail:
                    finished += self._cut()
                return finished
            line = self.tail[self._scanned : end]
            self._scanned = end + 1
            marker = _fence_of(line)
            if self._fence is not None:
                # A closing fence: same character, at least as long, nothing after it.
                if (
                    marker is not None
                    and marker[0] == self._fence[0]
                    and len(marker) >= len(self._fence)
                    and not line.strip()[len(marker) :].strip()
                ):
                    self._fence = None
                continue
            if marker is not None:
                self._fence = marker
                self._fence_line = line.strip()
                self._has_content = True
            elif line.strip():
                self._has_content = True
            elif self._has_content:
                finished.append(self.tail[:end].rstrip("\n"))
                self.tail = self.tail[end + 1 :]
                self._scanned = 0
                self._has_content = False
            else:
                # Blank lines before any content: drop them, they render as nothing.
                self.tail = self.tail[end + 1 :]
                self._scanned = 0

    def _cut(self) -> list[str]:
        """Cut an over-long tail into a finished block and the rest (see the class doc)."""
        if self._fence is not None:
            cut = self.tail.rfind("\n", 0, self._scanned)
            if cut <= len(self._fence_line):
                return []  # one giant line of code: nothing sensible to cut
            block = self.tail[:cut] + "\n" + self._fence
            rest = self.tail[cut + 1 :]
            self.tail = self._fence_line + "\n" + rest
            self._scanned = len(self._fence_line) + 1 + (self._scanned - (cut + 1))
            return [block]
        cut = self.tail.rfind("\n", 0, self._scanned)
        if cut <= 0:
            cut = self.tail.rfind(" ", 0, len(self.tail) - 1)
            if cut <= 0:
                return []  # one giant word
            self._scanned = 0  # no complete line in the tail, before or after
        else:
            self._scanned -= cut + 1
        block = self.tail[:cut].rstrip()
        self.tail = self.tail[cut + 1 :]
        self._has_content = bool(self.tail[: self._scanned].strip())
        return [block] if block.strip() else []

    def flush(self) -> str | None:
        """The end of the text: the tail as a last block (None when blank)."""
        tail, self.tail = self.tail.strip("\n"), ""
        self._scanned, self._fence, self._has_content = 0, None, False
        return tail if tail.strip() else None


class CodeBlock(BaseModel):
    model_config = ConfigDict(frozen=True)

    language: str
    code: str


def code_blocks(markdown: str) -> list[CodeBlock]:
    """The fenced code blocks of a Markdown text, in order (an unclosed one counts)."""
    blocks: list[CodeBlock] = []
    fence: str | None = None
    language = ""
    lines: list[str] = []
    for line in markdown.split("\n"):
        marker = _fence_of(line)
        if fence is None:
            if marker is not None:
                fence, language, lines = marker, line.strip()[len(marker) :].strip(), []
            continue
        if marker is not None and marker[0] == fence[0] and len(marker) >= len(fence):
            blocks.append(CodeBlock(language=language, code="\n".join(lines)))
            fence = None
            continue
        lines.append(line)
    if fence is not None:
        blocks.append(CodeBlock(language=language, code="\n".join(lines)))
    return blocks


# --- updates -------------------------------------------------------------------------


class Progress(BaseModel):
    """The thin progress line; `fraction` None = indeterminate; `label` "" = hide it."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["progress"] = "progress"
    label: str
    fraction: float | None = None


class Notice(BaseModel):
    """A sentence about this answer that is not part of it (e.g. what of the preset the
    API asked could not carry); shown before the answer."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["notice"] = "notice"
    text: str


class ReasoningDelta(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["reasoning"] = "reasoning"
    text: str


class ToolLine(BaseModel):
    """One tool call as a compact line; `index` counts the calls of this answer."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["tool"] = "tool"
    index: int
    tool: str
    state: Literal["running", "ok", "failed"]
    detail: str = ""

    @property
    def text(self) -> str:
        mark = {"running": "…", "ok": "✓", "failed": "✗"}[self.state]
        return f"{mark} {self.tool}" + (f" — {self.detail}" if self.detail else "")


class AnswerDelta(BaseModel):
    """Answer text arrived: `text` is the raw piece (for a terminal), `blocks` the blocks
    it finished (render once, append), `tail` the whole open block (re-render)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["answer"] = "answer"
    text: str
    blocks: tuple[str, ...] = ()
    tail: str = ""


class ViewStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    time_to_first_token: float | None = None
    tokens_per_second: float | None = None
    tokens: int | None = None
    approximate: bool = False  # counted from the deltas, the server gave no usage

    @property
    def text(self) -> str:
        parts: list[str] = []
        if self.time_to_first_token is not None:
            parts.append(f"first token {self.time_to_first_token:.2f} s")
        if self.tokens_per_second is not None:
            parts.append(f"{self.tokens_per_second:,.1f} tok/s")
        if self.tokens is not None:
            parts.append(f"{'≈' if self.approximate else ''}{self.tokens:,} tokens")
        return " · ".join(parts)


class Finished(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["finished"] = "finished"
    stats: ViewStats
    response_id: str | None = None


class ErrorKind(StrEnum):
    SERVER_DOWN = "server_down"
    AUTH = "auth"
    MODEL = "model"  # the model failed to load or is unknown
    TRUNCATED = "truncated"
    TIMEOUT = "timeout"
    UNSUPPORTED = "unsupported"
    SERVER = "server"  # anything else the server said


ErrorAction = Literal["start_server", "enter_token"]


class ViewError(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ErrorKind
    title: str
    message: str
    fix: str
    action: ErrorAction | None = None


class Failed(BaseModel):
    """The answer stopped on an error; what arrived before stays shown."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["failed"] = "failed"
    error: ViewError
    truncated: bool = False


class Stopped(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["stopped"] = "stopped"


ChatUpdate = (
    Progress | Notice | ReasoningDelta | ToolLine | AnswerDelta | Finished | Failed | Stopped
)


def _is_load_failure(error_type: str | None, code: str | None, message: str) -> bool:
    said = f"{error_type or ''} {code or ''} {message}".lower()
    return any(
        hint in said
        for hint in ("model_not_found", "not loaded", "failed to load", "load failed", "loading")
    )


def view_error(exc: TrayError) -> ViewError:
    """The inline error a failed request shows: kind, the sentence, the fix, an action."""
    if isinstance(exc, ServerUnreachable):
        return ViewError(
            kind=ErrorKind.SERVER_DOWN,
            title="The server is not running",
            message=exc.message,
            fix="Start the LM Studio server, then ask again.",
            action="start_server",
        )
    if isinstance(exc, AuthError):
        return ViewError(
            kind=ErrorKind.AUTH,
            title=exc.title,
            message=exc.message,
            fix="Enter this server's API token, then ask again.",
            action="enter_token",
        )
    if isinstance(exc, StreamTruncated):
        return ViewError(
            kind=ErrorKind.TRUNCATED,
            title="The answer was cut off",
            message=exc.message,
            fix="What arrived is kept above; ask again for a whole answer.",
        )
    if isinstance(exc, RequestTimeout):
        return ViewError(
            kind=ErrorKind.TIMEOUT,
            title=exc.title,
            message=exc.message,
            fix="Ask again; if it keeps happening, restart the LM Studio server.",
        )
    if isinstance(exc, EndpointNotSupported):
        return ViewError(
            kind=ErrorKind.UNSUPPORTED,
            title=exc.title,
            message=exc.message,
            fix="Update LM Studio, or pick a server that offers chat completions.",
        )
    if isinstance(exc, ModelNotFound) or (
        isinstance(exc, ApiError) and _is_load_failure(exc.error_type, exc.code, exc.message)
    ):
        return ViewError(
            kind=ErrorKind.MODEL,
            title="The model could not be used",
            message=exc.message,
            fix="Load the model (Load model… in the tray menu) or pick another one.",
        )
    return ViewError(
        kind=ErrorKind.SERVER,
        title=exc.title,
        message=exc.message,
        fix="Try again; LM Studio's server log (Developer tab) tells the cause.",
    )


def _event_error(event: ErrorEvent) -> ViewError:
    body = event.error
    said = body.message or body.type or "no details"
    if _is_load_failure(body.type, body.code, body.message):
        return ViewError(
            kind=ErrorKind.MODEL,
            title="The model failed to load",
            message=f"LM Studio said: {said}",
            fix="Free memory (eject a model) or pick a smaller model, then ask again.",
        )
    return ViewError(
        kind=ErrorKind.SERVER,
        title="LM Studio reported an error",
        message=f"LM Studio said: {said}",
        fix="Try again; LM Studio's server log (Developer tab) tells the cause.",
    )


# --- the view ------------------------------------------------------------------------


class ChatView:
    """The state of one answer, folded from its stream; each `apply_*` returns the
    updates a view needs to show the change."""

    def __init__(self, *, started_at: float) -> None:
        self.started_at = started_at
        self.reasoning = ""
        self.tools: list[ToolLine] = []
        self.blocks: list[str] = []  # finished Markdown blocks of the answer
        self._answer: list[str] = []
        self._splitter = BlockSplitter()
        self.stats: ViewStats | None = None
        self.error: ViewError | None = None
        self.truncated = False
        self.stopped = False
        self.response_id: str | None = None
        self.done = False
        self._first_token_at: float | None = None
        self._last_token_at: float | None = None
        self._deltas = 0

    @property
    def answer(self) -> str:
        """The whole answer text so far (Markdown source)."""
        return "".join(self._answer)

    @property
    def tail(self) -> str:
        return self._splitter.tail

    # --- native events -------------------------------------------------------------

    def apply_event(self, event: ChatEvent, *, at: float) -> list[ChatUpdate]:
        if isinstance(event, ModelLoadStartEvent):
            return [Progress(label="Loading the model…", fraction=0.0)]
        if isinstance(event, ModelLoadProgressEvent):
            return [Progress(label="Loading the model…", fraction=event.progress)]
        if isinstance(event, ModelLoadEndEvent | PromptProcessingEndEvent):
            return [Progress(label="")]
        if isinstance(event, PromptProcessingStartEvent):
            return [Progress(label="Reading the question…", fraction=0.0)]
        if isinstance(event, PromptProcessingProgressEvent):
            return [Progress(label="Reading the question…", fraction=event.progress)]
        if isinstance(event, ReasoningDeltaEvent):
            return self._reasoning(event.content, at)
        if isinstance(event, ReasoningEndEvent):
            return []
        if isinstance(event, ToolCallStartEvent):
            return [self._tool(None, event.tool or "tool", "running")]
        if isinstance(event, ToolCallArgumentsEvent):
            return []
        if isinstance(event, ToolCallSuccessEvent):
            return [self._tool(event.tool, event.tool or "tool", "ok")]
        if isinstance(event, ToolCallFailureEvent):
            name = event.metadata.tool_name if event.metadata else None
            return [self._tool(name, name or "tool", "failed", event.reason or "")]
        if isinstance(event, MessageDeltaEvent):
            return self._content(event.content, at)
        if isinstance(event, ErrorEvent):
            # LM Studio goes on to chat.end; the error is shown when the answer ends.
            self.error = _event_error(event)
            return []
        if isinstance(event, ChatEndEvent):
            return self._end_native(event, at)
        return []  # chat.start, message.start/end, reasoning.start, unknown events

    def _end_native(self, event: ChatEndEvent, at: float) -> list[ChatUpdate]:
        result = event.result
        self.response_id = result.response_id
        stats = result.stats
        counted = self._deltas or None
        self.stats = ViewStats(
            time_to_first_token=(stats.time_to_first_token_seconds if stats else None)
            or self._ttft(),
            tokens_per_second=(stats.tokens_per_second if stats else None) or self._rate(at),
            tokens=(stats.total_output_tokens if stats else None) or counted,
            approximate=not (stats and stats.total_output_tokens is not None),
        )
        return self._finish()

    # --- OpenAI deltas -------------------------------------------------------------

    def apply_delta(self, delta: CompletionDelta, *, at: float) -> list[ChatUpdate]:
        updates: list[ChatUpdate] = []
        if delta.reasoning:
            updates += self._reasoning(delta.reasoning, at)
        if delta.content:
            updates += self._content(delta.content, at)
        if delta.usage is not None and delta.usage.completion_tokens is not None:
            self.stats = ViewStats(tokens=delta.usage.completion_tokens)
        return updates

    def end_openai(self, *, at: float) -> list[ChatUpdate]:
        """The OpenAI stream ended well ([DONE] or a finish_reason)."""
        tokens = self.stats.tokens if self.stats else None
        rate = self._rate(at, tokens)
        self.stats = ViewStats(
            time_to_first_token=self._ttft(),
            tokens_per_second=rate,
            tokens=tokens if tokens is not None else (self._deltas or None),
            approximate=tokens is None,
        )
        return self._finish()

    # --- endings -------------------------------------------------------------------

    def fail(self, exc: TrayError) -> list[ChatUpdate]:
        """The request failed; a cut-off stream keeps what arrived (`truncated`)."""
        self.truncated = isinstance(exc, StreamTruncated)
        self.error = view_error(exc)
        self.done = True
        return [
            *self._flush(),
            Progress(label=""),
            Failed(error=self.error, truncated=self.truncated),
        ]

    def stop(self) -> list[ChatUpdate]:
        self.stopped = True
        self.done = True
        return [*self._flush(), Progress(label=""), Stopped()]

    def _finish(self) -> list[ChatUpdate]:
        self.done = True
        updates: list[ChatUpdate] = [*self._flush(), Progress(label="")]
        if self.error is not None:
            return [*updates, Failed(error=self.error)]
        return [*updates, Finished(stats=self.stats or ViewStats(), response_id=self.response_id)]

    # --- pieces --------------------------------------------------------------------

    def _reasoning(self, text: str, at: float) -> list[ChatUpdate]:
        self._token(at)
        self.reasoning += text
        return [ReasoningDelta(text=text)]

    def _content(self, text: str, at: float) -> list[ChatUpdate]:
        self._token(at)
        self._answer.append(text)
        blocks = self._splitter.feed(text)
        self.blocks += blocks
        return [AnswerDelta(text=text, blocks=tuple(blocks), tail=self._splitter.tail)]

    def _flush(self) -> list[ChatUpdate]:
        last = self._splitter.flush()
        if last is None:
            return []
        self.blocks.append(last)
        return [AnswerDelta(text="", blocks=(last,), tail="")]

    def _tool(
        self,
        name: str | None,
        shown: str,
        state: Literal["running", "ok", "failed"],
        detail: str = "",
    ) -> ToolLine:
        # A success or failure completes the last running call of that tool, if any.
        if state != "running":
            for line in reversed(self.tools):
                if line.state == "running" and (name is None or line.tool == name):
                    done = line.model_copy(update={"state": state, "detail": detail})
                    self.tools[line.index] = done
                    return done
        line = ToolLine(index=len(self.tools), tool=shown, state=state, detail=detail)
        self.tools.append(line)
        return line

    def _token(self, at: float) -> None:
        self._deltas += 1
        if self._first_token_at is None:
            self._first_token_at = at
        self._last_token_at = at

    def _ttft(self) -> float | None:
        if self._first_token_at is None:
            return None
        return max(0.0, self._first_token_at - self.started_at)

    def _rate(self, at: float, tokens: int | None = None) -> float | None:
        count = tokens if tokens is not None else self._deltas
        if self._first_token_at is None or count < 2:
            return None
        span = (self._last_token_at or at) - self._first_token_at
        return count / span if span > 0 else None
