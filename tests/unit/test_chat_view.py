"""The stream-to-view model: event sequences in, the updates a view shows out (no Qt)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tray.core.api import Usage
from tray.core.chat_events import ChatEvent, parse_chat_event
from tray.core.chat_view import (
    AnswerDelta,
    BlockSplitter,
    ChatUpdate,
    ChatView,
    ErrorKind,
    Failed,
    Finished,
    Progress,
    ReasoningDelta,
    Stopped,
    ToolLine,
    code_blocks,
    view_error,
)
from tray.core.errors import (
    ApiError,
    InvalidToken,
    ModelNotFound,
    ServerUnreachable,
    StreamTruncated,
)
from tray.core.openai_stream import CompletionDelta


def ev(kind: str, **data: object) -> ChatEvent:
    return parse_chat_event(kind, json.dumps({"type": kind, **data}))


def end(text: str, response_id: str | None = "resp_1", **stats: object) -> ChatEvent:
    result: dict[str, object] = {
        "model_instance_id": "m",
        "output": [{"type": "message", "content": text}],
        "stats": {
            "total_output_tokens": 5,
            "tokens_per_second": 42.5,
            "time_to_first_token_seconds": 0.25,
            **stats,
        },
    }
    if response_id:
        result["response_id"] = response_id
    return ev("chat.end", result=result)


def fold(view: ChatView, events: list[ChatEvent]) -> list[ChatUpdate]:
    out: list[ChatUpdate] = []
    for i, event in enumerate(events):
        out += view.apply_event(event, at=float(i))
    return out


def rendered(updates: list[ChatUpdate]) -> str:
    """What a view that appends blocks and shows the tail ends up with."""
    blocks: list[str] = []
    tail = ""
    for u in updates:
        if isinstance(u, AnswerDelta):
            blocks += u.blocks
            tail = u.tail
    return "\n\n".join([*blocks, tail] if tail else blocks)


def test_a_whole_native_stream_becomes_progress_reasoning_tools_answer_and_stats() -> None:
    view = ChatView(started_at=0.0)
    updates = fold(
        view,
        [
            ev("chat.start", model_instance_id="m"),
            ev("model_load.start", model_instance_id="m"),
            ev("model_load.progress", model_instance_id="m", progress=0.5),
            ev("model_load.end", model_instance_id="m", load_time_seconds=1.0),
            ev("prompt_processing.start"),
            ev("prompt_processing.progress", progress=1.0),
            ev("prompt_processing.end"),
            ev("reasoning.start"),
            ev("reasoning.delta", content="Let me "),
            ev("reasoning.delta", content="think."),
            ev("reasoning.end"),
            ev("tool_call.start", tool="search", provider_info={"type": "plugin"}),
            ev("tool_call.arguments", tool="search", arguments={"q": "x"}),
            ev("tool_call.success", tool="search", arguments={"q": "x"}, output="[]"),
            ev("message.start"),
            ev("message.delta", content="Hello "),
            ev("message.delta", content="world."),
            ev("message.end"),
            end("Hello world."),
        ],
    )
    progress = [u for u in updates if isinstance(u, Progress)]
    assert progress[0] == Progress(label="Loading the model…", fraction=0.0)
    assert Progress(label="Loading the model…", fraction=0.5) in progress
    assert Progress(label="Reading the question…", fraction=1.0) in progress
    assert progress[-1].label == ""
    assert view.reasoning == "Let me think."
    assert [u.text for u in updates if isinstance(u, ReasoningDelta)] == ["Let me ", "think."]
    tools = [u for u in updates if isinstance(u, ToolLine)]
    assert [(t.index, t.state) for t in tools] == [(0, "running"), (0, "ok")]
    assert tools[-1].text == "✓ search"
    assert view.answer == "Hello world."
    assert rendered(updates) == "Hello world."
    final = updates[-1]
    assert isinstance(final, Finished)
    assert final.response_id == "resp_1"
    assert final.stats.tokens == 5
    assert final.stats.text == "first token 0.25 s · 42.5 tok/s · 5 tokens"


def test_an_error_event_mid_stream_keeps_the_text_and_ends_failed_with_the_fix() -> None:
    view = ChatView(started_at=0.0)
    updates = fold(
        view,
        [
            ev("chat.start"),
            ev("message.delta", content="Partial"),
            ev("error", error={"type": "model_not_found", "message": "Model failed to load"}),
            end("Partial"),
        ],
    )
    final = updates[-1]
    assert isinstance(final, Failed)
    assert final.error.kind is ErrorKind.MODEL
    assert "failed to load" in final.error.message
    assert final.error.fix
    assert view.answer == "Partial"
    assert rendered(updates) == "Partial"


def test_a_truncated_stream_keeps_what_arrived_and_says_it_was_cut() -> None:
    view = ChatView(started_at=0.0)
    updates = fold(view, [ev("chat.start"), ev("message.delta", content="Half an ans")])
    updates += view.fail(StreamTruncated("The answer was cut off when the connection closed."))
    final = updates[-1]
    assert isinstance(final, Failed) and final.truncated
    assert final.error.kind is ErrorKind.TRUNCATED
    assert rendered(updates) == "Half an ans"
    assert view.truncated and view.done


def test_a_failed_tool_call_is_a_failed_line() -> None:
    view = ChatView(started_at=0.0)
    updates = fold(
        view,
        [
            ev("tool_call.start", tool="fetch"),
            ev(
                "tool_call.failure",
                reason="Cannot find tool with name fetch.",
                metadata={"type": "invalid_name", "tool_name": "fetch"},
            ),
            ev("tool_call.failure", reason="bad", metadata={"tool_name": "other"}),
        ],
    )
    lines = [u for u in updates if isinstance(u, ToolLine)]
    assert lines[1].index == 0 and lines[1].state == "failed"
    assert lines[1].text == "✗ fetch — Cannot find tool with name fetch."
    assert lines[2].index == 1 and lines[2].tool == "other"
    assert [t.state for t in view.tools] == ["failed", "failed"]


def test_stop_ends_with_stopped_and_flushes_the_tail() -> None:
    view = ChatView(started_at=0.0)
    updates = fold(view, [ev("message.delta", content="So far")])
    updates += view.stop()
    assert isinstance(updates[-1], Stopped)
    assert view.blocks == ["So far"]


def test_openai_deltas_with_usage_give_stats_from_the_usage() -> None:
    view = ChatView(started_at=10.0)
    updates: list[ChatUpdate] = []
    updates += view.apply_delta(CompletionDelta(reasoning="hmm"), at=10.5)
    updates += view.apply_delta(CompletionDelta(content="One "), at=11.0)
    updates += view.apply_delta(CompletionDelta(content="two."), at=12.0)
    updates += view.apply_delta(CompletionDelta(usage=Usage(completion_tokens=8)), at=12.0)
    updates += view.end_openai(at=12.0)
    final = updates[-1]
    assert isinstance(final, Finished)
    assert final.stats.time_to_first_token == 0.5
    assert final.stats.tokens == 8 and not final.stats.approximate
    assert final.stats.tokens_per_second == 8 / 1.5
    assert view.reasoning == "hmm" and view.answer == "One two."


def test_openai_without_usage_counts_deltas_and_says_approximate() -> None:
    view = ChatView(started_at=0.0)
    for i, piece in enumerate(["a", "b", "c"]):
        view.apply_delta(CompletionDelta(content=piece), at=float(i))
    final = view.end_openai(at=3.0)[-1]
    assert isinstance(final, Finished)
    assert final.stats.tokens == 3 and final.stats.approximate
    assert "≈3 tokens" in final.stats.text


def test_blocks_end_at_blank_lines() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("# Title\n\nFirst para") == ["# Title"]
    assert splitter.tail == "First para"
    assert splitter.feed("graph.\n") == []
    assert splitter.feed("\nNext") == ["First paragraph."]
    assert splitter.flush() == "Next"


def test_a_code_fence_spanning_deltas_is_never_split_by_its_blank_lines() -> None:
    splitter = BlockSplitter()
    finished: list[str] = []
    for piece in ["Intro\n\n``", "`py", "thon\nx = 1\n\n", "\ny = 2\n`", "``\n\nAfter"]:
        finished += splitter.feed(piece)
    assert finished == ["Intro", "```python\nx = 1\n\n\ny = 2\n```"]
    assert splitter.tail == "After"


def test_a_longer_fence_is_closed_only_by_a_fence_as_long() -> None:
    splitter = BlockSplitter()
    text = "````md\n```\ninner\n\n```\n````\n\nafter\n\n"
    assert splitter.feed(text) == ["````md\n```\ninner\n\n```\n````", "after"]


@given(st.lists(st.sampled_from(["a", " ", "\n", "\n\n", "```", "~~~", "py", "`"]), max_size=40))
def test_blocks_and_tail_always_hold_the_text(pieces: list[str]) -> None:
    splitter = BlockSplitter()
    blocks: list[str] = []
    for piece in pieces:
        blocks += splitter.feed(piece)
    last = splitter.flush()
    text = "".join(pieces)
    joined = "".join(blocks + ([last] if last else []))
    # Only blank space is reorganised between blocks; every other character is kept.
    assert "".join(joined.split()) == "".join(text.split())
    for block in blocks:
        # A finished block is whole: its fences are closed, so alone it is one block.
        again = BlockSplitter()
        assert again.feed(block + "\n\n") == [block]


def test_code_blocks_are_found_with_their_language() -> None:
    text = "Text\n```python\nprint(1)\n```\nmore\n~~~\nraw\n~~~\n```sh\nopen"
    assert [(b.language, b.code) for b in code_blocks(text)] == [
        ("python", "print(1)"),
        ("", "raw"),
        ("sh", "open"),
    ]


def test_each_failure_gets_a_kind_a_fix_and_the_right_action() -> None:
    down = view_error(ServerUnreachable("Nothing answers at http://127.0.0.1:1234."))
    assert (down.kind, down.action) == (ErrorKind.SERVER_DOWN, "start_server")
    auth = view_error(InvalidToken("The token was rejected."))
    assert (auth.kind, auth.action) == (ErrorKind.AUTH, "enter_token")
    assert view_error(ModelNotFound("unknown model")).kind is ErrorKind.MODEL
    assert view_error(ApiError("refused", error_type="internal_error")).kind is ErrorKind.SERVER
    for error in (down, auth):
        assert error.fix.endswith(".")


def test_a_paragraph_that_never_ends_is_cut_so_the_tail_stays_bounded() -> None:
    from tray.core.chat_view import BlockSplitter

    splitter = BlockSplitter(max_tail=200)
    words = [f"w{i}" for i in range(5000)]
    blocks: list[str] = []
    for w in words:
        blocks += splitter.feed(w + " ")
        assert len(splitter.tail) <= 200 + 10
    last = splitter.flush()
    parts = [*blocks, *([last] if last else [])]
    assert len(parts) > 20
    assert " ".join(parts).split() == words  # nothing lost, nothing doubled


def test_a_long_code_block_is_closed_and_reopened_with_its_fence() -> None:
    from tray.core.chat_view import BlockSplitter

    splitter = BlockSplitter(max_tail=300)
    code = [f"print({i})" for i in range(400)]
    blocks = splitter.feed("```python\n")
    for line in code:
        blocks += splitter.feed(line + "\n")
        assert len(splitter.tail) <= 300 + 40
    blocks += splitter.feed("```\n\nAfter.\n\n")
    assert len(blocks) > 5
    body: list[str] = []
    for block in blocks[:-1]:
        lines = block.split("\n")
        assert lines[0] == "```python" and lines[-1] == "```"  # every part renders as code
        body += lines[1:-1]
    assert body == code
    assert blocks[-1] == "After."


def test_short_answers_are_not_cut() -> None:
    from tray.core.chat_view import BlockSplitter

    splitter = BlockSplitter()
    text = "One paragraph.\nStill the same one.\n\nSecond."
    assert splitter.feed(text) == ["One paragraph.\nStill the same one."]
    assert splitter.flush() == "Second."
