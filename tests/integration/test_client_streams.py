"""Streaming through `LmStudioClient` against the real simulator: native `/api/v1/chat`
events and OpenAI-compatible deltas, truncation, resets, poisoned and oversize events,
and cancellation that really closes the connection."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing

import httpx
import pytest

from tray.core.api import ChatCompletionRequest, ChatMessage, ChatRequest, StreamOptions
from tray.core.chat_events import (
    ChatEndEvent,
    ChatEvent,
    ErrorEvent,
    MessageDeltaEvent,
    ModelLoadProgressEvent,
)
from tray.core.errors import (
    ApiError,
    AuthRequired,
    EndpointNotSupported,
    ModelNotFound,
    RequestTimeout,
    ResponseTooLarge,
    ServerUnreachable,
    StreamTruncated,
)
from tray.core.openai_stream import CompletionDelta
from tray.services.lmstudio_client import LmStudioClient, Timeouts
from tray.simulator import Fault, Reply, Simulator

QWEN = "qwen/qwen3-4b"
TOKEN = "sk-lm-AbCd1234:QwErTyUiOp1234567890"


async def collect(client: LmStudioClient, request: ChatRequest, into: list[ChatEvent]) -> None:
    async for event in client.chat_stream(request):
        into.append(event)


def completion(*, include_usage: bool | None = None) -> ChatCompletionRequest:
    return ChatCompletionRequest(
        model=QWEN,
        messages=[ChatMessage(role="user", content="2+2?")],
        stream_options=StreamOptions(include_usage=include_usage) if include_usage else None,
    )


async def deltas(client: LmStudioClient, request: ChatCompletionRequest) -> list[CompletionDelta]:
    return [delta async for delta in client.chat_completion_stream(request)]


# --- native /api/v1/chat -------------------------------------------------------------------


async def test_stream_with_jit_load(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.next_reply = Reply(text="It is four.", reasoning="Simple sum.")
    events: list[ChatEvent] = []
    await collect(client, ChatRequest(model=QWEN, input="2+2?"), events)
    types = [e.type for e in events]
    assert types[0] == "chat.start" and types[-1] == "chat.end"
    load = types[1 : types.index("prompt_processing.start")]
    assert load[0] == "model_load.start" and load[-1] == "model_load.end"
    progress = [e.progress for e in events if isinstance(e, ModelLoadProgressEvent)]
    assert progress and progress == sorted(progress)
    text = "".join(e.content for e in events if isinstance(e, MessageDeltaEvent))
    end = events[-1]
    assert isinstance(end, ChatEndEvent)
    assert text == end.result.text == "It is four."
    assert end.result.reasoning == "Simple sum."
    assert end.result.stats is not None and end.result.stats.model_load_time_seconds is not None


async def test_stream_of_a_loaded_model_has_no_load_events(
    client: LmStudioClient, sim: Simulator
) -> None:
    sim.state.load(QWEN)
    events: list[ChatEvent] = []
    await collect(client, ChatRequest(model=QWEN, input="Hi"), events)
    assert not any(e.type.startswith("model_load.") for e in events)
    assert events[-1].type == "chat.end"


async def test_error_event_is_yielded_and_the_stream_goes_on(
    client: LmStudioClient, sim: Simulator
) -> None:
    sim.state.load(QWEN)
    sim.faults.add(Fault(kind="error_event", after_events=4, times=1))
    events: list[ChatEvent] = []
    await collect(client, ChatRequest(model=QWEN, input="Hi"), events)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and errors[0].error.type == "internal_error"
    assert events.index(errors[0]) == 4
    assert events[-1].type == "chat.end"


async def test_truncated_stream(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.load(QWEN)
    sim.faults.add(Fault(kind="truncate", after_events=3))
    events: list[ChatEvent] = []
    with pytest.raises(StreamTruncated, match="cut off before it finished") as caught:
        await collect(client, ChatRequest(model=QWEN, input="Hi"), events)
    assert caught.value.url == f"{sim.base_url}/api/v1/chat"
    assert len(events) == 3  # what came before the cut was delivered


async def test_connection_dropped_mid_stream(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.load(QWEN)
    sim.state.tokens_per_second = 50
    sim.state.next_reply = Reply(text="word " * 500)
    deltas_seen = 0

    async def consume() -> None:
        nonlocal deltas_seen
        async for event in client.chat_stream(ChatRequest(model=QWEN, input="Hi")):
            if isinstance(event, MessageDeltaEvent):
                deltas_seen += 1
                if deltas_seen == 1:  # the server goes away in the middle of the answer
                    await asyncio.to_thread(sim.stop_api_server)

    with pytest.raises(StreamTruncated, match="connection closed"):
        await consume()
    assert deltas_seen < 500


async def test_reset_before_the_stream_is_unreachable(
    client: LmStudioClient, sim: Simulator
) -> None:
    sim.faults.add(Fault(kind="reset", path="/api/v1/chat"))
    with pytest.raises(ServerUnreachable):
        await collect(client, ChatRequest(model=QWEN, input="Hi"), [])


async def test_hang_times_out(http: httpx.AsyncClient, sim: Simulator) -> None:
    sim.faults.add(Fault(kind="hang", path="/api/v1/chat"))
    client = LmStudioClient(http, sim.base_url, timeouts=Timeouts(stream_idle=0.5))
    with pytest.raises(RequestTimeout):
        await collect(client, ChatRequest(model=QWEN, input="Hi"), [])


async def test_errors_before_the_stream(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.jit = False  # an unloaded model is refused instead of loaded
    with pytest.raises(ModelNotFound) as caught:
        await collect(client, ChatRequest(model=QWEN, input="Hi"), [])
    assert caught.value.code == "model_not_loaded"
    sim.state.set_auth(TOKEN)
    with pytest.raises(AuthRequired):
        await collect(client, ChatRequest(model=QWEN, input="Hi"), [])
    body = b'{"error":"Unexpected endpoint or method. (POST /api/v1/chat)"}'
    sim.faults.add(Fault(kind="status", status=200, body=body))
    with pytest.raises(EndpointNotSupported):
        await collect(client, ChatRequest(model=QWEN, input="Hi"), [])


async def test_oversize_event(http: httpx.AsyncClient, sim: Simulator) -> None:
    sim.state.load(QWEN)
    huge = {"type": "error", "error": {"type": "unknown", "message": "x" * 200_000}}
    sim.faults.add(Fault(kind="error_event", after_events=2, body=json.dumps(huge).encode()))
    client = LmStudioClient(http, sim.base_url, max_event_bytes=64 * 1024)
    events: list[ChatEvent] = []
    with pytest.raises(ResponseTooLarge) as caught:
        await collect(client, ChatRequest(model=QWEN, input="Hi"), events)
    assert caught.value.limit_bytes == 64 * 1024
    assert len(events) == 2


async def test_oversize_answer_instead_of_a_stream(client: LmStudioClient, sim: Simulator) -> None:
    sim.faults.add(Fault(kind="oversize", path="/api/v1/chat"))
    with pytest.raises(ResponseTooLarge):
        await collect(client, ChatRequest(model=QWEN, input="Hi"), [])


# --- cancellation closes the connection ------------------------------------------------------


async def wait_for_cancelled(sim: Simulator, count: int) -> bool:
    return await asyncio.to_thread(sim.state.wait_until, lambda s: s.cancelled_streams == count)


async def test_cancelling_the_task_closes_the_stream(
    client: LmStudioClient, sim: Simulator
) -> None:
    sim.state.load(QWEN)
    sim.state.tokens_per_second = 20
    sim.state.next_reply = Reply(text="word " * 1000)
    first_delta = asyncio.Event()
    events: list[ChatEvent] = []

    async def consume() -> None:
        async for event in client.chat_stream(ChatRequest(model=QWEN, input="Hi")):
            events.append(event)
            if isinstance(event, MessageDeltaEvent):
                first_delta.set()

    task = asyncio.create_task(consume())
    await first_delta.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_for_cancelled(sim, 1)
    assert not any(isinstance(e, ChatEndEvent) for e in events)


async def test_closing_the_generator_closes_the_stream(
    client: LmStudioClient, sim: Simulator
) -> None:
    sim.state.load(QWEN)
    sim.state.tokens_per_second = 20
    sim.state.next_reply = Reply(text="word " * 1000)
    async with aclosing(client.chat_stream(ChatRequest(model=QWEN, input="Hi"))) as stream:
        async for event in stream:
            if isinstance(event, MessageDeltaEvent):
                break
    assert await wait_for_cancelled(sim, 1)


async def test_closing_an_openai_stream_closes_it(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.load(QWEN)
    sim.state.tokens_per_second = 20
    sim.state.next_reply = Reply(text="word " * 1000)
    async with aclosing(client.chat_completion_stream(completion())) as stream:
        async for delta in stream:
            if delta.content:
                break
    assert await wait_for_cancelled(sim, 1)


# --- OpenAI-compatible /v1/chat/completions ------------------------------------------------


@pytest.mark.parametrize("encoding", ["reasoning", "reasoning_content", "think_tags"])
async def test_reasoning_encodings(client: LmStudioClient, sim: Simulator, encoding: str) -> None:
    sim.state.openai_reasoning_field = encoding  # type: ignore[assignment]
    sim.state.next_reply = Reply(text="It is four.", reasoning="Two plus two.")
    out = await deltas(client, completion())
    assert "".join(d.reasoning for d in out) == "Two plus two."
    assert "".join(d.content for d in out).strip() == "It is four."
    assert out[-1].finish_reason == "stop"
    assert all(d.usage is None for d in out)


async def test_include_usage(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.next_reply = Reply(text="It is four.")
    out = await deltas(client, completion(include_usage=True))
    usage = out[-1].usage
    assert usage is not None and usage.prompt_tokens and usage.completion_tokens
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert out[-2].finish_reason == "stop"


async def test_openai_truncated(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.load(QWEN)
    sim.faults.add(Fault(kind="truncate", path="/v1/chat/completions", after_events=2))
    with pytest.raises(StreamTruncated, match="cut off before it finished"):
        await deltas(client, completion())


async def test_openai_error_chunk_is_raised(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.load(QWEN)
    body = b'{"error":{"type":"internal_error","message":"Model crashed"}}'
    sim.faults.add(Fault(kind="error_event", path="/v1/chat/completions", body=body))
    with pytest.raises(ApiError, match="Model crashed") as caught:
        await deltas(client, completion())
    assert caught.value.error_type == "internal_error"


@pytest.mark.parametrize("base", ["ftp://127.0.0.1:1", "http://[::1", "http://127.0.0.1:99999"])
async def test_bad_address_in_a_stream(http: httpx.AsyncClient, base: str) -> None:
    client = LmStudioClient(http, base)
    with pytest.raises(ServerUnreachable, match=r"is not usable: .* Correct it in Settings"):
        await collect(client, ChatRequest(model=QWEN, input="Hi"), [])
