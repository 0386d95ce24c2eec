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
LM Studio stops generating.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from tray.core.backends import Capabilities
from tray.core.chat_options import ChatOptions
from tray.core.chat_route import choose_route
from tray.core.chat_view import ChatUpdate, ChatView, Failed, Finished, Notice, Stopped
from tray.core.conversation import Conversation
from tray.core.errors import EndpointNotSupported, TrayError
from tray.services.lmstudio_client import LmStudioClient

__all__ = ["QuickChatService", "is_final"]

log = logging.getLogger(__name__)

_END = object()  # the stream task's last queue item


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
    ) -> None:
        self._client = client
        self._caps = capabilities
        self._clock = clock
        self.conversation = Conversation()
        self.native_missing = False  # learnt: this server has no /api/v1/chat
        self.last_api: str | None = None  # "native" or "openai", for tests and the CLI
        self._task: asyncio.Task[None] | None = None
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
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._stop_requested = False
        route = choose_route(
            options,
            native_available=caps.native_chat and not self.native_missing,
            history_on_server=self.conversation.history_on_server,
        )
        if route.notice:
            yield Notice(text=route.notice)
        self._task = asyncio.create_task(
            self._pump(client, question, model, options, route.api == "native", view, queue)
        )
        task = self._task
        try:
            while True:
                try:
                    item = await queue.get()
                except asyncio.CancelledError:
                    task.cancel()
                    raise
                if item is _END:
                    break
                assert isinstance(item, list)
                for update in item:
                    yield update
            if self._stop_requested and not view.done:
                for update in view.stop():
                    yield update
            self._record(question, view)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

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
        queue: asyncio.Queue[object],
    ) -> None:
        try:
            if native:
                try:
                    await self._native(client, question, model, options, view, queue)
                    return
                except EndpointNotSupported:
                    if view.answer or view.reasoning:
                        raise
                    log.info("no native chat at %s; using /v1/chat/completions", client.base_url)
                    self.native_missing = True
                    fallback = choose_route(options, native_available=False)
                    if fallback.notice:
                        queue.put_nowait([Notice(text=fallback.notice)])
            await self._openai(client, question, model, options, view, queue)
        except TrayError as exc:
            queue.put_nowait(view.fail(exc))
        except asyncio.CancelledError:
            log.debug("chat stopped")
        finally:
            queue.put_nowait(_END)

    async def _native(
        self,
        client: LmStudioClient,
        question: str,
        model: str,
        options: ChatOptions | None,
        view: ChatView,
        queue: asyncio.Queue[object],
    ) -> None:
        self.last_api = "native"
        request = self.conversation.native_request(question, model, options)
        async with aclosing(client.chat_stream(request)) as events:
            async for event in events:
                updates = view.apply_event(event, at=self._clock())
                if updates:
                    queue.put_nowait(updates)

    async def _openai(
        self,
        client: LmStudioClient,
        question: str,
        model: str,
        options: ChatOptions | None,
        view: ChatView,
        queue: asyncio.Queue[object],
    ) -> None:
        self.last_api = "openai"
        request = self.conversation.openai_request(question, model, options)
        async with aclosing(client.chat_completion_stream(request)) as deltas:
            async for delta in deltas:
                updates = view.apply_delta(delta, at=self._clock())
                if updates:
                    queue.put_nowait(updates)
        queue.put_nowait(view.end_openai(at=self._clock()))


def is_final(update: ChatUpdate) -> bool:
    """The last update of an answer."""
    return isinstance(update, Finished | Failed | Stopped)
