"""Activity: what parsing `lms log stream` costs per event, and what the Activity window
holds after 10,000 predictions.

- `activity-parse`: µs per event through `ActivityReader.feed` + `ActivityLog.extend`
  (64 KiB chunks of real-shaped NDJSON: prompt, completion with stats, a server line);
  baseline: bare `json.loads` of the same lines — the floor any parser pays.
- `activity-window-memory`: RSS growth (MB) of a process with the Activity window open
  (offscreen Qt) after 10,000 predictions arrived and were shown; baseline: the same
  10,000 records in an `ActivityLog` without a window.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from run import Options, Result  # tests/benchmarks/run.py

from tray.core.activity import ActivityLog, ActivityReader

__all__ = ["BENCHMARKS"]

EVENTS = 30_000
PROMPT = "<|im_start|>user\n" + "Explain the difference between a process and a thread. " * 8


def stream(n: int) -> bytes:
    lines = []
    for i in range(n // 3):
        ts = 1_780_000_000_000 + i
        lines.append(
            {
                "timestamp": ts,
                "data": {
                    "type": "llm.prediction.input",
                    "modelIdentifier": "qwen/qwen3-4b",
                    "modelPath": "q.gguf",
                    "input": PROMPT,
                },
            }
        )
        lines.append(
            {
                "timestamp": ts,
                "data": {
                    "type": "llm.prediction.output",
                    "modelIdentifier": "qwen/qwen3-4b",
                    "output": "A process owns memory. " * 20,
                    "stats": {
                        "stopReason": "eosFound",
                        "tokensPerSecond": 41.2,
                        "timeToFirstTokenSec": 0.2,
                        "totalTimeSec": 3.1,
                        "promptTokensCount": 120,
                        "predictedTokensCount": 120,
                    },
                },
            }
        )
        lines.append(
            {
                "timestamp": ts,
                "data": {
                    "type": "server.log",
                    "level": "info",
                    "content": "[2026-08-08 22:40:13][INFO] [q] Finished streaming response",
                },
            }
        )
    return "".join(json.dumps(x) + "\n" for x in lines).encode()  # fmt: skip


def _parse_once(data: bytes) -> float:
    reader, log = ActivityReader(), ActivityLog()
    started = time.perf_counter()
    for i in range(0, len(data), 65536):
        log.extend(reader.feed(data[i : i + 65536]))
    return (time.perf_counter() - started) / EVENTS * 1e6


def _json_once(data: bytes) -> float:
    started = time.perf_counter()
    for line in data.splitlines():
        json.loads(line)
    return (time.perf_counter() - started) / EVENTS * 1e6


def activity_parse(opts: Options) -> list[Result]:
    data = stream(EVENTS)
    runs, base = [], []
    for _ in range(opts.runs):
        base.append(_json_once(data))
        runs.append(_parse_once(data))
    return [
        Result(
            name="activity-parse",
            unit="µs/event",
            runs=runs,
            baseline_runs=base,
            budget="reported (baseline: json.loads alone)",
        )
    ]


MEMORY_SCRIPT = """
import sys, time
from tray.core.activity import ActivityLog, ActivityReader
sys.path.insert(0, {here!r})
from bench_activity import stream
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6
window = {window}
log = ActivityLog()
if window:
    from PySide6.QtWidgets import QApplication
    from tray.ui.activity_window import ActivityWindow
    app = QApplication([])
    w = ActivityWindow(log, demo=False)
    w.show()
    app.processEvents()
data = stream(30_000)
before = rss()
reader = ActivityReader()
for i in range(0, len(data), 65536):
    records = log.extend(reader.feed(data[i : i + 65536]))
    if window:
        w.added(records)
        app.processEvents()
if window:
    w.table.scrollToBottom()
    app.processEvents()
assert len(log.predictions) == 10_000
print(rss() - before)
"""


def _memory(opts: Options, window: bool) -> float:
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [opts.python, "-c", MEMORY_SCRIPT.format(here=here, window=window)],
        capture_output=True, text=True, env=env, check=True, timeout=300,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def activity_window_memory(opts: Options) -> list[Result]:
    runs, base = [], []
    for _ in range(opts.runs):
        base.append(_memory(opts, window=False))
        runs.append(_memory(opts, window=True))
    return [
        Result(
            name="activity-window-memory",
            unit="MB",
            runs=runs,
            baseline_runs=base,
            budget="reported (baseline: the records without a window)",
        )
    ]


BENCHMARKS = [activity_parse, activity_window_memory]
