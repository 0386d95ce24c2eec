"""The static `mcp.json` audit: groups A–E and G of `shared/mcp/CHECKS.md`, pure.

`audit(doc, facts, exposure, lmstudio_home=…)` turns a parsed document (`mcp_config`), the
file's stat facts and what is known about LM Studio's server into an `AuditReport` of
`Finding`s. Each finding has CHECKS.md's stable id (F1…F5, S1…S8, C1…C12, P1…P6, R1…R6,
L1…L5), a severity, the server it is about, a JSON pointer and line, one sentence saying what
and why, and one saying what to do. Nothing here connects to a server or runs anything
(group F of CHECKS.md, "deep scan", is out of scope).

One module per check group: `checks_file` (A), `checks_secrets` (B), `checks_launch` and
`checks_docker` (C), `checks_scope` (D), `checks_remote` (E), `checks_exposure` (G), over
what they share (`context`); `engine` runs them into a report (`model`), `order` says in
which order a report is read, `render` prints it. What callers use is re-exported here.
"""

from __future__ import annotations

from tray.core.mcp_audit.engine import audit
from tray.core.mcp_audit.model import (
    SERVER_SETTINGS_WHERE,
    AuditReport,
    ExposureFacts,
    FileFacts,
    Finding,
    Severity,
)
from tray.core.mcp_audit.render import exit_code, render_text

__all__ = [
    "SERVER_SETTINGS_WHERE",
    "AuditReport",
    "ExposureFacts",
    "FileFacts",
    "Finding",
    "Severity",
    "audit",
    "exit_code",
    "render_text",
]
