"""API tokens as values that do not leak, and the interface the HTTP client asks for one.

The keyring-backed vault arrives with its own capability; the client only knows this
protocol, so tests and the CLI can hand it a token from elsewhere (e.g. `LM_API_TOKEN`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, SecretStr

from tray.core.errors import InvalidTokenShape, TokenTooLong

__all__ = [
    "MAX_TOKEN_CHARS",
    "TOKEN_PATTERN",
    "CheckOutcome",
    "FirstToken",
    "NoToken",
    "StaticToken",
    "TokenCheck",
    "TokenProvider",
    "TokenState",
    "client_id",
    "combine_state",
    "env_line",
    "looks_like_token",
    "validate_token",
]

# Far above any token shape we accept: a longer paste is a file or a log, not a token, and
# we say so instead of describing the shape (and never echo it).
MAX_TOKEN_CHARS = 1024

# sk-lm-<clientIdentifier: 8 alnum>:<clientPasskey: 20 alnum>  (FORMATS.md §2.9)
TOKEN_PATTERN = re.compile(r"sk-lm-[A-Za-z0-9]{8}:[A-Za-z0-9]{20}")


def looks_like_token(value: str) -> bool:
    return TOKEN_PATTERN.fullmatch(value.strip()) is not None


def validate_token(value: str | SecretStr) -> SecretStr:
    """The token, stripped of surrounding blanks (a paste often ends in a newline), or
    `InvalidTokenShape` / `TokenTooLong` with a sentence that never repeats the value."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    raw = raw.strip()
    if len(raw) > MAX_TOKEN_CHARS:
        raise TokenTooLong(
            f"That is {len(raw)} characters long; an LM Studio token is 35 "
            "(sk-lm-, 8 letters or digits, a colon, 20 more). Copy only the token.",
            limit_bytes=MAX_TOKEN_CHARS,
        )
    if not raw:
        raise InvalidTokenShape("No token was given. Paste the token LM Studio showed you.")
    if TOKEN_PATTERN.fullmatch(raw) is None:
        hint = (
            "it does not start with sk-lm-"
            if not raw.startswith("sk-lm-")
            else f"it is {len(raw)} characters long, with the wrong letters or length"
        )
        raise InvalidTokenShape(
            f"That does not look like an LM Studio API token ({hint}). A token is sk-lm-, "
            "8 letters or digits, a colon and 20 more letters or digits, as LM Studio's "
            "Developer page shows it once when you create it."
        )
    return SecretStr(raw)


def client_id(token: str | SecretStr) -> str:
    """The public half of a token (`sk-lm-Abcd1234`), enough to tell tokens apart."""
    raw = token.get_secret_value() if isinstance(token, SecretStr) else token
    return raw.strip().split(":", 1)[0][: len("sk-lm-") + 8]


def env_line(token: SecretStr, *, reveal: bool, name: str = "LM_API_TOKEN") -> str:
    """`LM_API_TOKEN=…` for client apps; the secret half only when asked to reveal it."""
    if reveal:
        return f"{name}={token.get_secret_value()}"
    return f"{name}={client_id(token)}:…"


class TokenState(StrEnum):
    """Where a profile's token lives; REJECTED only after the server refused it."""

    STORED = "stored"
    SESSION = "session"
    MISSING = "missing"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        labels: dict[TokenState, str] = {
            TokenState.STORED: "Stored in the keyring",
            TokenState.SESSION: "Kept in memory for this session",
            TokenState.MISSING: "No token",
            TokenState.REJECTED: "Rejected by the server",
        }
        return labels[self]


class CheckOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


class TokenCheck(BaseModel):
    """What the server said about a token; `message` is a sentence for the user."""

    model_config = ConfigDict(frozen=True)

    outcome: CheckOutcome
    message: str
    auth_required: bool | None = None


def combine_state(state: TokenState, check: TokenCheck | None) -> TokenState:
    """A stored or session token the server refused reads as REJECTED."""
    if (
        check is not None
        and check.outcome is CheckOutcome.REJECTED
        and state is not (TokenState.MISSING)
    ):
        return TokenState.REJECTED
    return state


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
