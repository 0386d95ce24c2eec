"""Group B of `shared/mcp/CHECKS.md`, secrets: literal secrets in env, headers, args and
URLs (S1–S4, S6), placeholders and `${…}` references (S5), VS Code inputs shown while typed
(S7), and env that changes what runs or where traffic goes (S8) or turns TLS checks off (R5).

A secret is never echoed: findings say its kind, length and the first 8 hex digits of its
SHA-256 (`tray.core.secrets_scan`); placeholders and `${VAR}` / `${input:…}` references are not
secrets (S5).
"""

from __future__ import annotations

import re

from tray.core.jsonc import value_at_pointer
from tray.core.mcp_audit.context import Ctx
from tray.core.mcp_audit.model import Finding, Severity
from tray.core.mcp_config import McpDocument
from tray.core.secrets_scan import SecretKind, find_secrets_in_json, is_placeholder, is_secret_key
from tray.core.words import quoted, with_article

__all__ = ["check_env", "check_inputs", "check_secrets"]


def check_secrets(ctx: Ctx) -> None:
    s = ctx.server
    found = find_secrets_in_json(s.raw, source=s.name, key_heuristics=True, hash_key=ctx.hash_key)
    for f in found:
        rel = (f.pointer or "").lstrip("/")
        top = rel.split("/", 1)[0]
        desc = f"{f.length} characters, {f.hash_label} {f.digest}"
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
        raw_value = value_at_pointer(s.raw, rel)
        in_brackets = isinstance(raw_value, str) and re.search(r"<[^<>]{8,}>", raw_value)
        if f.tutorial_default:
            ctx.add(
                "S4",
                Severity.LOW,
                rel,
                f"The URL {where} holds a tutorial's default password for a database on this "
                f"machine ({f.length} characters): a note, not a leak — but anyone on this "
                "machine who guesses it gets in.",
                "Give the local database a password of its own if it holds real data.",
            )
        elif f.kind is SecretKind.URL_CREDENTIALS or (
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
        elif top == "args" and f.where == "positional argument":
            # judged by its shape alone (an id can look like this too): medium
            ctx.add(
                "S3",
                Severity.MEDIUM,
                rel,
                f"A value shaped like a token is {where}: {desc}. If it is a credential, "
                "anyone on this machine can read it.",
                fix,
            )
        elif top == "args":
            ctx.add("S3", Severity.HIGH, rel, f"A secret-looking value is {where}: {desc}.", fix)
        else:
            ctx.add("S2", Severity.HIGH, rel, f"A literal secret is {where}: {desc}.", fix)
    _check_placeholders(ctx)


_REFERENCE = re.compile(r"\$\{(?:env:)?[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def _check_placeholders(ctx: Ctx) -> None:
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


def check_inputs(doc: McpDocument, findings: list[Finding]) -> None:
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


def check_env(ctx: Ctx) -> None:
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
            _node_options(ctx, where, v)
        elif key == "PYTHONPATH" and _inside_project(ctx, v):
            continue  # the project's own source folder: how `python -m` finds it
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


# NODE_OPTIONS flags that only tune Node (certificate store, memory, source maps, warnings):
# they change no code that runs
_NODE_TUNING = re.compile(
    r"^--(?:use-openssl-ca|use-bundled-ca|use-system-ca|openssl-legacy-provider|"
    r"max-old-space-size|max-semi-space-size|stack-size|enable-source-maps|no-warnings|"
    r"no-deprecation|trace-warnings|trace-deprecation|dns-result-order|tls-min-v1\.[23]|"
    r"tls-max-v1\.[23]|unhandled-rejections|max-http-header-size|disable-warning|"
    r"experimental-fetch|no-experimental-fetch|title|report-on-fatalerror|"
    r"heapsnapshot-near-heap-limit|expose-gc|preserve-symlinks(?:-main)?|"
    r"experimental-specifier-resolution|network-family-autoselection(?:-attempt-timeout)?|"
    r"input-type|redirect-warnings|trace-uncaught|force-fips|enable-fips)(?:=\S*)?$"
)


_NODE_LOADS_CODE = {"--require", "-r", "--import", "--loader", "--experimental-loader"}


def _node_options(ctx: Ctx, where: str, value: str) -> None:
    """S8 for NODE_OPTIONS: `--require`/`--import` of a file loads code (high); flags that
    only tune Node are fine; anything else changes how Node runs (medium)."""
    flags = value.split()
    loads = [f for f in flags if f in _NODE_LOADS_CODE or f.split("=", 1)[0] in _NODE_LOADS_CODE]
    if loads:
        ctx.add(
            "S8",
            Severity.HIGH,
            where,
            f"NODE_OPTIONS loads extra code into the server ({loads[0].split('=', 1)[0]}).",
            "Remove the --require/--import from NODE_OPTIONS unless you know that file.",
        )
        return
    other = [
        f
        for i, f in enumerate(flags)
        if f.startswith("-")
        and not _NODE_TUNING.match(f)
        and not (i > 0 and flags[i - 1] in {"--title", "--max-old-space-size"})
    ]
    if other:
        ctx.add(
            "S8",
            Severity.MEDIUM,
            where,
            f"NODE_OPTIONS changes how Node.js runs the server ({other[0].split('=', 1)[0]}).",
            "Remove NODE_OPTIONS unless you know why it is there.",
        )


def _norm_path(p: str) -> str:
    return p.strip().strip("\"'").replace("\\", "/").rstrip("/").lower()


def _inside_project(ctx: Ctx, value: str) -> bool:
    """Every PYTHONPATH entry is relative, `${workspaceFolder}`-based, or inside the
    server's `cwd` or a folder its arguments run from."""
    s = ctx.server
    roots = [_norm_path(s.cwd)] if s.cwd else []
    for a in (s.command or "", *s.args):
        n = _norm_path(a)
        if n.startswith("/") or re.match(r"^[a-z]:/", n):
            roots.append(n if not re.search(r"\.[a-z0-9]{1,5}$", n) else n.rsplit("/", 1)[0])
    roots = [r for r in roots if r.count("/") >= 3]  # never `/`, `/home`, `~` or `/Users/u`
    entries = [e for e in re.split(r"[;:](?![\\/])", value) if e.strip()]
    if not entries:
        return False
    for e in entries:
        n = _norm_path(e)
        if n in {".", "./src", "src"} or n.startswith(("./", "${workspacefolder}")):
            continue
        if not (n.startswith("/") or re.match(r"^[a-z]:/", n)) and ".." not in n:
            continue
        if any(n == r or n.startswith(r + "/") for r in roots):
            continue
        return False
    return True
