"""The texts copied for client apps, and the masked form of a token."""

from __future__ import annotations

import pytest

from tray.core.token_snippets import env_lines, masked, openai_base_url, openai_snippet

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"


def test_masked_keeps_only_the_client_identifier() -> None:
    assert masked(TOKEN) == "sk-lm-Abcd1234:••••"
    assert "Abcdefghij" not in masked(TOKEN)


@pytest.mark.parametrize("value", ["", "sk-lm-short", "hunter2", TOKEN + "x", "sk-lm-Abcd1234:"])
def test_anything_not_token_shaped_shows_only_the_mask(value: str) -> None:
    assert masked(value) == "••••"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:1234", "http://127.0.0.1:1234/v1"),
        ("http://127.0.0.1:1234/", "http://127.0.0.1:1234/v1"),
        ("http://box:1234/v1", "http://box:1234/v1"),
        ("http://box:1234/v1/", "http://box:1234/v1"),
    ],
)
def test_base_url_gets_exactly_one_v1(url: str, expected: str) -> None:
    assert openai_base_url(url) == expected


def test_env_lines() -> None:
    assert env_lines("http://127.0.0.1:1234", f" {TOKEN}\n") == (
        f"LM_API_TOKEN={TOKEN}\nLM_BASE_URL=http://127.0.0.1:1234/v1\n"
    )


def test_openai_snippet_is_python_that_builds_the_client() -> None:
    snippet = openai_snippet("http://127.0.0.1:1234/", TOKEN)
    assert f'OpenAI(base_url="http://127.0.0.1:1234/v1", api_key="{TOKEN}")' in snippet
    compile(snippet, "<snippet>", "exec")  # valid Python, paste-ready
