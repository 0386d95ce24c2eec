"""The simulated LM Studio HTTP API server (FORMATS §3) on a real loopback socket.

Express-like on the wire: `X-Powered-By: Express`, keep-alive with Content-Length for
plain answers, chunked `text/event-stream` for streams, HTTP 200 for unknown routes.
Injected faults (tray.simulator.faults) bend the answers.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
import select
import socket
import string
import struct
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from tray.simulator.chat import ChatJob, prepare_openai_chat, prepare_v1_chat, run_chat
from tray.simulator.faults import Fault, FaultList
from tray.simulator.state import (
    SimError,
    SimState,
    model_not_found,
    require_model,
    v1_error,
)

__all__ = ["ApiServer", "SimHttpServer", "SimRequestHandler"]

logger = logging.getLogger(__name__)

AUTH_REQUIRED_MESSAGE = (
    "An LM Studio API token is required to make requests to this server, but none was "
    "provided using the Authorization header using the 'Bearer' scheme (i.e., "
    "'Authorization: Bearer $LM_API_TOKEN'). Learn more at: "
    "https://lmstudio.ai/docs/developer/core/authentication"
)
TRICKLE_SECONDS = 0.2


class _ClientGone(Exception):
    """The client closed the connection; stop working for it."""


class _Trickle:
    """A wfile that sends one byte per `interval` seconds (until the simulator stops)."""

    def __init__(
        self, inner: io.BufferedIOBase, stop: threading.Event, interval: float = TRICKLE_SECONDS
    ) -> None:
        self._inner = inner
        self._stop = stop
        self._interval = interval

    def write(self, data: bytes) -> int:
        for i in range(len(data)):
            if self._stop.wait(self._interval):
                raise _ClientGone
            self._inner.write(data[i : i + 1])
            self._inner.flush()
        return len(data)

    def flush(self) -> None:
        self._inner.flush()


class SimHttpServer(ThreadingHTTPServer):
    """A threading server that can really close: it tracks open connections so `close()`
    also ends idle keep-alive and hung requests."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.stop_event = threading.Event()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop_event.set()
        self.shutdown()
        self.server_close()
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)


class SimRequestHandler(BaseHTTPRequestHandler):
    """Shared plumbing: body reading, JSON and SSE writing, disconnect detection."""

    protocol_version = "HTTP/1.1"
    server: SimHttpServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def send_response(self, code: int, message: str | None = None) -> None:
        # Express sends no `Server` header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", formatdate(usegmt=True))
        for name, value in self.extra_headers():
            self.send_header(name, value)

    def extra_headers(self) -> tuple[tuple[str, str], ...]:
        return (("X-Powered-By", "Express"),)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status: int, obj: Any) -> None:
        self.send_bytes(
            status,
            json.dumps(obj, separators=(",", ":")).encode(),
            "application/json; charset=utf-8",
        )

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "keep-alive")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        if self.client_gone():
            raise _ClientGone
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def client_gone(self) -> bool:
        """True once the peer has closed its side (EOF waiting on the socket)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def reset_connection(self) -> None:
        """Close with RST (SO_LINGER 0) so the client sees 'connection reset'."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


Route = Callable[["ApiHandler", dict[str, Any]], None]


