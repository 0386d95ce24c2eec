"""httpx/httpcore debug logging of a real authenticated request shows no token."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from tray.core.tokens import StaticToken
from tray.services.lmstudio_client import LmStudioClient
from tray.services.logs import configure_logging
from tray.simulator import Simulator

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(logging.DEBUG, stream=stream)
    yield stream
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


async def test_http_debug_log_has_no_token(sim: Simulator, debug_log: io.StringIO) -> None:
    sim.state.set_auth(TOKEN)
    async with httpx.AsyncClient() as http:
        client = LmStudioClient(http, sim.base_url, token_provider=StaticToken(TOKEN))
        await client.list_models()
        # And the raw header, logged the way a careless debug line would.
        logging.getLogger("httpx").debug(
            "headers %s", client_headers := {"Authorization": f"Bearer {TOKEN}"}
        )
        assert client_headers
    out = debug_log.getvalue()
    assert "HTTP Request: GET" in out  # httpx did log the request at debug level
    assert "httpcore" in out
    assert TOKEN not in out and "Abcdefghij1234567890" not in out
