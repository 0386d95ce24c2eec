"""OpenAI-compatible chunks become reasoning/content deltas whatever the reasoning
encoding, and `<think>` tags split across chunks still split."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray.core.api import ChatCompletionMessage
from tray.core.openai_stream import (
    ChatCompletionChunk,
    CompletionDelta,
    CompletionStream,
    ThinkSplitter,
    split_message,
)


def run_splitter(pieces: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    reasoning, content = [], []
    for piece in [*pieces, None]:
        r, c = splitter.feed(piece) if piece is not None else splitter.flush()
        reasoning.append(r)
        content.append(c)
    return "".join(reasoning), "".join(content)


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["<think>plan</think>answer"], ("plan", "answer")),
        (["<thi", "nk>plan</th", "ink>answer"], ("plan", "answer")),
        (["<", "t", "h", "i", "n", "k", ">", "p", "<", "/think", ">", "a"], ("p", "a")),
        (["no tags at all"], ("", "no tags at all")),
        (["a < b and <thinking> is not a tag"], ("", "a < b and <thinking> is not a tag")),
        (["ends with <thi"], ("", "ends with <thi")),  # held back, then flushed as content
        (["<think>cut off mid-thought </thi"], ("cut off mid-thought </thi", "")),
        (["<think>a</think>b<think>c</think>d"], ("ac", "bd")),
        (["<think></think>", "x"], ("", "x")),
    ],
)
def test_splitter_cases(pieces: list[str], expected: tuple[str, str]) -> None:
    assert run_splitter(pieces) == expected


def test_splitter_holds_back_only_a_possible_tag_start() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("Hello <th") == ("", "Hello ")
    assert splitter.feed("ere") == ("", "<there")


# Text that often contains tags or pieces of them.
_texty = st.lists(
    st.sampled_from(["<think>", "</think>", "<", "</", "<th", "think>", ">", "a", "b c", "\n"]),
    max_size=30,
).map("".join) | st.text(max_size=60)


@given(text=_texty, data=st.data())
def test_any_split_gives_the_unsplit_result(text: str, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=12)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    assert run_splitter(pieces) == run_splitter([text])


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> ChatCompletionChunk:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return ChatCompletionChunk.model_validate(
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": choices, **extra}
    )


def stream(chunks: list[ChatCompletionChunk]) -> list[CompletionDelta]:
    normaliser = CompletionStream()
    return [d for d in [*map(normaliser.feed, chunks), normaliser.finish()] if not d.is_empty]


def joined(deltas: list[CompletionDelta]) -> tuple[str, str]:
    return "".join(d.reasoning for d in deltas), "".join(d.content for d in deltas)


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_reasoning_fields(field: str) -> None:
    deltas = stream(
        [
            chunk({"role": "assistant", field: "Let me"}),
            chunk({field: " think."}),
            chunk({"content": "Hi"}),
            chunk({}, finish="stop"),
        ]
    )
    assert joined(deltas) == ("Let me think.", "Hi")
    assert deltas[-1].finish_reason == "stop"


def test_think_tags_in_content_across_chunks() -> None:
    deltas = stream(
        [
            chunk({"content": "<thi"}),
            chunk({"content": "nk>Let me think.</th"}),
            chunk({"content": "ink>Hi"}),
            chunk({}, finish="stop"),
        ]
    )
    assert joined(deltas) == ("Let me think.", "Hi")


def test_finish_flushes_held_text() -> None:
    deltas = stream([chunk({"content": "x <"}), chunk({}, finish="length")])
    assert joined(deltas) == ("", "x <")
    assert deltas[-1].finish_reason == "length"


def test_usage_only_final_chunk() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    deltas = stream([chunk({"content": "Hi"}, finish="stop"), chunk(None, usage=usage)])
    assert deltas[-1].usage is not None and deltas[-1].usage.total_tokens == 7
    assert deltas[-1].content == "" and deltas[-1].finish_reason is None


def test_observed_lm_studio_chunk_parses() -> None:
    # FORMATS §3.9, observed in LM Studio 0.3.6.
    parsed = ChatCompletionChunk.model_validate_json(
        '{"id":"chatcmpl-x","object":"chat.completion.chunk","created":1731990317,'
        '"model":"m","system_fingerprint":"m","choices":[{"index":0,"delta":'
        '{"role":"assistant","content":"Hel"},"logprobs":null,"finish_reason":null}]}'
    )
    assert parsed.choices[0].delta.content == "Hel"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"content": "<think>r</think>c"}, ("r", "c")),
        ({"content": "c", "reasoning": "r"}, ("r", "c")),
        ({"content": "c", "reasoning_content": "r"}, ("r", "c")),
        ({"content": None}, ("", "")),
    ],
)
def test_split_message(message: dict[str, Any], expected: tuple[str, str]) -> None:
    assert split_message(ChatCompletionMessage.model_validate(message)) == expected
