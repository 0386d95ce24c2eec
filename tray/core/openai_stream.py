"""OpenAI-compatible streaming (`/v1/chat/completions`, FORMATS.md §3.9), normalised.

LM Studio has shipped reasoning three ways: `delta.reasoning` (≥ 0.3.23),
`delta.reasoning_content` (0.3.9+), and `<think>…</think>` inside `delta.content` (when
the split is off, and on other OpenAI-compatible servers). `CompletionStream` turns any
of them into `CompletionDelta`s with reasoning and answer apart; `ThinkSplitter` does the
tag part incrementally, so a tag split across chunks (`"<thi"` + `"nk>"`) still counts.
"""

from __future__ import annotations

from tray.core.api import ChatCompletionMessage, ResponseModel, Usage

__all__ = [
    "DONE",
    "ChatCompletionChunk",
    "ChunkChoice",
    "ChunkDelta",
    "CompletionDelta",
    "CompletionStream",
    "ThinkSplitter",
    "split_message",
]

DONE = "[DONE]"  # the data of the SSE event that ends an OpenAI stream

_OPEN = "<think>"
_CLOSE = "</think>"


class ChunkDelta(ResponseModel):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None


class ChunkChoice(ResponseModel):
    index: int = 0
    delta: ChunkDelta = ChunkDelta()
    finish_reason: str | None = None


class ChatCompletionChunk(ResponseModel):
    """One `chat.completion.chunk`; the `include_usage` one has `choices: []` and `usage`."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    system_fingerprint: str | None = None
    choices: tuple[ChunkChoice, ...] = ()
    usage: Usage | None = None


class CompletionDelta(ResponseModel):
    """What one chunk adds, whatever the server's encoding of reasoning."""

    content: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.content or self.reasoning or self.finish_reason or self.usage)


def _partial_tag_length(text: str, tag: str) -> int:
    """Length of the longest end of `text` that could be the start of `tag`."""
    for length in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:length]):
            return length
    return 0


class ThinkSplitter:
    """Splits a text that arrives in pieces into reasoning (inside `<think>…</think>`)
    and content (outside), holding back only what might be the start of a tag."""

    def __init__(self) -> None:
        self._thinking = False
        self._held = ""

    def feed(self, text: str) -> tuple[str, str]:
        """Add a piece; returns the (reasoning, content) it completes."""
        buffer = self._held + text
        reasoning: list[str] = []
        content: list[str] = []
        while True:
            tag = _CLOSE if self._thinking else _OPEN
            side = reasoning if self._thinking else content
            at = buffer.find(tag)
            if at < 0:
                held = _partial_tag_length(buffer, tag)
                side.append(buffer[: len(buffer) - held])
                self._held = buffer[len(buffer) - held :]
                return "".join(reasoning), "".join(content)
            side.append(buffer[:at])
            buffer = buffer[at + len(tag) :]
            self._thinking = not self._thinking

    def flush(self) -> tuple[str, str]:
        """The end of the text: what was held back was not a tag after all."""
        held, self._held = self._held, ""
        return (held, "") if self._thinking else ("", held)


def split_message(message: ChatCompletionMessage) -> tuple[str, str]:
    """(reasoning, content) of a non-streamed message, whatever the encoding."""
    splitter = ThinkSplitter()
    tagged, content = splitter.feed(message.content or "")
    tail_reasoning, tail_content = splitter.flush()
    field = message.reasoning or message.reasoning_content or ""
    return field + tagged + tail_reasoning, content + tail_content


class CompletionStream:
    """Turns the chunks of one stream (first choice) into `CompletionDelta`s."""

    def __init__(self) -> None:
        self._splitter = ThinkSplitter()

    def feed(self, chunk: ChatCompletionChunk) -> CompletionDelta:
        reasoning = content = ""
        finish_reason: str | None = None
        if chunk.choices:
            choice = chunk.choices[0]
            delta = choice.delta
            reasoning = delta.reasoning or delta.reasoning_content or ""
            tagged, content = self._splitter.feed(delta.content or "")
            reasoning += tagged
            finish_reason = choice.finish_reason
        if finish_reason is not None:
            tail_reasoning, tail_content = self._splitter.flush()
            reasoning += tail_reasoning
            content += tail_content
        return CompletionDelta(
            content=content, reasoning=reasoning, finish_reason=finish_reason, usage=chunk.usage
        )

    def finish(self) -> CompletionDelta:
        """What is still held back when the stream ends without a finish_reason."""
        reasoning, content = self._splitter.flush()
        return CompletionDelta(content=content, reasoning=reasoning)
