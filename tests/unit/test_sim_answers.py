"""The demo's answers: chosen by the question, in Markdown a model would write, the same for
the same question, and never the question echoed back."""

from __future__ import annotations

import re

import pytest

from tray.simulator.answers import demo_answer

QUESTIONS = [
    "Write a Python function that reverses a string",
    "Write a function in JavaScript to reverse a string",
    "rust code to reverse a string",
    "Write a bash script to clean up old logs",
    "Rust vs Go for a web server?",
    "What is the difference between TCP and UDP?",
    "How do I make my builds faster?",
    "What is a context window?",
    "Write a long story about a lighthouse keeper",
]


def test_the_reverse_string_ask_gets_a_python_function_in_a_python_block() -> None:
    answer = demo_answer("Write a Python function that reverses a string", reasoning_model=False)
    block = re.search(r"```python\n(.*?)```", answer.text, re.S)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(block.group(1).split("\nprint(")[0], namespace)  # the code really works
    reverse = namespace["reverse_string"]
    assert callable(reverse) and reverse("LM Studio") == "oidutS ML"
    assert answer.reasoning is None


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Write a function in JavaScript to reverse a string", "javascript"),
        ("rust code to reverse a string", "rust"),
        ("Write a bash script to clean up old logs", "bash"),
        ("Write a function that parses dates", "python"),  # no language named
    ],
)
def test_code_questions_get_a_fenced_block_in_the_language_asked(
    question: str, language: str
) -> None:
    text = demo_answer(question, reasoning_model=False).text
    assert f"```{language}\n" in text and text.rstrip().endswith(text.rstrip().split("\n")[-1])
    assert text.count("```") == 2  # one block, closed


def test_comparisons_get_a_table_naming_both_sides() -> None:
    text = demo_answer("Rust vs Go for a web server?", reasoning_model=False).text
    assert "| | **Rust** | **Go** |" in text and "|---|---|---|" in text
    between = demo_answer("What is the difference between TCP and UDP?", reasoning_model=False)
    assert "**TCP**" in between.text and "**UDP**" in between.text


def test_how_to_questions_get_a_list() -> None:
    text = demo_answer("How do I make my builds faster?", reasoning_model=False).text
    assert re.search(r"^1\. \*\*", text, re.M) and re.search(r"^- ", text, re.M)


def test_a_long_story_is_long_enough_to_press_stop() -> None:
    text = demo_answer("Write a long story about a lighthouse keeper", reasoning_model=False).text
    assert len(text.split()) > 400 and text.count("### Part") >= 8


@pytest.mark.parametrize("question", QUESTIONS)
def test_never_an_echo_and_always_the_same_answer(question: str) -> None:
    first = demo_answer(question, reasoning_model=True)
    assert question.lower() not in first.text.lower()
    assert "You said" not in first.text
    assert demo_answer(question, reasoning_model=True) == first  # deterministic
    assert first.reasoning and question.lower() not in first.reasoning.lower()
    assert demo_answer(question, reasoning_model=False).reasoning is None
