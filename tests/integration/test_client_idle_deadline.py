"""The idle deadline of a stream (`Timeouts.stream_idle`), which one timer per stream
keeps instead of one per event: silence mid-stream times out, a slow consumer never
does, events that keep coming just inside the deadline never do (the timer re-arms for
the wait in progress), and a cancel from outside (Stop) stays a cancel.

The server is an `httpx.MockTransport` whose stream sleeps between events as told."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tray.core.api import ChatRequest
from tray.core.chat_events import ChatEndEvent, ChatEvent
from tray.core.errors import RequestTimeout
from tray.services.lmstudio_client import LmStudioClient, Timeouts

BASE = "http://idle.invalid"
REQUEST = ChatRequest(model="qwen/qwen3-4b", input="Hi")


def frame(kind: str, **data: object) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


END = frame(
    "chat.end",
    result={
        "model_instance_id": "qwen/qwen3-4b",
        "output": [{"type": "message", "content": "ab"}],
        "stats": {"input_tokens": 1, "total_output_tokens": 2},
        "response_id": "resp_1",
    },
)


def client_for(gaps: list[float], *, idle: float, then_silent: bool = False) -> LmStudioClient:
    """A stream of `len(gaps)` message deltas, sleeping `gaps[i]` before each; then
    `chat.end`, or silence when `then_silent`."""

    async def body() -> AsyncIterator[bytes]:
        yield frame("chat.start", model_instance_id="qwen/qwen3-4b")
        for gap in gaps:
            await asyncio.sleep(gap)
            yield frame("message.delta", content="a")
        if then_silent:
            await asyncio.sleep(3600)
        yield END

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return LmStudioClient(http, BASE, timeouts=Timeouts(stream_idle=idle))


async def collect(client: LmStudioClient, into: list[ChatEvent]) -> None:
    async for event in client.chat_stream(REQUEST):
        into.append(event)


async def test_silence_mid_stream_times_out_after_the_events_that_came() -> None:
    client = client_for([0, 0], idle=0.3, then_silent=True)
    events: list[ChatEvent] = []
    with pytest.raises(RequestTimeout):
        await collect(client, events)
    assert len(events) == 3  # chat.start and both deltas


async def test_a_slow_consumer_is_not_the_servers_silence() -> None:
    client = client_for([0, 0, 0], idle=0.2)
    events: list[ChatEvent] = []
    async for event in client.chat_stream(REQUEST):
        events.append(event)
        await asyncio.sleep(0.35)  # longer than the deadline, between events
    assert isinstance(events[-1], ChatEndEvent) and len(events) == 5


async def test_events_just_inside_the_deadline_keep_the_stream_alive() -> None:
    # Each gap is under the deadline, but the timer armed at the first wait fires during
    # a later one: it must re-arm for that wait, not time it out.
    client = client_for([0.2] * 8, idle=0.3)
    events = [event async for event in client.chat_stream(REQUEST)]
    assert isinstance(events[-1], ChatEndEvent) and len(events) == 10


async def test_a_cancel_from_outside_stays_a_cancel() -> None:
    client = client_for([0], idle=0.3, then_silent=True)
    started = asyncio.Event()

    async def consume() -> None:
        async for _event in client.chat_stream(REQUEST):
            started.set()

    task = asyncio.ensure_future(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
