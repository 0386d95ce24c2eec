"""Group D of `shared/mcp/CHECKS.md`, scope and privileges: broad filesystem roots
(P1, whose tiers Docker mounts share), servers that run commands, reach private data or bring
in untrusted content by their name (P2, P4, P5), auto-approve lists (P3), and the lethal
trifecta across servers (P6).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tray.core.mcp_audit.context import Ctx, arg_field, display, program
from tray.core.mcp_audit.model import Finding, Severity
from tray.core.mcp_config import McpServer
from tray.core.words import join_and, plural

__all__ = [
    "changes_things",
    "check_scope",
    "looks_path",
    "path_breadth",
    "tool_words",
    "toxic_flow",
]


def looks_path(text: str) -> bool:
    return bool(
        text.startswith(("/", "~", ".", "$", "%", "\\\\", "//"))
        or re.match(r"^[A-Za-z]:[\\/]", text)
    )


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


# verbs that make a tool change things, matched as whole words of the tool's name
# (`get_output` does not "put", `read_input` neither)
_WRITE_VERBS = frozenset(
    {
        "write",
        "edit",
        "create",
        "delete",
        "del",
        "remove",
        "rm",
        "move",
        "mv",
        "rename",
        "exec",
        "execute",
        "run",
        "shell",
        "command",
        "cmd",
        "apply",
        "manage",
        "change",
        "update",
        "put",
        "post",
        "send",
        "push",
        "commit",
        "merge",
        "deploy",
        "install",
        "uninstall",
        "kill",
        "drop",
        "insert",
        "upload",
        "set",
        "patch",
        "modify",
        "destroy",
        "terminate",
        "truncate",
        "transfer",
        "pay",
        "invoke",
        "eval",
        "publish",
        "approve",
        "grant",
        "revoke",
        "reset",
        "restart",
        "stop",
        "start",
        "policy",
        "admin",
        "sudo",
        "chmod",
        "chown",
    }
)
# what a "run"/"execute" verb is harmless with: a query or a search reads
_READ_OBJECTS = frozenset(
    {
        "query",
        "queries",
        "search",
        "select",
        "lookup",
        "find",
        "read",
        "list",
        "get",
        "count",
    }
)


def tool_words(name: str) -> list[str]:
    """`getOutput`, `get-output`, `get_output`, `server.get output` → ['get', 'output']."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9*]+", spaced) if w]


def changes_things(tool: str) -> bool:
    """Whether a tool's name says it changes things (`*` means every tool)."""
    if tool.strip() == "*":
        return True
    words = tool_words(tool)
    verbs = [w for w in words if w in _WRITE_VERBS]
    if not verbs:
        return False
    # `run_query`, `execute_search`: a query reads, by itself
    return not (
        set(verbs) <= {"run", "exec", "execute", "invoke"}
        and any(w in _READ_OBJECTS for w in words)
    )


_READ_ONLY_ARGS = {"--read-only", "--readonly", "--read_only", "--ro", "--read-only=true"}


def _read_only_server(server: McpServer) -> bool:
    """The config says the server only reads: `"readOnly": true`, `--read-only`, or an
    env switch such as `READ_ONLY=true`."""
    raw = server.raw
    if any(raw.get(k) is True for k in ("readOnly", "read_only", "readonly")):
        return True
    if any(a.lower() in _READ_ONLY_ARGS for a in server.args):
        return True
    return any(
        re.search(r"(?:^|_)READ_?ONLY$", k, re.I) and v.strip().lower() in {"1", "true", "yes"}
        for k, v in server.env.items()
    )


def _read_only_tools(server: McpServer) -> set[str]:
    """Tools the config marks read-only: `"tools": {"t": {"readOnlyHint": true}}` (or under
    `annotations`), or a `readOnlyTools` list."""
    out: set[str] = set()
    tools = server.raw.get("tools")
    if isinstance(tools, dict):
        for name, spec in tools.items():
            if not isinstance(spec, dict):
                continue
            ann = spec.get("annotations")
            hint = spec.get("readOnlyHint")
            if hint is None and isinstance(ann, dict):
                hint = ann.get("readOnlyHint")
            if hint is True:
                out.add(str(name))
    listed = server.raw.get("readOnlyTools")
    if isinstance(listed, list):
        out |= {str(t) for t in listed}
    return out


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


def _identity(server: McpServer, argv: list[str], *, with_name: bool = True) -> str:
    """The server's name and its package/image names, for name-based checks."""
    bits = [server.name] if with_name else []
    bits += [a for a in argv[:6] if not a.startswith("-")]
    if server.url:
        bits.append(urlsplit(server.url).hostname or "")
    return " ".join(bits).replace("_", "-")


def path_breadth(
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
    if looks_path(p):
        return Severity.LOW, "a project folder"
    return None


# shells whose switches start with a slash (`cmd /c`), and what such a switch looks like
_SWITCH_SHELLS = {"cmd", "command", "start", "powershell", "pwsh", "wsl", "runas"}
_SHELL_SWITCH = re.compile(r"^/[A-Za-z?](?::[A-Za-z0-9]+)?$")


def check_scope(ctx: Ctx, argv: list[str], args_from: int) -> None:
    """P1 (broad filesystem roots), P2 (shell/exec), P3 (auto-approve), P4/P5 (kinds)."""
    s = ctx.server
    ident = _identity(s, argv)
    fs_like = bool(_FS_WORDS.search(ident))
    paths: list[tuple[str, str]] = []
    shell = bool(argv) and program(argv[0]) in _SWITCH_SHELLS
    for i in range(max(args_from, 1), len(argv)):
        a = argv[i]
        if shell and _SHELL_SWITCH.match(a):
            continue  # `cmd /c`, `/k`, `/s`, `/d`, `/v:on`: switches, not folders
        value = a.split("=", 1)[1] if a.startswith("-") and "=" in a else a
        if a.startswith("-") and "=" not in a:
            continue
        paths.append((arg_field(s, argv, i), value))
    for where, value in paths:
        level = path_breadth(value, ctx.lmstudio_home, ctx.home_dir)
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
            f"The server is given {what} ({display(value)}): it can read"
            + (" and change" if fs_like else "")
            + " everything in it.",
            "Narrow it to one project folder; prefer a read-only server.",
        )
    by_package = _identity(s, argv, with_name=False)
    for pattern, kind, id_, sev, message, fix in _NAME_CHECKS:
        if pattern.search(ident):
            ctx.kinds.add(kind)
            if not pattern.search(by_package) and sev.rank > Severity.MEDIUM.rank:
                sev = Severity.MEDIUM  # a name alone (anyone can call a server "shell")
            ctx.add(id_, sev, "", message, fix)
    if s.auto_approve:
        read_only = _read_only_server(s)
        hinted = _read_only_tools(s)
        risky = [
            t for t in s.auto_approve if changes_things(t) and not read_only and t not in hinted
        ]
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


def toxic_flow(kinds: dict[str, set[str]], findings: list[Finding]) -> None:
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
