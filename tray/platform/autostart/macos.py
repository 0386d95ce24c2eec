"""Start at login on macOS: a per-user LaunchAgent, `~/Library/LaunchAgents/<label>.plist`,
which launchd runs at the next login of a graphical session.

Written with `plistlib` and `atomic_write`, so its content is tested on any OS; we do not
call `launchctl` (the entry takes effect at the next login, which is what the setting says).
"""

from __future__ import annotations

import logging
import plistlib
from pathlib import Path
from typing import Any

from tray import APP_ID
from tray.platform.autostart._files import remove_entry
from tray.services.files import atomic_write, read_bytes

__all__ = ["LABEL", "LaunchAgentAutostart", "launch_agent_plist"]

log = logging.getLogger(__name__)

LABEL = APP_ID  # reverse-DNS, as launchd expects


def launch_agent_plist(command: list[str]) -> bytes:
    """The LaunchAgent property list (XML) that runs `command` at login."""
    if not command:
        raise ValueError("the autostart command is empty")
    agent: dict[str, Any] = {
        "Label": LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        # A UI app: launchd must not throttle it like a background daemon.
        "ProcessType": "Interactive",
        # Only in the logged-in GUI session, never for an ssh login.
        "LimitLoadToSessionType": "Aqua",
        # Quitting from the menu must stay quit.
        "KeepAlive": False,
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=False)


class LaunchAgentAutostart:
    """The LaunchAgent plist under `home` (default: the user's home)."""

    def __init__(self, home: Path | None = None) -> None:
        self._home = home

    @property
    def path(self) -> Path:
        return (self._home or Path.home()) / "Library" / "LaunchAgents" / f"{LABEL}.plist"

    def is_enabled(self) -> bool:
        try:
            agent = plistlib.loads(read_bytes(self.path))
        except FileNotFoundError:
            return False
        except Exception:  # an unreadable plist starts nothing at login
            log.warning("cannot read the LaunchAgent %s", self.path, exc_info=True)
            return False
        return (
            isinstance(agent, dict)
            and agent.get("Disabled") is not True
            and bool(agent.get("RunAtLoad"))
            and bool(agent.get("ProgramArguments"))
        )

    def enable(self, command: list[str]) -> None:
        atomic_write(self.path, launch_agent_plist(command), mode=0o644)
        log.info("autostart enabled: %s", self.path)

    def disable(self) -> None:
        remove_entry(self.path)

    def describe(self) -> str:
        return f"Login item (LaunchAgent): {self.path}"
