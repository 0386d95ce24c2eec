"""Shared fixtures of the integration tier: a simulated LM Studio on loopback and an
`LmStudioClient` over a real `httpx.AsyncClient` pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cli_runner import Cli  # tests/integration/cli_runner.py

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
