"""The quick chat's conversation with the server: one question at a time, streamed as
typed view updates (`tray.core.chat_view`), for the popup and `lmstudio-tray chat`.

LM Studio's native `/api/v1/chat` comes first (load and prompt progress, reasoning, tool
calls, stats; follow-ups by `previous_response_id`). An OpenAI-compatible profile, or an
LM Studio that does not know the endpoint (older than 0.4: a 404 or the "Unexpected
endpoint" body), is asked through `/v1/chat/completions` with the message history; the
fallback is remembered for the service's life, so it costs one extra request once. A
preset with stop strings or a seed goes to `/v1/chat/completions` too, since the native
API has neither (`tray.core.chat_route`); what the chosen API cannot carry is said in a
`Notice` before the answer.

The HTTP stream runs in its own task feeding a queue, so `stop()` cancels it at once even
while the server is silent (loading a model): the client then closes the connection and
LM Studio stops generating. Given a `StreamWorker` (the tray does), that task runs on the
worker's thread and loop — reading, SSE framing, parsing and the view's bookkeeping off the
Qt thread — and the updates come back in one batch per frame (issue 20); the command line
reads on its own loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Protocol

from tray.core.backends import Capabilities
from tray.core.chat_options import ChatOptions
from tray.core.chat_route import choose_route
from tray.core.chat_view import ChatUpdate, ChatView, Failed, Finished, Notice, Stopped
from tray.core.conversation import Conversation
from tray.core.errors import EndpointNotSupported, TrayError
from tray.services.lmstudio_client import LmStudioClient

if TYPE_CHECKING:
    from tray.services.stream_worker import Job, StreamWorker

__all__ = ["QuickChatService", "is_final"]

log = logging.getLogger(__name__)

_END = object()  # the stream task's last queue item

Put = Callable[[list[ChatUpdate]], None]


class _Running(Protocol):
    """A stream in progress: an asyncio task here (`_Task`), or a worker's `Job`."""

    def done(self) -> bool: ...
    def cancel(self) -> object: ...
    async def wait(self) -> None: ...


class _Task:
    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    def done(self) -> bool:
        return self._task.done()

    def cancel(self) -> object:
        return self._task.cancel()

    async def wait(self) -> None:
        await self._task


