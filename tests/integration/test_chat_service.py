"""QuickChatService against the simulator: native streaming, the OpenAI fallback, follow-ups,
stop closing the connection, 401 and cut-off streams — each both ways the service runs: the
stream on the caller's loop (the command line) and on a `StreamWorker`'s thread (the tray)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tray.core.backends import BackendKind, capabilities_for
from tray.core.chat_options import ChatOptions
from tray.core.chat_view import (
    AnswerDelta,
    ChatUpdate,
    ErrorKind,
    Failed,
    Finished,
    Notice,
    Progress,
    ReasoningDelta,
    Stopped,
    ToolLine,
)
from tray.core.tokens import StaticToken
from tray.services import chat_service
from tray.services.lmstudio_client import LmStudioClient
from tray.services.stream_worker import StreamWorker
from tray.simulator import Fault, Simulator
from tray.simulator.state import Reply

QWEN = "qwen/qwen3-4b"
LMSTUDIO = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)
OPENAI = capabilities_for(BackendKind.OPENAI, lms_available=False)
# What an LM Studio older than 0.4 answers to /api/v1/chat (FORMATS §3.7).
OLD_LM_STUDIO = Fault(
    kind="status",
    path="/api/v1/chat",
    status=200,
    body=b'{"error":"Unexpected endpoint or method. (POST /api/v1/chat)"}',
)


WORKER: StreamWorker | None = None


def QuickChatService(*args: Any, **kwargs: Any) -> chat_service.QuickChatService:
    """The service, with the worker of this run of the test (or none)."""
    return chat_service.QuickChatService(*args, worker=WORKER, **kwargs)


@pytest.fixture(autouse=True, params=["on the loop", "on a worker"])
async def _where(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    global WORKER
    if request.param == "on the loop":
        yield
        return
    WORKER = StreamWorker(httpx.AsyncClient)
    try:
        yield
    finally:
        await WORKER.close()
        WORKER = None
        assert not [t for t in threading.enumerate() if t.name == "stream-worker"]


async def collect(
    service: chat_service.QuickChatService, question: str, **kw: object
) -> list[ChatUpdate]:
    return [u async for u in service.ask(question, kw.pop("model", QWEN), **kw)]  # type: ignore[arg-type]


def answer_of(updates: list[ChatUpdate]) -> str:
    return "".join(u.text for u in updates if isinstance(u, AnswerDelta))


async def test_native_stream_shows_reasoning_tools_answer_and_stats(
    sim: Simulator, client: LmStudioClient
) -> None:
    sim.state.next_reply = Reply(
        text="# Sum\n\nIt is **four**.",
        reasoning="Two plus two.",
        tool_calls=[{"tool": "calc", "arguments": {"x": "2+2"}, "output": "4"}],
    )
    service = QuickChatService(client, LMSTUDIO)
    updates = await collect(service, "2+2?")
    assert service.last_api == "native"
    assert "".join(u.text for u in updates if isinstance(u, ReasoningDelta)) == "Two plus two."
    assert [u.state for u in updates if isinstance(u, ToolLine)] == ["running", "ok"]
    assert any(isinstance(u, Progress) and u.label.startswith("Reading") for u in updates)
    assert answer_of(updates) == "# Sum\n\nIt is **four**."
    final = updates[-1]
    assert isinstance(final, Finished)
    assert final.stats.tokens and final.stats.tokens_per_second
    assert final.response_id and service.conversation.previous_response_id == final.response_id


async def test_a_follow_up_continues_with_previous_response_id(
    sim: Simulator, client: LmStudioClient
) -> None:
    service = QuickChatService(client, LMSTUDIO)
    await collect(service, "Hi")
    updates = await collect(service, "Again")
    # The simulator answers from the stored conversation: it knows this is turn 2.
    assert "turn 2" in answer_of(updates)
    service.new_chat()
    assert "turn 2" not in answer_of(await collect(service, "Fresh"))


async def test_an_older_lm_studio_falls_back_to_chat_completions_with_history(
    sim: Simulator, client: LmStudioClient
) -> None:
    sim.faults.add(OLD_LM_STUDIO)
    service = QuickChatService(client, LMSTUDIO)
    sim.state.next_reply = Reply(text="Fallback answer.", reasoning="Thinking in tags.")
    updates = await collect(service, "Hi", options=ChatOptions(system_prompt="Be brief."))
    assert service.last_api == "openai" and service.native_missing
    assert answer_of(updates) == "Fallback answer."
    assert "".join(u.text for u in updates if isinstance(u, ReasoningDelta)) == "Thinking in tags."
    final = updates[-1]
    assert isinstance(final, Finished) and final.stats.tokens
    await collect(service, "And then?")
    paths = [path for _, path, _ in sim.state.requests if "chat" in path]
    # One native attempt, learnt once; both questions through /v1/chat/completions.
    assert paths == ["/api/v1/chat", "/v1/chat/completions", "/v1/chat/completions"]


async def test_an_openai_compatible_profile_uses_chat_completions_only(
    sim: Simulator, client: LmStudioClient
) -> None:
    service = QuickChatService(lambda: client, lambda: OPENAI)
    updates = await collect(service, "Hi")
    assert isinstance(updates[-1], Finished)
    assert [p for _, p, _ in sim.state.requests if "chat" in p] == ["/v1/chat/completions"]


async def test_stop_closes_the_connection_and_the_simulator_sees_it(
    sim: Simulator, client: LmStudioClient
) -> None:
    sim.state.next_reply = Reply(text="word " * 20000)
    service = QuickChatService(client, LMSTUDIO)
    got: list[ChatUpdate] = []
    async for update in service.ask("Long", QWEN):
        got.append(update)
        if sum(isinstance(u, AnswerDelta) for u in got) == 50:
            service.stop()
    assert isinstance(got[-1], Stopped)
    assert await asyncio.to_thread(sim.state.wait_until, lambda s: s.cancelled_streams == 1)
    # The partial answer joins the history (the OpenAI API sends it on a follow-up).
    assert service.conversation.turns[-1].answer.startswith("word word")


async def test_stop_while_the_server_is_silent_ends_at_once(
    sim: Simulator, client: LmStudioClient
) -> None:
    sim.faults.add(Fault(kind="hang", path="/api/v1/chat"))
    service = QuickChatService(client, LMSTUDIO)
    got: list[ChatUpdate] = []

    async def consume() -> None:
        got.extend([u async for u in service.ask("Hi", QWEN)])

    task = asyncio.create_task(consume())
    await asyncio.to_thread(
        sim.state.wait_until, lambda s: any(p == "/api/v1/chat" for _, p, _ in s.requests)
    )
    service.stop()
    await task
    assert isinstance(got[-1], Stopped)


async def test_401_asks_for_the_token(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.state.set_auth("sk-lm-Abcdefgh:Ijklmnopqrstuvwxyz12")
    service = QuickChatService(LmStudioClient(http, sim.base_url), LMSTUDIO)
    final = (await collect(service, "Hi"))[-1]
    assert isinstance(final, Failed)
    assert final.error.kind is ErrorKind.AUTH and final.error.action == "enter_token"
    good = LmStudioClient(
        http, sim.base_url, token_provider=StaticToken("sk-lm-Abcdefgh:Ijklmnopqrstuvwxyz12")
    )
    assert isinstance((await collect(QuickChatService(good, LMSTUDIO), "Hi"))[-1], Finished)


async def test_a_cut_off_stream_keeps_what_arrived(sim: Simulator, client: LmStudioClient) -> None:
    sim.state.load(QWEN)
    sim.state.next_reply = Reply(text="one two three four five six seven eight")
    sim.faults.add(Fault(kind="truncate", path="/api/v1/chat", after_events=10))
    service = QuickChatService(client, LMSTUDIO)
    updates = await collect(service, "Count")
    final = updates[-1]
    assert isinstance(final, Failed) and final.truncated
    assert final.error.kind is ErrorKind.TRUNCATED
    assert answer_of(updates).startswith("one")


async def test_server_down_offers_to_start_it(http: httpx.AsyncClient) -> None:
    from cli_runner import free_port

    client = LmStudioClient(http, f"http://127.0.0.1:{free_port()}")
    final = (await collect(QuickChatService(client, LMSTUDIO), "Hi"))[-1]
    assert isinstance(final, Failed)
    assert final.error.kind is ErrorKind.SERVER_DOWN and final.error.action == "start_server"


async def test_a_model_that_cannot_load_says_so(sim: Simulator, client: LmStudioClient) -> None:
    sim.state.jit = False
    final = (await collect(QuickChatService(client, LMSTUDIO), "Hi", model="google/gemma-3-12b"))[
        -1
    ]
    assert isinstance(final, Failed)
    assert final.error.kind is ErrorKind.MODEL, final.error


# --- stop strings and seed (issue 21 item 7) -------------------------------------------


async def test_stop_strings_and_seed_go_through_the_openai_api_and_are_honoured(
    sim: Simulator, client: LmStudioClient
) -> None:
    sim.state.next_reply = Reply(text="First part.\n###\nSecond part that must not show.")
    service = QuickChatService(client, LMSTUDIO)
    options = ChatOptions(source="Strict", stop=("###",), seed=42)
    updates = await collect(service, "Hi", options=options)
    assert service.last_api == "openai"
    assert isinstance(updates[-1], Finished)
    assert answer_of(updates) == "First part.\n"  # cut at the stop string
    assert not any(isinstance(u, Notice) for u in updates)  # everything was applied
    [(path, body)] = sim.state.chat_bodies
    assert path == "/v1/chat/completions"
    assert (body["stop"], body["seed"]) == (["###"], 42)


async def test_what_the_openai_api_cannot_carry_is_said_before_the_answer(
    sim: Simulator, client: LmStudioClient
) -> None:
    service = QuickChatService(client, LMSTUDIO)
    options = ChatOptions(source="Coding", stop=("<|im_end|>",), min_p=0.05, reasoning="on")
    updates = await collect(service, "Hi", options=options)
    notice = updates[0]
    assert isinstance(notice, Notice)
    assert "min-p" in notice.text and "thinking" in notice.text and "Coding" in notice.text
    assert "not applied" in notice.text
    assert isinstance(updates[-1], Finished) and service.last_api == "openai"


async def test_without_stop_or_seed_the_native_api_answers_and_a_follow_up_keeps_the_history(
    sim: Simulator, client: LmStudioClient
) -> None:
    service = QuickChatService(client, LMSTUDIO)
    await collect(service, "One", options=ChatOptions(stop=("###",)))
    assert service.last_api == "openai"
    # LM Studio did not store that turn: the native API would answer without it, so the
    # conversation stays on the OpenAI API, and says what that leaves out.
    updates = await collect(service, "Two", options=ChatOptions(min_p=0.1))
    assert service.last_api == "openai"
    assert isinstance(updates[0], Notice) and "min-p" in updates[0].text
    assert [m["content"] for m in sim.state.chat_bodies[-1][1]["messages"]][:1] == ["One"]
    service.new_chat()
    updates = await collect(service, "Three", options=ChatOptions(min_p=0.1))
    assert service.last_api == "native"
    assert not any(isinstance(u, Notice) for u in updates)
    assert "stop" not in sim.state.chat_bodies[-1][1]


async def test_a_server_without_native_chat_says_what_is_not_applied(
    sim: Simulator, client: LmStudioClient
) -> None:
    sim.faults.add(OLD_LM_STUDIO)
    service = QuickChatService(client, LMSTUDIO)
    updates = await collect(service, "Hi", options=ChatOptions(reasoning="off"))
    assert service.last_api == "openai"
    notices = [u for u in updates if isinstance(u, Notice)]
    assert len(notices) == 1 and "thinking" in notices[0].text
    assert isinstance(updates[-1], Finished)
