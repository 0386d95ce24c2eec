"""API tokens as values that do not leak, and the interface the HTTP client asks for one.

The keyring-backed vault arrives with its own capability; the client only knows this
protocol, so tests and the CLI can hand it a token from elsewhere (e.g. `LM_API_TOKEN`).

A provider may raise a `TokenError` (the keyring is locked, or does not answer): the client
then sends no token, and if the server wants one, its error says why there was none.
`WhenAsked` keeps a provider that may block (the keyring) untouched until a server asks for
a token at all: a status check of a server that is down, or that needs no token, never
waits on an unlock prompt.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, SecretStr

from tray.core.errors import InvalidTokenShape, TokenError, TokenTooLong

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
    "WaitsToBeAsked",
    "WhenAsked",
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
    """The first token any of `providers` has (e.g. the keyring, then LM_API_TOKEN). One
    that fails does not stop the next; when none has a token, the first failure is raised
    (it says why there is none)."""

    def __init__(self, *providers: TokenProvider) -> None:
        self._providers = providers

    async def get_token(self) -> SecretStr | None:
        failure: TokenError | None = None
        for provider in self._providers:
            try:
                token = await provider.get_token()
            except TokenError as exc:
                failure = failure or exc
                continue
            if token is not None:
                return token
        if failure is not None:
            raise failure
        return None


@runtime_checkable
class WaitsToBeAsked(Protocol):
    """A `TokenProvider` that gives its token only once a server has asked for one."""

    async def get_token(self) -> SecretStr | None: ...

    def server_asked(self) -> None:
        """A server refused a request sent without a token: give the token from now on."""


class WhenAsked:
    """`provider`'s token, but only after a server asked for one (`server_asked`).

    For a source that may block or prompt — the OS keyring waits on an unlock prompt nobody
    sees — and is not needed while a server answers without a token, or does not answer at
    all. The client sends a request without a token first; on "a token is required" it calls
    `server_asked()` and sends it again with the token, and goes on sending it."""

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider
        self.asked = False

    def __repr__(self) -> str:
        return f"WhenAsked({self._provider!r}, asked={self.asked})"

    def server_asked(self) -> None:
        self.asked = True

    async def get_token(self) -> SecretStr | None:
        return await self._provider.get_token() if self.asked else None
