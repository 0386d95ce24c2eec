"""Small pieces of English that every user-facing sentence shares: counted nouns ("1 model",
"3 models"), "a" or "an", "on" or "off", and a name quoted as text.

One place for them, so no view or command writes "model(s)", "a OpenAI key" or "True".
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "article",
    "copied_sentence",
    "join_and",
    "on_off",
    "plural",
    "quoted",
    "with_article",
]

# Words that start with a vowel letter but not a vowel sound, and the reverse.
_CONSONANT_SOUND = re.compile(r"^(one|once|uni(?!n)|use|usu|uti|eu|ewe|u[bcfhjkqrst][aeiou])", re.I)
_VOWEL_SOUND = re.compile(r"^(hour|honest|honou?r|heir)", re.I)
# Initialisms read letter by letter: "an MCP server", "an NVIDIA GPU", "a URL".
_VOWEL_LETTERS = frozenset("AEFHILMNORSX")
# ... also when written in lower case, as commands and schemes are.
_LOWER_INITIALISMS = frozenset(
    {"url", "http", "https", "html", "lms", "mcp", "npm", "sse", "ssh", "ttl"}
)


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """`plural(1, "model")` → "1 model"; `plural(3, "model")` → "3 models";
    `plural(2, "entry", "entries")` → "2 entries". Thousands get separators."""
    word = noun if n == 1 else (plural_form if plural_form is not None else noun + "s")
    return f"{n:,} {word}"


def join_and(items: Sequence[str], conjunction: str = "and") -> str:
    """ "a", "a and b", "a, b and c" (or "a, b or c"): a list as a sentence says it."""
    if len(items) <= 2:
        return f" {conjunction} ".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def article(phrase: str) -> str:
    """ "a" or "an" for the phrase that follows ("an OpenAI API key", "a URL", "an hour")."""
    match = re.search(r"[A-Za-z0-9]+", phrase.strip().split(" ", 1)[0])
    if match is None:
        return "a"
    word = match[0]
    if word.lower() in _LOWER_INITIALISMS:
        word = word.upper()
    if len(word) > 1 and word.isupper() and word.isalpha():
        return "an" if word[0] in _VOWEL_LETTERS else "a"
    if _VOWEL_SOUND.match(word):
        return "an"
    if _CONSONANT_SOUND.match(word):
        return "a"
    return "an" if word[0].lower() in "aeiou" else "a"


def with_article(phrase: str, *, capital: bool = False) -> str:
    """`with_article("OpenAI API key")` → "an OpenAI API key" ("An …" with `capital`)."""
    word = article(phrase)
    return f"{word.capitalize() if capital else word} {phrase}"


def on_off(value: bool | None, *, unknown: str = "unknown") -> str:
    """A switch as a person says it: "on", "off", or "unknown" when nobody knows."""
    if value is None:
        return unknown
    return "on" if value else "off"


def quoted(text: str) -> str:
    """A name inside a sentence: “text”, with invisible characters shown as escapes (a tab
    as \\t) so that what the user sees is what is there — never Python's repr quotes."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return f"“{shown}”"


def copied_sentence(clear_after_seconds: int | None) -> str:
    """What the user is told after a copy: when the clipboard is cleared again (the
    configured delay), or just that it was copied when nothing is cleared."""
    if clear_after_seconds is None:
        return "Copied."
    if clear_after_seconds <= 0:
        return "Copied — it stays on the clipboard until you copy something else."
    return f"Copied — the clipboard is cleared in {clear_after_seconds} s."
