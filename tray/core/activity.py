"""What LM Studio's `lms log stream --json` says, as records a developer can glance at.

`ActivityReader` turns the child's stdout (NDJSON, FORMATS §1.10: one
`{"timestamp": <unix ms>, "data": {...}}` per line) into typed events, whatever arrives:
unknown event types and garbage lines are counted and skipped, stats may be missing or
partial, a very long prompt is kept only as its length (and, with "Show text", its first
`TEXT_CAP_CHARS` characters), a last line cut off is dropped at `close()`. `ActivityLog`
keeps a bounded session — a ring buffer of finished predictions and of log lines — and
answers the questions the window and the tray ask: per-model summary (requests, median
tokens/s, p95 time to first token), requests in the last minute, is a prediction running.

Text (prompt and completion) is kept only when the reader is told to; log lines are
redacted (`core/redact.py`) before they are kept. Pure: no Qt, no I/O; time is given.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import deque
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from tray.core.backends import Capabilities
from tray.core.notifications import Notice, NoticeKind, Severity
from tray.core.redact import redact
from tray.core.words import plural

__all__ = [
    "CSV_COLUMNS",
    "LOG_CAPACITY",
    "MAX_LINE_BYTES",
    "NOT_RUNNING",
    "PREDICTION_CAPACITY",
    "TEXT_CAP_CHARS",
    "ActivityEvent",
    "ActivityLog",
    "ActivityReader",
    "ActivitySource",
    "LogLine",
    "ModelSummary",
    "Prediction",
    "PredictionStarted",
    "activity_unavailable",
    "context_full_notice",
    "failed_notice",
    "line_json",
    "parse_line",
    "prediction_json",
    "stop_reason_text",
    "to_csv",
    "to_ndjson",
]

TEXT_CAP_CHARS = 20_000  # of a prompt or completion kept with "Show text"
MAX_LINE_BYTES = 16 * 1024 * 1024  # a line longer than this is skipped, not kept whole
PREDICTION_CAPACITY = 10_000  # finished predictions kept in a session
LOG_CAPACITY = 5_000  # log lines kept in a session
SAMPLES_PER_MODEL = 1_000  # recent tok/s and TTFT values behind a model's summary
PENDING_PER_MODEL = 64  # prompts waiting for their completion, per model

# LM Studio's stop reasons (`LLMPredictionStats.stopReason`, FORMATS §1.10) as the window
# says them; exports and --json keep LM Studio's own words.
_STOP_REASONS = {
    "eosFound": "finished",
    "stopStringFound": "stop string",
    "maxPredictedTokensReached": "token limit",
    "contextLengthReached": "context full",
    "userStopped": "stopped",
    "modelUnloaded": "model unloaded",
    "toolCalls": "tool calls",
    "failed": "failed",
}


def stop_reason_text(reason: str | None) -> str:
    """A stop reason in words ("context full"); one this list does not know, as given."""
    if not reason:
        return ""
    return _STOP_REASONS.get(reason, reason)


NOT_RUNNING = (
    "LM Studio's server is not running. Activity starts when it is up: `lms log stream` "
    "would start LM Studio itself, so the tray does not run it before."
)


def activity_unavailable(caps: Capabilities) -> str | None:
    """Why this server has no Activity (None: it has). Only LM Studio tells what its
    models do (`lms log stream`); other servers give nothing like it."""
    if caps.lms:
        return None
    return caps.why_not("Activity (live predictions and the server's log)")


class ActivitySource(StrEnum):
    """What `lms log stream --source` streams (`runtime` is not in LM Studio's docs yet)."""

    MODEL = "model"
    SERVER = "server"


class PredictionStarted(BaseModel):
    """`llm.prediction.input`: a model was given a (formatted) prompt."""

    model_config = ConfigDict(frozen=True)

    time: float  # unix seconds
    model: str  # the instance identifier
    input_chars: int
    input: str | None = None  # only with "Show text", capped


class Prediction(BaseModel):
    """`llm.prediction.output`: a finished prediction with what its stats say."""

    model_config = ConfigDict(frozen=True)

    time: float  # unix seconds
    model: str
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    tokens_per_second: float | None = None
    time_to_first_token_s: float | None = None
    total_time_s: float | None = None
    stop_reason: str | None = None
    output_chars: int = 0
    input_chars: int | None = None  # from its prompt event, when one was seen
    input: str | None = None
    output: str | None = None

    @property
    def failed(self) -> bool:
        return self.stop_reason == "failed"

    @property
    def context_full(self) -> bool:
        return self.stop_reason == "contextLengthReached"


class LogLine(BaseModel):
    """`server.log` (or `runtime.log`): one line, redacted."""

    model_config = ConfigDict(frozen=True)

    time: float
    level: str  # debug | info | warn | error
    message: str


ActivityEvent = PredictionStarted | Prediction | LogLine


def _cap(text: str) -> str:
    if len(text) <= TEXT_CAP_CHARS:
        return text
    return f"{text[:TEXT_CAP_CHARS]}… ({len(text) - TEXT_CAP_CHARS} more characters)"


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_LEVELS = ("debug", "info", "warn", "error")


def parse_line(line: str | bytes, *, keep_text: bool = False) -> ActivityEvent | None:
    """One NDJSON line → an event; None for a line that is not one we know (blank,
    garbage, another event type). Never raises."""
    try:
        doc = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(data := doc.get("data"), dict):
        return None
    stamp = _float(doc.get("timestamp"))
    at = stamp / 1000 if stamp is not None else 0.0
    kind = data.get("type")
    model = _str(data.get("modelIdentifier")) or _str(data.get("modelPath")) or "unknown model"
    if kind == "llm.prediction.input":
        text = _str(data.get("input")) or ""
        return PredictionStarted(
            time=at, model=model, input_chars=len(text), input=_cap(text) if keep_text else None
        )
    if kind == "llm.prediction.output":
        text = _str(data.get("output")) or ""
        raw = data.get("stats")
        stats: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return Prediction(
            time=at,
            model=model,
            prompt_tokens=_int(stats.get("promptTokensCount")),
            output_tokens=_int(stats.get("predictedTokensCount")),
            total_tokens=_int(stats.get("totalTokensCount")),
            tokens_per_second=_float(stats.get("tokensPerSecond")),
            time_to_first_token_s=_float(stats.get("timeToFirstTokenSec")),
            total_time_s=_float(stats.get("totalTimeSec")),
            stop_reason=_str(stats.get("stopReason")),
            output_chars=len(text),
            output=_cap(text) if keep_text else None,
        )
    if kind in ("server.log", "runtime.log"):
        message = _str(data.get("content")) or _str(data.get("message"))
        if message is None:
            return None
        level = _str(data.get("level"))
        return LogLine(
            time=at,
            level=level if level in _LEVELS else "info",
            message=redact(message.rstrip("\n")),
        )
    return None


class ActivityReader:
    """The child's stdout, chunk by chunk → events. Lines are split on `\\n` (bytes, so a
    chunk may end inside a UTF-8 character); a line over `max_line_bytes` is skipped
    without being held whole. `skipped` counts lines that were not events we know."""

    def __init__(self, *, keep_text: bool = False, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.keep_text = keep_text
        self.max_line_bytes = max_line_bytes
        self.skipped = 0
        self._buffer = bytearray()
        self._discarding = False  # inside a line that went over the limit

    def feed(self, chunk: bytes) -> list[ActivityEvent]:
        events: list[ActivityEvent] = []
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            piece = chunk[start:end]
            start = end + 1
            if self._discarding:
                self._discarding = False
                self._buffer.clear()
                continue
            if self._buffer:
                self._buffer += piece
                line, self._buffer = bytes(self._buffer), bytearray()
            else:
                line = piece
            self._take(line, events)
        rest = chunk[start:]
        if rest and not self._discarding:
            self._buffer += rest
            if len(self._buffer) > self.max_line_bytes:
                self._buffer.clear()
                self._discarding = True
                self.skipped += 1
        return events

    def close(self) -> list[ActivityEvent]:
        """The stream ended: a last line without its newline is complete only if it
        parses (a cut-off one does not, and is counted as skipped)."""
        events: list[ActivityEvent] = []
        if self._buffer and not self._discarding:
            self._take(bytes(self._buffer), events)
        self._buffer.clear()
        self._discarding = False
        return events

    def _take(self, line: bytes, events: list[ActivityEvent]) -> None:
        if not line.strip():
            return
        if len(line) > self.max_line_bytes:
            self.skipped += 1
            return
        event = parse_line(line, keep_text=self.keep_text)
        if event is None:
            self.skipped += 1
        else:
            events.append(event)


class ModelSummary(BaseModel):
    """One model's session: requests, median tokens/s, p95 time to first token."""

    model_config = ConfigDict(frozen=True)

    model: str
    requests: int
    median_tokens_per_second: float | None
    p95_time_to_first_token_s: float | None


def _p95(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    # nearest rank: the smallest value with at least 95 % of the values at or below it
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class _ModelStats:
    __slots__ = ("requests", "tps", "ttft")

    def __init__(self) -> None:
        self.requests = 0
        self.tps: deque[float] = deque(maxlen=SAMPLES_PER_MODEL)
        self.ttft: deque[float] = deque(maxlen=SAMPLES_PER_MODEL)


class ActivityLog:
    """One session's activity, bounded: the newest `capacity` predictions and
    `log_capacity` log lines; per-model counts for the whole session."""

    def __init__(
        self, *, capacity: int = PREDICTION_CAPACITY, log_capacity: int = LOG_CAPACITY
    ) -> None:
        self.predictions: deque[Prediction] = deque(maxlen=capacity)
        self.lines: deque[LogLine] = deque(maxlen=log_capacity)
        self._pending: dict[str, deque[PredictionStarted]] = {}
        self._models: dict[str, _ModelStats] = {}

    def add(self, event: ActivityEvent) -> Prediction | LogLine | None:
        """Take one event; the finished record it makes (None for a prompt)."""
        if isinstance(event, PredictionStarted):
            self._pending.setdefault(event.model, deque(maxlen=PENDING_PER_MODEL)).append(event)
            return None
        if isinstance(event, LogLine):
            self.lines.append(event)
            return event
        # No request id (FORMATS §1.10): the oldest prompt of the same model is its own.
        waiting = self._pending.get(event.model)
        if waiting:
            started = waiting.popleft()
            if not waiting:
                del self._pending[event.model]
            event = event.model_copy(
                update={"input_chars": started.input_chars, "input": started.input}
            )
        self.predictions.append(event)
        stats = self._models.setdefault(event.model, _ModelStats())
        stats.requests += 1
        if event.tokens_per_second is not None:
            stats.tps.append(event.tokens_per_second)
        if event.time_to_first_token_s is not None:
            stats.ttft.append(event.time_to_first_token_s)
        return event

    def extend(self, events: Iterable[ActivityEvent]) -> list[Prediction | LogLine]:
        return [r for e in events if (r := self.add(e)) is not None]

    @property
    def busy(self) -> bool:
        """A prompt was given and its completion has not arrived yet."""
        return bool(self._pending)

    def stream_ended(self) -> None:
        """The stream stopped: prompts still waiting will never be answered here."""
        self._pending.clear()

    def clear(self) -> None:
        self.predictions.clear()
        self.lines.clear()
        self._pending.clear()
        self._models.clear()

    def forget_text(self) -> None:
        """ "Show text" was turned off: the text kept so far goes too."""
        self.predictions = deque(
            (p.model_copy(update={"input": None, "output": None}) for p in self.predictions),
            maxlen=self.predictions.maxlen,
        )
        for waiting in self._pending.values():
            for i, started in enumerate(waiting):
                waiting[i] = started.model_copy(update={"input": None})

    def summaries(self) -> list[ModelSummary]:
        return [
            ModelSummary(
                model=model,
                requests=s.requests,
                median_tokens_per_second=statistics.median(s.tps) if s.tps else None,
                p95_time_to_first_token_s=_p95(s.ttft),
            )
            for model, s in sorted(self._models.items())
        ]

    def requests_since(self, since: float) -> int:
        n = 0
        for p in reversed(self.predictions):
            if p.time < since:
                break
            n += 1
        return n

    def live_line(self, now: float) -> str | None:
        """The tray tooltip's line: the last tokens/s and requests in the last minute."""
        if not self.predictions and not self.busy:
            return None
        last = next(
            (p.tokens_per_second for p in reversed(self.predictions) if p.tokens_per_second),
            None,
        )
        count = self.requests_since(now - 60)
        parts = ["generating" if self.busy else None]
        parts.append(f"last {last:.1f} tok/s" if last is not None else None)
        parts.append(f"{plural(count, 'request')} in the last minute")
        return "Activity: " + ", ".join(p for p in parts if p)


# --- what leaves the process: JSON lines, CSV, notices ------------------------------------

CSV_COLUMNS = (
    "time",
    "model",
    "prompt_tokens",
    "output_tokens",
    "tokens_per_second",
    "time_to_first_token_s",
    "total_time_s",
    "stop_reason",
)


def _iso(at: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prediction_json(p: Prediction, *, show_text: bool = False) -> dict[str, Any]:
    """One prediction as `activity --json` prints it (and the NDJSON export keeps it)."""
    doc: dict[str, Any] = {
        "time": _iso(p.time),
        "model": p.model,
        "prompt_tokens": p.prompt_tokens,
        "output_tokens": p.output_tokens,
        "tokens_per_second": p.tokens_per_second,
        "time_to_first_token_s": p.time_to_first_token_s,
        "total_time_s": p.total_time_s,
        "stop_reason": p.stop_reason,
    }
    if show_text:
        doc["input"] = redact(p.input) if p.input is not None else None
        doc["output"] = redact(p.output) if p.output is not None else None
    return doc


def line_json(line: LogLine) -> dict[str, Any]:
    return {"time": _iso(line.time), "level": line.level, "message": line.message}


def to_ndjson(records: Iterable[Prediction | LogLine], *, show_text: bool = False) -> str:
    out = []
    for r in records:
        doc = prediction_json(r, show_text=show_text) if isinstance(r, Prediction) else line_json(r)
        out.append(json.dumps(doc, ensure_ascii=False))
    return "".join(line + "\n" for line in out)


def to_csv(predictions: Iterable[Prediction], *, show_text: bool = False) -> str:
    columns = [*CSV_COLUMNS, *(("input", "output") if show_text else ())]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for p in predictions:
        writer.writerow(
            {
                k: ("" if v is None else v)
                for k, v in prediction_json(p, show_text=show_text).items()
            }
        )
    return buffer.getvalue()


def context_full_notice(p: Prediction, *, context_length: int | None = None) -> Notice | None:
    """A prediction that stopped because the context was full: say so, with the number."""
    if not p.context_full:
        return None
    tokens = context_length or p.total_tokens
    if tokens is None and p.prompt_tokens is not None:
        tokens = p.prompt_tokens + (p.output_tokens or 0)
    size = f" ({tokens:,} tokens)" if tokens else ""
    return Notice(
        kind=NoticeKind.CONTEXT_FULL,
        key=f"{NoticeKind.CONTEXT_FULL.value}:{p.model}",
        title="Context full",
        message=f"{p.model} ran out of context{size}; raise its context in its load profile.",
        severity=Severity.WARNING,
    )


def failed_notice(p: Prediction, *, reason: str | None = None) -> Notice | None:
    """A failed prediction, with its reason when LM Studio's log gave one (the stats
    carry none)."""
    if not p.failed:
        return None
    why = f": {reason}" if reason else " (Activity… › Server log may say why)"
    return Notice(
        kind=NoticeKind.PREDICTION_FAILED,
        key=f"{NoticeKind.PREDICTION_FAILED.value}:{p.model}",
        title="Prediction failed",
        message=f"A prediction of {p.model} failed{why}.",
        severity=Severity.WARNING,
    )
