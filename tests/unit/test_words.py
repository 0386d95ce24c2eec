"""The shared pieces of English: counted nouns, a/an, on/off, quoted names, and what a
copy says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tray.core.mcp_audit import ExposureFacts, FileFacts, audit
from tray.core.mcp_config import parse_mcp
from tray.core.words import (
    article,
    copied_sentence,
    join_and,
    on_off,
    plural,
    quoted,
    with_article,
)


@pytest.mark.parametrize(
    ("n", "noun", "plural_form", "said"),
    [
        (0, "model", None, "0 models"),
        (1, "model", None, "1 model"),
        (3, "model", None, "3 models"),
        (1, "entry", "entries", "1 entry"),
        (2, "entry", "entries", "2 entries"),
        (1200, "file", None, "1,200 files"),
        (1, "queued request", None, "1 queued request"),
    ],
)
def test_plural_says_the_number_and_the_right_form(
    n: int, noun: str, plural_form: str | None, said: str
) -> None:
    assert plural(n, noun, plural_form) == said


@pytest.mark.parametrize(
    ("phrase", "word"),
    [
        ("OpenAI API key", "an"),
        ("Anthropic API key", "an"),
        ("AWS access key id", "an"),
        ("LM Studio API token", "an"),
        ("MCP server", "an"),
        ("NVIDIA GPU", "an"),
        ("npm token", "an"),
        ("http:// address", "an"),
        ("hour", "an"),
        ("GitHub token", "a"),
        ("GPU", "a"),
        ("URL", "a"),
        ("url", "a"),
        ("user", "a"),
        ("one-time code", "a"),
        ("unknown model", "an"),
        ("password in a URL", "a"),
        ("Hugging Face token", "a"),
        ("JSON file", "a"),
    ],
)
def test_article_goes_by_the_sound(phrase: str, word: str) -> None:
    assert article(phrase) == word


def test_with_article_capitalises_at_the_start_of_a_sentence() -> None:
    assert with_article("OpenAI API key", capital=True) == "An OpenAI API key"
    assert with_article("GitHub token") == "a GitHub token"


def test_on_off_never_says_true_or_false() -> None:
    assert (on_off(True), on_off(False), on_off(None)) == ("on", "off", "unknown")
    assert on_off(None, unknown="not set") == "not set"


def test_quoted_shows_what_is_there_without_python_quotes() -> None:
    assert quoted("it's") == "“it's”"
    assert quoted("a\tb") == "“a\\tb”"
    assert quoted("café") == "“café”"


def test_join_and_reads_like_a_sentence() -> None:
    assert join_and([]) == ""
    assert join_and(["a"]) == "a"
    assert join_and(["a", "b"]) == "a and b"
    assert join_and(["a", "b", "c"]) == "a, b and c"


def test_a_copy_says_when_the_clipboard_is_cleared() -> None:
    assert copied_sentence(30) == "Copied — the clipboard is cleared in 30 s."
    assert copied_sentence(5) == "Copied — the clipboard is cleared in 5 s."
    assert "stays on the clipboard" in copied_sentence(0)
    assert copied_sentence(None) == "Copied."


def test_the_audit_says_an_openai_key() -> None:
    """The label varies, so the article must follow it: never "A OpenAI API key"."""
    path = Path(__file__).parent.parent / "fixtures/mcp/assembled/secrets-in-args.json"
    doc = parse_mcp(path.read_bytes())
    facts = FileFacts(path="mcp.json", mode=0o600, owner_is_user=True, dir_mode=0o700, size=1)
    report = audit(doc, facts, ExposureFacts(), lmstudio_home="/home/u/.lmstudio")
    messages = [f.message for f in report.findings]
    assert any(m.startswith("An OpenAI API key is ") for m in messages), messages
    assert not any(m.startswith("A OpenAI") for m in messages)
