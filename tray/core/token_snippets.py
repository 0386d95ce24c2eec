"""The texts the tray copies for client apps, and the masked form a token is shown in.

Pure functions: the views only put their results on the clipboard. A client library wants
the OpenAI-compatible root (`…/v1`), so the base URL is normalised here, once, for every
snippet.
"""

from __future__ import annotations

from tray.core.tokens import TOKEN_PATTERN

__all__ = ["MASK", "env_lines", "masked", "openai_base_url", "openai_snippet"]

MASK = "••••"


def masked(token: str) -> str:
    """`sk-lm-Abcd1234:••••`: the client identifier (not secret) and no part of the passkey.

    Anything that is not token-shaped shows only the mask: a wrong paste may be another
    secret, and none of it may appear on screen."""
    value = token.strip()
    if TOKEN_PATTERN.fullmatch(value) is None:
        return MASK
    identifier, _, _ = value.partition(":")
    return f"{identifier}:{MASK}"


def openai_base_url(base_url: str) -> str:
    """The server's root with exactly one `/v1` at the end (`http://host:1234/v1`)."""
    root = base_url.strip().rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")].rstrip("/")
    return f"{root}/v1"


def env_lines(base_url: str, token: str) -> str:
    """Two lines for a shell or a `.env` file (no quotes: neither value can hold spaces)."""
    return f"LM_API_TOKEN={token.strip()}\nLM_BASE_URL={openai_base_url(base_url)}\n"


def openai_snippet(base_url: str, token: str) -> str:
    """A ready-to-paste OpenAI-client construction for this server."""
    return (
        "from openai import OpenAI\n"
        "\n"
        f'client = OpenAI(base_url="{openai_base_url(base_url)}", api_key="{token.strip()}")\n'
    )
