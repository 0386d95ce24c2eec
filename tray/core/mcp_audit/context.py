"""What the per-server checks share: the server being checked (`Ctx`, which records its
findings with their JSON pointer and line), which field an argument sits in, a program's bare
name, and how a package, path or value is shown (short, quoted, no secret in it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tray.core.mcp_audit.known_packages import KnownPackages
from tray.core.mcp_audit.model import Finding, Severity
from tray.core.mcp_config import McpServer, redact_for_display
from tray.core.words import quoted

__all__ = ["Ctx", "arg_field", "display", "program"]


def program(command: str) -> str:
    """`/usr/bin/npx`, `C:\\…\\npx.cmd` → `npx`."""
    base = re.split(r"[\\/]", command.strip())[-1].lower()
    for suffix in (".exe", ".cmd", ".bat", ".ps1"):
        if base.endswith(suffix) and base not in {".exe"}:
            return base[: -len(suffix)]
    return base


@dataclass
class Ctx:
    server: McpServer
    findings: list[Finding]
    lmstudio_home: str | None
    home_dir: str | None
    kinds: set[str] = field(default_factory=set)  # P-groups this server belongs to
    known: KnownPackages | None = None  # the well-known packages list (C3 trust, C5)
    hash_key: bytes | None = None  # the installation's key for secrets' short hashes

    def add(self, id_: str, sev: Severity, where: str, message: str, fix: str) -> None:
        s = self.server
        self.findings.append(
            Finding(
                id=id_,
                severity=sev,
                server=s.name,
                pointer=s.pointer_of(where),
                line=s.line_of(where),
                message=message,
                fix=fix,
            )
        )


def arg_field(server: McpServer, argv: list[str], index: int) -> str:
    """The field name of argv[index] (`args/3`, or `command` for 0)."""
    offset = len(argv) - len(server.args)
    if index < offset:
        return "command"
    return f"args/{index - offset}"


def display(text: str) -> str:
    """A package spec or path to show: short, quoted, with no secret in it."""
    shown = redact_for_display(text)
    return quoted(shown if len(shown) <= 80 else shown[:77] + "…")
