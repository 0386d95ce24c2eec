"""The static `mcp.json` audit: groups A–E and G of `shared/mcp/CHECKS.md`, pure.

`audit(doc, facts, exposure, lmstudio_home=…)` turns a parsed document (`mcp_config`), the
file's stat facts and what is known about LM Studio's server into an `AuditReport` of
`Finding`s. Each finding has CHECKS.md's stable id (F1…F5, S1…S8, C1…C12, P1…P6, R1…R6,
L1…L5), a severity, the server it is about, a JSON pointer and line, one sentence saying what
and why, and one saying what to do. Nothing here connects to a server or runs anything
(group F of CHECKS.md, "deep scan", is out of scope).

Launch commands are parsed, not grepped: `npx`/`bunx`/`pnpm dlx`/`yarn dlx`/`npm exec`,
`uvx`/`uv tool run`/`uv run`, and `docker|podman run` argv are read option by option (options
that take a value, `--opt=value`, `--` ending options, `-y`, `--from`, `-v a:b:ro`,
`--mount type=bind,source=…`), so `npx -y pkg` is about `pkg`, not about `-y`.

A secret is never echoed: findings say its kind, length and the first 8 hex digits of its
SHA-256 (`tray.core.secrets_scan`); placeholders and `${VAR}` / `${input:…}` references are not
secrets (S5).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from tray.core.mcp_audit_order import worst_first
from tray.core.mcp_config import (
    McpDialect,
    McpDocument,
    McpParseError,
    McpServer,
    redact_for_display,
)
from tray.core.secrets_scan import (
    SecretKind,
    find_secrets_in_json,
    is_placeholder,
    is_secret_key,
)
from tray.core.status import is_loopback_host
from tray.core.words import join_and, plural, quoted, with_article

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


# --- helpers ---------------------------------------------------------------------------


def _program(command: str) -> str:
    """`/usr/bin/npx`, `C:\\…\\npx.cmd` → `npx`."""
    base = re.split(r"[\\/]", command.strip())[-1].lower()
    for suffix in (".exe", ".cmd", ".bat", ".ps1"):
        if base.endswith(suffix) and base not in {".exe"}:
            return base[: -len(suffix)]
    return base


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
        if parts and _program(parts[0]) in _LAUNCHERS:
            return parts
    return [cmd, *server.args]


@dataclass
class _Ctx:
    server: McpServer
    findings: list[Finding]
    lmstudio_home: str | None
    home_dir: str | None
    kinds: set[str] = field(default_factory=set)  # P-groups this server belongs to

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


def _arg_field(server: McpServer, argv: list[str], index: int) -> str:
    """The field name of argv[index] (`args/3`, or `command` for 0)."""
    offset = len(argv) - len(server.args)
    if index < offset:
        return "command"
    return f"args/{index - offset}"


# --- B. secrets ------------------------------------------------------------------------


def _check_secrets(ctx: _Ctx) -> None:
    s = ctx.server
    found = find_secrets_in_json(s.raw, source=s.name, key_heuristics=True)
    for f in found:
        rel = (f.pointer or "").lstrip("/")
        top = rel.split("/", 1)[0]
        desc = f"{f.length} characters, sha256 {f.digest}"
        if top == "args":
            where = "in its arguments (every local user can read them with ps / Task Manager)"
        elif top in {"url", "serverUrl", "httpUrl"}:
            where = "in its URL"
        elif top == "headers":
            where = f"in header {rel.split('/', 1)[-1]}"
        elif top == "env":
            where = f"in env {rel.split('/', 1)[-1]}"
        else:
            where = f"at {rel or 'the server'}"
        fix = (
            "Rotate this secret with its provider (it has been on disk), then remove it from "
            "the file; keep it in an environment variable or the OS keychain instead."
        )
        raw_value = _value_at(s.raw, rel)
        in_brackets = isinstance(raw_value, str) and re.search(r"<[^<>]{8,}>", raw_value)
        if f.kind is SecretKind.URL_CREDENTIALS or (
            f.kind is SecretKind.GENERIC and f.where.startswith("URL")
        ):
            ctx.add(
                "S4",
                Severity.HIGH,
                rel,
                f"{with_article(f.label, capital=True)} is {where}: {desc}.",
                fix,
            )
        elif f.kind is not SecretKind.GENERIC:
            if in_brackets:
                ctx.add(
                    "S6",
                    Severity.CRITICAL,
                    rel,
                    f"A real {f.label} was pasted inside a placeholder's angle brackets "
                    f"{where}: {desc}.",
                    fix,
                )
            else:
                ctx.add(
                    "S1",
                    Severity.CRITICAL,
                    rel,
                    f"{with_article(f.label, capital=True)} is {where}: {desc}.",
                    fix,
                )
        elif top == "args":
            ctx.add("S3", Severity.HIGH, rel, f"A secret-looking value is {where}: {desc}.", fix)
        else:
            ctx.add("S2", Severity.HIGH, rel, f"A literal secret is {where}: {desc}.", fix)
    _check_placeholders(ctx)


def _value_at(obj: object, rel: str) -> object:
    cur = obj
    for part in [p for p in rel.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


_REFERENCE = re.compile(r"\$\{(?:env:)?[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def _check_placeholders(ctx: _Ctx) -> None:
    """S5: placeholders are not secrets — but a literal `YOUR_KEY` makes the server fail,
    and whether LM Studio expands `${VAR}` is unverified (CHECKS.md §6)."""
    s = ctx.server
    literal: list[str] = []
    refs: list[str] = []
    for block, values in (("env", s.env), ("headers", s.headers)):
        for key, value in values.items():
            if not (is_secret_key(key) or block == "headers"):
                continue
            v = value.strip()
            if _REFERENCE.search(v) or "${input:" in v:
                refs.append(f"{block} {key}")
            elif v and is_placeholder(v):
                literal.append(f"{block} {key}")
    if literal:
        first = literal[0].replace(" ", "/", 1)
        ctx.add(
            "S5",
            Severity.INFO,
            first,
            f"{', '.join(literal)}: a documentation placeholder (not a secret) is still there; "
            "the server gets that text literally and will likely fail to start.",
            "Fill in the real value through an environment variable, or remove the server.",
        )
    if refs and s.transport in {"stdio", "http", "sse", "unknown"}:
        first = refs[0].replace(" ", "/", 1)
        ctx.add(
            "S5",
            Severity.INFO,
            first,
            f"{', '.join(refs)} use ${{…}} references (not secrets). Whether LM Studio "
            "expands them is not documented; if it does not, the server gets the text as is.",
            "Check that the server works in LM Studio; set the variables where LM Studio starts.",
        )


_INPUT_SECRET_WORDS = re.compile(r"key|secret|token|password|passwd|pat\b|credential", re.I)


def _check_inputs(doc: McpDocument, findings: list[Finding]) -> None:
    """S7: VS Code `inputs` that ask for a secret without `password: true`."""
    for i, inp in enumerate(doc.inputs):
        ident = str(inp.get("id", ""))
        text = f"{ident} {inp.get('description', '')}"
        if inp.get("type", "promptString") != "promptString":
            continue
        if _INPUT_SECRET_WORDS.search(text) and inp.get("password") is not True:
            pointer = f"/inputs/{i}"
            findings.append(
                Finding(
                    id="S7",
                    severity=Severity.LOW,
                    server=None,
                    pointer=pointer,
                    line=doc.positions.get(pointer),
                    message=f"Input {quoted(ident)} asks for a secret but shows it while typed.",
                    fix='Add "password": true to the input.',
                )
            )


_ENV_HIGH = {"LD_PRELOAD", "LD_AUDIT", "BASH_ENV", "PYTHONSTARTUP", "PERL5OPT", "RUBYOPT"}
_ENV_MEDIUM = {
    "PATH",
    "PYTHONPATH",
    "NODE_PATH",
    "LD_LIBRARY_PATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "NODE_EXTRA_CA_CERTS",
}
_TLS_OFF_ENV = {
    "NODE_TLS_REJECT_UNAUTHORIZED": {"0", "false"},
    "PYTHONHTTPSVERIFY": {"0", "false"},
    "CURL_INSECURE": {"1", "true"},
    "GIT_SSL_NO_VERIFY": {"1", "true"},
}


def _check_env(ctx: _Ctx) -> None:
    """S8 (env that changes what runs or where traffic goes) and R5 (TLS verification off)."""
    for key, value in ctx.server.env.items():
        where = f"env/{key}"
        v = value.strip()
        if key in _TLS_OFF_ENV:
            if v.lower() in _TLS_OFF_ENV[key]:
                ctx.add(
                    "R5",
                    Severity.HIGH,
                    where,
                    f"{key}={v} turns off TLS certificate checks: anyone on the network path "
                    "can read and change the server's traffic.",
                    f"Remove {key}.",
                )
            continue
        if key in _ENV_HIGH or key.startswith("DYLD_"):
            ctx.add(
                "S8",
                Severity.HIGH,
                where,
                f"{key} makes the program load or run other code before it starts.",
                f"Remove {key}.",
            )
        elif key == "NODE_OPTIONS":
            if re.search(r"(?:^|\s)(?:--require|-r|--import|--loader|--experimental-loader)\b", v):
                ctx.add(
                    "S8",
                    Severity.HIGH,
                    where,
                    "NODE_OPTIONS loads extra code into the server (--require/--import).",
                    "Remove NODE_OPTIONS.",
                )
            elif v:
                ctx.add(
                    "S8",
                    Severity.MEDIUM,
                    where,
                    "NODE_OPTIONS changes how Node.js runs the server.",
                    "Remove NODE_OPTIONS unless you know why it is there.",
                )
        elif key in _ENV_MEDIUM:
            what = (
                "routes the server's traffic through a proxy"
                if "proxy" in key.lower()
                else "changes where programs and libraries are looked up"
            )
            ctx.add(
                "S8",
                Severity.MEDIUM,
                where,
                f"{key} {what}.",
                f"Remove {key} unless the server needs it.",
            )


# --- C. launch command & supply chain --------------------------------------------------

_SHELLS = {"bash", "sh", "zsh", "fish", "dash", "ksh", "cmd", "powershell", "pwsh"}
_SHELL_FLAGS = {"-c", "/c", "/k", "-command", "-encodedcommand", "-enc", "-ec", "-lc", "-ic"}
_INLINE = {
    "python": {"-c"},
    "python3": {"-c"},
    "node": {"-e", "--eval", "-p", "--print"},
    "deno": {"eval"},
    "bun": {"-e", "--eval"},
    "perl": {"-e"},
    "ruby": {"-e"},
}
_METACHARS = re.compile(r"&&|\|\||(?<![<>])\|(?!\|)|;|\$\(|`")
_DOWNLOAD = re.compile(r"\b(?:curl|wget|iwr|invoke-webrequest|invoke-restmethod|irm)\b", re.I)
_BASE64 = re.compile(r"base64|-encodedcommand|-enc\b|frombase64string", re.I)


def _check_shell(ctx: _Ctx, argv: list[str]) -> list[str] | None:
    """C1/C2. Returns the wrapped command's argv when a shell just runs one plain command
    (`cmd /c npx -y pkg`, `bash -c "npx pkg"`), so the other checks can look at it."""
    if not argv:
        return None
    prog = _program(argv[0])
    rest = argv[1:]
    lowered = [a.lower() for a in rest]
    if prog in _SHELLS:
        flag_at = next((i for i, a in enumerate(lowered) if a in _SHELL_FLAGS), None)
        if flag_at is None:
            script = next((a for a in rest if not a.startswith("-")), None)
            if script:
                ctx.add(
                    "C2",
                    Severity.MEDIUM,
                    _arg_field(ctx.server, argv, argv.index(script)),
                    f"The server runs the script {quoted(script)} through {prog}: what it really "
                    "starts is not visible here.",
                    "Read the script; point command at the real program if you can.",
                )
            return None
        body_parts = rest[flag_at + 1 :]
        body = " ".join(body_parts)
        encoded = lowered[flag_at] in {"-encodedcommand", "-enc", "-ec"}
        wrapped: list[str] | None = None
        if not _METACHARS.search(body) and not encoded:
            try:
                wrapped = shlex.split(body, posix=prog not in {"cmd"})
            except ValueError:
                wrapped = body_parts
        dangerous = encoded or _BASE64.search(body) or (_DOWNLOAD.search(body) and "|" in body)
        if dangerous:
            sev = Severity.CRITICAL
            why = "downloads and pipes code, or hides it in base64"
        elif prog == "cmd" and wrapped and _program(wrapped[0]) in {"npx", "uvx", "node"}:
            sev = Severity.MEDIUM
            why = "wraps a plain command (common on Windows)"
        else:
            sev = Severity.HIGH
            why = "hides the real command from you"
        ctx.add(
            "C1",
            sev,
            _arg_field(ctx.server, argv, flag_at + 1),
            f"The server starts a shell ({prog} {rest[flag_at]}) that {why}.",
            "Put the real program in command and its arguments in args, without a shell.",
        )
        return wrapped
    inline = _INLINE.get(prog)
    if inline and any(a in inline for a in rest):
        i = next(i for i, a in enumerate(rest) if a in inline)
        ctx.add(
            "C1",
            Severity.HIGH,
            _arg_field(ctx.server, argv, i + 1),
            f"The server runs inline code ({prog} {rest[i]} …) instead of a package or file.",
            "Replace the inline code with an installed, pinned server.",
        )
        return None
    for i, a in enumerate(rest):
        if _METACHARS.search(a) and not a.startswith(("http://", "https://")):
            ctx.add(
                "C1",
                Severity.MEDIUM,
                _arg_field(ctx.server, argv, i + 1),
                "An argument contains shell operators (&&, ;, |, $( ), backticks); if any "
                "host runs it through a shell, it chains other commands.",
                "Remove the shell operators.",
            )
            break
    if prog.endswith((".sh", ".ps1", ".bat", ".cmd")) or argv[0].lower().endswith(
        (".sh", ".ps1", ".bat", ".cmd")
    ):
        ctx.add(
            "C2",
            Severity.MEDIUM,
            "command",
            f"The server runs the script {quoted(argv[0])}: what it really starts is not "
            "visible here.",
            "Read the script; point command at the real program if you can.",
        )
    return None


_NPX_VALUE_OPTS = {"-p", "--package", "-c", "--call", "--registry", "--cache", "--userconfig"}
_NPM_SPEC_PINNED = re.compile(r"^(?:@[^/@\s]+/)?[^@\s/]+@v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
_NON_REGISTRY = re.compile(r"^(?:github:|gitlab:|bitbucket:|gist:|git\+|git:|https?://|file:)")


@dataclass
class _Launch:
    tool: str
    specs: list[tuple[int, str]]  # (argv index, package spec)
    auto_yes: bool
    rest_at: int  # argv index where the package's own arguments start


def _parse_node_launch(argv: list[str]) -> _Launch | None:
    """npx / bunx / pnpm dlx / pnpx / yarn dlx / npm exec: which packages are fetched."""
    prog = _program(argv[0])
    i = 1
    if prog in {"pnpm", "yarn"}:
        while i < len(argv) and argv[i].startswith("-"):
            i += 1
        if i >= len(argv) or argv[i] != "dlx":
            return None
        tool, i = f"{prog} dlx", i + 1
    elif prog == "npm":
        while i < len(argv) and argv[i].startswith("-"):
            i += 1
        if i >= len(argv) or argv[i] not in {"exec", "x"}:
            return None
        tool, i = "npm exec", i + 1
    elif prog in {"npx", "bunx", "pnpx"}:
        tool = prog
    else:
        return None
    specs: list[tuple[int, str]] = []
    auto_yes = prog in {"bunx", "pnpx"} or tool in {"pnpm dlx", "yarn dlx"}
    positional: int | None = None
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            if i < len(argv) and not specs:
                positional = i
            break
        if a in {"-y", "--yes"}:
            auto_yes = True
        elif a.startswith("--package=") or a.startswith("-p="):
            specs.append((i, a.split("=", 1)[1]))
        elif a in _NPX_VALUE_OPTS:
            if a in {"-p", "--package"} and i + 1 < len(argv):
                specs.append((i + 1, argv[i + 1]))
            i += 1
        elif a.startswith("-"):
            pass
        else:
            positional = i
            break
        i += 1
    rest_at = len(argv)
    if positional is not None and positional < len(argv):
        if not specs:
            specs.append((positional, argv[positional]))
        rest_at = positional + 1
    return _Launch(tool, specs, auto_yes, rest_at)


_UV_VALUE_OPTS = {
    "--from",
    "--with",
    "--with-editable",
    "--with-requirements",
    "--python",
    "-p",
    "--index",
    "--index-url",
    "--extra-index-url",
    "--default-index",
    "--directory",
    "--project",
    "--cache-dir",
    "--config-file",
    "--constraint",
    "-c",
    "--override",
    "--refresh-package",
    "--reinstall-package",
    "--upgrade-package",
    "--env-file",
    "--find-links",
    "-f",
    "--python-preference",
}
_PY_PINNED = re.compile(r"^[A-Za-z0-9._\-\[\],]+(?:==|@)v?\d[\w.+!-]*$")


def _parse_uv_launch(argv: list[str]) -> tuple[_Launch | None, list[tuple[int, str]]]:
    """uvx / uv tool run / uv run --with: (launch, `--from` specs)."""
    prog = _program(argv[0])
    i = 1
    if prog == "uv":
        if len(argv) > 2 and argv[1] == "tool" and argv[2] in {"run", "uvx"}:
            i = 3
        elif len(argv) > 1 and argv[1] == "run":
            withs = [
                (j + 1, argv[j + 1])
                for j in range(2, len(argv) - 1)
                if argv[j] in {"--with", "--with-editable"}
            ]
            withs += [
                (j, a.split("=", 1)[1]) for j, a in enumerate(argv) if a.startswith("--with=")
            ]
            return (_Launch("uv run --with", withs, True, len(argv)) if withs else None), []
        else:
            return None, []
    elif prog != "uvx":
        return None, []
    froms: list[tuple[int, str]] = []
    specs: list[tuple[int, str]] = []
    positional: int | None = None
    while i < len(argv):
        a = argv[i]
        if a == "--":
            positional = i + 1 if i + 1 < len(argv) else None
            break
        if a.startswith("--from="):
            froms.append((i, a.split("=", 1)[1]))
        elif a.startswith("--with="):
            specs.append((i, a.split("=", 1)[1]))
        elif a in _UV_VALUE_OPTS:
            if i + 1 < len(argv):
                if a == "--from":
                    froms.append((i + 1, argv[i + 1]))
                elif a == "--with":
                    specs.append((i + 1, argv[i + 1]))
            i += 1
        elif a.startswith("-"):
            pass
        else:
            positional = i
            break
        i += 1
    if froms:
        specs = [*froms, *specs]
    elif positional is not None and positional < len(argv):
        specs.insert(0, (positional, argv[positional]))
    rest_at = positional + 1 if positional is not None else len(argv)
    return _Launch("uvx", specs, True, rest_at), froms


def _check_packages(ctx: _Ctx, argv: list[str]) -> int:
    """C3/C4 for node and Python launchers. Returns where the package's own args start."""
    if not argv:
        return 0
    node = _parse_node_launch(argv)
    if node is not None:
        for index, spec in node.specs:
            _judge_spec(ctx, argv, index, spec, node.tool, node.auto_yes, python=False)
        return node.rest_at
    uv, _froms = _parse_uv_launch(argv)
    if uv is not None:
        for index, spec in uv.specs:
            _judge_spec(ctx, argv, index, spec, uv.tool, True, python=True)
        return uv.rest_at
    prog = _program(argv[0])
    if prog in {"pip", "pip3"} or (
        prog.startswith("python") and "pip" in argv[1:3] and "install" in argv
    ):
        ctx.add(
            "C3",
            Severity.MEDIUM,
            "command",
            "The server installs packages with pip every time it starts.",
            "Install the server once and point command at it.",
        )
    return 1


