"""An advisory lock on a file that the OS drops when its process dies — so a lock left by
a killed process is never stale. `flock` on Linux and macOS, `msvcrt.locking` on Windows.

Standard library only, and cheap to import: the one-tray-per-user check takes it before
the tray's icon shows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["lock_file"]


def lock_file(path: Path, *, wait: bool) -> int | None:
    """Lock `path` (created 0600 if missing) for this process and return the descriptor
    that holds it — close it to release. Without `wait`, None when another process holds
    it; with `wait`, block until it is free (Windows gives up after about 10 s: then
    TimeoutError). Raises OSError when the file cannot be opened."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError as exc:
        os.close(fd)
        if wait:
            raise TimeoutError(f"{path} stayed locked by another process") from exc
        return None  # another process holds it
    return fd
