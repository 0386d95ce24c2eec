"""Group C of `shared/mcp/CHECKS.md` for the launch command and supply chain: shell
wrappers and scripts (C1, C2), packages fetched without an exact version or from outside a
registry (C3, C4), local programs (C7), builds at launch (C8), network services (C9).

Launch commands are parsed, not grepped: `npx`/`bunx`/`pnpm dlx`/`yarn dlx`/`npm exec` and
`uvx`/`uv tool run`/`uv run` argv are read option by option (options that take a value,
`--opt=value`, `--` ending options, `-y`, `--from`), so `npx -y pkg` is about `pkg`, not about
`-y`. Docker has its own module (`checks_docker`).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from tray.core.mcp_audit.checks_supply import check_impersonation
from tray.core.mcp_audit.context import Ctx, arg_field, display, program
from tray.core.mcp_audit.known_packages import Trust
from tray.core.mcp_audit.model import Severity
from tray.core.words import quoted

__all__ = ["check_local", "check_packages", "check_shell"]


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


def check_shell(ctx: Ctx, argv: list[str]) -> list[str] | None:
    """C1/C2. Returns the wrapped command's argv when a shell just runs one plain command
    (`cmd /c npx -y pkg`, `bash -c "npx pkg"`), so the other checks can look at it."""
    if not argv:
        return None
    prog = program(argv[0])
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
                    arg_field(ctx.server, argv, argv.index(script)),
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
        elif prog == "cmd" and wrapped and program(wrapped[0]) in {"npx", "uvx", "node"}:
            sev = Severity.MEDIUM
            why = "wraps a plain command (common on Windows)"
        else:
            sev = Severity.HIGH
            why = "hides the real command from you"
        ctx.add(
            "C1",
            sev,
            arg_field(ctx.server, argv, flag_at + 1),
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
            arg_field(ctx.server, argv, i + 1),
            f"The server runs inline code ({prog} {rest[i]} …) instead of a package or file.",
            "Replace the inline code with an installed, pinned server.",
        )
        return None
    for i, a in enumerate(rest):
        if _METACHARS.search(a) and not a.startswith(("http://", "https://")):
            ctx.add(
                "C1",
                Severity.MEDIUM,
                arg_field(ctx.server, argv, i + 1),
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
    prog = program(argv[0])
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
    prog = program(argv[0])
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


def check_packages(ctx: Ctx, argv: list[str]) -> int:
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
    prog = program(argv[0])
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
    ctx: Ctx, argv: list[str], index: int, spec: str, tool: str, auto_yes: bool, *, python: bool
) -> None:
    where = arg_field(ctx.server, argv, index)
    shown = display(spec)
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
    trust = check_impersonation(ctx, where, spec, python=python)
    if python:
        pinned = bool(_PY_PINNED.match(spec)) and not spec.endswith(("@latest", "==latest"))
    else:
        pinned = bool(_NPM_SPEC_PINNED.match(spec))
    if pinned:
        return
    # severity follows trust: a vendor's own scope or a well-known package is low, any
    # other package medium — whether it has an npm scope says nothing by itself
    sev = Severity.MEDIUM if trust is Trust.UNKNOWN else Severity.LOW
    who = {
        Trust.OFFICIAL: " (from its vendor's own npm scope)",
        Trust.KNOWN: " (a well-known MCP package)",
        Trust.UNKNOWN: "",
    }[trust]
    ctx.add(
        "C3",
        sev,
        where,
        f"{tool} fetches {shown}{who} without an exact version: each start may run a newer "
        "release than the one you reviewed"
        + (" (auto-confirmed with -y)" if tool == "npx" and auto_yes else "")
        + ".",
        f"Pin an exact version, e.g. {_pin_example(spec, python)}.",
    )


def _pin_example(spec: str, python: bool) -> str:
    name = re.sub(r"(?<=.)@[^/]*$", "", spec) if not python else re.split(r"==|@", spec)[0]
    return f"{name}=={'1.2.3'}" if python else f"{name}@1.2.3"


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


def check_local(ctx: Ctx, argv: list[str]) -> None:
    """C7 (local binary / script path), C8 (build at launch), C9 (network server)."""
    if not argv:
        return
    prog = program(argv[0])
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
            f"The server is a local program ({display(cmd)}): it is not from a registry and "
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
