"""Plays "another program" holding a global hotkey on the X server.

As a script: grabs the sequence given as the first argument on its own X connection,
prints one JSON line with the outcome, and keeps the grab until its stdin closes. The
tests use it through `holding` (a grab kept for a `with` block) and `grab_once` (what
another program would get right now).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tray.platform.hotkeys.x11 import XlibGrabber

__all__ = ["grab_once", "holding"]


def _command(sequence: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), sequence]


@contextmanager
def holding(sequence: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holds `sequence` (its grab worked) until the block ends or its stdin
    is closed."""
    process = subprocess.Popen(
        _command(sequence), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        assert json.loads(process.stdout.readline()) == {"outcome": "ok"}
        yield process
    finally:
        if not process.stdin.closed:
            process.stdin.close()
        process.wait(timeout=10)


def grab_once(sequence: str) -> str:
    """The outcome ("ok", "conflict", "nokey") another process gets grabbing `sequence`."""
    done = subprocess.run(
        _command(sequence), input="", capture_output=True, text=True, check=True, timeout=30
    )
    outcome: str = json.loads(done.stdout)["outcome"]
    return outcome


def main() -> int:
    grabber = XlibGrabber()
    outcome = grabber.grab(sys.argv[1])
    sys.stdout.write(json.dumps({"outcome": outcome}) + "\n")
    sys.stdout.flush()
    sys.stdin.read()  # hold the grab until the test closes our stdin
    grabber.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
