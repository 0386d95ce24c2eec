"""What the simulated LM Studio tells `lms log stream` (FORMATS §1.10): its own chat
traffic as `llm.prediction.input` / `llm.prediction.output` events and its server's log
lines as `server.log`, kept in a bounded, numbered book that the fake `lms` reads
through the control server (`logEvents`, waiting for new ones)."""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime
from typing import Any

__all__ = ["LOG_BOOK_SIZE", "LogBook", "prediction_input", "prediction_output", "server_log"]

LOG_BOOK_SIZE = 2_000
SOURCES = {
    "model": ("llm.prediction.input", "llm.prediction.output"),
    "server": ("server.log",),
    "runtime": ("runtime.log",),
}


class LogBook:
    """Numbered events, the newest `LOG_BOOK_SIZE`; thread-safe."""

    def __init__(self, size: int = LOG_BOOK_SIZE) -> None:
        self._events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=size)
        self._next = 1
        self._cond = threading.Condition()

    @property
    def last(self) -> int:
        """The number of the newest event (0: none yet)."""
        with self._cond:
            return self._next - 1

    def add(self, data: dict[str, Any]) -> None:
        with self._cond:
            self._events.append((self._next, {"timestamp": int(time.time() * 1000), "data": data}))
            self._next += 1
            self._cond.notify_all()

    def after(
        self, seq: int, *, source: str = "model", wait: float = 0.0
    ) -> tuple[int, list[dict[str, Any]]]:
        """The events of `source` numbered above `seq` (waiting up to `wait` seconds for
        one), and the number to ask after next time."""
        types = SOURCES.get(source, ())
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                found = [e for n, e in self._events if n > seq and e["data"]["type"] in types]
                left = deadline - time.monotonic()
                if found or left <= 0:
                    return self._next - 1, found
                seq = self._next - 1
                self._cond.wait(left)


def _stamp() -> str:
    return datetime.now().strftime("[%Y-%m-%d %H:%M:%S]")


def server_log(level: str, text: str) -> dict[str, Any]:
    """A `server.log` event, its content as LM Studio writes it (`[time][LEVEL] text`)."""
    return {"type": "server.log", "level": level, "content": f"{_stamp()}[{level.upper()}] {text}"}


def prediction_input(
    identifier: str, model_path: str, history: list[tuple[str, str]], prompt: str
) -> dict[str, Any]:
    """The formatted prompt, in a ChatML-like template as a GGUF model's would render."""
    turns = [f"<|im_start|>user\n{u}<|im_end|>\n<|im_start|>assistant\n{a}<|im_end|>\n"
             for u, a in history]  # fmt: skip
    text = "".join(turns) + f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
    return {
        "type": "llm.prediction.input",
        "modelPath": model_path,
        "modelIdentifier": identifier,
        "input": text,
    }


def prediction_output(
    identifier: str,
    output: str,
    *,
    stop_reason: str,
    prompt_tokens: int,
    predicted_tokens: int,
    tokens_per_second: float,
    time_to_first_token: float,
    total_time: float,
) -> dict[str, Any]:
    """The whole completion with `LLMPredictionStats` (FORMATS §1.10)."""
    return {
        "type": "llm.prediction.output",
        "modelIdentifier": identifier,
        "output": output,
        "stats": {
            "stopReason": stop_reason,
            "tokensPerSecond": tokens_per_second,
            "numGpuLayers": -1,
            "timeToFirstTokenSec": time_to_first_token,
            "totalTimeSec": total_time,
            "promptTokensCount": prompt_tokens,
            "predictedTokensCount": predicted_tokens,
            "totalTokensCount": prompt_tokens + predicted_tokens,
        },
    }
