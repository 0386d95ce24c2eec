"""What the MCP session talks through (`Channel`: send a JSON-RPC message, receive the next
one, close) and the error an inspection of one server ends with (`InspectFailed`, a sentence
for the user). The limits every channel keeps are here too: a server may not flood us.
"""

from __future__ import annotations

from typing import Any, Protocol

from tray.core.errors import TrayError

__all__ = ["MAX_LINE_BYTES", "MAX_STDERR_BYTES", "MAX_TOTAL_BYTES", "Channel", "InspectFailed"]

# one JSON-RPC message; a tools/list page of a large server is well under 1 MiB
MAX_LINE_BYTES = 4 * 1024 * 1024
# everything a server may send in one inspection (all pages, all lists)
MAX_TOTAL_BYTES = 16 * 1024 * 1024
# stderr is drained and counted; only its tail is kept, for the error message
MAX_STDERR_BYTES = 1024 * 1024


class InspectFailed(TrayError):
    """One server could not be inspected: it did not start, crashed, hung, flooded its
    output or answered something that is not MCP. The message says which, in a sentence."""

    title = "MCP server not inspected"


class Channel(Protocol):
    async def send(self, message: dict[str, Any]) -> None: ...

    async def receive(self) -> Any:
        """The next message (parsed JSON); `InspectFailed` when there is none."""
        ...

    async def close(self) -> None: ...
