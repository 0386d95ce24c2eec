"""Benchmark 6: SSE parsing throughput.

* OpenAI-compatible: our `LmStudioClient.chat_completion_stream` against the official
  `openai` Python client (`AsyncOpenAI(...).chat.completions.create(stream=True)`) on the
  same recorded `/v1/chat/completions` stream. Budget (DESIGN §5): at least the `openai`
  client's throughput.
* Native: our `LmStudioClient.chat_stream` (typed `/api/v1/chat` events) on a long
  recorded stream, against a floor that only splits SSE and runs `json.loads` (httpx-sse,
  no validation): what the typing costs.

The streams are recorded once from the simulator (its frames are LM Studio's, FORMATS
§3.9) and replayed from memory through each HTTP library's `MockTransport`, one chunk
per SSE event as the server writes them — the same bytes and the same framing for both
clients, and no socket or server process competing for the 2 cores. The `openai`
client is built on `httpx2` (a fork of httpx), so it gets `httpx2.MockTransport`; ours
gets `httpx.MockTransport`. Each side consumes every delta's content, as the popup does.
Runs alternate ours/theirs so drift in the machine's load hits both.

    python tests/benchmarks/run.py -k sse [--runs 7]

`openai` is not a project dependency: `pip install openai` (the `bench` extra).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
from httpx_sse import EventSource
from run import Options, Result  # tests/benchmarks/run.py

from tray.core.api import ChatCompletionRequest, ChatMessage, ChatRequest
from tray.services.lmstudio_client import LmStudioClient
from tray.simulator import Simulator
from tray.simulator.state import Reply

MODEL = "qwen/qwen3-4b"
BASE = "http://bench.invalid"


def answer_text(tokens: int) -> str:
    """Word tokens in paragraphs, with some Markdown and non-ASCII, like a real answer."""
    words = []
    for i in range(tokens):
        words.append(f"wörd{i}" if i % 7 else f"**b{i}**")
        words.append("\n\n" if i % 60 == 59 else " ")
    return "".join(words).strip()


def record(tokens: int) -> tuple[bytes, bytes]:
    """(OpenAI-compatible stream, native stream) recorded from the simulator."""
    text = answer_text(tokens)
    with (
        tempfile.TemporaryDirectory() as home,
        Simulator(Path(home) / ".lmstudio", tokens_per_second=1e7) as sim,
    ):
        sim.state.load(MODEL)
        with httpx.Client(timeout=120) as http:
            sim.state.next_reply = Reply(text=text)
            openai_body = {
                "model": MODEL,
                "messages": [{"role": "user", "content": "Count"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            with http.stream(
                "POST", sim.base_url + "/v1/chat/completions", json=openai_body
            ) as response:
                openai_stream = response.read()
            sim.state.next_reply = Reply(text=text, reasoning="Counting. " * (tokens // 20))
            native_body = {"model": MODEL, "input": "Count", "stream": True}
            with http.stream("POST", sim.base_url + "/api/v1/chat", json=native_body) as response:
                native_stream = response.read()
    return openai_stream, native_stream


def events_of(stream: bytes) -> list[bytes]:
    """The stream cut after each event's blank line: the server's writes."""
    pieces = stream.split(b"\n\n")
    return [piece + b"\n\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


async def _chunks(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _httpx_client(chunks: list[bytes]) -> httpx.AsyncClient:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=_chunks(chunks)
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def ours_openai(chunks: list[bytes]) -> int:
    async with _httpx_client(chunks) as http:
        client = LmStudioClient(http, BASE)
        request = ChatCompletionRequest(
            model=MODEL, messages=[ChatMessage(role="user", content="Count")]
        )
        size = 0
        async for delta in client.chat_completion_stream(request):
            size += len(delta.content)
        return size


async def theirs_openai(chunks: list[bytes]) -> int:
    import httpx2
    from openai import AsyncOpenAI

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=_chunks(chunks)
        )

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        client = AsyncOpenAI(
            base_url=BASE + "/v1", api_key="lm-studio", http_client=http, max_retries=0
        )
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Count"}], stream=True
        )
        size = 0
        async for chunk in stream:
            if chunk.choices:
                size += len(chunk.choices[0].delta.content or "")
        return size


async def ours_native(chunks: list[bytes]) -> int:
    async with _httpx_client(chunks) as http:
        client = LmStudioClient(http, BASE)
        count = 0
        async for _event in client.chat_stream(ChatRequest(model=MODEL, input="Count")):
            count += 1
        return count


async def floor_native(chunks: list[bytes]) -> int:
    """Split SSE and decode JSON, nothing else: the least any client can do."""
    async with _httpx_client(chunks) as http:
        count = 0
        async with http.stream("POST", BASE + "/api/v1/chat", content=b"{}") as response:
            async for sse in EventSource(response).aiter_sse():
                json.loads(sse.data)
                count += 1
        return count


Consumer = Callable[[list[bytes]], Awaitable[int]]


async def timed(consume: Consumer, chunks: list[bytes]) -> tuple[float, int]:
    began = time.perf_counter()
    amount = await consume(chunks)
    return time.perf_counter() - began, amount


async def compare(
    ours: Consumer, theirs: Consumer, chunks: list[bytes], runs: int
) -> tuple[list[float], list[float], int, int]:
    """Seconds per run for each side, alternating; one warm-up each first."""
    _, ours_amount = await timed(ours, chunks)
    _, theirs_amount = await timed(theirs, chunks)
    ours_times: list[float] = []
    theirs_times: list[float] = []
    for _ in range(runs):
        ours_times.append((await timed(ours, chunks))[0])
        theirs_times.append((await timed(theirs, chunks))[0])
    return ours_times, theirs_times, ours_amount, theirs_amount


TOKENS = 20000


def sse(opts: Options) -> list[Result]:
    runs = max(3, opts.runs)
    openai_stream, native_stream = record(TOKENS)
    openai_chunks, native_chunks = events_of(openai_stream), events_of(native_stream)
    ours_t, theirs_t, ours_size, theirs_size = asyncio.run(
        compare(ours_openai, theirs_openai, openai_chunks, runs)
    )
    same = "the same content" if ours_size == theirs_size else "DIFFERENT content"
    rate = len(openai_chunks) / 1000
    openai_result = Result(
        name="6a SSE parse /v1/chat/completions: ours vs openai client",
        unit="ms per stream",
        runs=[t * 1000 for t in ours_t],
        baseline_runs=[t * 1000 for t in theirs_t],
        budget="≤ 1× the openai client's time",
        budget_ratio=1.0,
        notes=(
            f"{len(openai_chunks):,} events, {len(openai_stream) / 1e6:.2f} MB, {TOKENS:,} "
            f"tokens; median {rate / statistics.median(ours_t):.1f}k events/s ours, "
            f"{rate / statistics.median(theirs_t):.1f}k openai {_openai_version()}; both saw "
            f"{same} ({ours_size:,} / {theirs_size:,} chars)"
        ),
    )
    nat_t, floor_t, nat_count, floor_count = asyncio.run(
        compare(ours_native, floor_native, native_chunks, runs)
    )
    rate = len(native_chunks) / 1000
    native_result = Result(
        name="6b SSE parse /api/v1/chat typed events vs split+json.loads floor",
        unit="ms per stream",
        runs=[t * 1000 for t in nat_t],
        baseline_runs=[t * 1000 for t in floor_t],
        budget="none (the floor: what typing costs)",
        notes=(
            f"{len(native_chunks):,} events ({nat_count:,} / {floor_count:,} seen), "
            f"{len(native_stream) / 1e6:.2f} MB; median {rate / statistics.median(nat_t):.1f}k "
            f"events/s typed, {rate / statistics.median(floor_t):.1f}k floor"
        ),
    )
    return [openai_result, native_result]


def _openai_version() -> str:
    import openai

    return str(openai.__version__)


BENCHMARKS = [sse]
