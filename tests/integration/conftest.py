"""Shared fixtures of the integration tier: a simulated LM Studio on loopback and an
`LmStudioClient` over a real `httpx.AsyncClient` pointed at it; a real llama.cpp server
(llama-cpp-python's) on a tiny model the suite writes itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cli_runner import Cli  # tests/integration/cli_runner.py
from llama_cpp_server import LlamaCppServer, start_llama_cpp_server

from tray.services.lmstudio_client import LmStudioClient
from tray.simulator import Simulator


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=2000) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient, sim: Simulator) -> LmStudioClient:
    return LmStudioClient(http, sim.base_url)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The real `lmstudio-tray` executable, with `tmp_path` as the user's home."""
    return Cli(tmp_path)


@pytest.fixture(scope="session")
def llama_cpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppServer]:
    """One real `python -m llama_cpp.server` for the session, on a free loopback port,
    serving tests/fixtures/llama_cpp/make_gguf.py's model as "tiny"; stopped at the end.
    Fails (never skips) where llama-cpp-python[server] or gguf is not installed."""
    server = start_llama_cpp_server(tmp_path_factory.mktemp("llama-cpp-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llama_cpp_url(llama_cpp_server: LlamaCppServer) -> str:
    """The real llama.cpp server's base URL: http://127.0.0.1:PORT."""
    return llama_cpp_server.base_url
