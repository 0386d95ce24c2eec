"""What a live MCP inspection speaks in: what one server declares (`DeclaredServer` with its
`DeclaredItem`s — tools, prompts, resources), an `InspectFinding` about it, and the
`InspectReport` that `mcp inspect`, its `--json` and the inspection window show.

A declared tool is pinned by `tool_hash`: the SHA-256 of the canonical JSON of its name,
description and input schema (sorted keys, no spaces, UTF-8), so any change to what the
model is told about a tool changes the hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tray.core.mcp_audit.model import Severity

__all__ = [
    "DeclaredItem",
    "DeclaredServer",
    "InspectFinding",
    "InspectReport",
    "ItemKind",
    "canonical_tool",
    "tool_hash",
]

ItemKind = Literal["tool", "prompt", "resource"]


class DeclaredItem(BaseModel):
    """One tool, prompt or resource as the server declared it (text as sent, unfiltered)."""

    model_config = ConfigDict(frozen=True)

    kind: ItemKind = "tool"
    name: str
    description: str = ""
    input_schema: dict[str, Any] = {}
    # MCP tool annotations (readOnlyHint, destructiveHint, …); None: the server sent none
    annotations: dict[str, Any] | None = None


def canonical_tool(item: DeclaredItem) -> str:
    """The text a tool is pinned by: its name, description and input schema as canonical
    JSON (sorted keys, no spaces, non-ASCII kept)."""
    return json.dumps(
        {"name": item.name, "description": item.description, "inputSchema": item.input_schema},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def tool_hash(item: DeclaredItem) -> str:
    """`sha256:<64 hex>` of `canonical_tool(item)`."""
    digest = hashlib.sha256(canonical_tool(item).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"


class DeclaredServer(BaseModel):
    """The inspection of one server: whether it was started (or contacted), what went wrong
    (`error`, a sentence), and what it declared."""

    model_config = ConfigDict(frozen=True)

    name: str
    transport: str
    started: bool = False
    error: str | None = None
    # switched off in mcp.json: never started (its `error` says so)
    disabled: bool = False
    # the command line or URL that was used, for the user to read (no secret in it)
    target: str = ""
    server_info: str = ""
    items: tuple[DeclaredItem, ...] = ()

    @property
    def tools(self) -> tuple[DeclaredItem, ...]:
        return tuple(i for i in self.items if i.kind == "tool")

    @property
    def inspected(self) -> bool:
        return self.started and self.error is None


class InspectFinding(BaseModel):
    """One thing found in what a server declares (or in how it changed since pinned)."""

    model_config = ConfigDict(frozen=True)

    id: str
    severity: Severity
    server: str
    tool: str | None = None
    message: str
    fix: str
    # a short unified diff (T7), else empty
    diff: str = ""


class InspectReport(BaseModel):
    file: str
    servers: list[DeclaredServer]
    findings: list[InspectFinding]
    errors: list[str] = []
    # servers whose tools were pinned (first time) or re-pinned (--accept) by this run
    pinned: list[str] = []

    def at_or_above(self, severity: Severity) -> list[InspectFinding]:
        return [f for f in self.findings if f.severity.rank >= severity.rank]

    def for_server(self, name: str) -> list[InspectFinding]:
        return [f for f in self.findings if f.server == name]

    def as_json(self) -> dict[str, Any]:
        """The `--json` document: servers with their tools (name, hash, description) and
        the findings."""
        return {
            "file": self.file,
            "servers": [
                {
                    "name": s.name,
                    "transport": s.transport,
                    "started": s.started,
                    "error": s.error,
                    "disabled": s.disabled,
                    "target": s.target,
                    "server_info": s.server_info,
                    "tools": [
                        {"name": t.name, "hash": tool_hash(t), "description": t.description}
                        for t in s.tools
                    ],
                    "prompts": [i.name for i in s.items if i.kind == "prompt"],
                    "resources": [i.name for i in s.items if i.kind == "resource"],
                }
                for s in self.servers
            ],
            "findings": [
                {
                    "id": f.id,
                    "severity": f.severity.value,
                    "server": f.server,
                    "tool": f.tool,
                    "message": f.message,
                    "fix": f.fix,
                    **({"diff": f.diff} if f.diff else {}),
                }
                for f in self.findings
            ],
            "errors": self.errors,
            "pinned": self.pinned,
        }