_GIT_SHA = re.compile(r"@[0-9a-f]{40}$")


def _judge_spec(
    ctx: _Ctx, argv: list[str], index: int, spec: str, tool: str, auto_yes: bool, *, python: bool
) -> None:
    where = _arg_field(ctx.server, argv, index)
    shown = _display(spec)
    if _NON_REGISTRY.match(spec) or (
        not python and "/" in spec and not spec.startswith(("@", ".", "/", "~"))
    ):
        pinned = bool(_GIT_SHA.search(spec) or re.search(r"#[0-9a-f]{40}$", spec))
        ctx.add(
            "C4",
            Severity.MEDIUM if pinned else Severity.HIGH,
            where,
            f"{tool} runs {shown} straight from a repository or URL, not from a registry "
            f"release{'' if pinned else ', and whatever that address serves today'}.",
            "Use a published registry version, or pin the exact commit SHA.",
        )
        return
    if spec.startswith((".", "/", "~")) or re.match(r"^[A-Za-z]:[\\/]", spec):
        return  # a local folder: C7's business
    if python:
        pinned = bool(_PY_PINNED.match(spec)) and not spec.endswith(("@latest", "==latest"))
    else:
        pinned = bool(_NPM_SPEC_PINNED.match(spec))
    if pinned:
        return
    unscoped = not python and not spec.startswith("@")
    sev = Severity.HIGH if (auto_yes and unscoped and tool == "npx") else Severity.MEDIUM
    ctx.add(
        "C3",
        sev,
        where,
        f"{tool} fetches {shown} without an exact version: each start may run a newer "
        "release than the one you reviewed"
        + (" (auto-confirmed with -y)" if tool == "npx" and auto_yes else "")
        + ".",
        f"Pin an exact version, e.g. {_pin_example(spec, python)}.",
    )


