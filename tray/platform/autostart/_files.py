"""What the file-based start-at-login entries (XDG, LaunchAgent) share: removing one."""

from __future__ import annotations

import logging
from pathlib import Path

from tray.core.errors import FileWriteError

__all__ = ["remove_entry"]

log = logging.getLogger(__name__)


def remove_entry(path: Path) -> None:
    """Delete a start-at-login file; already gone is fine, failing says what to do."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise FileWriteError(
            f"Could not remove {path}: {exc.strerror or exc}. Delete it by hand to stop "
            "LM Studio Tray from starting at login.",
            path=path,
        ) from exc
    log.info("autostart disabled: removed %s", path)
