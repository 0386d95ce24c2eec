"""Restore points, eject rules, load outcomes and the words for loaded-model rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray.core.inventory import LoadedModelRow
from tray.core.lms_output import LoadProgressReader
from tray.core.restore import (
    LoadedResult,
    RestoreOutcome,
    RestorePoint,
    busy_rows,
    eject_needs_confirmation,
    eject_question,
    format_duration,
    load_outcome_text,
    restore_outcome_text,
    row_label,
    row_lines,
    row_summary,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

BUSY = LoadedModelRow(
    identifier="qwen/qwen3-4b",
    model_key="qwen/qwen3-4b",
    size_bytes=8_200_000_000,
    context_length=8192,
    max_context_length=32768,
    requested_context_length=16384,
    status="generating",
    queued=2,
    ttl_seconds=3600,
    ttl_remaining_seconds=540,
    parallel=4,
)
PLAIN = LoadedModelRow(identifier="m", model_key="pub/m", context_length=4096, parallel=2)


def test_the_summary_line_says_everything_a_user_asks() -> None:
    assert row_summary(BUSY) == (
        "8.20 GB · ctx 8,192 / 32,768 (asked 16,384!) · TTL 9m left · generating, 2 queued"
    )
    assert row_lines(BUSY) == (
        "8.20 GB · ctx 8,192 / 32,768 (asked 16,384!)",
        "TTL 9m left · generating, 2 queued",
    )


def test_unknown_facts_are_left_out_not_shown_as_question_marks() -> None:
    assert row_lines(PLAIN) == ("ctx 4,096",)
    assert row_lines(LoadedModelRow(identifier="x", model_key="x")) == ()


def test_ttl_words() -> None:
    idle = PLAIN.model_copy(update={"status": "idle"})
    assert row_lines(idle)[-1] == "no TTL · idle"  # lms ps was read: no TTL at all
    assert row_lines(idle.model_copy(update={"ttl_seconds": 600}))[-1] == "TTL 10m · idle"
    prompt = idle.model_copy(update={"status": "processingPrompt", "queued": 1})
    assert row_lines(prompt)[-1] == "no TTL · processing prompt, 1 queued"


def test_enough_context_is_not_flagged() -> None:
    fine = BUSY.model_copy(update={"requested_context_length": 8192})
    assert "asked" not in row_summary(fine)
    assert row_label(fine) == "qwen/qwen3-4b — generating"
    assert row_label(BUSY) == "qwen/qwen3-4b — generating, less context than asked"
    assert row_label(PLAIN) == "m"


@pytest.mark.parametrize(
    ("status", "queued", "ask"),
    [
        ("generating", 0, True),
        ("processingPrompt", 0, True),
        ("computingEmbedding", 0, True),
        ("idle", 0, False),
        ("idle", 1, True),  # a request waits for it
        (None, None, False),  # unknown: nothing says it is busy
        ("unknown", 0, False),
    ],
)
def test_which_ejects_need_a_yes(status: str | None, queued: int | None, ask: bool) -> None:
    row = PLAIN.model_copy(update={"status": status, "queued": queued})
    assert eject_needs_confirmation(row) is ask
    assert busy_rows([row, PLAIN]) == ([row] if ask else [])


def test_the_eject_question_names_the_model_and_the_queue() -> None:
    text, more = eject_question(BUSY)
    assert text == "qwen/qwen3-4b is generating. Eject it anyway?"
    assert "and 2 queued requests will fail" in more


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.4, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"), (3900, "1h 5m")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_restore_point_keeps_what_was_asked_and_the_settings() -> None:
    ttl_only = PLAIN.model_copy(update={"ttl_seconds": 0.4})
    point = RestorePoint.from_rows(
        [BUSY, ttl_only], profile_id="p", taken_at=NOW, gpu_ratios={"m": 0.5}
    )
    first, second = point.models
    assert (first.identifier, first.context_length, first.parallel, first.ttl_seconds) == (
        "qwen/qwen3-4b",
        16384,  # what the user asked for, not the shortfall LM Studio gave
        4,
        3600,
    )
    assert first.gpu_ratio is None  # not loaded by us: unknown
    assert (second.context_length, second.ttl_seconds, second.gpu_ratio) == (4096, 1, 0.5)
    assert point.pending
    assert RestorePoint.model_validate_json(point.model_dump_json()) == point
    assert not point.model_copy(update={"restored_at": NOW}).pending
    assert not RestorePoint(taken_at=NOW, profile_id="p").pending


def test_load_outcome_texts() -> None:
    ok = LoadedResult(
        model_key="qwen/qwen3-4b",
        identifier="qwen/qwen3-4b",
        via="lms",
        context_length=8192,
        requested_context_length=8192,
        load_seconds=2.345,
    )
    assert load_outcome_text(ok) == (
        "Loaded qwen/qwen3-4b as “qwen/qwen3-4b” with 8,192 tokens of context in 2.3 s."
    )
    short = ok.model_copy(update={"requested_context_length": 32768})
    assert short.context_short
    assert "less context than the 32,768 tokens asked for" in load_outcome_text(short)
    rest = ok.model_copy(update={"via": "rest", "not_applied": ("TTL", "identifier")})
    assert "Not applied (TTL, identifier)" in load_outcome_text(rest)


def test_restore_outcome_texts() -> None:
    assert restore_outcome_text([]) == "There was nothing to restore."
    text = restore_outcome_text(
        [
            RestoreOutcome(model_key="a", identifier="a", loaded_as="a"),
            RestoreOutcome(model_key="b", identifier="b", loaded_as="b", already_loaded=True),
            RestoreOutcome(model_key="c", identifier="mine", loaded_as="c", not_restored=("TTL",)),
            RestoreOutcome(model_key="d", identifier="d", error="Model not found."),
        ]
    )
    assert text.splitlines() == [
        "Restored 3 of 4 models.",
        "b: was already loaded.",
        "mine: came back as “c”.",
        "mine: not restored without lms: TTL.",
        "d: Model not found.",
    ]


# --- lms load's spinner ------------------------------------------------------------------

SPINNER = (
    "\r\x1b[2K⠋ Loading qwen/qwen3-4b 0%\r\x1b[2K⠙ Loading qwen/qwen3-4b 12%"
    "\r\x1b[2K⠹ Loading qwen/qwen3-4b 57%\r\x1b[2K⠸ Loading qwen/qwen3-4b 100%"
    "\r\x1b[2KModel loaded successfully in 9.10s. (2.33 GiB)\n"
)


def test_progress_from_the_recorded_spinner() -> None:
    assert LoadProgressReader().feed(SPINNER) == [0.0, 0.12, 0.57, 1.0]


def test_a_frame_counts_only_once_complete() -> None:
    reader = LoadProgressReader()
    assert reader.feed("\r⠋ Loading my model 1") == []  # could still become 10% or 100%
    assert reader.feed("0") == []
    assert reader.feed("0%\r") == [1.0]
    assert reader.feed("⠋ Loading my model 50%\n") == []  # never backwards


@given(st.lists(st.integers(min_value=1, max_value=len(SPINNER)), max_size=12))
def test_progress_does_not_depend_on_how_stderr_is_chunked(cuts: list[int]) -> None:
    reader = LoadProgressReader()
    seen: list[float] = []
    start = 0
    for cut in [*sorted(cuts), len(SPINNER)]:
        seen += reader.feed(SPINNER[start:cut])
        start = max(start, cut)
    assert seen == [0.0, 0.12, 0.57, 1.0]
