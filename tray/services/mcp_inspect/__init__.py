"""Live MCP inspection, the side that starts processes and talks to servers: a
hand-written MCP client over stdio (`stdio`) and Streamable HTTP (`http`), the conversation
(`session`), the pins on disk (`pin_store`), and the inspection of a whole `mcp.json`
(`runner`). The checks themselves are pure, in `tray.core.mcp_inspect`.

Imported only when an inspection is asked for (never at tray start-up).
"""

from __future__ import annotations

from tray.services.mcp_inspect.channel import InspectFailed
from tray.services.mcp_inspect.pin_store import PIN_FILE_NAME, PinStore
from tray.services.mcp_inspect.runner import (
    DEFAULT_TIMEOUT,
    PlannedServer,
    inspect_file,
    inspect_server,
    planned_commands,
    read_document,
    reinspect_after_change,
)
from tray.services.mcp_inspect.stdio import child_env

__all__ = [
    "DEFAULT_TIMEOUT",
    "PIN_FILE_NAME",
    "InspectFailed",
    "PinStore",
    "PlannedServer",
    "child_env",
    "inspect_file",
    "inspect_server",
    "planned_commands",
    "read_document",
    "reinspect_after_change",
]
