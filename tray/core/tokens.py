"""API tokens as values that do not leak, and the interface the HTTP client asks for one.

The keyring-backed vault arrives with its own capability; the client only knows this
protocol, so tests and the CLI can hand it a token from elsewhere (e.g. `LM_API_TOKEN`).
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

__all__ = [
    "TOKEN_PATTERN",
    "FirstToken",
    "NoToken",
    "StaticToken",
    "TokenProvider",
    "looks_like_token",
]

# sk-lm-<clientIdentifier: 8 alnum>:<clientPasskey: 20 alnum>  (FORMATS.md §2.9)
TOKEN_PATTERN = re.compile(r"sk-lm-[A-Za-z0-9]{8}:[A-Za-z0-9]{20}")


def looks_like_token(value: str) -> bool:
    return TOKEN_PATTERN.fullmatch(value.strip()) is not None


@runtime_checkable
class TokenProvider(Protocol):
    """Gives the bearer token for one server, or None when there is none."""

    async def get_token(self) -> SecretStr | None: ...


class NoToken:
    async def get_token(self) -> SecretStr | None:
        return None


class StaticToken:
    """A token held in memory (from the environment, stdin, or a session-only choice)."""

    def __init__(self, token: str | SecretStr) -> None:
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)

    async def get_token(self) -> SecretStr | None:
        return self._token

    def __repr__(self) -> str:
        return "StaticToken(**********)"


class FirstToken:
    """The first token any of `providers` has (e.g. the keyring, then LM_API_TOKEN)."""

    def __init__(self, *providers: TokenProvider) -> None:
        self._providers = providers

    async def get_token(self) -> SecretStr | None:
        for provider in self._providers:
            token = await provider.get_token()
            if token is not None:
                return token
        return None
