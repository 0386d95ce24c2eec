"""Counting what a process holds — open file descriptors, threads, child processes — so a
test can show that a fault leaked nothing: snapshot before, snapshot after, compare."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Snapshot", "settle", "snapshot"]


def _children(pid: int) -> frozenset[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue  # the thread ended while we looked
    return frozenset(found)


@dataclass(frozen=True)
class Snapshot:
    fds: frozenset[int]
    threads: frozenset[int]
    children: frozenset[int]

    def leaked(self, before: Snapshot) -> dict[str, list[int]]:
        """What this snapshot holds that `before` did not (empty when nothing leaked)."""
        out = {
            "fds": sorted(self.fds - before.fds),
            "threads": sorted(self.threads - before.threads),
            "children": sorted(self.children - before.children),
        }
        return {k: v for k, v in out.items() if v}


def snapshot() -> Snapshot:
    return Snapshot(
        fds=frozenset(int(n) for n in os.listdir("/proc/self/fd")),
        # The event loop's default executor keeps its few worker threads ("asyncio_N") for
        # the loop's life: a pool, not a leak, and it goes with the loop.
        threads=frozenset(
            t.ident
            for t in threading.enumerate()
            if t.ident is not None and not t.name.startswith("asyncio_")
        ),
        children=_children(os.getpid()),
    )


def settle(before: Snapshot, *, within: float = 10.0) -> dict[str, list[int]]:
    """Wait (a bounded while, polling) until nothing more than `before` is held; return
    what is still leaked. Threads and sockets of a stopped server take a moment to go."""
    deadline = time.monotonic() + within
    while True:
        leaked = snapshot().leaked(before)
        if not leaked or time.monotonic() > deadline:
            return leaked
        time.sleep(0.05)