class ApiHandler(SimRequestHandler):
    server: ApiServer

    # --- dispatch -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def _handle(self) -> None:
        state = self.server.state
        self.path_only = unquote(urlsplit(self.path).path)
        raw_body = self.read_body()
        authorization = self.headers.get("Authorization")
        state.record_request(self.command, self.path_only, authorization is not None)
        state.tick()
        wfile = self.wfile
        try:
            fault = self.server.faults.take(self.command, self.path_only, streaming=False)
            if fault is not None and self._apply_fault(fault):
                return
            if self.server.cors and self.command == "OPTIONS":
                self.send_bytes(204, b"", "text/plain")
                return
            self._check_auth(authorization)
            route, arg = self._route()
            if route is None:
                self._unknown_route()
                return
            body = self._parse_body(raw_body) if self.command == "POST" else {}
            if arg is not None:
                body["__path_arg"] = arg
            route(self, body)
        except SimError as error:
            self.send_json(error.status, error.body)
        except (_ClientGone, ConnectionError):
            self.close_connection = True
        finally:
            self.wfile = wfile

    def extra_headers(self) -> tuple[tuple[str, str], ...]:
        base = super().extra_headers()
        if self.server.cors:
            return (
                *base,
                ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Headers", "*"),
                ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
            )
        return base

    def _check_auth(self, authorization: str | None) -> None:
        state = self.server.state
        token = state.auth_token
        if token is None:
            return
        if self.path_only == "/lmstudio-greeting" and not state.greeting_requires_auth:
            return
        if authorization == f"Bearer {token}":
            return
        # Same body for a missing and a wrong token, as observed (FORMATS §3.7).
        raise SimError(
            401,
            {
                "error": {
                    "type": "invalid_request",
                    "code": "invalid_api_key",
                    "message": AUTH_REQUIRED_MESSAGE,
                }
            },
        )

    def _parse_body(self, raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            logger.debug("Received request for %s with invalid JSON: %s", self.path_only, exc)
            raise SimError(
                400,
                v1_error(
                    f"Invalid JSON in request body: {exc}",
                    type="invalid_request",
                    code="invalid_json",
                ),
            ) from None
        if not isinstance(body, dict):
            raise SimError(
                400, v1_error("The request body must be a JSON object.", type="invalid_request")
            )
        return body

    def _route(self) -> tuple[Route | None, str | None]:
        path, method = self.path_only, self.command
        if self.server.legacy and (path.startswith("/api/v1/") or path == "/lmstudio-greeting"):
            return None, None  # LM Studio 0.3.x: REST API v0 and /v1 only
        route = ROUTES.get((method, path))
        if route is not None:
            return route, None
        for (m, prefix), prefixed in PREFIX_ROUTES.items():
            if method == m and path.startswith(prefix) and len(path) > len(prefix):
                return prefixed, path[len(prefix) :]
        return None, None

    def _unknown_route(self) -> None:
        message = f"Unexpected endpoint or method. ({self.command} {self.path_only})"
        if self.path_only.startswith("/api/v1/") and not self.server.legacy:
            # Observed exception to the 200 rule: unknown v1 paths are real 404s.
            self.send_json(404, v1_error(message, type="invalid_request", code="not_found"))
        else:
            logger.debug("%s. Returning 200 anyway", message)
            self.send_json(200, {"error": message})

    # --- faults ----------------------------------------------------------------------------

    def _apply_fault(self, fault: Fault) -> bool:
        """Act out a fault; False when the real answer should follow (trickle)."""
        if fault.kind == "status":
            body = (
                fault.body
                or json.dumps(
                    v1_error("Simulated server failure.", type="internal_error"),
                    separators=(",", ":"),
                ).encode()
            )
            self.send_bytes(
                fault.status or 500, body, fault.content_type or "application/json; charset=utf-8"
            )
        elif fault.kind == "html":
            body = fault.body or (
                b"<!DOCTYPE html><html><head><title>Error</title></head>"
                b"<body><h1>Bad Gateway</h1><p>The proxy got no answer.</p></body></html>"
            )
            self.send_bytes(fault.status or 200, body, fault.content_type or "text/html")
        elif fault.kind == "hang":
            self.server.stop_event.wait()
            self.close_connection = True
        elif fault.kind == "reset":
            self.reset_connection()
        elif fault.kind == "oversize":
            self._send_oversize(fault.size)
        elif fault.kind == "endless":
            self._send_endless()
        elif fault.kind == "trickle":
            interval = TRICKLE_SECONDS if fault.interval is None else fault.interval
            trickle = _Trickle(self.wfile, self.server.stop_event, interval)
            self.wfile = trickle  # type: ignore[assignment]
            return False
        return True

    def _send_endless(self) -> None:
        """A well-formed stream that never ends: native events for /api/v1 paths, OpenAI
        chunks elsewhere; only the client leaving (or the simulator stopping) ends it."""
        native = self.path_only.startswith("/api/v1/")
        self.start_stream()
        try:
            if native:
                self.write_chunk(
                    _sse({"type": "chat.start", "model_instance_id": "endless"}, "chat.start")
                )
                self.write_chunk(_sse({"type": "message.start"}, "message.start"))
                frame = _sse({"type": "message.delta", "content": "and on "}, "message.delta")
            else:
                chunk = {
                    "id": "chatcmpl-endless",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": "endless",
                    "choices": [
                        {"index": 0, "delta": {"content": "and on "}, "finish_reason": None}
                    ],
                }
                frame = _sse(chunk)
            batch = frame * 64  # a few KB per write keeps the loop cheap
            while not self.server.stop_event.is_set():
                self.write_chunk(batch)
        except (_ClientGone, ConnectionError):
            logger.debug("client left the endless stream of %s", self.path_only)
            self.server.state.stream_cancelled()
        self.close_connection = True

    def _send_oversize(self, size: int) -> None:
        head, tail = b'{"padding":"', b'"}'
        filler = max(0, size - len(head) - len(tail))
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(head) + filler + len(tail)))
        self.end_headers()
        self.wfile.write(head)
        block = b"x" * 65536
        while filler > 0:
            n = min(filler, len(block))
            self.wfile.write(block[:n])
            filler -= n
        self.wfile.write(tail)
        self.wfile.flush()

    # --- endpoints ---------------------------------------------------------------------------

    def greeting(self, _: dict[str, Any]) -> None:
        # All LM Studio documents (lms `createClient.ts` checkHttpServer reads only this);
        # its version is at `/lms-status` on the local API server (tray.simulator.daemon).
        self.send_json(200, {"lmstudio": True})

    def v1_models(self, _: dict[str, Any]) -> None:
        self.send_json(200, self.server.state.v1_models())

    def v1_load(self, body: dict[str, Any]) -> None:
        state = self.server.state
        model_key = require_model(body)
        model = state.model(model_key)
        if model is None:
            raise model_not_found(model_key)
        began = time.monotonic()
        time.sleep(state.load_seconds)
        identifier = state.load(
            model_key,
            context_length=_int_or_none(body.get("context_length")),
            flash_attention=_bool_or_none(body.get("flash_attention")),
            eval_batch_size=_int_or_none(body.get("eval_batch_size")),
            offload_kv_cache_to_gpu=_bool_or_none(body.get("offload_kv_cache_to_gpu")),
        )
        out: dict[str, Any] = {
            "type": model.type,
            "instance_id": identifier,
            "load_time_seconds": round(time.monotonic() - began, 3),
            "status": "loaded",
        }
        if body.get("echo_load_config") is True:
            with state.locked():
                out["load_config"] = state.instances[identifier].load_config()
        self.send_json(200, out)

    def v1_unload(self, body: dict[str, Any]) -> None:
        instance_id = body.get("instance_id")
        if not isinstance(instance_id, str) or not instance_id:
            raise SimError(
                400,
                v1_error(
                    '"instance_id" is required',
                    type="invalid_request",
                    code="missing_required_parameter",
                    param="instance_id",
                ),
            )
        self.server.state.unload(instance_id)
        self.send_json(200, {"instance_id": instance_id})

    def v1_download(self, body: dict[str, Any]) -> None:
        job = self.server.state.start_download(require_model(body))
        if job is None:
            self.send_json(200, {"status": "already_downloaded"})
            return
        self.send_json(
            200,
            {
                "job_id": job.job_id,
                "status": "downloading",
                "total_size_bytes": job.total_size_bytes,
                "started_at": job.started_at,
            },
        )

    def v1_download_status(self, body: dict[str, Any]) -> None:
        self.send_json(200, self.server.state.download_status(body["__path_arg"]))

    def v1_chat(self, body: dict[str, Any]) -> None:
        job = prepare_v1_chat(self.server.state, body)
        self.server.state.chat_bodies.append((self.path_only, body))
        if body.get("stream") is True:
            self._stream(run_chat(self.server.state, job), _v1_frames)
        else:
            self.send_json(200, _drain(run_chat(self.server.state, job)))

    def openai_chat(self, body: dict[str, Any]) -> None:
        state = self.server.state
        job = prepare_openai_chat(state, body)
        state.chat_bodies.append((self.path_only, body))
        if body.get("stream") is True:
            options = body.get("stream_options")
            usage = isinstance(options, dict) and options.get("include_usage") is True
            self._stream(run_chat(state, job), _OpenAiFramer(job, state, usage))
        else:
            self.send_json(200, _openai_completion(job, state, _drain(run_chat(state, job))))

    def openai_models(self, _: dict[str, Any]) -> None:
        ids = self.server.state.openai_model_ids()
        self.send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"id": i, "object": "model", "owned_by": "organization_owner"} for i in ids
                ],
            },
        )

    def v0_models(self, _: dict[str, Any]) -> None:
        state = self.server.state
        with state.locked():
            data = [state.v0_model(m) for m in state.catalog.values()]
        self.send_json(200, {"object": "list", "data": data})

    def v0_model(self, body: dict[str, Any]) -> None:
        state = self.server.state
        model = state.model(body["__path_arg"])
        if model is None:
            raise model_not_found(body["__path_arg"])
        self.send_json(200, state.v0_model(model))

    # --- streaming -----------------------------------------------------------------------------

    def _stream(
        self, events: Iterator[tuple[str, dict[str, Any]]], framer: Callable[..., list[bytes]]
    ) -> None:
        """Write a stream, applying stream faults; a vanished client stops generation."""
        state = self.server.state
        fault = self.server.faults.take(self.command, self.path_only, streaming=True)
        self.start_stream()
        written = 0
        try:
            for name, data in events:
                for frame in framer(name, data):
                    self.write_chunk(frame)
                    written += 1
                    if fault is not None and written == fault.after_events:
                        if fault.kind == "truncate":
                            self.end_stream()
                            return
                        if fault.kind == "reset_stream":
                            self.reset_connection()
                            return
                        self.write_chunk(_error_frame(fault))
            self.end_stream()
        except (_ClientGone, ConnectionError):
            logger.debug("client left %s mid-stream; generation stopped", self.path_only)
            state.stream_cancelled()
            self.close_connection = True
        finally:
            events.close()  # type: ignore[attr-defined]


