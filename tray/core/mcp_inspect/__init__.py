"""Live MCP inspection, the pure half: what servers declare (`model`), group T of
`shared/mcp/CHECKS.md` over it (`checks`), pinning against rug pulls (`pins`), and the
report as text and exit code (`render`). Starting and contacting servers is
`tray.services.mcp_inspect`.
"""

from __future__ import annotations

from tray.core.mcp_inspect.checks import declared_findings
from tray.core.mcp_inspect.model import (
    DeclaredItem,
    DeclaredServer,
    InspectFinding,
    InspectReport,
    tool_hash,
)
from tray.core.mcp_inspect.pins import (
    PinFile,
    PinnedServer,
    compare,
    launch_hash,
    pin,
    same_launch,
)
from tray.core.mcp_inspect.render import change_notice, inspect_exit_code, render_inspect_text

__all__ = [
    "DeclaredItem",
    "DeclaredServer",
    "InspectFinding",
    "InspectReport",
    "PinFile",
    "PinnedServer",
    "change_notice",
    "compare",
    "declared_findings",
    "inspect_exit_code",
    "launch_hash",
    "pin",
    "render_inspect_text",
    "same_launch",
    "tool_hash",
]
