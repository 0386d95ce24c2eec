"""The one place that talks HTTP to LM Studio: typed calls over an injected
`httpx.AsyncClient`, returning `tray.core.api` models and raising one error each.

Every failure becomes exactly one `tray.core.errors` error, by when it happens:

* before a response arrives — connection refused, DNS failure, reset before a reply:
  `ServerUnreachable`; a connect or read timeout, or the call's deadline: `RequestTimeout`.
* on the response — `tray.core.api_errors.error_from_response` reads status and body (LM Studio
  puts errors in bodies whatever the status: `EndpointNotSupported`, `AuthRequired` /
  `InvalidToken` / `AuthError`, `ApiError` / `ModelNotFound`, `HttpStatusError`); a 2xx
  body that is not JSON is `MalformedJson`, JSON of the wrong shape `BadResponse`, a body
  past `max_body_bytes` `ResponseTooLarge` (we stop reading and drop the connection).
* after the response started (a body or a stream) — the connection dropping is
  `StreamTruncated`, silence longer than the deadline `RequestTimeout`; a native stream
  that ends without `chat.end`, or an OpenAI stream without `[DONE]` or a
  `finish_reason`, is `StreamTruncated`; one SSE event past `max_event_bytes`, or a whole
  stream past `max_stream_bytes` (a server that never stops), is `ResponseTooLarge`. A
  native `error` event is yielded like any event (LM Studio goes on to `chat.end`); an
  `{"error": …}` chunk in an OpenAI stream is raised.

Streams are async generators: cancelling the consuming task, or closing the generator
(`contextlib.aclosing`, or `aclose()`), closes the connection at once — LM Studio stops
generating when its client goes away. Tokens come from the `TokenProvider` per request
and appear only in the `Authorization` header: never in logs, reprs or errors. A provider
that cannot give its token (the keyring is locked) means the request goes without one; a
provider that waits to be asked (`WhenAsked`) is asked only when the server answers "a
token is required", and the request is then sent once more, with the token.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

import httpx
from httpx_sse import EventSource, ServerSentEvent
from pydantic import BaseModel, JsonValue, ValidationError

from tray.core.api import (
    ChatCompletion,
    ChatCompletionRequest,
    ChatRequest,
    ChatResponse,
    DownloadJob,
    DownloadRequest,
    Greeting,
    LmsStatus,
    LoadRequest,
    LoadResult,
    ModelInfo,
    ModelList,
    OpenAIModel,
    OpenAIModelList,
    RequestModel,
    UnloadRequest,
    UnloadResult,
    V0Model,
    V0ModelList,
)
from tray.core.api_errors import error_from_response, server_of
from tray.core.errors import (
    AuthRequired,
    BadResponse,
    EndpointNotSupported,
    InvalidServerUrl,
    LmStudioError,
    MalformedJson,
    RequestTimeout,
    ResponseTooLarge,
    ServerUnreachable,
    StreamTruncated,
    TokenError,
)
from tray.core.server_url import parse_server_url
from tray.core.tokens import TokenProvider, WaitsToBeAsked

if TYPE_CHECKING:
    from tray.core.chat_events import ChatEvent
    from tray.core.openai_stream import CompletionDelta

__all__ = ["LmStudioClient", "Timeouts"]

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Timeouts:
    """Deadlines in seconds; they replace the injected client's defaults per call."""

    # A status probe (greeting, model lists, download status) must not stall the tray.
    probe: float = 5.0
    # Everything else that answers once: a load of a 100 GB model or a long chat can take
    # minutes, and an early timeout would orphan the work on the server.
    call: float = 600.0
    # Longest silence between two stream events (a JIT load reports progress meanwhile).
    stream_idle: float = 120.0


@dataclass(frozen=True)
class _Target:
    url: str
    headers: dict[str, str] = field(repr=False)  # may hold the bearer token
    sent_token: bool
    no_token_because: TokenError | None = None  # the provider failed: sent without one


