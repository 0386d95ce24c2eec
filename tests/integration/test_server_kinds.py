"""Every kind of local server over real HTTP: LM Studio 0.4 and 0.3 (the simulator), Ollama
(its documented shapes, `tray.simulator.ollama`) and a bare OpenAI-compatible server —
found by themselves, watched, and (Ollama) ejected, restored and loaded with a keep-alive."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from pydantic import SecretStr

from tests.integration.cli_runner import Cli
from tray.core.backends import AUTO, BackendKind
from tray.core.errors import EndpointNotSupported, ModelNotFound
from tray.core.status import ServerState
from tray.core.tokens import CheckOutcome, NoToken, StaticToken
from tray.services.backend_models import BackendModels
from tray.services.backends import OllamaBackend, backend_for, identify
from tray.services.lmstudio_client import LmStudioClient
from tray.services.status_monitor import StatusMonitor
from tray.services.token_vault import check_token
from tray.simulator.daemon import Simulator
from tray.simulator.ollama import OLLAMA_VERSION, OllamaSimulator


class _JsonHandler(BaseHTTPRequestHandler):
    """A quiet handler that answers JSON (`reply`)."""

    def log_message(self, *args: object) -> None:
        pass

    def reply(self, status: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@contextlib.contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` on a loopback port, for the block: its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _OpenAIOnly(_JsonHandler):
    """Only `/v1/models` (like vLLM or a proxy); a FastAPI-style 404 elsewhere."""

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            body = {"object": "list", "data": [{"id": "served-model", "owned_by": "vllm"}]}
            status = 200
        else:
            body, status = {"detail": "Not Found"}, 404
        self.reply(status, body)


@pytest.fixture
def openai_only() -> Iterator[str]:
    with _serving(_OpenAIOnly) as url:
        yield url


@pytest.fixture
def ollama() -> Iterator[OllamaSimulator]:
    with OllamaSimulator() as sim:
        yield sim


@pytest.fixture
def legacy(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / "lms03", legacy=True) as sim:
        yield sim


def _paths(requests: list[tuple[str, str]]) -> list[str]:
    return [p for _, p in requests]


async def test_each_kind_is_found(
    http: httpx.AsyncClient,
    sim: Simulator,
    legacy: Simulator,
    ollama: OllamaSimulator,
    openai_only: str,
) -> None:
    assert (await identify(LmStudioClient(http, sim.base_url))).kind is BackendKind.LMSTUDIO
    old = await identify(LmStudioClient(http, legacy.base_url))
    assert (old.kind, old.legacy) == (BackendKind.LMSTUDIO, True)
    found = await identify(LmStudioClient(http, ollama.base_url))
    assert (found.kind, found.version) == (BackendKind.OLLAMA, OLLAMA_VERSION)
    assert (await identify(LmStudioClient(http, openai_only))).kind is BackendKind.OPENAI


async def test_lm_studio_costs_one_get_to_identify(http: httpx.AsyncClient, sim: Simulator) -> None:
    before = len(sim.state.requests)
    await identify(LmStudioClient(http, sim.base_url))
    assert [p for _, p, _ in sim.state.requests[before:]] == ["/api/v1/models"]


async def test_a_pinned_kind_is_believed_but_its_version_is_read(
    http: httpx.AsyncClient, ollama: OllamaSimulator
) -> None:
    found = await identify(LmStudioClient(http, ollama.base_url), BackendKind.OLLAMA)
    assert (found.kind, found.version) == (BackendKind.OLLAMA, OLLAMA_VERSION)
    assert _paths(ollama.requests) == ["/api/version"]  # only Ollama's own step ran


async def test_nothing_known_is_a_clear_error(http: httpx.AsyncClient, tmp_path: Path) -> None:
    class Teapot(_JsonHandler):
        def do_GET(self) -> None:
            self.reply(418, {"teapot": True})

    with (
        _serving(Teapot) as url,
        pytest.raises(EndpointNotSupported, match="none of the servers the tray knows"),
    ):
        await identify(LmStudioClient(http, url))


async def test_ollama_watched_with_its_own_api(
    http: httpx.AsyncClient, ollama: OllamaSimulator
) -> None:
    ollama.load("qwen3:8b", "10m")
    monitor = StatusMonitor(LmStudioClient(http, ollama.base_url), url=ollama.base_url, kind=AUTO)
    status = await monitor.probe()
    assert status.state is ServerState.RUNNING
    assert (status.kind, status.kind_known, status.version) == (
        BackendKind.OLLAMA,
        True,
        OLLAMA_VERSION,
    )
    (row,) = status.loaded
    assert row.identifier == "qwen3:8b"
    assert row.vram_bytes is not None and row.size_bytes is not None
    assert 0 < row.vram_bytes < row.size_bytes
    assert row.ttl_remaining_seconds is not None and 500 < row.ttl_remaining_seconds <= 600
    assert status.where == f"Ollama {OLLAMA_VERSION} at {ollama.base_url}"
    # Afterwards one GET per poll, and it is Ollama's own list.
    before = len(ollama.requests)
    await monitor.probe()
    assert _paths(ollama.requests[before:]) == ["/api/ps"]


async def test_lm_studio_0_3_watched_through_v0(http: httpx.AsyncClient, legacy: Simulator) -> None:
    legacy.state.load("qwen/qwen3-4b", context_length=8192)
    monitor = StatusMonitor(LmStudioClient(http, legacy.base_url), url=legacy.base_url)
    status = await monitor.probe()
    assert status.state is ServerState.RUNNING
    assert status.legacy and status.title == "LM Studio 0.3"
    assert [(r.identifier, r.context_length) for r in status.loaded] == [("qwen/qwen3-4b", 8192)]
    assert any("update to 0.4" in line for line in status.detail_lines)


async def test_openai_compatible_server_lists_what_it_serves(
    http: httpx.AsyncClient, openai_only: str
) -> None:
    monitor = StatusMonitor(LmStudioClient(http, openai_only), url=openai_only)
    status = await monitor.probe()
    assert (status.state, status.kind) == (ServerState.RUNNING, BackendKind.OPENAI)
    assert status.served_models == ("served-model",)
    backend = backend_for(monitor.identity, LmStudioClient(http, openai_only))  # type: ignore[arg-type]
    assert backend is not None
    with pytest.raises(EndpointNotSupported, match="only OpenAI-compatible"):
        await backend.unload("served-model")


async def test_a_server_that_comes_back_as_another_kind_is_found_again(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    with OllamaSimulator() as first:
        url = first.base_url
        monitor = StatusMonitor(LmStudioClient(http, url), url=url)
        assert (await monitor.probe()).kind is BackendKind.OLLAMA
        port = int(url.rsplit(":", 1)[1])
    assert (await monitor.probe()).state is ServerState.STOPPED
    with Simulator(tmp_path / "lms", api_port=port) as lmstudio:
        assert lmstudio.base_url == url
        status = await monitor.probe()
    assert (status.state, status.kind) == (ServerState.RUNNING, BackendKind.LMSTUDIO)


async def test_ollama_eject_all_and_restore(
    http: httpx.AsyncClient, ollama: OllamaSimulator, tmp_path: Path
) -> None:
    client = LmStudioClient(http, ollama.base_url)
    identity = await identify(client)
    backend = backend_for(identity, client)
    assert isinstance(backend, OllamaBackend)
    ejected: list[str] = []
    models = BackendModels(
        backend, state_dir=tmp_path, profile_id="ollama", on_user_unload=ejected.append
    )
    await models.load_keep_alive("llama3.2:3b", "1h")
    await models.load_keep_alive("qwen3:8b", -1)
    rows, _ = await backend.poll()
    point = await models.eject_all(rows)
    assert sorted(m.identifier for m in point.models) == ["llama3.2:3b", "qwen3:8b"]
    assert sorted(ejected) == ["llama3.2:3b", "qwen3:8b"]
    assert ollama.ps() == []
    # Ejecting is Ollama's own way: keep_alive 0 on /api/generate.
    assert ("POST", "/api/generate") in ollama.requests
    outcomes = await models.restore()
    assert all(o.ok for o in outcomes)
    assert sorted(m["name"] for m in ollama.ps()) == ["llama3.2:3b", "qwen3:8b"]
    assert models.restore_point() is None  # done


async def test_ollama_without_the_model_says_pull_it(
    http: httpx.AsyncClient, ollama: OllamaSimulator
) -> None:
    backend = OllamaBackend(
        LmStudioClient(http, ollama.base_url), await identify(LmStudioClient(http, ollama.base_url))
    )
    with pytest.raises(ModelNotFound, match="ollama pull nope"):
        await backend.load("nope")


class _KeyedOpenAI(_JsonHandler):
    """An OpenAI-compatible server behind a key (a proxy, vLLM with --api-key): 401 in
    OpenAI's words without it."""

    KEY = "k-123456789"

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.KEY}":
            body: dict[str, object] = {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
            status = 401
        elif self.path == "/v1/models":
            body, status = {"object": "list", "data": [{"id": "m", "owned_by": "vllm"}]}, 200
        else:
            body, status = {"detail": "Not Found"}, 404
        self.reply(status, body)


@pytest.fixture
def keyed() -> Iterator[str]:
    with _serving(_KeyedOpenAI) as url:
        yield url


async def test_a_server_behind_a_key_is_found_with_it_and_its_key_checked(
    http: httpx.AsyncClient, keyed: str
) -> None:
    key = StaticToken(SecretStr(_KeyedOpenAI.KEY))
    monitor = StatusMonitor(
        LmStudioClient(http, keyed, token_provider=key),
        url=keyed,
        anonymous=LmStudioClient(http, keyed, token_provider=NoToken()),
        has_token=True,
    )
    status = await monitor.probe()
    assert (status.state, status.kind, status.auth_required) == (
        ServerState.RUNNING_AUTH,
        BackendKind.OPENAI,
        True,
    )
    bare = StatusMonitor(LmStudioClient(http, keyed), url=keyed)
    refused = await bare.probe()
    assert refused.state is ServerState.AUTH_REQUIRED
    assert "Manage Tokens" not in (refused.error or "")  # not sent to LM Studio's token page
    # `tokens test`: checked through the OpenAI-compatible list, not called unknowable.
    good = await check_token(LmStudioClient(http, keyed, token_provider=key))
    assert (good.outcome, good.auth_required) == (CheckOutcome.ACCEPTED, True)
    wrong = StaticToken(SecretStr("k-wrong-000000"))
    bad = await check_token(LmStudioClient(http, keyed, token_provider=wrong))
    assert bad.outcome is CheckOutcome.REJECTED


class _LlamaServer(_JsonHandler):
    """llama.cpp's C++ `llama-server` as its README and source document it (it cannot be
    built here; llama-cpp-python's server is tested for real in test_llama_cpp_server.py):
    `/props`, `/slots`, `/v1/models` with `"owned_by": "llamacpp"`, and its error shape."""

    busy: ClassVar[list[bool]] = [False, False]
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _LlamaServer.paths.append(self.path)
        body: object
        if self.path == "/props":
            body = {
                "default_generation_settings": {"n_ctx": 8192, "params": {}},
                "total_slots": 2,
                "model_path": "/models/qwen2.5-7b-q4_k_m.gguf",
                "model_alias": "qwen2.5-7b",
                "build_info": "b6700-1a2b3c4",
                "modalities": {"vision": False},
            }
        elif self.path == "/slots":
            body = [
                {"id": i, "n_ctx": 4096, "is_processing": b, "id_task": -1}
                for i, b in enumerate(_LlamaServer.busy)
            ]
        elif self.path == "/v1/models":
            body = {
                "object": "list",
                "data": [
                    {
                        "id": "qwen2.5-7b",
                        "object": "model",
                        "created": 1,
                        "owned_by": "llamacpp",
                        "meta": {"n_ctx_train": 32768},
                    }
                ],
            }
        else:
            body = {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}
        self.reply(404 if isinstance(body, dict) and "error" in body else 200, body)


async def test_llama_server_shows_its_model_context_and_busy_slots(
    http: httpx.AsyncClient,
) -> None:
    with _serving(_LlamaServer) as url:
        monitor = StatusMonitor(LmStudioClient(http, url), url=url)
        status = await monitor.probe()
        assert (status.kind, status.version) == (BackendKind.LLAMACPP, "b6700-1a2b3c4")
        assert status.where == f"llama.cpp server b6700-1a2b3c4 at {url}"
        (row,) = status.loaded
        assert (row.identifier, row.context_length, row.parallel) == ("qwen2.5-7b", 8192, 2)
        # Later polls: one GET /slots each, which says whether it is answering.
        _LlamaServer.paths.clear()
        _LlamaServer.busy = [True, True]
        (row,) = (await monitor.probe()).loaded
        assert (row.status, row.queued) == ("generating", 1)
        assert _LlamaServer.paths == ["/slots"]
        _LlamaServer.busy = [False, False]
        (row,) = (await monitor.probe()).loaded
        assert row.status == "idle"


def test_what_needs_lm_studio_says_so_on_ollama(
    cli: Cli, ollama: OllamaSimulator, tmp_path: Path
) -> None:
    """Scenes and load profiles load in LM Studio's words: on Ollama they are refused with
    the reason, and nothing is sent that Ollama would not understand."""
    cli.json("servers", "add", "O", ollama.base_url, "--use")
    r = cli("scenes", "save", "work")
    assert r.returncode == 1
    assert "Scenes needs LM Studio" in r.stderr
    assert not any(p.startswith("/api/v1/") for _, p in ollama.requests[1:])