def _pin_example(spec: str, python: bool) -> str:
    name = re.sub(r"(?<=.)@[^/]*$", "", spec) if not python else re.split(r"==|@", spec)[0]
    return f"{name}=={'1.2.3'}" if python else f"{name}@1.2.3"


def _display(text: str) -> str:
    """A package spec or path to show: short, quoted, with no secret in it."""
    shown = redact_for_display(text)
    return quoted(shown if len(shown) <= 80 else shown[:77] + "…")


_BUILD_AT_LAUNCH = (
    ("cargo", "run"),
    ("dotnet", "run"),
    ("go", "run"),
    ("npm", "run"),
    ("npm", "start"),
    ("pnpm", "dev"),
    ("pnpm", "run"),
    ("yarn", "dev"),
    ("yarn", "start"),
    ("bun", "run"),
    ("mvn", "exec:java"),
    ("gradle", "run"),
)


def _check_local(ctx: _Ctx, argv: list[str]) -> None:
    """C7 (local binary / script path), C8 (build at launch), C9 (network server)."""
    if not argv:
        return
    prog = _program(argv[0])
    cmd = argv[0]
    if prog in {"ts-node", "tsx"} or any(
        prog == tool and sub in argv[1:3] for tool, sub in _BUILD_AT_LAUNCH
    ):
        ctx.add(
            "C8",
            Severity.LOW,
            "command",
            f"The server is built from source every time it starts ({prog} …).",
            "Build it once and point command at the result.",
        )
    if (
        cmd.startswith(("/", "~", "./", "../", ".\\", "..\\"))
        or re.match(r"^[A-Za-z]:[\\/]", cmd)
        or "/" in cmd
        or "\\" in cmd
    ):
        ctx.add(
            "C7",
            Severity.LOW,
            "command",
            f"The server is a local program ({_display(cmd)}): it is not from a registry and "
            "can change without any version number changing.",
            "Make sure you know where it came from; lockdown's drift watch does not cover "
            "the program itself.",
        )
    joined = " ".join(argv[1:])
    if re.search(r"--host[= ](?:0\.0\.0\.0|::|\[::\])(?:\s|$)", joined) or (
        (prog == "uvicorn" or "uvicorn" in argv[1:3]) and re.search(r"0\.0\.0\.0", joined)
    ):
        ctx.add(
            "C9",
            Severity.MEDIUM,
            "args",
            "The server starts a network service on all interfaces (0.0.0.0): other devices "
            "on your network can reach it.",
            "Bind to 127.0.0.1, or use the stdio transport.",
        )


