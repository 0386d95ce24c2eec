"""The keyring is asked only when a server wants a token: `WhenAsked` over the real
`LmStudioClient`, `TokenVault` and `StatusMonitor`, against the simulator. A server that is
down, or answers without a token, never touches the keyring; one that wants a token gets the
request again with it; a keyring that does not answer is a sentence in the status, not a
crash or a hang."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from keyring.backend import KeyringBackend
from pydantic import SecretStr

from tray.core.api import ChatRequest
from tray.core.chat_events import ChatEndEvent
from tray.core.errors import AuthRequired, ServerUnreachable
from tray.core.status import ServerState
from tray.core.tokens import FirstToken, NoToken, StaticToken, WhenAsked
from tray.services.lmstudio_client import LmStudioClient
from tray.services.status_monitor import StatusMonitor
from tray.services.token_vault import TokenVault
from tray.simulator import Simulator

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
QWEN = "qwen/qwen3-4b"
MODELS = ("GET", "/api/v1/models")


class Keyring(KeyringBackend):
    """A keyring holding TOKEN that counts its reads; with `silent`, a read waits on an
    unlock prompt nobody answers (until the test ends)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, *, silent: bool = False) -> None:
        super().__init__()
        self.reads = 0
        self.silent = silent
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.reads += 1
        if self.silent:
            self.release.wait(60)
        return TOKEN

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


@pytest.fixture
def keyring_backend() -> Iterator[Keyring]:
    backend = Keyring()
    yield backend
    backend.release.set()


def lazy_client(
    http: httpx.AsyncClient, url: str, backend: Keyring, **vault: float
) -> LmStudioClient:
    """As the CLI and the tray build theirs: LM_API_TOKEN (none here), then the keyring."""
    token = WhenAsked(FirstToken(NoToken(), TokenVault(backend, **vault).provider("p")))
    return LmStudioClient(http, url, token_provider=token)


def monitor(client: LmStudioClient, url: str, http: httpx.AsyncClient) -> StatusMonitor:
    return StatusMonitor(
        client,
        url=url,
        anonymous=LmStudioClient(http, url, token_provider=NoToken()),
        has_token=client_token(client),
    )


def client_token(client: LmStudioClient) -> WhenAsked:
    provider = client._tokens  # the provider the client was built with
    assert isinstance(provider, WhenAsked)
    return provider


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def test_a_server_that_is_down_never_touches_the_keyring(
    http: httpx.AsyncClient, keyring_backend: Keyring
) -> None:
    url = closed_url()
    client = lazy_client(http, url, keyring_backend)
    with pytest.raises(ServerUnreachable):
        await client.list_models()
    status = await monitor(client, url, http).probe()
    assert status.state is ServerState.STOPPED
    assert keyring_backend.reads == 0


async def test_a_server_without_auth_never_touches_the_keyring(
    http: httpx.AsyncClient, sim: Simulator, keyring_backend: Keyring
) -> None:
    client = lazy_client(http, sim.base_url, keyring_backend)
    status = await monitor(client, sim.base_url, http).probe()
    assert (status.state, status.auth_required) == (ServerState.RUNNING, False)
    await client.list_models()
    assert keyring_backend.reads == 0
    assert not any(had_auth for _, _, had_auth in sim.state.requests)


async def test_a_server_that_asks_gets_the_request_again_with_the_token(
    http: httpx.AsyncClient, sim: Simulator, keyring_backend: Keyring
) -> None:
    sim.state.set_auth(TOKEN)
    client = lazy_client(http, sim.base_url, keyring_backend)
    status = await monitor(client, sim.base_url, http).probe()
    assert (status.state, status.auth_required) == (ServerState.RUNNING_AUTH, True)
    models = [(m, p, a) for m, p, a in sim.state.requests if (m, p) == MODELS]
    # refused without the token, sent again with it, then the monitor's one token-less look
    assert [a for *_, a in models] == [False, True, False]
    before = len(sim.state.requests)
    await client.list_models()
    assert sim.state.requests[before:] == [(*MODELS, True)]  # from now on, at once
    assert keyring_backend.reads == 1


async def test_a_stream_is_sent_again_with_the_token(
    http: httpx.AsyncClient, sim: Simulator, keyring_backend: Keyring
) -> None:
    sim.state.set_auth(TOKEN)
    client = lazy_client(http, sim.base_url, keyring_backend)
    events = [e async for e in client.chat_stream(ChatRequest(model=QWEN, input="2+2?"))]
    assert isinstance(events[-1], ChatEndEvent)
    chats = [a for m, p, a in sim.state.requests if p == "/api/v1/chat"]
    assert chats == [False, True]


async def test_requests_refused_together_all_go_again(
    http: httpx.AsyncClient, sim: Simulator, keyring_backend: Keyring
) -> None:
    sim.state.set_auth(TOKEN)
    client = lazy_client(http, sim.base_url, keyring_backend)
    lists = await asyncio.gather(*(client.list_models() for _ in range(4)))
    assert all(lists)


async def test_a_silent_keyring_is_a_sentence_in_the_status(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.state.set_auth(TOKEN)
    silent = Keyring(silent=True)
    try:
        client = lazy_client(http, sim.base_url, silent, timeout=0.5)
        with pytest.raises(AuthRequired) as caught:
            await client.list_models()
        said = caught.value.message
        assert said.startswith(f"The server at {sim.base_url} requires an API token.")
        assert "keyring did not answer" in said and "may be locked" in said
        status = await monitor(client, sim.base_url, http).probe()
        assert status.state is ServerState.AUTH_REQUIRED
        assert status.error == said  # the provider keeps the answer: no second wait
        assert silent.reads == 1
    finally:
        silent.release.set()


async def test_a_static_token_is_still_sent_at_once(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.state.set_auth(TOKEN)
    client = LmStudioClient(http, sim.base_url, token_provider=StaticToken(SecretStr(TOKEN)))
    await client.list_models()
    assert sim.state.requests == [(*MODELS, True)]
