"""`mcp.json` in every dialect, normalised for the audit and for lockdown.

LM Studio reads `<home>/mcp.json` in Cursor notation (`{"mcpServers": {name: entry}}`,
FORMATS.md §2.2), but users paste entries from everywhere: VS Code (`servers` + `inputs`),
VS Code settings (`mcp.servers` / `{"mcp": {"servers": …}}`), arrays of named servers, JSONC
with comments and trailing commas, a BOM, or nothing at all. `parse_mcp` accepts all of them
and returns an `McpDocument` whose `McpServer`s carry their JSON pointer and line, so every
finding can say where it is. A file that is not JSON(C) raises `McpParseError` with line and
column — and is never rewritten without the user's yes (that is the caller's rule).

`sanitize_server` gives the JSON a kept (allow-listed) server is rewritten with at lockdown:
literal secrets and auto-approve lists removed, placeholders kept. `describe_secret` is the
one way a secret is shown anywhere: kind, length and a short hash, never the value.

Pure: parses the text given to it.
"""

from __future__ import annotations

import copy
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tray.core.errors import FileParseError
from tray.core.jsonc import JsoncError, escape_pointer, parse_jsonc_positions
from tray.core.redact import redact
from tray.core.secrets_scan import (
    digest_of,
    find_secrets_in_json,
    is_placeholder,
    is_secret_key,
)

__all__ = [
    "AUTO_APPROVE_KEYS",
    "McpDialect",
    "McpDocument",
    "McpParseError",
    "McpServer",
    "describe_secret",
    "parse_mcp",
    "redact_for_display",
    "sanitize_server",
]

AUTO_APPROVE_KEYS = ("autoApprove", "alwaysAllow", "autoapprove", "auto_approve")
Transport = Literal["stdio", "http", "sse", "unknown"]


class McpDialect(StrEnum):
    MCP_SERVERS = "mcpServers"
    VSCODE = "servers"
    SETTINGS = "mcp.servers"
    ARRAY = "array"
    EMPTY = "empty"

    @property
    def label(self) -> str:
        return {
            McpDialect.MCP_SERVERS: "mcpServers (LM Studio, Cursor, Claude Desktop)",
            McpDialect.VSCODE: "servers + inputs (VS Code)",
            McpDialect.SETTINGS: "mcp.servers (VS Code settings)",
            McpDialect.ARRAY: "array of servers",
            McpDialect.EMPTY: "empty file",
        }[self]


class McpParseError(FileParseError):
    """`mcp.json` is not JSON(C). The message says where (line, column) and what."""

    title = "mcp.json cannot be read"
    line: int
    column: int

    def __init__(self, message: str, *, line: int, column: int, path: Any = None) -> None:
        super().__init__(message, path=path, line=line, column=column)
        self.line = line
        self.column = column


class McpServer(BaseModel):
    """One server, normalised for analysis; `raw` is its JSON object as written."""

    model_config = ConfigDict(frozen=True)

    name: str
    pointer: str
    line: int | None = None
    transport: Transport = "unknown"
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = {}
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = {}
    disabled: bool = False
    auto_approve: tuple[str, ...] = ()
    raw: dict[str, Any] = {}
    # where each field sits: field name ("command", "args/2", "env/KEY", …) → line
    field_lines: dict[str, int] = {}
    env_file: str | None = None

    def line_of(self, field: str) -> int | None:
        """The line of a field (`"env/TOKEN"`, `"args/3"`), else of the server itself."""
        return self.field_lines.get(field, self.line)

    def pointer_of(self, field: str) -> str:
        return f"{self.pointer}/{field}" if field else self.pointer


class McpDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    dialect: McpDialect
    servers: tuple[McpServer, ...] = ()
    inputs: tuple[dict[str, Any], ...] = ()
    has_comments: bool = False
    had_bom: bool = False
    raw: Any = None
    trailing_commas: bool = False
    # top-level keys the dialect does not define (`preferences`, `globalShortcut`, …)
    unknown_keys: tuple[str, ...] = ()
    duplicate_keys: tuple[str, ...] = ()
    # pointer → line for the whole document (inputs, top-level keys)
    positions: dict[str, int] = {}
    # pointer → column (1-based) where that value starts
    columns: dict[str, int] = {}
    # JSONC comments: (line the comment starts on, its text without the markers)
    comments: tuple[tuple[int, str], ...] = ()
    # entries that are not server objects (`"a": "npx foo"`, `null`) and a server list of
    # the wrong type: (JSON pointer, what it is instead)
    bad_entries: tuple[tuple[str, str], ...] = ()

    def server(self, name: str) -> McpServer | None:
        return next((s for s in self.servers if s.name == name), None)


