"""Every documented `/api/v1/chat` stream event parses to its own type; unknown event types
are kept; broken data raises the documented errors."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from tray.core import chat_events
from tray.core.chat_events import (
    ChatEndEvent,
    ErrorEvent,
    ModelLoadProgressEvent,
    ToolCallFailureEvent,
    ToolCallSuccessEvent,
    UnknownChatEvent,
    parse_chat_event,
)
from tray.core.errors import BadResponse, MalformedJson

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lmstudio"


def sse_sample() -> list[tuple[str, str]]:
    """(event, data) pairs of the official 19-event sample (single-line data fields)."""
    pairs = []
    for block in (FIXTURES / "rest-v1-chat-stream-event-examples.sse").read_text().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.strip().splitlines())
        if fields:
            pairs.append((fields["event"], fields["data"]))
    return pairs


def test_sample_has_each_of_the_19_documented_events_once() -> None:
    names = [event for event, _ in sse_sample()]
    assert len(names) == len(set(names)) == 19


def test_every_sample_event_parses_to_its_own_model() -> None:
    parsed = [parse_chat_event(event, data) for event, data in sse_sample()]
    assert [event.type for event in parsed] == [name for name, _ in sse_sample()]
    assert not any(isinstance(event, UnknownChatEvent) for event in parsed)
    # One distinct class per documented type, all members of the ChatEvent union.
    assert len({type(event) for event in parsed}) == 19
    arms = typing.get_args(typing.get_args(chat_events.ChatEvent)[0])
    union_members = {typing.get_args(arm)[0] for arm in arms}
    assert {type(event) for event in parsed} | {UnknownChatEvent} == union_members


def test_sample_event_fields() -> None:
    by_type = {event.type: event for event in (parse_chat_event(e, d) for e, d in sse_sample())}
    progress = by_type["model_load.progress"]
    assert isinstance(progress, ModelLoadProgressEvent) and progress.progress == 0.65
    success = by_type["tool_call.success"]
    assert isinstance(success, ToolCallSuccessEvent)
    assert success.arguments == {"sort": "trendingScore", "limit": 1}
    assert success.provider_info is not None and success.provider_info.type == "ephemeral_mcp"
    failure = by_type["tool_call.failure"]
    assert isinstance(failure, ToolCallFailureEvent)
    assert failure.metadata is not None and failure.metadata.type == "invalid_name"
    end = by_type["chat.end"]
    assert isinstance(end, ChatEndEvent)
    assert end.result.text == "The current top‑trending model is..."
    assert end.result.reasoning == "Need to call function."


def test_error_event_sample() -> None:
    data = (FIXTURES / "rest-v1-chat-stream-error-event.json").read_text()
    event = parse_chat_event("error", data)
    assert isinstance(event, ErrorEvent)
    assert (event.error.type, event.error.code, event.error.param) == (
        "invalid_request",
        "missing_required_parameter",
        "model",
    )


def test_unknown_event_type_is_kept_not_fatal() -> None:
    event = parse_chat_event("speculative.stats", '{"type":"speculative.stats","accepted":3}')
    assert isinstance(event, UnknownChatEvent)
    assert event.type == "speculative.stats"
    assert event.model_extra == {"accepted": 3}


def test_missing_type_in_data_falls_back_to_event_name() -> None:
    event = parse_chat_event("message.delta", json.dumps({"content": "Hi"}))
    assert event.type == "message.delta"
    assert getattr(event, "content", None) == "Hi"


def test_new_fields_are_ignored() -> None:
    event = parse_chat_event("chat.start", '{"type":"chat.start","model_instance_id":"m","x":1}')
    assert event.type == "chat.start"


@pytest.mark.parametrize("data", ["", "{not json", '{"type":"chat.end","result":{"output":'])
def test_non_json_data_is_malformed(data: str) -> None:
    with pytest.raises(MalformedJson, match=r"'chat\.end'"):
        parse_chat_event("chat.end", data)


@pytest.mark.parametrize(
    "data",
    [
        "[1, 2]",
        '{"type":"chat.end"}',  # no result
        '{"type":"error","error":"boom"}',  # error must be an object
        '{"type":"model_load.progress","progress":"half"}',
    ],
)
def test_wrong_shape_is_bad_response(data: str) -> None:
    with pytest.raises(BadResponse) as caught:
        parse_chat_event("x", data)
    assert not isinstance(caught.value, MalformedJson)
