"""The demo's answers: what a model might say, chosen by the question, so that streaming,
Markdown, code blocks, reasoning, Stop and Copy code can all be seen in the demo. Pure and
deterministic (the same question gets the same answer), and never an echo of the question.

A code question gets a short explanation, a fenced block in the language asked for
(Python when none is named) and a note after it; a comparison gets a small table; a
"how do I / steps / tips" question gets a list; anything else a couple of paragraphs on
its topic. A reasoning model thinks first. "Long story" and "essay" questions get a long
answer, for trying Stop.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

__all__ = ["DemoAnswer", "demo_answer"]


class DemoAnswer(NamedTuple):
    text: str
    reasoning: str | None


_LANGUAGES: dict[str, tuple[str, ...]] = {
    "python": ("python", "py ", "django", "pandas"),
    "javascript": ("javascript", "js ", "node", "typescript", "react"),
    "rust": ("rust",),
    "go": (" go ", "golang"),
    "sql": ("sql", "query", "postgres", "sqlite"),
    "bash": ("bash", "shell", "script", "command line", "terminal"),
}
_CODE_WORDS = ("function", "code", "script", "implement", "write a", "class", "regex", "program")
_COMPARE_WORDS = (" vs ", " versus ", "compare", "difference", "better:")
_LIST_WORDS = ("how do i", "how to", "steps", "tips", "list", "ways to", "ideas")
_LONG_WORDS = ("long story", "essay", "in detail", "long answer")
_STOP_WORDS = {
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are",
    "what", "why", "how", "do", "does", "i", "me", "my", "you", "your", "can", "could",
    "please", "should", "would", "tell", "about", "explain", "write", "give", "that",
}  # fmt: skip

# Snippets for the asks people try first; anything else gets a generic but sound one.
_SNIPPETS: dict[tuple[str, str], tuple[str, str]] = {
    ("python", "reverse"): (
        "def reverse_string(s: str) -> str:\n"
        '    """Return `s` reversed."""\n'
        "    return s[::-1]\n\n\n"
        'print(reverse_string("LM Studio"))  # oidutS ML',
        "A slice with a step of -1 walks the string from its end to its start, and it "
        "works for any sequence, lists included.",
    ),
    ("python", "fibonacci"): (
        "from collections.abc import Iterator\n\n\n"
        "def fibonacci() -> Iterator[int]:\n"
        "    a, b = 0, 1\n"
        "    while True:\n"
        "        yield a\n"
        "        a, b = b, a + b",
        "A generator keeps only two numbers in memory however far you go; take what you "
        "need with `itertools.islice(fibonacci(), 10)`.",
    ),
    ("python", "json"): (
        "import json\n"
        "from pathlib import Path\n\n\n"
        "def read_json(path: Path) -> dict:\n"
        '    with path.open(encoding="utf-8") as f:\n'
        "        return json.load(f)",
        "`json.load` raises `json.JSONDecodeError` with the line and column of the first "
        "problem, which is worth showing to the user as it is.",
    ),
    ("python", "sort"): (
        'people = [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]\n'
        'by_age = sorted(people, key=lambda p: p["age"], reverse=True)',
        "`sorted` returns a new list and is stable, so sorting twice by different keys "
        "gives a multi-key order.",
    ),
    ("python", "http"): (
        "import httpx\n\n"
        'response = httpx.get("http://localhost:1234/v1/models", timeout=10)\n'
        "response.raise_for_status()\n"
        'print([m["id"] for m in response.json()["data"]])',
        "That lists the models your local server offers; the same client streams chat "
        "answers with `httpx.stream`.",
    ),
    ("javascript", "reverse"): (
        'function reverseString(s) {\n  return [...s].reverse().join("");\n}\n\n'
        'console.log(reverseString("LM Studio")); // oidutS ML',
        "Spreading into an array splits by code point, so emoji and accented letters "
        'survive, unlike `s.split("")`.',
    ),
    ("rust", "reverse"): (
        "fn reverse_string(s: &str) -> String {\n    s.chars().rev().collect()\n}\n\n"
        'fn main() {\n    println!("{}", reverse_string("LM Studio"));\n}',
        "`chars()` iterates over Unicode scalar values, so the result is always valid UTF-8.",
    ),
    ("go", "reverse"): (
        "func Reverse(s string) string {\n\tr := []rune(s)\n"
        "\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n\t\tr[i], r[j] = r[j], r[i]\n"
        "\t}\n\treturn string(r)\n}",
        "Converting to runes first keeps multi-byte characters whole.",
    ),
    ("sql", "top"): (
        "SELECT name, SUM(amount) AS total\nFROM orders\nGROUP BY name\n"
        "ORDER BY total DESC\nLIMIT 5;",
        "An index on `orders(name)` keeps this fast as the table grows.",
    ),
    ("bash", "log"): (
        'find . -type f -name "*.log" -mtime +7 -print -delete',
        "Run it once without `-delete` to see what it would remove.",
    ),
}
_GENERIC: dict[str, str] = {
    "python": "def main() -> None:\n    items = load_items()\n    for item in items:\n"
    '        process(item)\n\n\nif __name__ == "__main__":\n    main()',
    "javascript": "async function main() {\n  const items = await loadItems();\n"
    "  for (const item of items) {\n    await process(item);\n  }\n}\n\nmain();",
    "rust": "fn main() -> Result<(), Box<dyn std::error::Error>> {\n"
    "    for item in load_items()? {\n        process(&item)?;\n    }\n    Ok(())\n}",
    "go": "func main() {\n\titems, err := loadItems()\n\tif err != nil {\n"
    "\t\tlog.Fatal(err)\n\t}\n\tfor _, item := range items {\n\t\tprocess(item)\n\t}\n}",
    "sql": "SELECT id, name, created_at\nFROM items\nWHERE created_at > now() - interval "
    "'7 days'\nORDER BY created_at DESC;",
    "bash": '#!/usr/bin/env bash\nset -euo pipefail\n\nfor f in "$@"; do\n'
    '  echo "processing $f"\ndone',
}


def _language(question: str) -> str | None:
    q = f" {question.lower()} "
    for language, words in _LANGUAGES.items():
        if any(w in q for w in words):
            return language
    return None


def _topic(question: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9+#.-]*", question.lower())]
    kept = [w for w in words if w not in _STOP_WORDS][:4]
    return " ".join(kept) or "this"


def _pick(question: str, options: int) -> int:
    return int(hashlib.sha256(question.encode()).hexdigest(), 16) % options


def _code_answer(question: str) -> str:
    language = _language(question) or "python"
    q = question.lower()
    found = next(
        (found for (lang, word), found in _SNIPPETS.items() if lang == language and word in q),
        None,
    )
    code, note = found or (
        _GENERIC[language],
        "Fill in the parts that read your data and do the work; the shape stays the same.",
    )
    return (
        f"Here is a {language.capitalize()} version that keeps it simple:\n\n"
        f"```{language}\n{code}\n```\n\n{note}"
    )


def _compare_answer(question: str) -> str:
    pair = re.search(r"([\w+#.-]+)\s+(?:vs\.?|versus)\s+([\w+#.-]+)", question, re.I) or re.search(
        r"between\s+([\w+#.-]+)\s+and\s+([\w+#.-]+)", question, re.I
    )
    left, right = pair.groups() if pair else ("the first", "the second")
    return (
        "In short: it depends on what you value more.\n\n"
        f"| | **{left}** | **{right}** |\n|---|---|---|\n"
        "| Speed | fast to start | faster once warm |\n"
        "| Memory | lower | higher |\n| Learning curve | gentle | steeper |\n"
        "| Best for | quick experiments | long-running work |\n\n"
        "Try both on a small, real task of yours: the difference usually shows in an hour."
    )


def _list_answer(question: str) -> str:
    topic = _topic(question)
    return (
        f"Here is a way to approach {topic}:\n\n"
        "1. **Start small.** Get the simplest version working end to end first.\n"
        "2. **Measure.** Find out where the time or memory actually goes before changing "
        "anything.\n"
        "3. **Change one thing at a time**, and keep what helps.\n"
        "4. **Write it down**: a short note on what you tried saves the next person a day.\n\n"
        "- *Tip:* keep the loaded model's context small while you iterate — answers come "
        "faster.\n- *Tip:* save the setup as a scene once it works."
    )


def _prose_answer(question: str) -> str:
    topic = _topic(question)
    first = (
        f"Good question. When it comes to {topic}, the most useful thing to know is that "
        "the details matter less than the feedback loop: try something, look at the "
        "result, adjust.",
        f"There are a few ways to look at {topic}. The practical one is to ask what you "
        "want to be true afterwards, and work back from there.",
    )[_pick(question, 2)]
    return (
        f"{first}\n\nA local model like this one is a good partner for that: it answers in "
        "a moment, costs nothing per question, and nothing you ask leaves your machine. "
        "Ask a follow-up with more detail and I can be more specific."
    )


def _long_answer(question: str) -> str:
    topic = _topic(question)
    paragraphs = [
        f"## {topic.capitalize()}\n\nThis is a long answer on purpose, so you can try "
        "**Stop**: the answer ends where you stop it, and what arrived stays.",
    ]
    for n in range(1, 9):
        paragraphs.append(
            f"### Part {n}\n\nEvery part of a long answer streams token by token. The "
            "popup renders finished Markdown blocks once and only the open tail again, so "
            "the cost per token stays flat however long the answer grows. Meanwhile the "
            "tray menu shows the model as generating, with any requests queued behind it."
        )
    return "\n\n".join(paragraphs)


def _reasoning(question: str, kind: str) -> str:
    topic = _topic(question)
    plans = {
        "code": "They want working code. Show the code first, in a fenced block with the "
        "language named, then one or two sentences on why it works and an edge case.",
        "compare": "A comparison reads best as a small table, then a one-line suggestion.",
        "list": "Steps are clearest as a numbered list with a bold lead on each.",
        "long": "They asked for something long: several sections with headings.",
        "prose": "A short, direct answer will do; offer to go deeper.",
    }
    return f"The question is about {topic}. {plans[kind]}"


def demo_answer(question: str, *, reasoning_model: bool) -> DemoAnswer:
    """The demo's answer to `question` (and, for a reasoning model, its thinking)."""
    q = f" {question.lower()} "
    if any(w in q for w in _LONG_WORDS):
        kind, text = "long", _long_answer(question)
    elif any(w in q for w in _CODE_WORDS) or (_language(question) and "?" not in question):
        kind, text = "code", _code_answer(question)
    elif any(w in q for w in _COMPARE_WORDS):
        kind, text = "compare", _compare_answer(question)
    elif any(w in q for w in _LIST_WORDS):
        kind, text = "list", _list_answer(question)
    else:
        kind, text = "prose", _prose_answer(question)
    return DemoAnswer(text=text, reasoning=_reasoning(question, kind) if reasoning_model else None)