class QuickChatService:
    """Asks one question at a time and keeps the conversation until `new_chat()`.

    `client` and `capabilities` may be callables, read at each question, so a switch of
    server profile takes effect on the next question.
    """

    def __init__(
        self,
        client: LmStudioClient | Callable[[], LmStudioClient],
        capabilities: Capabilities | Callable[[], Capabilities],
        *,
        clock: Callable[[], float] = time.monotonic,
        worker: StreamWorker | None = None,
    ) -> None:
        self._client = client
        self._worker = worker
        self._caps = capabilities
        self._clock = clock
        self.conversation = Conversation()
        self.native_missing = False  # learnt: this server has no /api/v1/chat
        self.last_api: str | None = None  # "native" or "openai", for tests and the CLI
        self._task: _Running | None = None
        self._stop_requested = False

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def new_chat(self) -> None:
        """Forget the conversation (stops an answer in progress)."""
        self.stop()
        self.conversation.clear()

    def stop(self) -> None:
        """Stop the answer in progress at once; the connection closes."""
        if self.busy:
            assert self._task is not None
            self._stop_requested = True
            self._task.cancel()

    async def ask(
        self, question: str, model: str, options: ChatOptions | None = None
    ) -> AsyncGenerator[ChatUpdate, None]:
        """The updates of one answer, ending with `Finished`, `Failed` or `Stopped`."""
        if self.busy:
            self.stop()
        client = self._client() if callable(self._client) else self._client
        caps = self._caps() if callable(self._caps) else self._caps
        view = ChatView(started_at=self._clock())
        self._stop_requested = False
        route = choose_route(
            options,
            native_available=caps.native_chat and not self.native_missing,
            history_on_server=self.conversation.history_on_server,
        )
        if route.notice:
            yield Notice(text=route.notice)
        native = route.api == "native"
        source: AsyncIterator[list[ChatUpdate]]
        if self._worker is not None:
            job = self._on_worker(self._worker, client, question, model, options, native, view)
            self._task = job
            source = job.batches()
        else:
            queue: asyncio.Queue[object] = asyncio.Queue()
            self._task = _Task(
                asyncio.create_task(
                    self._pump(
                        client, question, model, options, native, view, queue.put_nowait, queue
                    )
                )
            )
            source = _drain(queue)
        task = self._task
        try:
            async for batch in source:
                for update in batch:
                    yield update
            if self._stop_requested and not view.done:
                for update in view.stop():
                    yield update
            self._record(question, view)
        finally:
            if not task.done():
                task.cancel()
            await _ended(task)

    def _on_worker(
        self,
        worker: StreamWorker,
        client: LmStudioClient,
        question: str,
        model: str,
        options: ChatOptions | None,
        native: bool,
        view: ChatView,
    ) -> Job[ChatUpdate]:
        """Start the stream on the worker, through the worker's HTTP client; the token is
        still asked on this loop (the vault's provider belongs to it)."""
        from tray.services.stream_worker import OnLoopToken

        provider = client.token_provider
        token = OnLoopToken(provider, asyncio.get_running_loop()) if provider else None

        async def body(job: Job[ChatUpdate]) -> None:
            there = client.with_http(worker.http, token)
            await self._pump(there, question, model, options, native, view, job.deliver)

        return worker.start(body)

    def _record(self, question: str, view: ChatView) -> None:
        if view.answer or view.response_id:
            native = self.last_api == "native"
            self.conversation.record(question, view.answer, view.response_id, native=native)

    async def _pump(
        self,
        client: LmStudioClient,
        question: str,
        model: str,
        options: ChatOptions | None,
        native: bool,
        view: ChatView,
        put: Put,
        queue: asyncio.Queue[object] | None = None,
    ) -> None:
        """The stream, on whichever loop runs it: updates go to `put`; `queue` (when the
        stream runs on the caller's loop) gets `_END` last."""
        try:
            if native:
                try:
                    await self._native(client, question, model, options, view, put)
                    return
                except EndpointNotSupported:
                    if view.answer or view.reasoning:
                        raise
                    log.info("no native chat at %s; using /v1/chat/completions", client.base_url)
                    self.native_missing = True
                    fallback = choose_route(options, native_available=False)
                    if fallback.notice:
                        put([Notice(text=fallback.notice)])
            await self._openai(client, question, model, options, view, put)
        except TrayError as exc:
            put(view.fail(exc))
        except asyncio.CancelledError:
            log.debug("chat stopped")
        finally:
            if queue is not None:
                queue.put_nowait(_END)

    async def _native(
        self,
        client: LmStudioClient,
        question: str,
        model: str,
        options: ChatOptions | None,
        view: ChatView,
        put: Put,
    ) -> None:
        self.last_api = "native"
        request = self.conversation.native_request(question, model, options)
        async with aclosing(client.chat_stream(request)) as events:
            async for event in events:
                updates = view.apply_event(event, at=self._clock())
                if updates:
                    put(updates)

    async def _openai(
        self,
        client: LmStudioClient,
        question: str,
        model: str,
        options: ChatOptions | None,
        view: ChatView,
        put: Put,
    ) -> None:
        self.last_api = "openai"
        request = self.conversation.openai_request(question, model, options)
        async with aclosing(client.chat_completion_stream(request)) as deltas:
            async for delta in deltas:
                updates = view.apply_delta(delta, at=self._clock())
                if updates:
                    put(updates)
        put(view.end_openai(at=self._clock()))


async def _drain(queue: asyncio.Queue[object]) -> AsyncIterator[list[ChatUpdate]]:
    while (item := await queue.get()) is not _END:
        assert isinstance(item, list)
        yield item


async def _ended(task: _Running) -> None:
    """Wait for a cancelled or finished stream to end (a bug in it is logged, not lost)."""
    (error,) = await asyncio.gather(task.wait(), return_exceptions=True)
    if isinstance(error, Exception):
        log.error("the chat stream failed", exc_info=error)


def is_final(update: ChatUpdate) -> bool:
    """The last update of an answer."""
    return isinstance(update, Finished | Failed | Stopped)
