"""The bundled list of well-known MCP server packages (`tray/core/mcp_audit/
known_packages.json`), read once: the audit's C5 and C3 trust use it, `doctor` shows its date.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources

from tray.core.mcp_audit.known_packages import KnownPackages

__all__ = ["load_known_packages"]

log = logging.getLogger(__name__)


@cache
def load_known_packages() -> KnownPackages | None:
    """The bundled list, or None when it is missing or damaged (the audit then trusts no
    package and skips C5; `doctor` says so)."""
    try:
        text = (
            resources.files("tray.core.mcp_audit")
            .joinpath("known_packages.json")
            .read_text(encoding="utf-8")
        )
        return KnownPackages.from_json(text)
    except (OSError, ValueError) as exc:
        log.warning("the known MCP packages list cannot be read: %s", exc)
        return None
