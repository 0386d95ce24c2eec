"""The audit of one file: every check group run over the parsed document, the file's
facts and LM Studio's exposure, into one `AuditReport` in a stable order.

Each server gets the entry-level F2 checks here (no command or url, a whole command line in
`command`, switches LM Studio does not document); its argv (that command line split when it
starts with a known launcher) then goes through the secrets, launch, Docker, scope and remote
checks, and a shell's wrapped command (`bash -c "npx pkg"`) gets the same checks as a plain
one. Findings are de-duplicated
and sorted: the file's first, then each server's in the file's order, the most severe first.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from tray.core.mcp_audit.checks_args import check_arg_references
from tray.core.mcp_audit.checks_comments import check_comments, check_stray_values
from tray.core.mcp_audit.checks_docker import check_docker
from tray.core.mcp_audit.checks_exposure import exposure_findings
from tray.core.mcp_audit.checks_file import file_findings
from tray.core.mcp_audit.checks_launch import check_local, check_packages, check_shell
from tray.core.mcp_audit.checks_remote import check_remote
from tray.core.mcp_audit.checks_scope import check_scope, toxic_flow
from tray.core.mcp_audit.checks_secrets import check_env, check_inputs, check_secrets
from tray.core.mcp_audit.context import Ctx, program
from tray.core.mcp_audit.known_packages import KnownPackages
from tray.core.mcp_audit.model import AuditReport, ExposureFacts, FileFacts, Finding, Severity
from tray.core.mcp_config import McpDocument, McpParseError, McpServer
from tray.core.words import quoted

__all__ = ["audit"]


_LAUNCHERS = {
    "npx",
    "bunx",
    "pnpm",
    "pnpx",
    "yarn",
    "npm",
    "uvx",
    "uv",
    "docker",
    "podman",
    "node",
    "python",
    "python3",
    "bash",
    "sh",
    "zsh",
    "cmd",
    "powershell",
    "pwsh",
    "deno",
    "bun",
}


def _argv(server: McpServer) -> list[str]:
    """command + args; a `command` holding a whole command line (`"npx -y pkg"`) is split
    when it starts with a known launcher (a Windows path with spaces is left whole)."""
    if not server.command:
        return []
    cmd = server.command.strip()
    if " " in cmd and not server.args:
        try:
            parts = shlex.split(cmd, posix=True)
        except ValueError:
            parts = []
        if parts and program(parts[0]) in _LAUNCHERS:
            return parts
    return [cmd, *server.args]


def _home_of(lmstudio_home: str | None) -> str | None:
    """The user's home folder guessed from the LM Studio home (`~/.lmstudio` or the legacy
    `~/.cache/lm-studio`) — core does no I/O, so this is string work only."""
    if not lmstudio_home:
        return None
    p = lmstudio_home.replace("\\", "/").rstrip("/")
    for tail in ("/.lmstudio", "/.cache/lm-studio"):
        if p.lower().endswith(tail):
            return p[: -len(tail)] or "/"
    return None


def _server_findings(
    server: McpServer,
    lmstudio_home: str | None,
    findings: list[Finding],
    known: KnownPackages | None,
    hash_key: bytes | None,
) -> set[str]:
    ctx = Ctx(
        server, findings, lmstudio_home, _home_of(lmstudio_home), known=known, hash_key=hash_key
    )
    first = len(findings)
    s = server
    if s.command is None and s.url is None:
        ctx.add(
            "F2",
            Severity.LOW,
            "",
            "The server has neither a command nor a url; no host can start it.",
            "Fix or remove the entry.",
        )
    if s.command and " " in s.command.strip() and not s.args:
        ctx.add(
            "F2",
            Severity.LOW,
            "command",
            'The whole command line is in "command"; hosts run it as one program name '
            "and the server may not start.",
            "Put the program in command and each argument in args.",
        )
    ignored = [k for k in ("enabled", "_enabled", "_disabled") if k in s.raw]
    for key in ignored:
        ctx.add(
            "F2",
            Severity.LOW,
            key,
            f"{quoted(key)} is not a switch LM Studio documents; the server may run anyway.",
            "Remove the server instead of switching it off this way.",
        )
    check_secrets(ctx)
    check_arg_references(ctx)
    check_env(ctx)
    argv = _argv(s)
    wrapped = check_shell(ctx, argv)
    # the shell's wrapped command (`bash -c "npx pkg"`) gets the same checks as a plain one
    for cmd in (argv, wrapped or []):
        if not cmd:
            continue
        args_from = check_packages(ctx, cmd)
        if not check_docker(ctx, cmd):
            check_local(ctx, cmd)
        check_scope(ctx, cmd, args_from)
        check_remote(ctx, cmd)
    if not argv:
        check_scope(ctx, [], 0)
        check_remote(ctx, [])
    if s.raw.get("disabled") is True:
        findings[first:] = _as_disabled(server, findings[first:])
    return ctx.kinds if not s.disabled else set()


# a literal secret sits in the file whether the server runs or not
_FULL_WHEN_DISABLED = {"S1", "S2", "S3", "S4", "S6"}
_DISABLED_NOTE = " (The server is disabled: this applies only if it is turned back on.)"


def _as_disabled(server: McpServer, found: list[Finding]) -> list[Finding]:
    """A server with `"disabled": true` does not run: what it would run is lowered to low
    and says so; literal secrets keep their severity; one note says it is disabled."""
    out = [
        Finding(
            id="F2",
            severity=Severity.INFO,
            server=server.name,
            pointer=server.pointer_of("disabled"),
            line=server.line_of("disabled"),
            message='The server is disabled ("disabled": true): it does not run. Findings '
            "about what it would run are lowered to low; literal secrets still count in full.",
            fix="Remove the server if you no longer use it.",
        )
    ]
    for f in found:
        if f.id in _FULL_WHEN_DISABLED and not f.message.startswith("A secret reference"):
            out.append(f)
        elif f.severity.rank > Severity.LOW.rank:
            out.append(
                f.model_copy(
                    update={"severity": Severity.LOW, "message": f.message + _DISABLED_NOTE}
                )
            )
        else:
            out.append(f.model_copy(update={"message": f.message + _DISABLED_NOTE}))
    return out


def _with_column(f: Finding, doc: McpDocument) -> Finding:
    """The column of the value the finding points at, when it sits on the finding's line."""
    if not f.pointer or f.line is None or f.column is not None:
        return f
    column = doc.columns.get(f.pointer)
    if column is None or doc.positions.get(f.pointer) != f.line:
        return f
    return f.model_copy(update={"column": column})


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, str | None, str, str]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.id, f.server, f.pointer, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def audit(
    doc: McpDocument | None,
    facts: FileFacts,
    exposure: ExposureFacts | None,
    *,
    lmstudio_home: str | None,
    parse_error: McpParseError | None = None,
    known: KnownPackages | None = None,
    hash_key: bytes | None = None,
) -> AuditReport:
    """Every static check on one file. `doc` is None when the file is missing or does not
    parse (`parse_error` then says where). `known` is the well-known packages list (the
    services side reads it); without it no package counts as trusted and C5 is not run.
    `hash_key` is the installation's key: a secret's short hash is then an HMAC (a short
    password cannot be looked up from it); without it, a plain SHA-256."""
    findings: list[Finding] = []
    errors: list[str] = []
    if doc is not None and doc.raw is None and parse_error is None:
        # an empty or whitespace-only file is not JSON: LM Studio cannot read it
        parse_error = McpParseError(
            "The file is empty (no JSON value in it) at line 1, column 1.", line=1, column=1
        )
        doc = None
    if parse_error is not None:
        errors.append(f"{facts.path} cannot be parsed: {parse_error.message}")
    file_findings(doc, facts, parse_error, findings)
    kinds_per_server: dict[str, set[str]] = {}
    if doc is not None:
        check_inputs(doc, findings)
        check_comments(doc, findings, hash_key)
        check_stray_values(doc, findings, hash_key)
        for server in doc.servers:
            kinds_per_server[server.name] = _server_findings(
                server, lmstudio_home, findings, known, hash_key
            )
        toxic_flow(kinds_per_server, findings)
    exposure_findings(exposure, findings)
    findings = _dedupe(findings)
    if doc is not None:
        findings = [_with_column(f, doc) for f in findings]
    elif parse_error is not None:
        findings = [
            f.model_copy(update={"column": parse_error.column})
            if f.id == "F1" and f.line == parse_error.line
            else f
            for f in findings
        ]
    order = {name: i for i, name in enumerate(kinds_per_server)}
    findings.sort(
        key=lambda f: (
            f.server is not None,
            order.get(f.server or "", -1),
            -f.severity.rank,
            f.line or 0,
        )
    )
    return AuditReport(
        file=facts.path,
        dialect=doc.dialect if doc else None,
        servers=[s.name for s in doc.servers] if doc else [],
        disabled=[s.name for s in doc.servers if s.raw.get("disabled") is True] if doc else [],
        findings=findings,
        errors=errors,
        exists=facts.exists,
        error_line=parse_error.line if parse_error else None,
        error_column=parse_error.column if parse_error else None,
    )