# docker ----------------------------------------------------------------------------

_DOCKER_VALUE_OPTS = {
    "-v",
    "--volume",
    "--mount",
    "-e",
    "--env",
    "--env-file",
    "-p",
    "--publish",
    "--network",
    "--net",
    "--name",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--pid",
    "--ipc",
    "--uts",
    "--cap-add",
    "--cap-drop",
    "--security-opt",
    "--device",
    "--entrypoint",
    "-l",
    "--label",
    "--platform",
    "--pull",
    "-m",
    "--memory",
    "--cpus",
    "-h",
    "--hostname",
    "--add-host",
    "--tmpfs",
    "--shm-size",
    "--restart",
    "--runtime",
    "--userns",
    "--cgroupns",
    "--log-driver",
    "--log-opt",
    "--dns",
    "--ulimit",
    "--gpus",
    "--group-add",
    "--volumes-from",
    "--label-file",
    "--stop-signal",
    "--health-cmd",
    "--cidfile",
    "--cpu-shares",
    "-c",
    "--network-alias",
    "--mac-address",
    "--ip",
    "--ip6",
    "--link",
    "--expose",
    "--attach",
    "-a",
}


@dataclass
class _DockerRun:
    options: list[tuple[int, str, str | None]]  # (argv index, option name, value)
    image: tuple[int, str] | None
    command_at: int


def _parse_docker(argv: list[str]) -> _DockerRun | None:
    if not argv or _program(argv[0]) not in {"docker", "podman"}:
        return None
    i = 1
    while i < len(argv) and argv[i].startswith("-"):  # global options (--context x)
        i += 2 if argv[i] in {"--context", "-c", "--host", "-H", "--config"} else 1
    if i < len(argv) and argv[i] == "container":
        i += 1
    if i >= len(argv) or argv[i] != "run":
        return None
    i += 1
    options: list[tuple[int, str, str | None]] = []
    image: tuple[int, str] | None = None
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            if i < len(argv):
                image = (i, argv[i])
            break
        if a.startswith("--"):
            if "=" in a:
                name, value = a.split("=", 1)
                options.append((i, name, value))
            elif a in _DOCKER_VALUE_OPTS:
                options.append((i, a, argv[i + 1] if i + 1 < len(argv) else None))
                i += 1
            else:
                options.append((i, a, None))
        elif a.startswith("-") and len(a) > 1:
            # -it, -v x, -vX, -e=K=V, -p8080:80
            name = a[:2]
            if name in _DOCKER_VALUE_OPTS:
                if len(a) > 2:
                    options.append((i, name, a[2:].removeprefix("=")))
                else:
                    options.append((i, name, argv[i + 1] if i + 1 < len(argv) else None))
                    i += 1
            else:
                for ch in a[1:]:
                    options.append((i, f"-{ch}", None))
        else:
            image = (i, a)
            break
        i += 1
    return _DockerRun(options, image, (image[0] + 1) if image else len(argv))


