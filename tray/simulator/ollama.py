"""A simulated Ollama on loopback, answering with the shapes Ollama's API reference documents
(docs.ollama.com/api: `GET /`, `/api/version`, `/api/tags`, `/api/ps`, `POST /api/generate`
with `keep_alive`, and the OpenAI-compatible `/v1/models` and `/v1/chat/completions`).

What the reference leaves open, and this simulator guesses (the tray tolerates both):
- `/api/generate` without a prompt answers one JSON object (`"done": true`, and
  `"done_reason": "unload"` for `keep_alive: 0`), as the reference's examples show;
- a model it does not have is HTTP 404 `{"error": "model 'x' not found"}`;
- an unknown route is Go's plain-text "404 page not found".
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from tray.simulator.server import SimHttpServer, SimRequestHandler

__all__ = ["OLLAMA_VERSION", "OllamaModel", "OllamaSimulator"]

OLLAMA_VERSION = "0.12.6"
DEFAULT_KEEP_ALIVE_S = 300.0  # Ollama's default: five minutes


class OllamaModel(BaseModel):
    """A model on the simulated Ollama's disk."""

    model_config = ConfigDict(frozen=True)

    name: str
    size: int
    family: str = "llama"
    parameter_size: str = "8B"
    quantization_level: str = "Q4_K_M"
    context_length: int = 4096

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }


SEED = (
    OllamaModel(name="llama3.2:3b", size=2_019_393_189, parameter_size="3.2B"),
    OllamaModel(name="qwen3:8b", size=5_225_388_164, family="qwen3", parameter_size="8.2B"),
)


def _duration_s(value: Any) -> float | None:
    """keep_alive as Ollama reads it: seconds (a number), or "5m", "1h30m", "-1"."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text, total, number = str(value).strip(), 0.0, ""
    if text.lstrip("-").replace(".", "", 1).isdigit():
        return float(text)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total, number = total + float(number) * units[ch], ""
        else:
            raise ValueError(text)
    return total


class _Loaded(BaseModel):
    model: OllamaModel
    expires_at: datetime


class OllamaSimulator:
    """Ollama's API on a free loopback port; `vram_share` of each model sits in VRAM."""

    def __init__(self, models: tuple[OllamaModel, ...] = SEED, *, vram_share: float = 0.81) -> None:
        self.models = {m.name: m for m in models}
        self.loaded: dict[str, _Loaded] = {}
        self.vram_share = vram_share
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._server: SimHttpServer | None = None

    def __enter__(self) -> OllamaSimulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, port: int = 0) -> None:
        self._server = _OllamaServer(("127.0.0.1", port), self)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the simulator first"
        return f"http://127.0.0.1:{self._server.port}"

    # --- state ----------------------------------------------------------------------------

    def _sweep(self, now: datetime) -> None:
        for name in [n for n, m in self.loaded.items() if m.expires_at <= now]:
            del self.loaded[name]

    def load(self, name: str, keep_alive: Any = None) -> str:
        """Load (or keep) `name`; keep_alive 0 unloads. Returns "load" or "unload"."""
        now = datetime.now(UTC)
        seconds = _duration_s(keep_alive)
        with self.lock:
            self._sweep(now)
            model = self.models[name]
            if seconds is not None and seconds == 0:
                self.loaded.pop(name, None)
                return "unload"
            if seconds is None:
                seconds = DEFAULT_KEEP_ALIVE_S
            forever = seconds < 0
            expires = now + (timedelta(days=365 * 300) if forever else timedelta(seconds=seconds))
            self.loaded[name] = _Loaded(model=model, expires_at=expires)
            return "load"

    def ps(self) -> list[dict[str, Any]]:
        with self.lock:
            self._sweep(datetime.now(UTC))
            return [
                {
                    "name": m.model.name,
                    "model": m.model.name,
                    "size": m.model.size,
                    "digest": f"{abs(hash(m.model.name)):064x}"[:64],
                    "details": m.model.details(),
                    "expires_at": m.expires_at.astimezone().isoformat(),
                    "size_vram": int(m.model.size * self.vram_share),
                    "context_length": m.model.context_length,
                }
                for m in self.loaded.values()
            ]

    def tags(self) -> list[dict[str, Any]]:
        return [
            {
                "name": m.name,
                "model": m.name,
                "modified_at": "2025-10-01T12:00:00.000000-07:00",
                "size": m.size,
                "digest": f"{abs(hash(m.name)):064x}"[:64],
                "details": m.details(),
            }
            for m in self.models.values()
        ]


