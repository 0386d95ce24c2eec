"""The order an MCP audit is read in: the worst findings first.

Servers (and the group of findings about the file and LM Studio itself) are ordered by
their worst finding — a server with a critical finding before one whose worst is high —
then by how many findings they have at each severity, most severe first; ties keep the
file's order. Within a group, findings go by severity, keeping the audit's order among
equals. The dialog and `mcp audit` both read the report in this order.

Pure: works on the findings only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tray.core.mcp_audit.model import Finding

__all__ = ["FindingGroup", "by_severity", "worst_first"]

FindingGroup = tuple["str | None", "list[Finding]"]  # (server name, None for the file)

_RANKS = range(5, 0, -1)  # critical (5) down to info (1)


def by_severity(findings: Sequence[Finding]) -> list[Finding]:
    """Most severe first; findings of one severity keep their order."""
    return sorted(findings, key=lambda f: -f.severity.rank)


def worst_first(findings: Sequence[Finding], servers: Sequence[str]) -> list[FindingGroup]:
    """(name, findings) for the file-and-LM-Studio group (name None, only when it has
    findings) and for every server (even one with none), worst group first."""
    names: list[str | None] = [None, *dict.fromkeys(servers)]
    groups: list[tuple[tuple[int, ...], int, str | None, list[Finding]]] = []
    for index, name in enumerate(names):
        own = [f for f in findings if f.server == name]
        if name is None and not own:
            continue
        counts = tuple(-sum(1 for f in own if f.severity.rank == rank) for rank in _RANKS)
        groups.append((counts, index, name, by_severity(own)))
    groups.sort(key=lambda g: (g[0], g[1]))
    return [(name, own) for _, _, name, own in groups]