def _mount_source(name: str, value: str) -> tuple[str | None, bool]:
    """(host path or None for a named volume, read-only?) of `-v` / `--mount`."""
    if name == "--mount":
        parts = dict(
            [*p.split("=", 1), "true"][:2]
            for p in value.split(",")
            if p  # `readonly` alone
        )
        src = parts.get("source") or parts.get("src")
        kind = parts.get("type", "volume")
        ro = parts.get("readonly", parts.get("ro", "false")).lower() in {"true", "1", ""}
        if "readonly" in value.split(",") or "ro" in value.split(","):
            ro = True
        if kind != "bind" and not (src and _looks_path(src)):
            return None, ro
        return src, ro
    m = re.match(r"^([A-Za-z]:[\\/][^:]*|[^:]*)(?::([^:]*))?(?::([^:]*))?$", value)
    if not m:
        return None, False
    host, _target, opts = m.group(1), m.group(2), m.group(3)
    ro = bool(opts and "ro" in opts.split(","))
    if not _looks_path(host):
        return None, ro
    return host, ro


def _looks_path(text: str) -> bool:
    return bool(
        text.startswith(("/", "~", ".", "$", "%", "\\\\", "//"))
        or re.match(r"^[A-Za-z]:[\\/]", text)
    )


def _check_docker(ctx: _Ctx, argv: list[str]) -> bool:
    run = _parse_docker(argv)
    if run is None:
        if argv and _program(argv[0]) == "docker" and "mcp" in argv[1:3]:
            ctx.add(
                "C12",
                Severity.MEDIUM,
                "args",
                "Docker's MCP gateway decides which servers run; they are not listed here, so "
                "this audit cannot see them.",
                "Review the servers enabled in Docker's MCP Toolkit.",
            )
        return False
    s = ctx.server
    for index, name, value in run.options:
        where = _arg_field(s, argv, index)
        val = value or ""
        low = val.lower()
        if name == "--privileged":
            ctx.add(
                "C10",
                Severity.CRITICAL,
                where,
                "docker --privileged gives the container full control of this machine.",
                "Remove --privileged.",
            )
        elif name in {"-v", "--volume", "--mount"} and value:
            host, ro = _mount_source(name, value)
            if host is None:
                continue
            if "docker.sock" in host or "docker_engine" in host:
                ctx.add(
                    "C10",
                    Severity.CRITICAL,
                    where,
                    "The Docker socket is mounted into the container: it can start any "
                    "container, i.e. run anything as root on this machine.",
                    "Remove the docker.sock mount.",
                )
                continue
            level = _path_breadth(host, ctx.lmstudio_home, ctx.home_dir)
            if level is None:
                continue
            sev, what = level
            if sev is Severity.LOW:
                continue
            # writable access to anything holding mcp.json is CRITICAL (P1); other wide
            # mounts are HIGH (C10)
            if sev is not Severity.CRITICAL or (ro and what != "the whole disk"):
                sev = Severity.HIGH
            ctx.add(
                "C10",
                sev,
                where,
                f"The container gets {what} ({_display(host)})"
                + (" read-only." if ro else " with write access."),
                "Mount only the project folder, read-only (:ro).",
            )
        elif name in {"--network", "--net"} and low == "host":
            ctx.add(
                "C10",
                Severity.HIGH,
                where,
                "--network host puts the container on this machine's network: it reaches "
                "every local service, LM Studio's server included.",
                "Remove --network host; use --network none if the server needs no network.",
            )
        elif name in {"--pid", "--ipc", "--uts", "--userns"} and low == "host":
            ctx.add(
                "C10",
                Severity.HIGH,
                where,
                f"{name} host shares this machine's {name[2:]} namespace with the container.",
                f"Remove {name} host.",
            )
        elif name == "--cap-add":
            ctx.add(
                "C10",
                Severity.HIGH,
                where,
                f"--cap-add {_display(val)} gives the container extra kernel privileges.",
                "Remove --cap-add; add --cap-drop ALL.",
            )
        elif name == "--security-opt" and "unconfined" in low:
            ctx.add(
                "C10",
                Severity.HIGH,
                where,
                f"--security-opt {_display(val)} switches off a kernel sandbox.",
                "Remove it; add --security-opt no-new-privileges.",
            )
        elif name == "--device":
            ctx.add(
                "C10",
                Severity.MEDIUM,
                where,
                f"--device {_display(val)} gives the container a host device.",
                "Remove --device unless the server needs it.",
            )
        elif name in {"-u", "--user"} and low.split(":")[0] in {"0", "root"}:
            ctx.add(
                "C10",
                Severity.MEDIUM,
                where,
                "The container runs as root.",
                "Remove --user root; run as an unprivileged user.",
            )
        elif name in {"-p", "--publish"} and value:
            if not re.match(r"^(?:127\.\d+\.\d+\.\d+|\[?::1\]?|localhost):", value):
                ctx.add(
                    "C10",
                    Severity.MEDIUM,
                    where,
                    f"-p {_display(value)} publishes a port on all network interfaces.",
                    "Prefix it with 127.0.0.1: (e.g. -p 127.0.0.1:8080:80), or drop it.",
                )
        elif name == "-P":
            ctx.add(
                "C10",
                Severity.MEDIUM,
                where,
                "-P publishes every exposed port on all network interfaces.",
                "Remove -P.",
            )
        elif name == "--pull" and low == "always":
            ctx.add(
                "C11",
                Severity.MEDIUM,
                where,
                "--pull always fetches whatever the image tag points to today at each start.",
                "Remove --pull always and pin the image by digest (image@sha256:…).",
            )
    if run.image is not None:
        index, image = run.image
        name_part = image.split("@", 1)[0]
        tag = name_part.rsplit(":", 1)[1] if ":" in name_part.rsplit("/", 1)[-1] else None
        if "@sha256:" not in image and (tag is None or tag in {"latest", "stable", "main"}):
            ctx.add(
                "C11",
                Severity.MEDIUM,
                _arg_field(s, argv, index),
                f"The image {_display(image)} is not pinned: "
                + ("no tag means :latest" if tag is None else f":{tag} moves")
                + ", so each start may run a different image.",
                "Pin the image by digest (image@sha256:…) or at least an exact version tag.",
            )
    return True


# --- D. scope / privileges -------------------------------------------------------------