# --- parsing ---------------------------------------------------------------------------


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) if not isinstance(v, str) else v for v in value)
    if isinstance(value, str):
        return (value,)
    return ()


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else _scalar(v) for k, v in value.items()}


def _scalar(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _transport(entry: dict[str, Any]) -> Transport:
    kind = str(entry.get("type") or entry.get("transport") or entry.get("transportType") or "")
    kind = kind.lower().replace("_", "-")
    if kind in {"stdio", "local"}:
        return "stdio"
    if kind == "sse":
        return "sse"
    if kind in {"http", "streamable-http", "streamablehttp", "remote"}:
        return "http"
    if entry.get("command"):
        return "stdio"
    url = entry.get("url") or entry.get("serverUrl") or entry.get("httpUrl")
    if isinstance(url, str) and url:
        return "sse" if url.rstrip("/").endswith("/sse") else "http"
    return "unknown"


def _server(
    name: str, entry: dict[str, Any], pointer: str, positions: dict[str, tuple[int, int]]
) -> McpServer:
    line = positions.get(pointer, (None, 0))[0]
    field_lines: dict[str, int] = {}
    prefix = pointer + "/"
    for p, (ln, _col) in positions.items():
        if p.startswith(prefix):
            field_lines[p[len(prefix) :]] = ln
    auto: list[str] = []
    for key in AUTO_APPROVE_KEYS:
        auto.extend(_strs(entry.get(key)))
    tools = entry.get("tools")
    if isinstance(tools, list) and any(t == "*" for t in tools):
        auto.append("*")
    if entry.get("trust") is True:
        auto.append("*")
    disabled = entry.get("disabled") is True or entry.get("enabled") is False
    url = entry.get("url") or entry.get("serverUrl") or entry.get("httpUrl")
    command = entry.get("command")
    cwd = entry.get("cwd")
    env_file = entry.get("envFile")
    return McpServer(
        name=name,
        pointer=pointer,
        line=line,
        transport=_transport(entry),
        command=command if isinstance(command, str) else None,
        args=_strs(entry.get("args")),
        env=_str_map(entry.get("env")),
        cwd=cwd if isinstance(cwd, str) else None,
        url=url if isinstance(url, str) else None,
        headers=_str_map(entry.get("headers")),
        disabled=disabled,
        auto_approve=tuple(auto),
        raw=entry,
        field_lines=field_lines,
        env_file=env_file if isinstance(env_file, str) else None,
    )


def _servers_from_map(
    value: Any, base: str, positions: dict[str, tuple[int, int]]
) -> tuple[McpServer, ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(
        _server(str(name), entry, f"{base}/{escape_pointer(str(name))}", positions)
        for name, entry in value.items()
        if isinstance(entry, dict)
    )


def _servers_from_list(
    value: list[Any], base: str, positions: dict[str, tuple[int, int]]
) -> tuple[McpServer, ...]:
    out: list[McpServer] = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            continue
        name = entry.get("name") or entry.get("id") or f"server {i + 1}"
        out.append(_server(str(name), entry, f"{base}/{i}", positions))
    return tuple(out)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _bad_entries(block: Any, base: str) -> tuple[tuple[str, str], ...]:
    """What in a server list is not a server object, or the list itself when it is neither
    an object nor a list: hosts skip these silently, so the audit says so."""
    if isinstance(block, dict):
        items = [(f"{base}/{escape_pointer(str(k))}", v) for k, v in block.items()]
    elif isinstance(block, list):
        items = [(f"{base}/{i}", v) for i, v in enumerate(block)]
    else:
        return ((base, _json_type(block)),)
    return tuple((p, _json_type(v)) for p, v in items if not isinstance(v, dict))


_KNOWN_TOP = {
    McpDialect.MCP_SERVERS: {"mcpServers", "$schema"},
    McpDialect.VSCODE: {"servers", "inputs", "$schema"},
    McpDialect.SETTINGS: {"mcp", "mcp.servers", "$schema"},
    McpDialect.ARRAY: {"servers", "mcpServers", "inputs", "$schema"},
    McpDialect.EMPTY: set(),
}


def parse_mcp(data: bytes | str) -> McpDocument:
    """Parse `mcp.json` in any dialect; `McpParseError` (line, column) when it is not JSONC.

    An empty file, `{}` and a document with no server list are `McpDialect.EMPTY`."""
    if isinstance(data, bytes):
        had_bom = data.startswith(b"\xef\xbb\xbf")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            before = data[: exc.start]
            line = before.count(b"\n") + 1
            column = exc.start - (before.rfind(b"\n") + 1) + 1
            raise McpParseError(
                f"The file is not UTF-8 text (byte {exc.start + 1}) at line {line}, "
                f"column {column}.",
                line=line,
                column=column,
            ) from None
    else:
        had_bom = data.startswith("\ufeff")
        text = data.removeprefix("\ufeff")
    try:
        parsed = parse_jsonc_positions(text)
    except JsoncError as exc:
        raise McpParseError(
            f"{exc.message} at line {exc.line}, column {exc.column}.",
            line=exc.line,
            column=exc.column,
        ) from None
    value = parsed.value
    pos = parsed.positions
    lines = {p: lc[0] for p, lc in pos.items()}
    common: dict[str, Any] = {
        "has_comments": parsed.has_comments,
        "trailing_commas": parsed.trailing_commas,
        "had_bom": had_bom,
        "raw": value,
        "duplicate_keys": tuple(parsed.duplicate_keys),
        "positions": lines,
        "columns": {p: lc[1] for p, lc in pos.items()},
        "comments": tuple(parsed.comments),
    }
    if parsed.empty or value is None:
        return McpDocument(dialect=McpDialect.EMPTY, **common)
    if isinstance(value, list):
        return McpDocument(
            dialect=McpDialect.ARRAY,
            servers=_servers_from_list(value, "", pos),
            bad_entries=_bad_entries(value, ""),
            **common,
        )
    if not isinstance(value, dict):
        raise McpParseError(
            "The file holds a single value, not an object with servers, at line 1, column 1.",
            line=1,
            column=1,
        )
    inputs_raw = value.get("inputs")
    inputs = (
        tuple(i for i in inputs_raw if isinstance(i, dict)) if isinstance(inputs_raw, list) else ()
    )
    dialect: McpDialect
    servers: tuple[McpServer, ...]
    bad: tuple[tuple[str, str], ...] = ()
    if "mcpServers" in value:
        block = value["mcpServers"]
        bad = _bad_entries(block, "/mcpServers")
        if isinstance(block, list):
            dialect, servers = McpDialect.ARRAY, _servers_from_list(block, "/mcpServers", pos)
        else:
            dialect, servers = McpDialect.MCP_SERVERS, _servers_from_map(block, "/mcpServers", pos)
    elif "servers" in value:
        block = value["servers"]
        bad = _bad_entries(block, "/servers")
        if isinstance(block, list):
            dialect, servers = McpDialect.ARRAY, _servers_from_list(block, "/servers", pos)
        else:
            dialect, servers = McpDialect.VSCODE, _servers_from_map(block, "/servers", pos)
    elif "mcp.servers" in value:
        dialect = McpDialect.SETTINGS
        servers = _servers_from_map(value["mcp.servers"], "/" + escape_pointer("mcp.servers"), pos)
        bad = _bad_entries(value["mcp.servers"], "/" + escape_pointer("mcp.servers"))
    elif isinstance(value.get("mcp"), dict) and "servers" in value["mcp"]:
        dialect = McpDialect.SETTINGS
        servers = _servers_from_map(value["mcp"]["servers"], "/mcp/servers", pos)
        bad = _bad_entries(value["mcp"]["servers"], "/mcp/servers")
    else:
        dialect, servers = McpDialect.EMPTY, ()
    unknown = tuple(k for k in value if k not in _KNOWN_TOP[dialect])
    return McpDocument(
        dialect=dialect,
        servers=servers,
        inputs=inputs,
        unknown_keys=unknown,
        bad_entries=bad,
        **common,
    )


# --- secrets: shown, never echoed ------------------------------------------------------


def describe_secret(value: str, kind: str = "secret") -> str:
    """`GitHub token, 40 characters, sha256 1a2b3c4d` — the only way a secret is shown."""
    return f"{kind}, {len(value)} characters, sha256 {digest_of(value)}"


_AUTH_SCHEME = re.compile(r"^(?:Bearer|Basic|Token|Bot|ApiKey)\s+", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@")
_SECRET_ASSIGN = re.compile(
    r"(?:^|(?<=[\s?&\-\"'{,]))([A-Za-z_][A-Za-z0-9_.-]*)([=:])(?!//)([^\s&\"',;]+)"
)


def redact_for_display(text: str) -> str:
    """`text` (a command line, a URL) with secrets masked, for showing it in a finding.

    Known token shapes and bearer values go (`tray.core.redact`), so do URL passwords and
    the values of secret-ish `KEY=value`, `key: value` and `?api_key=` pairs."""
    out = redact(text)
    out = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:[redacted]@", out)

    def assign(m: re.Match[str]) -> str:
        key, sep, value = m.group(1), m.group(2), m.group(3)
        if is_secret_key(key) and not is_placeholder(value) and "[redacted]" not in value:
            return f"{key}{sep}[redacted]"
        return m.group(0)

    return _SECRET_ASSIGN.sub(assign, out)


# --- sanitizing (lockdown keeps a server) ----------------------------------------------


def _secret_pointers(server: McpServer) -> set[str]:
    """Pointers, relative to the server, of every string that holds a secret."""
    found = find_secrets_in_json(server.raw, source="server", key_heuristics=True)
    return {f.pointer or "" for f in found}


def _drop(obj: Any, rel: str) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in rel.strip("/").split("/")]
    target = obj
    for part in parts[:-1]:
        if isinstance(target, list):
            target = target[int(part)]
        elif isinstance(target, dict):
            target = target.get(part)
        if target is None:
            return
    last = parts[-1]
    if isinstance(target, dict):
        target.pop(last, None)
    elif isinstance(target, list) and last.isdigit() and int(last) < len(target):
        target[int(last)] = None  # removed below, keeping indexes stable meanwhile


def sanitize_server(server: McpServer) -> dict[str, Any]:
    """The server's JSON with literal secrets and auto-approve lists removed.

    Env and header values that are secrets are dropped (the key goes too, so the server
    fails loudly instead of running with a wrong value); an argument that is a secret is
    dropped together with the flag naming it (`--api-key X`). Placeholders, `${VAR}` and
    `${input:…}` references are kept. Dialect-native keys are preserved."""
    raw = copy.deepcopy(server.raw)
    for key in (*AUTO_APPROVE_KEYS, "trust"):
        raw.pop(key, None)
    if isinstance(raw.get("tools"), list) and "*" in raw["tools"]:
        raw.pop("tools")
    for rel in sorted(_secret_pointers(server), reverse=True):
        if not rel:
            continue
        parts = rel.strip("/").split("/")
        if parts[0] == "args" and len(parts) == 2 and parts[1].isdigit():
            idx = int(parts[1])
            args = raw.get("args")
            if isinstance(args, list) and idx < len(args):
                args[idx] = None
                prev = args[idx - 1] if idx > 0 else None
                if isinstance(prev, str) and prev.startswith("-") and "=" not in prev:
                    args[idx - 1] = None
            continue
        if parts[0] in {"url", "serverUrl", "httpUrl"}:
            raw.pop(parts[0], None)  # a URL with a credential inside: nothing safe to keep
            continue
        _drop(raw, rel)
    if isinstance(raw.get("args"), list):
        raw["args"] = [a for a in raw["args"] if a is not None]
    for block in ("env", "headers"):
        if isinstance(raw.get(block), dict):
            for k, v in list(raw[block].items()):
                if not isinstance(v, str) or not is_secret_key(k) or "${" in v:
                    continue
                bare = _AUTH_SCHEME.sub("", v.strip())
                if bare and not is_placeholder(bare):
                    # a literal under a secret-ish name that the shape scan judged low-entropy
                    # still should not be carried into a locked file
                    raw[block].pop(k)
    return raw
