"""The `lms log stream` parser and the Activity session: whatever LM Studio prints (banner
elsewhere, unknown types, partial stats, huge prompts, garbage, a cut-off last line)
becomes records or is counted as skipped; memory stays bounded; text only when asked."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray.core.activity import (
    TEXT_CAP_CHARS,
    ActivityLog,
    ActivityReader,
    LogLine,
    Prediction,
    PredictionStarted,
    activity_unavailable,
    context_full_notice,
    failed_notice,
    parse_line,
    prediction_json,
    to_csv,
    to_ndjson,
)
from tray.core.backends import BackendKind, capabilities_for
from tray.core.notifications import NoticeKind, NotificationRules
from tray.core.settings import NotificationSettings

T0 = 1_780_000_000_000  # unix ms
TOKEN = "sk-lm-Abcd1234:abcdefghij0123456789"


def line(data: dict[str, Any], ts: int = T0) -> bytes:
    return json.dumps({"timestamp": ts, "data": data}).encode() + b"\n"


def inp(model: str = "qwen/qwen3-4b", text: str = "<|im_start|>user\nhi") -> bytes:
    return line({"type": "llm.prediction.input", "modelIdentifier": model, "input": text})


def out(model: str = "qwen/qwen3-4b", ts: int = T0, **stats: Any) -> bytes:
    full = {
        "stopReason": "eosFound",
        "tokensPerSecond": 42.5,
        "timeToFirstTokenSec": 0.31,
        "totalTimeSec": 1.2,
        "promptTokensCount": 12,
        "predictedTokensCount": 50,
    } | stats
    data = {"type": "llm.prediction.output", "modelIdentifier": model, "output": "Hello!"}
    return line(data | {"stats": full}, ts)


def test_a_prediction_with_its_prompt_and_stats() -> None:
    reader, log = ActivityReader(), ActivityLog()
    records = log.extend(reader.feed(inp() + out()))
    assert len(records) == 1
    p = records[0]
    assert isinstance(p, Prediction)
    assert (p.model, p.prompt_tokens, p.output_tokens) == ("qwen/qwen3-4b", 12, 50)
    assert (p.tokens_per_second, p.time_to_first_token_s, p.total_time_s) == (42.5, 0.31, 1.2)
    assert p.stop_reason == "eosFound" and p.time == T0 / 1000
    # lengths only: no text kept unless asked
    assert (p.input, p.output, p.input_chars, p.output_chars) == (
        None,
        None,
        len("<|im_start|>user\nhi"),
        6,
    )


def test_text_is_kept_only_when_asked_and_capped() -> None:
    huge = "x" * (TEXT_CAP_CHARS * 3)
    reader = ActivityReader(keep_text=True)
    log = ActivityLog()
    (p,) = log.extend(reader.feed(inp(text=huge) + out()))
    assert isinstance(p, Prediction)
    assert p.input_chars == len(huge)
    assert p.input is not None and len(p.input) < TEXT_CAP_CHARS + 50
    assert p.input.endswith(f"({TEXT_CAP_CHARS * 2} more characters)")
    assert p.output == "Hello!"
    log.forget_text()
    assert log.predictions[0].input is None and log.predictions[0].output is None


def test_tolerant_of_what_real_lms_prints() -> None:
    reader = ActivityReader()
    chunk = b"".join(
        [
            b"Streaming logs from LM Studio\n",  # a banner that strayed onto stdout
            b"\n",
            b"not json at all\n",
            b"[1, 2, 3]\n",
            line({"type": "llm.prediction.speculative", "x": 1}),  # an unknown type
            line({"type": "runtime.log", "level": "info", "message": "engine up"}),
            json.dumps({"timestamp": "later", "data": {"type": "server.log"}}).encode() + b"\n",
            line({"type": "llm.prediction.output"}),  # no stats at all
            out(tokensPerSecond="fast", promptTokensCount=None, totalTimeSec=float("inf")),
        ]
    )
    events = reader.feed(chunk)
    assert reader.skipped == 5  # banner, garbage, an array, the unknown type, no content
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["LogLine", "Prediction", "Prediction"]
    bare = events[1]
    assert isinstance(bare, Prediction)
    assert bare.model == "unknown model" and bare.stop_reason is None
    partial = events[2]
    assert isinstance(partial, Prediction)
    assert partial.tokens_per_second is None and partial.prompt_tokens is None
    assert partial.total_time_s is None and partial.output_tokens == 50


def test_lines_split_anywhere_and_a_cut_off_last_line() -> None:
    data = inp() + out() + out()[:40]  # the last line is cut off
    reader = ActivityReader()
    events = []
    for i in range(0, len(data), 7):  # chunks that split lines and UTF-8 anywhere
        events += reader.feed(data[i : i + 7])
    events += reader.close()
    assert [type(e) for e in events] == [PredictionStarted, Prediction]
    assert reader.skipped == 1
    # a complete last line without its newline still counts
    reader = ActivityReader()
    assert reader.feed(out().rstrip(b"\n")) == []
    assert len(reader.close()) == 1


def test_a_line_over_the_limit_is_skipped_without_being_held() -> None:
    reader = ActivityReader(max_line_bytes=1000)
    big = inp(text="y" * 5000)
    events = reader.feed(big[:3000]) + reader.feed(big[3000:] + out())
    assert [type(e) for e in events] == [Prediction]
    assert reader.skipped == 1
    assert len(reader._buffer) == 0


def test_server_lines_are_redacted_and_levels_kept() -> None:
    reader = ActivityReader()
    data = line({"type": "server.log", "level": "warn", "content": f"Bearer {TOKEN} refused"})
    (event,) = reader.feed(data + line({"type": "server.log", "level": "odd", "content": "x"}))[:1]
    assert isinstance(event, LogLine)
    assert event.level == "warn" and TOKEN not in event.message
    assert "[redacted]" in event.message
    assert parse_line(line({"type": "server.log", "level": "odd", "content": "x"})) == LogLine(
        time=T0 / 1000, level="info", message="x"
    )


def test_summary_per_model_median_and_p95() -> None:
    reader, log = ActivityReader(), ActivityLog()
    chunk = b""
    for i in range(20):
        chunk += inp() + out(tokensPerSecond=10.0 + i, timeToFirstTokenSec=0.1 * (i + 1))
    chunk += out(model="other", tokensPerSecond=5.0, timeToFirstTokenSec=None)
    log.extend(reader.feed(chunk))
    a, b = log.summaries()
    assert (a.model, a.requests) == ("other", 1)
    assert a.median_tokens_per_second == 5.0 and a.p95_time_to_first_token_s is None
    assert (b.model, b.requests) == ("qwen/qwen3-4b", 20)
    assert b.median_tokens_per_second == pytest.approx(19.5)
    assert b.p95_time_to_first_token_s == pytest.approx(1.9)  # 19th of 20 by nearest rank


def test_memory_is_bounded_but_the_session_counts_everything() -> None:
    log = ActivityLog(capacity=100, log_capacity=10)
    reader = ActivityReader()
    for i in range(1000):
        log.extend(reader.feed(inp() + out(ts=T0 + i)))
        log.extend(reader.feed(line({"type": "server.log", "level": "info", "content": "l"})))
    assert len(log.predictions) == 100 and len(log.lines) == 10
    assert log.predictions[-1].time == (T0 + 999) / 1000
    assert log.summaries()[0].requests == 1000
    assert not log.busy


def test_busy_while_a_prompt_waits_and_live_line() -> None:
    reader, log = ActivityReader(), ActivityLog()
    assert log.live_line(T0 / 1000) is None
    log.extend(reader.feed(inp()))
    assert log.busy
    log.extend(reader.feed(out(ts=T0)))
    assert not log.busy
    log.extend(reader.feed(out(ts=T0 - 120_000)))
    now = T0 / 1000 + 1
    assert log.requests_since(now - 60) == 0  # newest last: the old one ends the count
    log.extend(reader.feed(inp() + out(ts=T0 + 500)))
    assert log.live_line(now) == "Activity: last 42.5 tok/s, 1 request in the last minute"
    log.extend(reader.feed(inp()))
    assert log.live_line(now).startswith("Activity: generating, ")
    log.stream_ended()
    assert not log.busy


def test_json_csv_and_ndjson_shapes() -> None:
    reader, log = ActivityReader(keep_text=True), ActivityLog()
    (p,) = log.extend(reader.feed(inp(text=f"token {TOKEN}") + out()))
    assert isinstance(p, Prediction)
    assert list(prediction_json(p)) == [
        "time",
        "model",
        "prompt_tokens",
        "output_tokens",
        "tokens_per_second",
        "time_to_first_token_s",
        "total_time_s",
        "stop_reason",
    ]
    shown = prediction_json(p, show_text=True)
    assert shown["output"] == "Hello!" and TOKEN not in shown["input"]
    assert prediction_json(p)["time"].endswith("Z")
    rows = list(csv.DictReader(io.StringIO(to_csv([p]))))
    assert rows[0]["tokens_per_second"] == "42.5" and "input" not in rows[0]
    text = to_ndjson([p, LogLine(time=1.0, level="info", message="m")])
    first, second = (json.loads(x) for x in text.splitlines())
    assert "input" not in first and second == {
        "time": "1970-01-01T00:00:01.000Z",
        "level": "info",
        "message": "m",
    }


def test_context_full_and_failed_notices_switchable_and_rate_limited() -> None:
    reader, log = ActivityReader(), ActivityLog()
    (p,) = log.extend(reader.feed(out(stopReason="contextLengthReached", totalTokensCount=4096)))
    assert isinstance(p, Prediction)
    notice = context_full_notice(p)
    assert notice is not None and notice.kind is NoticeKind.CONTEXT_FULL
    assert notice.message == (
        "qwen/qwen3-4b ran out of context (4,096 tokens); raise its context in its load profile."
    )
    assert context_full_notice(p, context_length=8192).message.startswith(  # type: ignore[union-attr]
        "qwen/qwen3-4b ran out of context (8,192 tokens)"
    )
    assert failed_notice(p) is None
    (f,) = log.extend(reader.feed(out(stopReason="failed")))
    assert isinstance(f, Prediction)
    failed = failed_notice(f, reason="Model crashed")
    assert failed is not None and failed.message.endswith("failed: Model crashed.")
    now = [0.0]
    rules = NotificationRules(NotificationSettings(), clock=lambda: now[0])
    assert rules.admit(notice) == notice
    assert rules.admit(notice) is None  # one per window
    now[0] += 1000
    assert rules.admit(notice) is not None and rules.admit(notice) is None
    off = NotificationRules(NotificationSettings(context_full=False))
    assert off.admit(notice) is None


def test_other_servers_have_no_activity() -> None:
    assert activity_unavailable(capabilities_for(BackendKind.LMSTUDIO, lms_available=True)) is None
    why = activity_unavailable(capabilities_for(BackendKind.OPENAI, lms_available=False))
    assert why is not None and "OpenAI-compatible" in why
    no_lms = activity_unavailable(capabilities_for(BackendKind.LMSTUDIO, lms_available=False))
    assert no_lms is not None and "lms" in no_lms


@given(st.binary(max_size=400), st.integers(min_value=1, max_value=50))
def test_any_bytes_never_raise(data: bytes, step: int) -> None:
    reader, log = ActivityReader(max_line_bytes=100), ActivityLog(capacity=5)
    for i in range(0, len(data), step):
        log.extend(reader.feed(data[i : i + step]))
    log.extend(reader.close())
    assert len(log.predictions) <= 5


def test_stop_reasons_are_said_in_words_and_unknown_ones_as_given() -> None:
    from tray.core.activity import stop_reason_text

    assert stop_reason_text("contextLengthReached") == "context full"
    assert stop_reason_text("eosFound") == "finished"
    assert stop_reason_text("somethingNew") == "somethingNew"
    assert stop_reason_text(None) == ""