_FS_WORDS = re.compile(r"filesystem|file-system|desktop-commander|\bfs\b|server-fs|files?\b", re.I)
_SHELL_WORDS = re.compile(
    r"desktop-commander|\bshell\b|terminal|\bexec\b|command-?runner|code-?runner|\bkali\b|"
    r"kubernetes|\bk8s\b|kubectl|\bssh\b|mcp-server-docker|docker-mcp|pentest|redteam|red-team",
    re.I,
)
_SENSITIVE_WORDS = re.compile(
    r"gmail|\bmail\b|email|outlook|imap|slack|discord|whatsapp|telegram|signal|1password|"
    r"bitwarden|keychain|lastpass|stripe|paypal|plaid|bank|\bnotion\b|gdrive|google-drive|"
    r"supabase|postgres|mysql|mongo|database",
    re.I,
)
_UNTRUSTED_WORDS = re.compile(
    r"\bfetch\b|browser|puppeteer|playwright|brave-search|tavily|\bexa\b|serper|web-?search|"
    r"google-search|scrap|firecrawl|crawl|server-github|github-mcp|\bgithub\b|gitlab|youtube|"
    r"reddit|\brss\b",
    re.I,
)
_WRITE_TOOLS = re.compile(
    r"write|edit|create|delete|remove|move|rename|exec|run|shell|command|apply|manage|"
    r"change|update|put|post|send|push|commit|merge|deploy|install|kill|drop|insert|"
    r"policy|admin|\*",
    re.I,
)


# name-based kinds (P2, P4, P5): (pattern, kind for P6, id, severity, message, fix)
_NAME_CHECKS: tuple[tuple[re.Pattern[str], str, str, Severity, str, str], ...] = (
    (
        _SHELL_WORDS,
        "exec",
        "P2",
        Severity.HIGH,
        "By its name or package, this server runs commands or controls systems "
        "(shell, terminal, containers, clusters): whatever the model asks, it can do.",
        "Keep it disabled unless you need it, and confirm each tool call.",
    ),
    (
        _SENSITIVE_WORDS,
        "private",
        "P4",
        Severity.MEDIUM,
        "By its name or package, this server reaches private data (mail, chat, "
        "payments, passwords or databases).",
        "Keep it disabled unless you need it.",
    ),
    (
        _UNTRUSTED_WORDS,
        "untrusted",
        "P5",
        Severity.MEDIUM,
        "This server brings in content from the web or other people (pages, search "
        "results, issues): text in it can carry instructions to the model.",
        "Use it only in chats that do not also have private data or write tools.",
    ),
)


def _identity(server: McpServer, argv: list[str]) -> str:
    """The server's name and its package/image names, for name-based checks."""
    bits = [server.name]
    bits += [a for a in argv[:6] if not a.startswith("-")]
    if server.url:
        bits.append(urlsplit(server.url).hostname or "")
    return " ".join(bits).replace("_", "-")


def _path_breadth(
    path: str, lmstudio_home: str | None, home_dir: str | None
) -> tuple[Severity, str] | None:
    """How broad a filesystem root is (P1's tiers), or None when it is not a path."""
    p = path.strip().strip("\"'")
    if not p:
        return None
    norm = p.replace("\\", "/")
    low = norm.lower().rstrip("/") or "/"
    home_refs = {"~", "$home", "${home}", "%userprofile%", "${env:home}", "${userhome}"}
    if low in {"/", "c:", "//", "/mnt/c"} or re.fullmatch(r"[a-z]:", low):
        return Severity.CRITICAL, "the whole disk"
    if low in home_refs or re.fullmatch(r"/(?:users|home)/[^/]+|/root|[a-z]:/users/[^/]+", low):
        return Severity.CRITICAL, "your whole home folder"
    if low in {"/users", "/home", "c:/users"}:
        return Severity.CRITICAL, "every user's home folder"
    expanded = low
    for ref in home_refs:
        if home_dir and (low == ref or low.startswith(ref + "/")):
            expanded = home_dir.replace("\\", "/").lower().rstrip("/") + low[len(ref) :]
    if home_dir:
        h = home_dir.replace("\\", "/").lower().rstrip("/")
        if expanded == h:
            return Severity.CRITICAL, "your whole home folder"
    if lmstudio_home:
        lm = lmstudio_home.replace("\\", "/").lower().rstrip("/")
        if lm == expanded or lm.startswith(expanded + "/"):
            return (
                Severity.CRITICAL,
                "the LM Studio home folder (it could rewrite mcp.json and add servers)",
            )
    if re.search(r"/\.(?:ssh|aws|gnupg|kube|docker|lmstudio|config)(?:/|$)", expanded):
        return Severity.HIGH, "a folder of keys or settings"
    if re.search(r"/(?:desktop|documents|downloads|onedrive|dropbox)$", expanded):
        return Severity.HIGH, "a whole personal folder"
    if re.fullmatch(r"/(?:etc|usr|var|opt|bin|sbin|library|system|applications)", expanded):
        return Severity.HIGH, "a system folder"
    if _looks_path(p):
        return Severity.LOW, "a project folder"
    return None


def _check_scope(ctx: _Ctx, argv: list[str], args_from: int) -> None:
    """P1 (broad filesystem roots), P2 (shell/exec), P3 (auto-approve), P4/P5 (kinds)."""
    s = ctx.server
    ident = _identity(s, argv)
    fs_like = bool(_FS_WORDS.search(ident))
    paths: list[tuple[str, str]] = []
    for i in range(max(args_from, 1), len(argv)):
        a = argv[i]
        value = a.split("=", 1)[1] if a.startswith("-") and "=" in a else a
        if a.startswith("-") and "=" not in a:
            continue
        paths.append((_arg_field(s, argv, i), value))
    for where, value in paths:
        level = _path_breadth(value, ctx.lmstudio_home, ctx.home_dir)
        if level is None:
            continue
        sev, what = level
        if sev is Severity.LOW and (not fs_like or re.search(r"\.[A-Za-z0-9]{1,5}$", value)):
            continue  # a file (server.py), not a folder handed to the server
        if not fs_like and sev is Severity.HIGH and "folder of keys" not in what:
            continue
        ctx.kinds.add("private")
        ctx.add(
            "P1",
            sev,
            where,
            f"The server is given {what} ({_display(value)}): it can read"
            + (" and change" if fs_like else "")
            + " everything in it.",
            "Narrow it to one project folder; prefer a read-only server.",
        )
    for pattern, kind, id_, sev, message, fix in _NAME_CHECKS:
        if pattern.search(ident):
            ctx.kinds.add(kind)
            ctx.add(id_, sev, "", message, fix)
    if s.auto_approve:
        risky = [t for t in s.auto_approve if _WRITE_TOOLS.search(t)]
        key = next((k for k in ("autoApprove", "alwaysAllow", "autoapprove") if k in s.raw), "")
        key = key or ("tools" if "tools" in s.raw else "trust")
        shown = ", ".join(risky[:5]) + (" …" if len(risky) > 5 else "")
        ctx.add(
            "P3",
            Severity.HIGH if risky else Severity.LOW,
            key,
            (
                f"Tools that change things run without asking you: {shown}."
                if risky
                else f"{plural(len(s.auto_approve), 'read-only tool')} run without asking you."
            ),
            "Empty the auto-approve list so each tool call is confirmed.",
        )


