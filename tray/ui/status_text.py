"""Words the views show for a `ServerStatus`: menu header lines and window titles.

Which details are worth showing is decided in core (`ServerStatus.detail_lines`); this module
only lays them out for a menu or a window, so every view says the same thing.
"""

from __future__ import annotations

from tray import APP_NAME
from tray.core.status import ServerStatus

__all__ = ["header_lines", "window_title"]


def header_lines(status: ServerStatus) -> tuple[str, ...]:
    """State (marked Demo in demo mode), URL, then the details core chose (models, error).

    Empty lines are left out (no URL is known before the first status arrives)."""
    state = f"{status.state.label} — Demo" if status.demo else status.state.label
    return tuple(line for line in (state, status.where, *status.detail_lines) if line)


def window_title(what: str | None = None, *, demo: bool) -> str:
    """`APP_NAME[ — what][ — Demo]`: a demo window must never pass for the real thing."""
    parts = [APP_NAME, *([what] if what else []), *(["Demo"] if demo else [])]
    return " — ".join(parts)
