"""What an MCP audit speaks in: `Severity`, the `Finding`, the facts it is given about the
file (`FileFacts`) and about LM Studio's server (`ExposureFacts`), and the `AuditReport`.

A finding never holds a secret value; the report is what the dialog, `mcp audit` and its
`--json` show.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from tray.core.mcp_config import McpDialect
from tray.core.status import is_loopback_host
from tray.core.words import quoted

__all__ = [
    "SERVER_SETTINGS_WHERE",
    "AuditReport",
    "ExposureFacts",
    "FileFacts",
    "Finding",
    "Severity",
]


_RANKS = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}


# where the three switches whose storage is unknown (FORMATS.md §2.6) live in LM Studio
SERVER_SETTINGS_WHERE = "LM Studio → Developer tab → Server Settings"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """5 for critical down to 1 for info."""
        return _RANKS[self.value]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """`--fail-on` text (any case) → Severity; ValueError names the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(
                f"Unknown severity {quoted(text)}; use one of: {', '.join(s.value for s in cls)}."
            ) from None


class Finding(BaseModel):
    """One thing the audit found: never holds a secret value."""

    model_config = ConfigDict(frozen=True)

    id: str
    severity: Severity
    server: str | None
    pointer: str
    line: int | None
    message: str
    fix: str
    column: int | None = None  # where the value at `pointer` starts on its line


class FileFacts(BaseModel):
    """What `stat` says about the file (None where the OS cannot say)."""

    model_config = ConfigDict(frozen=True)

    path: str
    mode: int | None = None
    owner_is_user: bool | None = None
    is_symlink: bool = False
    dir_mode: int | None = None
    exists: bool = True
    size: int = 0


class ExposureFacts(BaseModel):
    """LM Studio's server: network interface from http-server-config.json, auth when the
    server told us (None = unknown); another mcp.json LM Studio may read (legacy macOS
    home)."""

    model_config = ConfigDict(frozen=True)

    network_interface: str | None = None
    auth_required: bool | None = None
    other_mcp_files: tuple[str, ...] = ()

    @property
    def serves_lan(self) -> bool | None:
        if self.network_interface is None:
            return None
        return not is_loopback_host(self.network_interface)


class AuditReport(BaseModel):
    file: str
    dialect: McpDialect | None
    servers: list[str]
    findings: list[Finding]
    # servers with `"disabled": true`: they do not run (their findings say so)
    disabled: list[str] = []
    errors: list[str]
    exists: bool = True
    # the parse error's place, for a view that shows it prominently
    error_line: int | None = None
    error_column: int | None = None

    def at_or_above(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.rank >= severity.rank]

    def for_server(self, name: str | None) -> list[Finding]:
        return [f for f in self.findings if f.server == name]

    def counts(self) -> dict[Severity, int]:
        out = {s: 0 for s in Severity}
        for f in self.findings:
            out[f.severity] += 1
        return out