# --- E. remote servers & transport -----------------------------------------------------

_THIRD_PARTY = re.compile(
    r"(?:\.railway\.app|\.fly\.dev|\.workers\.dev|\.ngrok(?:-free)?\.(?:io|app|dev)|"
    r"\.vercel\.app|\.onrender\.com|\.herokuapp\.com|\.glitch\.me|\.repl\.co|\.deno\.dev|"
    r"\.netlify\.app|\.loca\.lt|\.trycloudflare\.com|^gitmcp\.io|\.smithery\.ai|"
    r"^server\.smithery\.ai)$",
    re.I,
)
_BRIDGES = {"mcp-remote", "supergateway", "mcp-proxy", "@modelcontextprotocol/mcp-remote"}


def _remote_urls(server: McpServer, argv: list[str]) -> list[tuple[str, str]]:
    """(field, url) of the server's URL and of URLs handed to bridges like mcp-remote."""
    out: list[tuple[str, str]] = []
    if server.url:
        key = next((k for k in ("url", "serverUrl", "httpUrl") if k in server.raw), "url")
        out.append((key, server.url))
    bridge = any(re.split(r"@(?=\d|latest)", a)[0] in _BRIDGES for a in argv[:6])
    if bridge:
        for i, a in enumerate(argv):
            if a.startswith(("http://", "https://")):
                out.append((_arg_field(server, argv, i), a))
    return out


def _check_remote(ctx: _Ctx, argv: list[str]) -> None:
    s = ctx.server
    bridge = any(re.split(r"@(?=\d|latest)", a)[0] in _BRIDGES for a in argv[:6])
    if bridge:
        ctx.add(
            "C12",
            Severity.INFO,
            "args",
            "The server is a bridge to a remote MCP server: the tools come from that "
            "address, not from this machine.",
            "Check that you trust the remote address.",
        )
    auth_header = any(is_secret_key(k) for k in s.headers) or any(
        re.match(r"^(?:Authorization|X-API-Key)\s*:", a, re.I) for a in argv
    )
    for where, url in _remote_urls(s, argv):
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            continue
        shown_host = host or "?"
        if not host or is_placeholder(url) or "${" in host:
            continue  # a documentation placeholder: nothing is contacted
        if is_loopback_host(host):
            if parts.scheme == "http":
                ctx.add(
                    "R2",
                    Severity.LOW,
                    where,
                    f"Plain http to a server on this machine ({shown_host}); a web page "
                    "can reach local HTTP servers through DNS rebinding.",
                    "Make sure the local server checks the Host/Origin header.",
                )
            continue
        if parts.scheme == "http":
            ctx.add(
                "R1",
                Severity.CRITICAL if auth_header else Severity.HIGH,
                where,
                f"Plain http to {shown_host}: "
                + (
                    "the credential in its headers and "
                    if auth_header
                    else "everything the model sends and "
                )
                + "the replies cross the network unencrypted.",
                "Use https.",
            )
        ip = _ip(host)
        metadata = host in {"169.254.169.254", "metadata.google.internal", "fd00:ec2::254"}
        if metadata or (ip is not None and ip.is_global):
            ctx.add(
                "R3",
                Severity.HIGH,
                where,
                f"The server is at {'a cloud metadata address' if metadata else 'a raw IP'} "
                f"({shown_host}): data from your chats leaves this machine to an address "
                "with no name to check.",
                "Use the provider's named https endpoint, or remove the server.",
            )
        elif (ip is not None and (ip.is_private or ip.is_link_local)) or host.endswith(
            (".internal", ".local", ".svc.cluster.local", ".lan")
        ):
            ctx.add(
                "R3",
                Severity.MEDIUM,
                where,
                f"The server is on your local network ({shown_host}): data from your chats "
                "goes to another machine.",
                "Confirm you run that machine; prefer https.",
            )
        else:
            ctx.add(
                "R3",
                Severity.MEDIUM,
                where,
                f"Remote server at {shown_host}: what you send to its tools leaves this machine.",
                "Keep it only if you trust that host.",
            )
            if _THIRD_PARTY.search(host) and not s.headers and "auth" not in s.raw:
                ctx.add(
                    "R4",
                    Severity.MEDIUM,
                    where,
                    f"{shown_host} is on a third-party hosting service and no credential is "
                    "sent: anyone could have put it there, and anyone can use it.",
                    "Prefer the vendor's official endpoint.",
                )
        if s.transport == "sse" or parts.path.rstrip("/").endswith("/sse"):
            ctx.add(
                "R6",
                Severity.LOW,
                where,
                "The server uses the deprecated SSE transport.",
                "Move to the streamable HTTP endpoint if the server offers one.",
            )
    for i, a in enumerate(argv):
        if a in {"--insecure", "-k", "--no-verify", "--no-verify-ssl", "--allow-http"} or (
            re.fullmatch(r"--?(?:verify|ssl-verify|tls-verify)=(?:false|0|no)", a, re.I)
        ):
            if a == "-k" and not bridge:
                continue
            ctx.add(
                "R5",
                Severity.HIGH,
                _arg_field(s, argv, i),
                f"{a} turns off TLS protection for the server's connection.",
                f"Remove {a}.",
            )


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


# --- A. the file -----------------------------------------------------------------------