class _EventSizeGuard(httpx.AsyncByteStream):
    """Passes a response's bytes through, failing once one SSE event (the bytes since the
    last blank line) grows past a limit — before httpx-sse buffers it whole — or once the
    whole stream grows past `total` (a server that streams forever would otherwise grow
    the answer, and our memory, until someone notices)."""

    # Two line ends in a row end an event; with "\r\n" as one line end these three pairs
    # catch every combination ("\r\n\r\n" contains "\n\r").
    _BOUNDARIES = (b"\n\n", b"\r\r", b"\n\r")

    def __init__(self, inner: httpx.AsyncByteStream, limit: int, url: str, total: int) -> None:
        self._inner = inner
        self._limit = limit
        self._url = url
        self._total = total

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending = 0
        seen = 0
        tail = b""
        lf, cr, mixed = self._BOUNDARIES
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._total:
                raise ResponseTooLarge(
                    f"The server at {server_of(self._url)} streamed more than "
                    f"{self._total:,} bytes without finishing; the stream was stopped. Restart "
                    "the server if it keeps happening.",
                    limit_bytes=self._total,
                    url=self._url,
                )
            window = tail + chunk
            # Three calls, not a generator: this runs once per chunk of every stream.
            last = max(window.rfind(lf), window.rfind(cr), window.rfind(mixed))
            pending = len(window) - last - 2 if last >= 0 else pending + len(chunk)
            if pending > self._limit:
                raise ResponseTooLarge(
                    f"The server at {server_of(self._url)} sent a stream event larger than "
                    f"{self._limit:,} bytes; the stream was stopped. Try again, or restart "
                    "the server if it keeps happening.",
                    limit_bytes=self._limit,
                    url=self._url,
                )
            tail = window[-1:]
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _IdleWatch:
    """The idle deadline of a stream: each wait for the next event may last `seconds`.

    One timer serves the whole stream instead of an `asyncio.timeout` per event: at
    2,000 tokens/s a timer per event (scheduled and cancelled on the Qt event loop
    through qasync, which makes a QTimer for each) cost about a sixth of the stream's
    CPU. The timer fires at most once per `seconds` and re-arms itself for the wait in
    progress; only a wait that really lasted `seconds` cancels the waiting task, which
    `wait` turns into `TimeoutError`, as `asyncio.timeout` does."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._since: float | None = None  # when the wait in progress began
        self._task: asyncio.Task[Any] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        self._since = self._loop.time()
        self._task = asyncio.current_task()
        if self._handle is None:
            self._handle = self._loop.call_at(self._since + self._seconds, self._check)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._fired and self._task is not None and self._task.uncancel() == 0:
                self._fired = False
                raise TimeoutError from None
            raise
        finally:
            self._since = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        if self._since is None or self._task is None:
            return  # between waits: the next wait arms the timer again
        due = self._since + self._seconds
        if self._loop.time() >= due:
            self._fired = True
            self._task.cancel()
        else:
            self._handle = self._loop.call_at(due, self._check)


def _json_or_none(raw: bytes | str) -> JsonValue:
    """The parsed JSON, or None when the text is empty or not JSON."""
    try:
        parsed: JsonValue = json.loads(raw) if raw else None
    except ValueError:
        return None
    return parsed


def _is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.partition(";")[0].strip() == "text/event-stream"


class LmStudioClient:
    """Typed calls to one LM Studio server (REST v1, REST v0, OpenAI-compatible /v1).

    `http` is owned by the caller (the app or CLI); this class never closes it.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        token_provider: TokenProvider | None = None,
        max_body_bytes: int = 8 * 1024 * 1024,
        max_event_bytes: int = 1024 * 1024,
        max_stream_bytes: int = 64 * 1024 * 1024,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._http = http
        # The one rule for server addresses (`localhost:1234` is http://localhost:1234). One
        # that is not an address (a hand-edited settings file) fails every request with the
        # rule's sentence, never deep inside the HTTP library.
        self._address_problem: str | None = None
        try:
            self._base_url = parse_server_url(base_url)
        except InvalidServerUrl as exc:
            self._base_url = base_url.strip().rstrip("/")
            self._address_problem = f"{exc.message} Correct it in Settings."
        self._tokens = token_provider
        self._max_body_bytes = max_body_bytes
        self._max_event_bytes = max_event_bytes
        # A native event per token is ~70-150 bytes on the wire, so 64 MB is about half a
        # million tokens or more: past any context window, yet a bound on a runaway server.
        self._max_stream_bytes = max_stream_bytes
        self._timeouts = timeouts or Timeouts()
        # What the greeting said (None: not asked, or no answer): a 401 names LM Studio's
        # token page only for a server known to be LM Studio.
        self.lm_studio: bool | None = None

    def __repr__(self) -> str:
        return f"LmStudioClient({self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def token_provider(self) -> TokenProvider | None:
        return self._tokens

    def with_token(self, token_provider: TokenProvider | None) -> LmStudioClient:
        """The same client (HTTP connection pool, limits, timeouts) with other credentials:
        None sends no token at all."""
        return self.with_http(self._http, token_provider)

    def with_http(
        self, http: httpx.AsyncClient, token_provider: TokenProvider | None
    ) -> LmStudioClient:
        """The same server, limits and timeouts through another HTTP client (e.g. one on
        another thread's loop: `services.stream_worker`) with these credentials."""
        twin = LmStudioClient(
            http,
            self._base_url,
            token_provider=token_provider,
            max_body_bytes=self._max_body_bytes,
            max_event_bytes=self._max_event_bytes,
            max_stream_bytes=self._max_stream_bytes,
            timeouts=self._timeouts,
        )
        twin.lm_studio = self.lm_studio
        return twin

    # --- REST v1 -----------------------------------------------------------------------

    async def greeting(self) -> Greeting:
        """`GET /lmstudio-greeting`: the cheap liveness probe (remembered in `lm_studio`)."""
        try:
            greeting = await self._call("GET", "/lmstudio-greeting", Greeting, self._timeouts.probe)
        except (EndpointNotSupported, BadResponse):
            self.lm_studio = False  # it answered, but not as LM Studio does
            raise
        self.lm_studio = greeting.lmstudio
        return greeting

    async def lms_status(self) -> LmsStatus:
        """`GET /lms-status` on LM Studio's local API server (this client's base URL is
        `http://127.0.0.1:<its port>`): the running LM Studio's version."""
        return await self._call("GET", "/lms-status", LmsStatus, self._timeouts.probe)

    async def list_models(self) -> list[ModelInfo]:
        """`GET /api/v1/models`: every downloaded model, with its loaded instances."""
        result = await self._call("GET", "/api/v1/models", ModelList, self._timeouts.probe)
        return list(result.models)

    async def load_model(self, request: LoadRequest) -> LoadResult:
        return await self._call(
            "POST", "/api/v1/models/load", LoadResult, self._timeouts.call, request
        )

    async def unload_model(self, instance_id: str) -> UnloadResult:
        return await self._call(
            "POST",
            "/api/v1/models/unload",
            UnloadResult,
            self._timeouts.call,
            UnloadRequest(instance_id=instance_id),
        )

    async def download_model(self, request: DownloadRequest) -> DownloadJob:
        return await self._call(
            "POST", "/api/v1/models/download", DownloadJob, self._timeouts.call, request
        )

    async def download_status(self, job_id: str) -> DownloadJob:
        path = f"/api/v1/models/download/status/{quote(job_id, safe='')}"
        return await self._call("GET", path, DownloadJob, self._timeouts.probe)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """`POST /api/v1/chat` without streaming: the whole answer at once."""
        body = request.model_copy(update={"stream": False})
        return await self._call("POST", "/api/v1/chat", ChatResponse, self._timeouts.call, body)

    async def chat_stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """`POST /api/v1/chat` streaming: every event up to and including `chat.end`."""
        # The event models are imported at the first answer: an idle tray never streams.
        from tray.core.chat_events import ChatEndEvent, parse_chat_event

        body = request.model_copy(update={"stream": True})
        async with aclosing(self._events_with_auth("/api/v1/chat", body)) as events:
            async for target, sse in events:
                try:
                    event = parse_chat_event(sse.event, sse.data)
                except BadResponse as exc:
                    raise type(exc)(exc.message, url=target.url) from exc
                yield event
                if isinstance(event, ChatEndEvent):
                    return
        raise self._truncated(self._url("/api/v1/chat"), "before it finished")

    # --- REST v0 and OpenAI-compatible -------------------------------------------------

    async def list_models_v0(self) -> list[V0Model]:
        """`GET /api/v0/models` (LM Studio 0.3.6+; has `loaded_context_length`)."""
        result = await self._call("GET", "/api/v0/models", V0ModelList, self._timeouts.probe)
        return list(result.data)

    async def list_models_openai(self) -> list[OpenAIModel]:
        """`GET /v1/models`: loaded models, or all downloaded ones when JIT is on."""
        result = await self._call("GET", "/v1/models", OpenAIModelList, self._timeouts.probe)
        return list(result.data)

    # --- other kinds of server (tray.services.backends) ------------------------------

    async def get_json(self, path: str, model: type[_M]) -> _M:
        """`GET path` on any kind of server, read as `model` (errors as everywhere)."""
        return await self._call("GET", path, model, self._timeouts.probe)

    async def post_json(self, path: str, body: RequestModel, model: type[_M]) -> _M:
        return await self._call("POST", path, model, self._timeouts.call, body)

    async def probe(self, path: str) -> tuple[int, JsonValue]:
        """`GET path` for finding out what kind of server answers: its status and JSON
        (None when not JSON), whatever the status. Raises only when nothing answers (or
        not in time), and `AuthError` for a 401 (the server is there and wants a token)."""
        target = await self._target(path)
        seconds, answered = self._timeouts.probe, False
        try:
            async with (
                asyncio.timeout(seconds),
                self._http.stream(
                    "GET", target.url, headers=target.headers, timeout=httpx.Timeout(seconds)
                ) as response,
            ):
                answered = True
                raw = await self._read_body(response, target.url)
        except (TimeoutError, httpx.RequestError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc, target.url, answered, seconds) from exc
        payload = _json_or_none(raw)
        if response.status_code == 401:
            error = error_from_response(
                401, payload, url=target.url, sent_token=target.sent_token, lm_studio=None
            )
            assert error is not None
            raise error
        return response.status_code, payload

    async def chat_completion(self, request: ChatCompletionRequest) -> ChatCompletion:
        """`POST /v1/chat/completions` without streaming."""
        body = request.model_copy(update={"stream": False, "stream_options": None})
        return await self._call(
            "POST", "/v1/chat/completions", ChatCompletion, self._timeouts.call, body
        )

    async def chat_completion_stream(
        self, request: ChatCompletionRequest
    ) -> AsyncGenerator[CompletionDelta, None]:
        """`POST /v1/chat/completions` streaming, as reasoning/content deltas; the usage
        arrives on a last delta when `stream_options.include_usage` is set."""
        from tray.core.openai_stream import DONE, ChatCompletionChunk, CompletionStream

        body = request.model_copy(update={"stream": True})
        normaliser = CompletionStream()
        finished = False
        url = self._url("/v1/chat/completions")
        async with aclosing(self._events_with_auth("/v1/chat/completions", body)) as events:
            async for target, sse in events:
                if sse.data.strip() == DONE:
                    finished = True
                    break
                chunk = self._validate(
                    self._payload(sse.data, target), ChatCompletionChunk, target.url
                )
                delta = normaliser.feed(chunk)
                finished = finished or delta.finish_reason is not None
                if not delta.is_empty:
                    yield delta
        if not finished:
            raise self._truncated(url, "before it finished")
        tail = normaliser.finish()
        if not tail.is_empty:
            yield tail

    # --- plumbing ----------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self._base_url + path

    async def _target(self, path: str) -> _Target:
        if self._address_problem is not None:
            raise ServerUnreachable(self._address_problem, url=self._base_url + path)
        headers = {"Accept": "application/json"}
        problem: TokenError | None = None
        try:
            token = await self._tokens.get_token() if self._tokens is not None else None
        except TokenError as exc:  # the keyring is locked or silent: try without a token
            token, problem = None, exc
        secret = token.get_secret_value() if token is not None else ""
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        return _Target(
            url=self._url(path), headers=headers, sent_token=bool(secret), no_token_because=problem
        )

    async def _asked(self, path: str, refused: _Target, exc: AuthRequired) -> _Target:
        """The server wants a token and this request had none: the target to send it again
        to, with the token of a provider that waited to be asked; else `exc` is raised —
        saying why there was no token, when the provider failed."""
        tokens = self._tokens
        if isinstance(tokens, WaitsToBeAsked):
            tokens.server_asked()
            again = await self._target(path)
            if again.sent_token:
                return again
            refused = again
        if refused.no_token_because is None:
            raise exc
        raise AuthRequired(
            f"The server at {self._base_url} requires an API token. "
            f"{refused.no_token_because.message}",
            url=exc.url,
        ) from exc

    async def _call(
        self,
        method: str,
        path: str,
        model: type[_M],
        seconds: float,
        body: RequestModel | None = None,
    ) -> _M:
        """One request that answers once, within `seconds` in total (sent again, once, with
        a token when the server asks for one: see `_asked`)."""
        target = await self._target(path)
        try:
            return await self._send(method, target, model, seconds, body)
        except AuthRequired as exc:
            target = await self._asked(path, target, exc)
        return await self._send(method, target, model, seconds, body)

    async def _send(
        self,
        method: str,
        target: _Target,
        model: type[_M],
        seconds: float,
        body: RequestModel | None,
    ) -> _M:
        answered = False
        try:
            async with (
                asyncio.timeout(seconds),
                self._http.stream(
                    method,
                    target.url,
                    content=body.to_body() if body is not None else None,
                    headers=self._request_headers(target, body),
                    timeout=httpx.Timeout(seconds),
                ) as response,
            ):
                answered = True
                raw = await self._read_body(response, target.url)
        except (TimeoutError, httpx.RequestError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc, target.url, answered, seconds) from exc
        logger.debug("%s %s -> %d (%d bytes)", method, target.url, response.status_code, len(raw))
        return self._validate(self._payload(raw, target, response.status_code), model, target.url)

    async def _events_with_auth(
        self, path: str, body: RequestModel
    ) -> AsyncGenerator[tuple[_Target, ServerSentEvent], None]:
        """`_events`, sent again once with a token when the server asks for one before
        the stream begins (see `_asked`); each event with the target it came from."""
        target = await self._target(path)
        for attempt in range(2):
            started = False
            try:
                async with aclosing(self._events(target, body)) as events:
                    async for sse in events:
                        started = True
                        yield target, sse
                return
            except AuthRequired as exc:
                if started or attempt:
                    raise
                target = await self._asked(path, target, exc)

    async def _events(
        self, target: _Target, body: RequestModel
    ) -> AsyncGenerator[ServerSentEvent, None]:
        """The SSE events of a POST, each within `stream_idle` of the one before."""
        seconds = self._timeouts.stream_idle
        headers = self._request_headers(target, body) | {
            "Accept": "text/event-stream",
            # The event-size guard counts bytes on the wire; keep them uncompressed.
            "Accept-Encoding": "identity",
        }
        answered = False
        try:
            request = self._http.build_request(
                "POST",
                target.url,
                content=body.to_body(),
                headers=headers,
                timeout=httpx.Timeout(seconds),
            )
            async with asyncio.timeout(seconds):
                response = await self._http.send(request, stream=True)
            try:
                answered = True
                logger.debug("POST %s -> %d (stream)", target.url, response.status_code)
                if not (response.is_success and _is_event_stream(response)):
                    async with asyncio.timeout(seconds):
                        raw = await self._read_body(response, target.url)
                    self._payload(raw, target, response.status_code)
                    raise BadResponse(
                        f"The server at {self._base_url} answered without a stream; it may not "
                        "support streaming, so update LM Studio or pick another server.",
                        url=target.url,
                    )
                # An AsyncClient's responses always stream asynchronously.
                wire = cast(httpx.AsyncByteStream, response.stream)
                response.stream = _EventSizeGuard(
                    wire, self._max_event_bytes, target.url, self._max_stream_bytes
                )
                watch = _IdleWatch(seconds)
                try:
                    async with aclosing(EventSource(response).aiter_sse()) as events:
                        while True:
                            # A deadline per event, never across a yield: the consumer's
                            # own time between events is not the server's silence.
                            sse = await watch.wait(anext(events, None))
                            if sse is None:
                                return
                            yield sse
                finally:
                    watch.close()
            finally:
                await response.aclose()
        except (TimeoutError, httpx.RequestError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc, target.url, answered, seconds) from exc

    @staticmethod
    def _request_headers(target: _Target, body: RequestModel | None) -> dict[str, str]:
        if body is None:
            return target.headers
        return target.headers | {"Content-Type": "application/json"}

    async def _read_body(self, response: httpx.Response, url: str) -> bytes:
        """The whole body, read in pieces up to the cap (the caller's exit closes it).

        Content-Length is not trusted: chunked bodies have none, and a liar would pass."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_body_bytes:
                raise self._too_large(url)
            chunks.append(chunk)
        return b"".join(chunks)

    def _payload(self, raw: bytes | str, target: _Target, status_code: int = 200) -> JsonValue:
        """The JSON of a body (or a stream chunk), or the error the answer stands for."""
        payload = _json_or_none(raw)
        error = error_from_response(
            status_code,
            payload,
            url=target.url,
            sent_token=target.sent_token,
            lm_studio=self.lm_studio,
        )
        if error is not None:
            raise error
        if payload is None:
            raise MalformedJson(
                f"The server at {self._base_url} did not answer with JSON; check that it is "
                "an LM Studio server and see its log.",
                url=target.url,
            )
        return payload

    @staticmethod
    def _validate(payload: JsonValue, model: type[_M], url: str) -> _M:
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the top level"
            logger.warning("Unexpected answer from %s: %s at %s", url, first["msg"], where)
            raise BadResponse(
                f"The answer from the server at {server_of(url)} is not what LM Studio "
                "documents; this server version may not be supported.",
                url=url,
            ) from exc

    def _transport_error(
        self, exc: Exception, url: str, answered: bool, seconds: float
    ) -> LmStudioError:
        logger.debug("%s failed: %s", url, type(exc).__name__)
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            return RequestTimeout(
                f"The server at {self._base_url} did not answer within {seconds:g} s; it may "
                "be busy loading a model, or stuck, so try again or restart the LM Studio "
                "server.",
                url=url,
            )
        if answered:
            return self._truncated(url, "when the connection closed")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return ServerUnreachable(
                f"{self._base_url} is not a valid http:// or https:// address; check the "
                "server URL in the settings.",
                url=url,
            )
        return ServerUnreachable(
            f"Nothing answers at {self._base_url}; is the LM Studio server started?", url=url
        )

    @staticmethod
    def _truncated(url: str, how: str) -> StreamTruncated:
        return StreamTruncated(
            f"The answer from the server at {server_of(url)} was cut off {how}; try again, "
            "and check LM Studio's server log if it keeps happening.",
            url=url,
        )

    def _too_large(self, url: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"The answer from {self._base_url} is larger than {self._max_body_bytes:,} "
            "bytes, so it was not read; check that the address points to an LM Studio server.",
            limit_bytes=self._max_body_bytes,
            url=url,
        )
