from __future__ import annotations

from pydantic import SecretStr

from tray.core.auth_prompt import AuthPromptGate
from tray.core.status import ServerState, ServerStatus
from tray.core.tokens import FirstToken, NoToken, StaticToken

A, B = "http://127.0.0.1:1234", "http://lan:1234"


def st(state: ServerState, url: str = A) -> ServerStatus:
    return ServerStatus(url=url, state=state)


def test_a_401_storm_asks_once() -> None:
    gate = AuthPromptGate()
    asked = [gate.should_prompt(st(ServerState.AUTH_REQUIRED)) for _ in range(50)]
    assert asked.count(True) == 1
    assert asked[0] is True


def test_asks_again_after_a_change() -> None:
    gate = AuthPromptGate()
    assert gate.should_prompt(st(ServerState.AUTH_REQUIRED))
    assert gate.should_prompt(st(ServerState.AUTH_REQUIRED, B))  # another server
    gate.token_changed()
    assert gate.should_prompt(st(ServerState.AUTH_REQUIRED, B))  # a new token, refused again
    assert not gate.should_prompt(st(ServerState.UNREACHABLE, B))
    assert not gate.should_prompt(st(ServerState.AUTH_REQUIRED, B))  # a blip is no change
    assert not gate.should_prompt(st(ServerState.RUNNING_AUTH, B))
    assert gate.should_prompt(st(ServerState.AUTH_REQUIRED, B))  # accepted, then refused


async def test_first_token_wins() -> None:
    chain = FirstToken(NoToken(), StaticToken("sk-lm-Aaaa1111:Bbbbbbbbbb2222222222"), NoToken())
    token = await chain.get_token()
    assert isinstance(token, SecretStr)
    assert token.get_secret_value().startswith("sk-lm-Aaaa1111")
    assert await FirstToken(NoToken()).get_token() is None