def _file_findings(
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
                if find_secrets_in_json(s.raw, source=s.name):
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


# --- G. LM Studio exposure -------------------------------------------------------------


def _exposure_findings(exposure: ExposureFacts | None, findings: list[Finding]) -> None:
    def add(id_: str, sev: Severity, msg: str, fix: str) -> None:
        findings.append(
            Finding(id=id_, severity=sev, server=None, pointer="", line=None, message=msg, fix=fix)
        )

    lan = exposure.serves_lan if exposure else None
    auth = exposure.auth_required if exposure else None
    where_lan = (
        "LM Studio serves on the local network"
        if lan
        else "LM Studio serves on this machine only"
        if lan is False
        else "Whether LM Studio serves on the local network is unknown"
    )
    if lan and auth is False:
        add(
            "L3",
            Severity.HIGH,
            f"{where_lan} and does not require authentication: any device on your network "
            "can use its models — and its MCP servers, if those switches are on.",
            f'Turn on "Require Authentication" in {SERVER_SETTINGS_WHERE}, or turn off '
            '"Serve on Local Network".',
        )
    elif auth is None:
        add(
            "L3",
            Severity.INFO,
            "Whether LM Studio requires authentication is not stored in any file the tray "
            f"can read, and the server did not say. {where_lan}.",
            f'Check "Require Authentication" in {SERVER_SETTINGS_WHERE}; keep it on'
            + (", especially while serving on the local network." if lan else "."),
        )
    add(
        "L1",
        Severity.INFO,
        'The tray cannot read "Allow per-request MCPs" (LM Studio does not say where it '
        "stores it). When on, anyone who can call the API can make LM Studio connect to any "
        f"URL with any headers, bypassing mcp.json. {_who_can_call(lan, auth)}",
        f'Check "Allow per-request MCPs" in {SERVER_SETTINGS_WHERE}; turn it off unless '
        "you need it.",
    )
    add(
        "L2",
        Severity.INFO,
        'The tray cannot read "Allow calling servers from mcp.json". When on, API callers '
        "can use the servers in this file through LM Studio's chat API.",
        f'Check "Allow calling servers from mcp.json" in {SERVER_SETTINGS_WHERE}; turn it '
        "off unless you use MCP integrations over the API.",
    )
    for other in exposure.other_mcp_files if exposure else ():
        add(
            "L4",
            Severity.MEDIUM,
            f"Another mcp.json exists at {other} (the legacy macOS LM Studio home); "
            "depending on which home LM Studio uses, its servers may run instead.",
            "Audit and lock that file too, or delete it if LM Studio no longer uses it.",
        )
    add(
        "L5",
        Severity.INFO,
        '"Add to LM Studio" buttons on web pages (lmstudio://add_mcp) write new servers '
        "into this file, and LM Studio starts a new server's command without asking.",
        "Lock the file down; the tray then reports any new entry as drift.",
    )


def _who_can_call(lan: bool | None, auth: bool | None) -> str:
    """Who "anyone who can call the API" is, given where LM Studio serves and whether it
    asks for a token — in plain words, for the sentence after the risk."""
    if lan is None:
        who = {
            True: "devices on your network that hold an API token could do this.",
            False: "any device on your network could do this.",
            None: "any device on your network could do this unless authentication is on.",
        }[auth]
        return f"Whether LM Studio serves on the local network is unknown; if it does, {who}"
    if lan:
        if auth:
            return (
                "LM Studio serves on the local network but requires an API token, so only "
                "devices and programs holding a token could do this."
            )
        if auth is False:
            return (
                "LM Studio serves on the local network without authentication, so any device "
                "on your network could do this."
            )
        return (
            "LM Studio serves on the local network, so any device on your network could do "
            "this unless authentication is on."
        )
    if auth:
        return (
            "LM Studio serves on this machine only and requires an API token, so only "
            "programs on this machine that hold a token could do this."
        )
    if auth is False:
        return (
            "LM Studio serves on this machine only, but without authentication, so any "
            "program running on this machine could do this — a browser page too, if CORS is on."
        )
    return (
        "LM Studio serves on this machine only, so only programs running on this machine "
        "could do this (any of them, unless authentication is on)."
    )


# --- the audit -------------------------------------------------------------------------


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
    server: McpServer, lmstudio_home: str | None, findings: list[Finding]
) -> set[str]:
    ctx = _Ctx(server, findings, lmstudio_home, _home_of(lmstudio_home))
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
    _check_secrets(ctx)
    _check_env(ctx)
    argv = _argv(s)
    wrapped = _check_shell(ctx, argv)
    # the shell's wrapped command (`bash -c "npx pkg"`) gets the same checks as a plain one
    for cmd in (argv, wrapped or []):
        if not cmd:
            continue
        args_from = _check_packages(ctx, cmd)
        if not _check_docker(ctx, cmd):
            _check_local(ctx, cmd)
        _check_scope(ctx, cmd, args_from)
        _check_remote(ctx, cmd)
    if not argv:
        _check_scope(ctx, [], 0)
        _check_remote(ctx, [])
    return ctx.kinds if not s.disabled else set()


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
) -> AuditReport:
    """Every static check on one file. `doc` is None when the file is missing or does not
    parse (`parse_error` then says where)."""
    findings: list[Finding] = []
    errors: list[str] = []
    if parse_error is not None:
        errors.append(f"{facts.path} cannot be parsed: {parse_error.message}")
    _file_findings(doc, facts, parse_error, findings)
    kinds_per_server: dict[str, set[str]] = {}
    if doc is not None:
        _check_inputs(doc, findings)
        for server in doc.servers:
            kinds_per_server[server.name] = _server_findings(server, lmstudio_home, findings)
        _toxic_flow(kinds_per_server, findings)
    _exposure_findings(exposure, findings)
    findings = _dedupe(findings)
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
        findings=findings,
        errors=errors,
        exists=facts.exists,
        error_line=parse_error.line if parse_error else None,
        error_column=parse_error.column if parse_error else None,
    )


def _toxic_flow(kinds: dict[str, set[str]], findings: list[Finding]) -> None:
    """P6: one config that brings in untrusted content, reaches private data and can send
    data out (any untrusted-content server can: fetching a URL is sending)."""
    untrusted = [n for n, k in kinds.items() if "untrusted" in k]
    private = [n for n, k in kinds.items() if "private" in k]
    if (
        untrusted
        and private
        and set(untrusted + private)
        and (len(set(untrusted) | set(private)) > 1 or any("exec" in kinds[n] for n in untrusted))
    ):
        findings.append(
            Finding(
                id="P6",
                severity=Severity.HIGH,
                server=None,
                pointer="",
                line=None,
                message=(
                    'Together these servers form a "lethal trifecta": '
                    f"{join_and(untrusted[:3])} {'brings' if len(untrusted[:3]) == 1 else 'bring'}"
                    " in untrusted text and can send data out, and "
                    f"{join_and(private[:3])} {'reaches' if len(private[:3]) == 1 else 'reach'} "
                    "private data. A web page could instruct the model to leak it."
                ),
                fix="Disable one side, or never use them in the same chat.",
            )
        )


def exit_code(report: AuditReport, fail_on: Severity) -> int:
    """2 when the file could not be parsed, 1 when a finding is at or above `fail_on`, 0."""
    if report.errors:
        return 2
    return 1 if report.at_or_above(fail_on) else 0


def _lines(report: AuditReport) -> Iterator[str]:
    yield f"MCP audit of {report.file}"
    if report.dialect is not None:
        yield f"Format: {report.dialect.label}; {plural(len(report.servers), 'server')}"
    for err in report.errors:
        yield f"ERROR: {err}"
    counts = report.counts()
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    yield f"Findings: {summary or 'none'}"
    for name, items in worst_first(report.findings, report.servers):
        if not items:
            continue
        yield ""
        yield "File and LM Studio" if name is None else f"Server {name}"
        for f in items:
            where = f" (line {f.line})" if f.line else ""
            yield f"  [{f.severity.value.upper()}] {f.id}{where}: {f.message}"
            yield f"      Fix: {f.fix}"


def render_text(report: AuditReport) -> str:
    """The report as plain text for the CLI: file, format, errors, then the findings by
    server, the worst first (`tray.core.mcp_audit_order`)."""
    return "\n".join(_lines(report)) + "\n"