class _OllamaHandler(SimRequestHandler):
    server: _OllamaServer

    def extra_headers(self) -> tuple[tuple[str, str], ...]:
        return ()  # Go's net/http: no X-Powered-By

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        sim = self.server.sim
        path = urlsplit(self.path).path
        sim.requests.append((self.command, path))
        raw = self.read_body()
        route = _ROUTES.get((self.command, path))
        if route is None:
            self.send_bytes(404, b"404 page not found", "text/plain; charset=utf-8")
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self.send_json(400, {"error": "invalid character in JSON body"})
            return
        route(self, body if isinstance(body, dict) else {})

    # --- routes ---------------------------------------------------------------------------

    def root(self, _: dict[str, Any]) -> None:
        self.send_bytes(200, b"Ollama is running", "text/plain; charset=utf-8")

    def version(self, _: dict[str, Any]) -> None:
        self.send_json(200, {"version": OLLAMA_VERSION})

    def api_tags(self, _: dict[str, Any]) -> None:
        self.send_json(200, {"models": self.server.sim.tags()})

    def api_ps(self, _: dict[str, Any]) -> None:
        self.send_json(200, {"models": self.server.sim.ps()})

    def _known(self, name: Any) -> str | None:
        if isinstance(name, str) and name in self.server.sim.models:
            return name
        self.send_json(404, {"error": f"model '{name}' not found"})
        return None

    def api_generate(self, body: dict[str, Any]) -> None:
        name = self._known(body.get("model"))
        if name is None:
            return
        try:
            reason = self.server.sim.load(name, body.get("keep_alive"))
        except ValueError:
            self.send_json(400, {"error": "time: invalid duration"})
            return
        created = datetime.now(UTC).isoformat()
        answer: dict[str, Any] = {"model": name, "created_at": created, "response": ""}
        answer["done"] = True
        if reason == "unload":
            answer["done_reason"] = "unload"
        self.send_json(200, answer)

    def v1_models(self, _: dict[str, Any]) -> None:
        data = [
            {"id": m.name, "object": "model", "created": 1759000000, "owned_by": "library"}
            for m in self.server.sim.models.values()
        ]
        self.send_json(200, {"object": "list", "data": data})

    def v1_chat(self, body: dict[str, Any]) -> None:
        name = self._known(body.get("model"))
        if name is None:
            return
        self.server.sim.load(name)
        messages = body.get("messages") or [{}]
        words = f"You said: {messages[-1].get('content', '')}".split(" ")
        cid, created = "chatcmpl-sim", int(time.time())
        if not body.get("stream"):
            self.send_json(
                200,
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": name,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": " ".join(words)},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )
            return
        self.start_stream()
        for i, word in enumerate(words):
            delta = {"role": "assistant", "content": (" " if i else "") + word}
            self._chunk(cid, created, name, delta, None)
        self._chunk(cid, created, name, {"role": "assistant", "content": ""}, "stop")
        self.write_chunk(b"data: [DONE]\n\n")
        self.end_stream()

    def _chunk(
        self, cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None
    ) -> None:
        chunk = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        self.write_chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")


_ROUTES: dict[tuple[str, str], Callable[[_OllamaHandler, dict[str, Any]], None]] = {
    ("GET", "/"): _OllamaHandler.root,
    ("HEAD", "/"): _OllamaHandler.root,
    ("GET", "/api/version"): _OllamaHandler.version,
    ("GET", "/api/tags"): _OllamaHandler.api_tags,
    ("GET", "/api/ps"): _OllamaHandler.api_ps,
    ("POST", "/api/generate"): _OllamaHandler.api_generate,
    ("GET", "/v1/models"): _OllamaHandler.v1_models,
    ("POST", "/v1/chat/completions"): _OllamaHandler.v1_chat,
}


class _OllamaServer(SimHttpServer):
    def __init__(self, address: tuple[str, int], sim: OllamaSimulator) -> None:
        self.sim = sim
        super().__init__(address, _OllamaHandler)
