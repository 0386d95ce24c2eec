"""Hostile and broken servers against the real client, status monitor and quick-chat
service: a server that accepts and never answers, trickles one byte a second, streams
forever, sends 100 MB, resets mid-stream, answers HTML, or flaps up and down 200 times.

Each case shows that the typed error arrives (timeouts and size caps hold), that the next
probe after the fault clears sees the server again (the tray recovers within one polling
interval), and that no asyncio task, file descriptor, thread or child process outlives
the case (counted before the simulator starts and after it stops). Figures are printed
(`-s` shows them) and collected in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from resources import settle, snapshot  # tests/reliability/resources.py
from tray.core.api import ChatCompletionRequest, ChatRequest
from tray.core.backends import BackendKind, capabilities_for
from tray.core.chat_view import AnswerDelta, ChatUpdate, Failed, Stopped
from tray.core.errors import (
    LmStudioError,
    MalformedJson,
    RequestTimeout,
    ResponseTooLarge,
    ServerUnreachable,
    StreamTruncated,
)
from tray.core.status import PollPolicy, ServerState
from tray.services.chat_service import QuickChatService
from tray.services.lmstudio_client import LmStudioClient, Timeouts
from tray.services.status_monitor import StatusMonitor
from tray.simulator import Fault, Simulator

QWEN = "qwen/qwen3-4b"
LMSTUDIO = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)
OPENAI = capabilities_for(BackendKind.OPENAI, lms_available=False)
# Short deadlines so the suite is quick; the logic is the same at the real 5 s / 120 s.
FAST = Timeouts(probe=2.0, call=3.0, stream_idle=2.0)
MB = 1024 * 1024


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Simulator, httpx.AsyncClient]]:
    """A simulator and an HTTP client, with a leak check around both: whatever the case
    did, once both are closed the process holds what it held before."""
    before = snapshot()
    tasks_before = asyncio.all_tasks()
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=5000) as sim:
        async with httpx.AsyncClient() as http:
            yield sim, http
        # Tasks: everything the case started has finished (the fixture's own task aside).
        # A stream stopped early leaves httpx's inner async generators to the loop's
        # finaliser (httpx does not close them in turn); those tasks run at the next turns
        # of the loop, so give it a few before counting.
        for _ in range(20):
            extra = asyncio.all_tasks() - tasks_before - {asyncio.current_task()}
            if not extra:
                break
            await asyncio.sleep(0)
        assert not extra, f"tasks left running: {extra}"
    leaked = await asyncio.to_thread(settle, before)
    assert not leaked, f"leaked after the simulator stopped: {leaked}"


def client_of(world: tuple[Simulator, httpx.AsyncClient], **kw: int) -> LmStudioClient:
    sim, http = world
    return LmStudioClient(http, sim.base_url, timeouts=FAST, **kw)  # type: ignore[arg-type]


async def timed(what: str, call: Callable[[], object]) -> tuple[BaseException, float]:
    """Run `call()` (a coroutine factory), expecting it to raise; the error and seconds."""
    began = time.monotonic()
    try:
        await call()  # type: ignore[misc]
    except LmStudioError as exc:
        seconds = time.monotonic() - began
        print(f"\n[hostile] {what}: {type(exc).__name__} after {seconds:.2f} s")
        return exc, seconds
    raise AssertionError(f"{what}: no error")


# --- one-shot calls: the probe that polling makes ----------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(kind="hang", path="/api/v1/models"), RequestTimeout),
        (Fault(kind="trickle", path="/api/v1/models", interval=1.0), RequestTimeout),
        (Fault(kind="oversize", path="/api/v1/models", size=100 * MB), ResponseTooLarge),
        (Fault(kind="reset", path="/api/v1/models"), ServerUnreachable),
        (Fault(kind="html", path="/api/v1/models"), MalformedJson),
        (Fault(kind="html", path="/api/v1/models", status=502), LmStudioError),
    ],
    ids=["never-answers", "one-byte-a-second", "100MB-body", "reset", "html-200", "html-502"],
)
async def test_a_probe_ends_in_a_typed_error_and_the_next_one_recovers(
    world: tuple[Simulator, httpx.AsyncClient], fault: Fault, expected: type[Exception]
) -> None:
    sim, _ = world
    client = client_of(world)
    monitor = StatusMonitor(client, url=sim.base_url)
    assert (await monitor.probe()).state is ServerState.RUNNING
    sim.faults.add(fault)
    error, _ = await timed(fault.kind, client.list_models)
    assert isinstance(error, expected)
    # The status monitor turns the same fault into a state, not a crash.
    down = await monitor.probe()
    assert down.state is not ServerState.RUNNING and down.error
    sim.faults.clear()
    # Recovery: the very next probe after the fault is gone sees the server again.
    assert (await monitor.probe()).state is ServerState.RUNNING


async def test_a_100_mb_answer_to_a_call_stops_at_the_cap(
    world: tuple[Simulator, httpx.AsyncClient],
) -> None:
    sim, _ = world
    client = client_of(world)
    sim.faults.add(Fault(kind="oversize", path="/api/v1/chat", size=100 * MB))
    error, _ = await timed(
        "100 MB chat answer", lambda: client.chat(ChatRequest(model=QWEN, input="Hi"))
    )
    assert isinstance(error, ResponseTooLarge)
    assert error.limit_bytes == 8 * MB


# --- streams -------------------------------------------------------------------------------


async def test_an_endless_native_stream_stops_at_the_stream_cap(
    world: tuple[Simulator, httpx.AsyncClient],
) -> None:
    sim, _ = world
    client = client_of(world, max_stream_bytes=4 * MB)
    sim.faults.add(Fault(kind="endless", path="/api/v1/chat"))
    events = 0

    async def drain() -> None:
        nonlocal events
        async for _ in client.chat_stream(ChatRequest(model=QWEN, input="Hi")):
            events += 1

    error, _ = await timed("endless native stream", drain)
    assert isinstance(error, ResponseTooLarge) and error.limit_bytes == 4 * MB
    print(f"[hostile] endless native stream: {events} events before the 4 MB cap")
    assert await asyncio.to_thread(sim.state.wait_until, lambda s: s.cancelled_streams == 1)


async def test_an_endless_openai_stream_stops_at_the_stream_cap(
    world: tuple[Simulator, httpx.AsyncClient],
) -> None:
    sim, _ = world
    client = client_of(world, max_stream_bytes=2 * MB)
    sim.faults.add(Fault(kind="endless", path="/v1/chat/completions"))
    request = ChatCompletionRequest(model=QWEN, messages=[{"role": "user", "content": "Hi"}])

    async def drain() -> None:
        async for _ in client.chat_completion_stream(request):
            pass

    error, _ = await timed("endless OpenAI stream", drain)
    assert isinstance(error, ResponseTooLarge)


@pytest.mark.parametrize("path", ["/api/v1/chat", "/v1/chat/completions"])
async def test_a_reset_mid_stream_is_a_truncated_stream(
    world: tuple[Simulator, httpx.AsyncClient], path: str
) -> None:
    sim, _ = world
    client = client_of(world)
    sim.faults.add(Fault(kind="reset_stream", path=path, after_events=4))
    got = 0

    async def drain() -> None:
        nonlocal got
        if path == "/api/v1/chat":
            stream = client.chat_stream(ChatRequest(model=QWEN, input="Hi"))
        else:
            request = ChatCompletionRequest(
                model=QWEN, messages=[{"role": "user", "content": "Hi"}]
            )
            stream = client.chat_completion_stream(request)  # type: ignore[assignment]
        async for _ in stream:
            got += 1

    error, _ = await timed(f"reset mid-stream {path}", drain)
    assert isinstance(error, StreamTruncated)
    assert got >= 1  # what arrived before the reset was delivered


async def test_a_stream_that_trickles_one_byte_a_second_times_out(
    world: tuple[Simulator, httpx.AsyncClient],
) -> None:
    sim, _ = world
    client = client_of(world)
    sim.faults.add(Fault(kind="trickle", path="/api/v1/chat", interval=1.0))

    async def drain() -> None:
        async for _ in client.chat_stream(ChatRequest(model=QWEN, input="Hi")):
            pass

    error, _ = await timed("stream at one byte a second", drain)
    assert isinstance(error, RequestTimeout)


# --- the quick-chat service -----------------------------------------------------------------


async def test_quick_chat_stops_an_endless_answer_and_the_connection_closes(
    world: tuple[Simulator, httpx.AsyncClient],
) -> None:
    sim, _ = world
    service = QuickChatService(client_of(world), LMSTUDIO)
    sim.faults.add(Fault(kind="endless", path="/api/v1/chat"))
    got: list[ChatUpdate] = []
    async for update in service.ask("Hi", QWEN):
        got.append(update)
        if sum(isinstance(u, AnswerDelta) for u in got) == 200:
            service.stop()
    assert isinstance(got[-1], Stopped)
    assert not service.busy
    assert await asyncio.to_thread(sim.state.wait_until, lambda s: s.cancelled_streams == 1)


async def test_quick_chat_ends_a_runaway_answer_with_a_message(
    world: tuple[Simulator, httpx.AsyncClient],
) -> None:
    sim, _ = world
    service = QuickChatService(client_of(world, max_stream_bytes=1 * MB), OPENAI)
    sim.faults.add(Fault(kind="endless", path="/v1/chat/completions"))
    got = [u async for u in service.ask("Hi", QWEN)]
    assert isinstance(got[-1], Failed)
    assert "without finishing" in got[-1].error.message


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="reset_stream", path="/api/v1/chat", after_events=5),
        Fault(kind="html", path="/api/v1/chat", status=502),
        Fault(kind="oversize", path="/api/v1/chat", size=100 * MB),
        Fault(kind="hang", path="/api/v1/chat"),
    ],
    ids=["reset-mid-stream", "html-502", "100MB-body", "never-answers"],
)
async def test_quick_chat_fails_cleanly_and_the_next_question_works(
    world: tuple[Simulator, httpx.AsyncClient], fault: Fault
) -> None:
    sim, _ = world
    service = QuickChatService(client_of(world), LMSTUDIO)
    sim.faults.add(fault)
    got = [u async for u in service.ask("Hi", QWEN)]
    assert isinstance(got[-1], Failed), got[-1]
    print(f"\n[hostile] quick chat, {fault.kind}: {got[-1].error.title}: {got[-1].error.message}")
    sim.faults.clear()
    again = [u async for u in service.ask("Hi again", QWEN)]
    assert type(again[-1]).__name__ == "Finished"


# --- flapping -------------------------------------------------------------------------------


async def test_a_server_flapping_200_times_is_seen_at_every_next_probe(
    world: tuple[Simulator, httpx.AsyncClient],
) -> None:
    sim, _ = world
    monitor = StatusMonitor(client_of(world), url=sim.base_url)
    policy = PollPolicy()
    port = sim.api_port
    states: list[ServerState] = []
    began = time.monotonic()
    for _ in range(200):
        sim.stop_api_server()
        states.append((await monitor.probe()).state)
        sim.start_api_server(port=port)
        states.append((await monitor.probe()).state)
    seconds = time.monotonic() - began
    assert states == [ServerState.STOPPED, ServerState.RUNNING] * 200
    print(f"\n[hostile] 200 flaps, 400 probes in {seconds:.1f} s: every probe right")
    # However many times it went down, a stopped local server is rechecked at the idle
    # pace at most: starting it again shows up within one idle interval.
    for failures in (1, 10, 200):
        delay = policy.next_delay(ServerState.STOPPED, interactive=False, failures=failures)
        assert delay <= policy.idle


async def test_the_polling_loop_recovers_at_the_first_probe_after_each_flap(
    world: tuple[Simulator, httpx.AsyncClient],
) -> None:
    sim, _ = world
    seen: list[ServerState] = []
    changed = asyncio.Event()

    def on_update(status: object) -> None:
        seen.append(status.state)  # type: ignore[attr-defined]
        changed.set()

    # The real loop with a quick pace (the policy's numbers, not its logic, are scaled).
    policy = PollPolicy(interactive=0.05, idle=0.1, down_initial=0.1, down_max=0.4)
    monitor = StatusMonitor(client_of(world), url=sim.base_url, policy=policy, on_update=on_update)
    port = sim.api_port

    async def until(state: ServerState) -> None:
        async with asyncio.timeout(30):
            while monitor.status.state is not state:
                changed.clear()
                await changed.wait()

    monitor.start()
    try:
        await until(ServerState.RUNNING)
        probes_to_recover: list[int] = []
        for _ in range(20):
            sim.stop_api_server()
            await until(ServerState.STOPPED)
            sim.start_api_server(port=port)
            at = monitor.probes
            await until(ServerState.RUNNING)
            probes_to_recover.append(monitor.probes - at)
    finally:
        await monitor.stop()
    # 1: the first probe after the restart saw it; 2: one probe was already under way
    # when the server came back and the next one saw it.
    print(f"\n[hostile] loop recovery, probes per flap: {probes_to_recover}")
    assert max(probes_to_recover) <= 2
