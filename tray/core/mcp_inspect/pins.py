"""Tool pinning against rug pulls (T7 of `shared/mcp/CHECKS.md`), pure.

The first inspection of a server pins each of its tools: the tool's hash (`tool_hash`) and
the canonical text it was computed from, so a later change can be shown as a diff. Later
inspections compare: a tool whose description or input schema changed is a HIGH finding
with a short unified diff; a new tool is MEDIUM (it was never looked at); a removed tool is
LOW. `--accept NAME` re-pins a server as it is now. The pin file itself (`PinFile`) is read
and written by `tray.services.mcp_inspect.pin_store`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tray.core.mcp_audit.model import Severity
from tray.core.mcp_inspect.model import DeclaredServer, InspectFinding, canonical_tool, tool_hash
from tray.core.words import join_and, plural, quoted

__all__ = [
    "PinFile",
    "PinnedServer",
    "PinnedTool",
    "compare",
    "launch_hash",
    "pin",
    "same_launch",
]

_DIFF_LINES = 40


class PinnedTool(BaseModel):
    hash: str
    # the canonical JSON the hash is of (name, description, inputSchema)
    canonical: str


class PinnedServer(BaseModel):
    pinned_at: datetime
    tools: dict[str, PinnedTool] = {}
    # `launch_hash` of the mcp.json entry when it was pinned: what the user agreed to run
    launch: str = ""


class PinFile(BaseModel):
    """mcp.json path → server name → its pins: two files may name servers alike."""

    version: int = 1
    files: dict[str, dict[str, PinnedServer]] = {}

    def of(self, file: str) -> dict[str, PinnedServer]:
        """The pins of `file`'s servers (created empty, to be filled in)."""
        return self.files.setdefault(file, {})


def launch_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of a server's `mcp.json` entry (command, args, env, url, headers …) as
    canonical JSON, its on/off switches left out: a changed launch is a new consent."""
    kept = {k: v for k, v in entry.items() if k not in {"disabled", "enabled"}}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def same_launch(pinned: dict[str, PinnedServer], launches: dict[str, str]) -> list[str]:
    """The servers (of `launches`: name → launch hash, in order) pinned with that very
    launch: the ones that may be inspected again without asking."""
    return [
        name
        for name, launch in launches.items()
        if (p := pinned.get(name)) is not None and p.launch and p.launch == launch
    ]


def pin(server: DeclaredServer, now: datetime, launch: str = "") -> PinnedServer:
    """The pins of every tool `server` declares now (and of its launch)."""
    return PinnedServer(
        pinned_at=now,
        launch=launch,
        tools={
            t.name: PinnedTool(hash=tool_hash(t), canonical=canonical_tool(t)) for t in server.tools
        },
    )


def _readable(canonical: str) -> list[str]:
    """A pinned tool as lines for a diff: the description line by line, then the schema."""
    try:
        value: Any = json.loads(canonical)
    except ValueError:
        return canonical.splitlines()
    if not isinstance(value, dict):
        return canonical.splitlines()
    lines = ["description:"]
    lines += [f"  {line}" for line in str(value.get("description", "")).splitlines()]
    lines.append("inputSchema:")
    schema = json.dumps(value.get("inputSchema", {}), indent=2, sort_keys=True, ensure_ascii=True)
    lines += [f"  {line}" for line in schema.splitlines()]
    return lines


def _diff(old: str, new: str, tool: str) -> str:
    lines = list(
        difflib.unified_diff(
            _readable(old),
            _readable(new),
            fromfile=f"{tool} (pinned)",
            tofile=f"{tool} (now)",
            lineterm="",
            n=1,
        )
    )
    if len(lines) > _DIFF_LINES:
        more = len(lines) - _DIFF_LINES
        lines = [*lines[:_DIFF_LINES], f"… {plural(more, 'more line')}"]
    return "\n".join(lines)


def _what_changed(old: str, new: str) -> str:
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        return "its definition"
    parts = [
        label
        for key, label in (("description", "description"), ("inputSchema", "input schema"))
        if a.get(key) != b.get(key)
    ]
    return join_and(parts) if parts else "its definition"


def compare(pinned: PinnedServer, server: DeclaredServer) -> list[InspectFinding]:
    """T7: what changed in `server`'s tools since `pinned`."""
    out: list[InspectFinding] = []
    now = {t.name: t for t in server.tools}
    accept = f"If you expected this, accept it: `lmstudio-tray mcp inspect --accept {server.name}`."
    when = pinned.pinned_at.strftime("%Y-%m-%d %H:%M UTC")
    for name, tool in now.items():
        old = pinned.tools.get(name)
        if old is None:
            out.append(
                InspectFinding(
                    id="T7",
                    severity=Severity.MEDIUM,
                    server=server.name,
                    tool=name,
                    message=f"The tool {quoted(name)} is new since the tools were pinned ({when}).",
                    fix=f"Read what it declares. {accept}",
                )
            )
        elif old.hash != tool_hash(tool):
            new = canonical_tool(tool)
            what = _what_changed(old.canonical, new)
            out.append(
                InspectFinding(
                    id="T7",
                    severity=Severity.HIGH,
                    server=server.name,
                    tool=name,
                    message=f"The tool {quoted(name)} changed its {what} "
                    f"since it was pinned ({when}): what the model is told is no longer what "
                    "was inspected (a rug pull, or an update).",
                    fix=f"Read the change. {accept} Otherwise disable the server.",
                    diff=_diff(old.canonical, new, name),
                )
            )
    for name in pinned.tools:
        if name not in now:
            out.append(
                InspectFinding(
                    id="T7",
                    severity=Severity.LOW,
                    server=server.name,
                    tool=name,
                    message=f"The tool {quoted(name)} was pinned ({when}) and is gone.",
                    fix=accept,
                )
            )
    return out
