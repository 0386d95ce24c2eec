"""The rules of MCP lockdown, pure: what the locked `mcp.json` holds, what lockdown will do
(in sentences the user reads before saying yes), the lock record, when a file has drifted
from its locked state, and a readable summary of what changed.

Lockdown rewrites `mcp.json` to deny every server (`{"mcpServers": {}}`, or the dialect's
own key) or to keep exactly the servers the user allowed, each through `sanitize_server`
(secrets and auto-approve lists removed). The file's previous content is in the tray's
history before anything is written; the service (`tray/services/mcp_lockdown.py`) does the
I/O, this module decides.

Honesty rule (CHECKS.md §5): a read-only file does not stop a program running as the user
(it can `chmod` it back, or replace it through a rename in the folder), so every sentence
that describes the lock says that drift detection is what notices such a change.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tray.core.mcp_config import McpDialect, McpDocument, McpServer, sanitize_server
from tray.core.secrets_scan import LMSTUDIO_TOKEN
from tray.core.words import plural

__all__ = [
    "LOCKED_MODE",
    "RELOCK_LIMIT",
    "RELOCK_WINDOW",
    "Drift",
    "DriftEvent",
    "LockRecord",
    "LockStatus",
    "ServerDiff",
    "ago",
    "decide_drift",
    "describe_lockdown",
    "diff_servers",
    "honest_limits",
    "locked_bytes",
    "locked_document",
    "recent_relocks",
    "relock_allowed",
    "status_line",
    "unknown_allowed",
]

# Owner read-only, nothing for group and others (Windows: the read-only attribute).
LOCKED_MODE = 0o400

_TOKEN_RE = re.compile(LMSTUDIO_TOKEN)
_INPUT_REF = re.compile(r"\$\{input:([^}]+)\}")


# --- the locked document ----------------------------------------------------------------


def _kept(doc: McpDocument | None, allowed: Sequence[str]) -> list[McpServer]:
    if doc is None:
        return []
    wanted = set(allowed)
    return [s for s in doc.servers if s.name in wanted]


def unknown_allowed(doc: McpDocument | None, allowed: Sequence[str]) -> list[str]:
    """Names in the allow-list that the file does not have (a typo on the command line)."""
    present = {s.name for s in doc.servers} if doc is not None else set()
    return [name for name in allowed if name not in present]


def _inputs_used(servers: Sequence[dict[str, Any]]) -> set[str]:
    used: set[str] = set()
    for server in servers:
        used.update(_INPUT_REF.findall(json.dumps(server)))
    return used


def locked_document(doc: McpDocument | None, allowed: Sequence[str] = ()) -> Any:
    """The JSON value lockdown writes: the file's dialect with only the allowed servers.

    Deny-all (no `allowed`) is `{"mcpServers": {}}` for LM Studio's notation, `{"servers":
    {}}` for VS Code's; an unparsable, empty or unknown file becomes LM Studio's notation.
    VS Code `inputs` are kept only when a kept server refers to them (`${input:id}`); a
    settings file (`mcp.servers`) keeps its other settings untouched."""
    kept = _kept(doc, allowed)
    servers = {s.name: sanitize_server(s) for s in kept}
    if doc is None or doc.dialect in (McpDialect.EMPTY, McpDialect.MCP_SERVERS):
        return {"mcpServers": servers}
    if doc.dialect is McpDialect.VSCODE:
        out: dict[str, Any] = {"servers": servers}
        used = _inputs_used(list(servers.values()))
        inputs = [i for i in doc.inputs if str(i.get("id")) in used]
        if inputs:
            out["inputs"] = inputs
        return out
    if doc.dialect is McpDialect.ARRAY:
        return [servers[name] | _array_name(servers[name], name) for name in servers]
    if doc.dialect is McpDialect.SETTINGS and isinstance(doc.raw, dict):
        raw = json.loads(json.dumps(doc.raw))  # a deep copy of plain JSON
        if "mcp.servers" in raw:
            raw["mcp.servers"] = servers
        elif isinstance(raw.get("mcp"), dict):
            raw["mcp"]["servers"] = servers
        else:
            raw["mcp.servers"] = servers
        return raw
    return {"mcpServers": servers}


def _array_name(server: dict[str, Any], name: str) -> dict[str, Any]:
    # An array entry names itself; sanitize_server may have been given the bare object.
    # A missing, null or other name (the parser then named it by id or position) is
    # written out, so the kept server keeps its name once the others are gone.
    return {} if server.get("name") == name else {"name": name}


def locked_bytes(doc: McpDocument | None, allowed: Sequence[str] = ()) -> bytes:
    """The locked file's bytes: plain JSON, 2-space indent, UTF-8 without BOM, final newline."""
    value = locked_document(doc, allowed)
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# --- what lockdown will do --------------------------------------------------------------


def honest_limits() -> str:
    return (
        "Read-only does not stop a program that runs as you: it can make the file writable "
        "again or replace it. The tray watches the file and tells you when it changes."
    )


def describe_lockdown(
    doc: McpDocument | None,
    allowed: Sequence[str] = (),
    *,
    parse_error: str | None = None,
) -> list[str]:
    """The sentences the audit dialog and the confirmation show before the user says yes."""
    sentences: list[str] = [
        "The current mcp.json is saved in the tray's history first, so you can restore it "
        "with one click (permissions too)."
    ]
    present = [s.name for s in doc.servers] if doc is not None else []
    kept = [s.name for s in _kept(doc, allowed)]
    removed = [name for name in present if name not in kept]
    if parse_error is not None:
        sentences.append(
            f"mcp.json cannot be parsed ({parse_error}); it is replaced by an empty server "
            "list only because you agreed to."
        )
    if not kept:
        if removed:
            sentences.append(
                f"{_count(len(removed))} removed ({_names(removed)}): LM Studio will "
                "start no MCP server from this file."
            )
        else:
            sentences.append(
                "The file gets an empty server list: LM Studio will start no MCP server from it."
            )
    else:
        sentences.append(
            f"Kept: {_names(kept)}, without literal secrets (env and header values, "
            "secret arguments) and without auto-approve lists."
        )
        if removed:
            sentences.append(f"Removed: {_names(removed)}.")
    missing = unknown_allowed(doc, allowed)
    if missing:
        sentences.append(f"Not in the file, so nothing to keep: {_names(missing)}.")
    if doc is not None and doc.has_comments:
        sentences.append(
            "Comments are not kept in the locked file (the version in history keeps them)."
        )
    if doc is not None and _TOKEN_RE.search(json.dumps(doc.raw)):
        sentences.append(
            "An LM Studio API token in this file is not kept in history (history never holds "
            "a token): restoring brings back a marker in its place. Store it in the keyring "
            "first (`lmstudio-tray tokens scan --move-to PROFILE`)."
        )
    sentences.append("The file is made read-only for you, with no access for other users.")
    sentences.append(honest_limits())
    sentences.append(
        "Servers a program adds through LM Studio's API (“Allow per-request MCPs”) are not "
        "in mcp.json: turn that switch off in LM Studio's Developer settings."
    )
    return sentences


def _count(n: int) -> str:
    return "The only server is" if n == 1 else f"All {n} servers are"


def _names(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    more = len(names) - limit
    return f"{shown} and {more} more" if more > 0 else shown


# --- the lock record ----------------------------------------------------------------------


class LockRecord(BaseModel):
    """What the tray remembers about a lockdown (saved as JSON in its state folder)."""

    model_config = ConfigDict(extra="ignore")

    version: int = 1
    file: str
    locked_at: datetime
    # History commit of the file as it was before lockdown; None: there was no file.
    before_commit: str | None
    after_commit: str
    sha256: str  # of the locked bytes on disk
    mode_before: int | None  # permission bits before lockdown (None: there was no file)
    allowed: list[str] = Field(default_factory=list)
    keep_locked: bool = False
    relocks: int = 0
    recent_relocks: list[datetime] = Field(default_factory=list)  # for the rate limit
    last_drift_at: datetime | None = None


# Automatic re-locking stops when something rewrites the file this often: a program that
# fights the lock would otherwise make us rewrite the file (and notify) forever.
RELOCK_LIMIT = 5
RELOCK_WINDOW = timedelta(minutes=10)


def relock_allowed(recent: Sequence[datetime], now: datetime) -> bool:
    """Whether another automatic re-lock is allowed, given the recent ones."""
    return sum(1 for t in recent if now - t < RELOCK_WINDOW) < RELOCK_LIMIT


def recent_relocks(recent: Sequence[datetime], now: datetime) -> list[datetime]:
    """The re-lock times to keep after one more at `now`."""
    return [*[t for t in recent if now - t < RELOCK_WINDOW][-RELOCK_LIMIT:], now]


class Drift(StrEnum):
    NONE = "none"
    CHANGED = "changed"
    DELETED = "deleted"


def decide_drift(record: LockRecord, current: bytes | None) -> Drift:
    """`current` is the file's bytes now (None: it is gone)."""
    if current is None:
        return Drift.DELETED
    return Drift.NONE if hashlib.sha256(current).hexdigest() == record.sha256 else Drift.CHANGED


class ServerDiff(BaseModel):
    model_config = ConfigDict(frozen=True)

    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    deleted: bool = False  # the file itself is gone
    unparsable: str | None = None  # why the new content cannot be read

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.deleted or self.unparsable)

    def summary(self) -> str:
        """One readable line for a notification."""
        if self.deleted:
            return "mcp.json was deleted."
        parts: list[str] = []
        if self.unparsable:
            parts.append(f"mcp.json is no longer valid ({self.unparsable}).")
        if self.added:
            parts.append(f"Added: {_names(self.added)}.")
        if self.removed:
            parts.append(f"Removed: {_names(self.removed)}.")
        if self.changed:
            parts.append(f"Changed: {_names(self.changed)}.")
        if not parts:
            return "The server list is the same (only formatting or other keys changed)."
        return " ".join(parts)


def _server_map(doc: McpDocument | None) -> dict[str, str]:
    if doc is None:
        return {}
    return {s.name: json.dumps(s.raw, sort_keys=True) for s in doc.servers}


def diff_servers(
    before: McpDocument | None,
    after: McpDocument | None,
    *,
    deleted: bool = False,
    unparsable: str | None = None,
) -> ServerDiff:
    """Servers added, removed and changed between two parsed files (names only, so a
    notification never shows a secret)."""
    if deleted:
        return ServerDiff(deleted=True)
    old, new = _server_map(before), _server_map(after)
    return ServerDiff(
        added=[n for n in new if n not in old],
        removed=[n for n in old if n not in new],
        changed=[n for n in new if n in old and new[n] != old[n]],
        unparsable=unparsable,
    )


class DriftEvent(BaseModel):
    """A change to a locked file, noticed and handled (recorded, maybe re-locked)."""

    model_config = ConfigDict(frozen=True)

    file: str
    drift: Drift
    diff: ServerDiff
    at: datetime
    recorded_commit: str | None  # the changed file in history (None: deleted or failed)
    locked: bool = True  # False: a change to a file that is not locked down
    relocked: bool = False
    relock_error: str | None = None

    def title(self) -> str:
        return "mcp.json changed while locked" if self.locked else "mcp.json changed"

    def text(self) -> str:
        what = self.diff.summary()
        if not self.locked:
            return f"{what} Audit it from the tray menu (MCP servers → Audit mcp.json…)."
        if self.relocked:
            return f"{what} The tray locked it again; the changed version is in history."
        if self.relock_error:
            return f"{what} Re-locking failed: {self.relock_error}"
        return f"{what} Use “Lock down now” to lock it again, or restore the earlier version."


class LockStatus(BaseModel):
    """What `mcp status` and the tray menu show."""

    model_config = ConfigDict(frozen=True)

    file: str
    exists: bool
    server_count: int | None  # None: the file cannot be parsed (or is missing)
    parse_error: str | None = None
    locked: bool
    locked_at: datetime | None = None
    drift: Drift = Drift.NONE
    diff: ServerDiff | None = None
    read_only: bool | None = None  # None: no file
    keep_locked: bool = False
    allowed: list[str] = Field(default_factory=list)
    record_for_other_file: str | None = None  # a lock record exists, for another file


def ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def status_line(status: LockStatus, now: datetime) -> str:
    """The menu's status line: "3 servers · not locked", "Locked 2 h ago", "Changed since
    lockdown!"."""
    if status.locked and status.drift is not Drift.NONE:
        return "Changed since lockdown!"
    if status.locked and status.locked_at is not None:
        if status.read_only is False:
            return f"Locked {ago(now - status.locked_at)} · file writable again"
        return f"Locked {ago(now - status.locked_at)}"
    if not status.exists:
        return "No mcp.json · not locked"
    if status.server_count is None:
        return "mcp.json unreadable · not locked"
    n = status.server_count
    return f"{plural(n, 'server')} · not locked"
