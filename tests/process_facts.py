"""What the OS says about a process the tests started (Linux /proc), and waiting for a
condition outside the event loop: shared by the UI and reliability tiers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["listening_tcp", "lms_log_streams", "socket_inodes", "wait_for"]


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `predicate` (a process's log, a file) until true; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets `pid` has open."""
    found: set[int] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def listening_tcp(pid: int) -> set[int]:
    """The inodes of the TCP sockets `pid` listens on (state 0A in /proc/…/net/tcp*)."""
    listening: set[int] = set()
    for name in ("tcp", "tcp6"):
        table = Path(f"/proc/{pid}/net/{name}")
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                listening.add(int(fields[9]))
    return listening & socket_inodes(pid)


def lms_log_streams(marker: str) -> list[int]:
    """Every `lms log stream` process (the fake `lms` runs as `python -m tray.simulator lms
    log stream …`) whose environment mentions `marker` (the test's own home), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"log" in argv and b"stream" in argv and marker.encode() in environ:
            found.append(int(entry.name))
    return found
