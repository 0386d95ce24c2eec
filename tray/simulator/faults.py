"""Faults a test injects into the simulated HTTP API: error statuses, HTML pages, hangs,
resets (before the answer or mid-stream), cut, poisoned or endless streams, oversize and
trickling bodies.

A fault matches a request by path (a glob, `None` = every path) and optionally method,
applies `times` times (None = until cleared) and then disappears.
"""

from __future__ import annotations

import threading
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel

__all__ = ["STREAM_FAULTS", "Fault", "FaultKind", "FaultList"]

FaultKind = Literal[
    "status",
    "html",
    "hang",  # reads the request, then never answers (until the simulator stops)
    "reset",  # RST instead of an answer
    "truncate",
    "error_event",
    "reset_stream",  # RST after `after_events` stream events
    "endless",  # a well-formed stream that never ends (native or OpenAI by path)
    "oversize",
    "trickle",  # the real answer, one byte every `interval` seconds
]
# These change a stream while it runs; the others replace or delay the whole answer.
STREAM_FAULTS: frozenset[str] = frozenset({"truncate", "error_event", "reset_stream"})


class Fault(BaseModel):
    kind: FaultKind
    path: str | None = "/api/v1/chat"
    method: str | None = None
    status: int | None = None  # "status": default 500; "html": default 200
    body: bytes | None = None  # "status": default a v1 internal_error; "error_event": its JSON
    content_type: str | None = None
    after_events: int = 3
    size: int = 16 * 1024 * 1024
    interval: float | None = None  # "trickle": seconds per byte (default 0.2)
    times: int | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or fnmatchcase(path, self.path)


class FaultList:
    """Thread-safe list of active faults; the server takes one per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[tuple[Fault, list[int | None]]] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append((fault, [fault.times]))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, *, streaming: bool) -> Fault | None:
        """The first fault for this request, counting one use of it.

        `streaming=False` asks for faults that replace an answer, `True` for those that
        alter a running stream.
        """
        with self._lock:
            for entry in self._faults:
                fault, remaining = entry
                if (fault.kind in STREAM_FAULTS) != streaming or not fault.matches(method, path):
                    continue
                if remaining[0] is not None:
                    remaining[0] -= 1
                    if remaining[0] <= 0:
                        self._faults.remove(entry)
                return fault
        return None
