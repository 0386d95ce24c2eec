"""Group A of `shared/mcp/CHECKS.md`, the file itself: missing, empty or unparsable,
JSONC and BOM (F1), a dialect or keys LM Studio does not read (F2), permissions, owner and
symbolic links (F3), server names written twice (F5).
"""

from __future__ import annotations

from tray.core.mcp_audit.model import FileFacts, Finding, Severity
from tray.core.mcp_config import McpDialect, McpDocument, McpParseError
from tray.core.secrets_scan import find_secrets_in_json
from tray.core.words import quoted

__all__ = ["file_findings"]


def file_findings(
    doc: McpDocument | None,
    facts: FileFacts,
    parse_error: McpParseError | None,
    findings: list[Finding],
) -> None:
    def add(id_: str, sev: Severity, pointer: str, line: int | None, msg: str, fix: str) -> None:
        findings.append(
            Finding(
                id=id_, severity=sev, server=None, pointer=pointer, line=line, message=msg, fix=fix
            )
        )

    if not facts.exists:
        add(
            "F1",
            Severity.INFO,
            "",
            None,
            "The file does not exist: LM Studio runs no MCP servers from it.",
            "Nothing to do.",
        )
        return
    if parse_error is not None:
        add(
            "F1",
            Severity.MEDIUM,
            "",
            parse_error.line,
            f"The file cannot be parsed ({parse_error.message.rstrip('.')}); a host that "
            "cannot read it "
            "ignores every server in it, and no check below could run.",
            "Fix the file at that line and column. The tray will not rewrite it without your yes.",
        )
    if doc is not None:
        if doc.dialect is McpDialect.EMPTY and not doc.servers:
            add(
                "F1",
                Severity.INFO,
                "",
                None,
                "The file lists no MCP servers."
                if doc.raw is not None
                else "The file is empty: LM Studio runs no MCP servers from it.",
                "Nothing to do.",
            )
        if doc.has_comments or doc.trailing_commas:
            what = " and ".join(
                w
                for w, on in (
                    ("comments", doc.has_comments),
                    ("trailing commas", doc.trailing_commas),
                )
                if on
            )
            add(
                "F1",
                Severity.LOW,
                "",
                1,
                f"The file has {what} (JSONC). LM Studio documents plain JSON; a host that "
                "does not accept JSONC ignores every server in the file.",
                f"Remove the {what} if LM Studio does not show these servers.",
            )
        if doc.had_bom:
            add(
                "F1",
                Severity.LOW,
                "",
                1,
                "The file starts with a byte-order mark, which some JSON readers reject.",
                "Save the file as UTF-8 without BOM.",
            )
        if doc.dialect in {McpDialect.VSCODE, McpDialect.SETTINGS, McpDialect.ARRAY}:
            add(
                "F2",
                Severity.LOW,
                "",
                1,
                f"The file is in the {doc.dialect.label} format; LM Studio reads "
                '"mcpServers" (Cursor notation), so it may not use these servers.',
                'Put the servers under "mcpServers" if LM Studio should run them.',
            )
        for pointer, what in doc.bad_entries:
            name = pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
            whole = pointer in {"/mcpServers", "/servers", "/mcp/servers", "/mcp.servers", ""}
            add(
                "F2",
                Severity.MEDIUM,
                pointer,
                doc.positions.get(pointer),
                (
                    f"The server list is {what}, not an object of servers: no host runs "
                    "anything from it, and some refuse the whole file."
                    if whole
                    else f"Server {quoted(name)} is {what}, not an object with a command or "
                    "url: hosts skip it (or refuse the whole file), so it never runs as written."
                ),
                'Write each server as an object: {"command": …, "args": […]} or {"url": …}.',
            )
        for key in doc.unknown_keys:
            pointer = "/" + key.replace("~", "~0").replace("/", "~1")
            add(
                "F2",
                Severity.INFO,
                pointer,
                doc.positions.get(pointer),
                f"Top-level key {quoted(key)} is not part of the mcp.json format; hosts ignore it.",
                "Remove it if it does not belong here.",
            )
        seen: dict[str, str] = {}
        for s in doc.servers:
            low = s.name.lower()
            if low in seen:
                add(
                    "F5",
                    Severity.LOW,
                    s.pointer,
                    s.line,
                    f"Server {quoted(s.name)} appears twice (also as {quoted(seen[low])}); only "
                    "one of them will run, and which one depends on the host.",
                    "Rename or remove one of them.",
                )
            seen[low] = s.name
        for pointer in doc.duplicate_keys:
            parent = pointer.rsplit("/", 1)[0]
            if any(s.pointer == pointer for s in doc.servers) or parent in {
                "/mcpServers",
                "/servers",
            }:
                add(
                    "F5",
                    Severity.LOW,
                    pointer,
                    doc.positions.get(pointer),
                    f"Server key {quoted(pointer.rsplit('/', 1)[1])} is written twice; the last "
                    "one wins and the first is silently ignored.",
                    "Remove the duplicate.",
                )
    _permission_findings(facts, doc, findings)


def _permission_findings(
    facts: FileFacts, doc: McpDocument | None, findings: list[Finding]
) -> None:
    def add(sev: Severity, msg: str, fix: str) -> None:
        findings.append(
            Finding(id="F3", severity=sev, server=None, pointer="", line=None, message=msg, fix=fix)
        )

    if facts.mode is None:
        add(
            Severity.INFO,
            "File permissions were not checked (on Windows they are ACLs this audit does "
            "not read).",
            "Check in the file's Properties → Security that only you can change it.",
        )
    else:
        mode = facts.mode
        if mode & 0o002:
            add(
                Severity.HIGH,
                f"Any user or program on this machine can change the file (mode {mode:o}): "
                "adding a server there means running code as you.",
                "chmod 600 the file.",
            )
        elif mode & 0o020:
            add(
                Severity.MEDIUM,
                f"Your group can change the file (mode {mode:o}).",
                "chmod 600 the file.",
            )
        has_secrets = False
        if doc is not None:
            for s in doc.servers:
                found = find_secrets_in_json(s.raw, source=s.name)
                if any(not f.tutorial_default for f in found):
                    has_secrets = True
                    break
        if has_secrets and mode & 0o044:
            add(
                Severity.MEDIUM,
                f"Other users can read the file (mode {mode:o}) and it holds secrets.",
                "chmod 600 the file.",
            )
    if facts.dir_mode is not None:
        d = facts.dir_mode
        if d & 0o002 and not d & 0o1000:
            add(
                Severity.HIGH,
                f"Anyone can add, replace or delete files in its folder (mode {d:o}), this "
                "one included, whatever the file's own mode.",
                "chmod 700 the folder.",
            )
        elif d & 0o020:
            add(
                Severity.MEDIUM,
                f"Your group can replace files in its folder (mode {d:o}).",
                "chmod 700 the folder.",
            )
    if facts.owner_is_user is False:
        add(
            Severity.HIGH,
            "The file belongs to another user: they decide which programs run as you.",
            "Make yourself the owner (or recreate the file).",
        )
    if facts.is_symlink:
        add(
            Severity.MEDIUM,
            "The file is a symbolic link to another place: whoever controls that place "
            "controls your MCP servers, and permissions apply to the target.",
            "Replace the link with a real file if you did not set it up yourself.",
        )