class ApiServer(SimHttpServer):
    def __init__(
        self,
        address: tuple[str, int],
        *,
        state: SimState,
        faults: FaultList,
        cors: bool,
        legacy: bool = False,
    ) -> None:
        """`legacy`: act as LM Studio 0.3.x, which has no REST API v1 (its unknown routes
        are HTTP 200 with the "Unexpected endpoint" string, /api/v1 included)."""
        self.state = state
        self.faults = faults
        self.cors = cors
        self.legacy = legacy
        super().__init__(address, ApiHandler)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _drain(events: Iterator[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Run a chat to its end and return the non-stream body (the chat.end result)."""
    result: dict[str, Any] = {}
    for name, data in events:
        if name == "chat.end":
            result = data["result"]
    return result


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


def _v1_frames(name: str, data: dict[str, Any]) -> list[bytes]:
    return [_sse({"type": name, **data}, name)]


def _error_frame(fault: Fault) -> bytes:
    if fault.body:
        return b"event: error\ndata: " + fault.body + b"\n\n"
    return _sse(
        {
            "type": "error",
            "error": {
                "type": "internal_error",
                "message": "Simulated error while generating.",
            },
        },
        "error",
    )


class _OpenAiFramer:
    """Maps native chat events to OpenAI `chat.completion.chunk` frames (FORMATS §3.9)."""

    def __init__(self, job: ChatJob, state: SimState, include_usage: bool) -> None:
        self.job = job
        self.reasoning_field = state.openai_reasoning_field
        self.include_usage = include_usage
        self.base = {
            "id": _completion_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": job.identifier,
            "system_fingerprint": job.identifier,
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**self.base, "choices": [choice]})

    def _content(self, text: str) -> bytes:
        return self._chunk({"role": "assistant", "content": text})

    def __call__(self, name: str, data: dict[str, Any]) -> list[bytes]:
        think = self.reasoning_field == "think_tags"
        if name == "reasoning.start" and think:
            return [self._content("<think>")]
        if name == "reasoning.end" and think:
            return [self._content("</think>\n\n")]
        if name == "reasoning.delta":
            if think:
                return [self._content(data["content"])]
            return [self._chunk({"role": "assistant", self.reasoning_field: data["content"]})]
        if name == "message.delta":
            return [self._content(data["content"])]
        if name == "chat.end":
            frames = [self._chunk({}, "stop")]
            if self.include_usage:
                usage = _usage(data["result"])
                frames.append(_sse({**self.base, "choices": [], "usage": usage}))
            return [*frames, b"data: [DONE]\n\n"]
        return []


def _completion_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "chatcmpl-" + "".join(secrets.choice(alphabet) for _ in range(21))


def _usage(result: dict[str, Any]) -> dict[str, int]:
    stats = result["stats"]
    prompt, completion = stats["input_tokens"], stats["total_output_tokens"]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _openai_completion(job: ChatJob, state: SimState, result: dict[str, Any]) -> dict[str, Any]:
    items = {item["type"]: item.get("content") for item in result["output"]}
    content, reasoning = items.get("message", ""), items.get("reasoning")
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        if state.openai_reasoning_field == "think_tags":
            message["content"] = f"<think>{reasoning}</think>\n\n{content}"
        else:
            message[state.openai_reasoning_field] = reasoning
    return {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": job.identifier,
        "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop", "message": message}],
        "usage": _usage(result),
        "stats": {},
        "system_fingerprint": job.identifier,
    }


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/lmstudio-greeting"): ApiHandler.greeting,
    ("GET", "/api/v1/models"): ApiHandler.v1_models,
    ("POST", "/api/v1/models/load"): ApiHandler.v1_load,
    ("POST", "/api/v1/models/unload"): ApiHandler.v1_unload,
    ("POST", "/api/v1/models/download"): ApiHandler.v1_download,
    ("POST", "/api/v1/chat"): ApiHandler.v1_chat,
    ("GET", "/api/v0/models"): ApiHandler.v0_models,
    ("GET", "/v1/models"): ApiHandler.openai_models,
    ("POST", "/v1/chat/completions"): ApiHandler.openai_chat,
}
PREFIX_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v1/models/download/status/"): ApiHandler.v1_download_status,
    ("GET", "/api/v0/models/"): ApiHandler.v0_model,
}
