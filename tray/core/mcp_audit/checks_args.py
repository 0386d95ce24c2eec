"""Secret references in a process's arguments (S3): `--header "Authorization: Bearer
${TOKEN}"`, `docker -e API_KEY=${API_KEY}`, `--api-key ${env:KEY}`, `?api_key=${KEY}` in a URL.
The reference itself is no secret, but the host expands it before starting the program, so
the secret ends up on the command line — readable by every local user with `ps` or Task
Manager, and in URLs logged by every proxy on the way. (Literal secrets in arguments are S1/S3
in `checks_secrets`.)
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from tray.core.mcp_audit.context import Ctx
from tray.core.mcp_audit.model import Severity
from tray.core.secrets_scan import is_secret_key
from tray.core.words import quoted

__all__ = ["check_arg_references"]


_REF = re.compile(
    r"\$\{(?:env:|input:)?[A-Za-z_][A-Za-z0-9_.-]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_]\w*%"
)
_FLAG = re.compile(r"^--?([A-Za-z][A-Za-z0-9_-]*)(?:=(.*))?$", re.DOTALL)
_HEADER = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*:\s*(.+)$", re.DOTALL)
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.+)$", re.DOTALL)


def _secret_ref_in(arg: str, prev: str | None) -> str | None:
    """What kind of secret reference `arg` carries into argv, or None."""
    if not _REF.search(arg):
        return None
    flag = _FLAG.match(arg)
    if flag and flag.group(2) is not None and is_secret_key(flag.group(1)):
        return f"--{flag.group(1)}"
    if prev is not None:
        pflag = _FLAG.match(prev)
        if pflag and pflag.group(2) is None and is_secret_key(pflag.group(1)):
            return f"--{pflag.group(1)}"
    header = _HEADER.match(arg)
    if header and "://" not in arg and is_secret_key(header.group(1)):
        return f"header {header.group(1)}"
    assign = _ASSIGN.match(arg)
    if assign and is_secret_key(assign.group(1)):
        return f"{assign.group(1)}="
    if "://" in arg:
        try:
            query = urlsplit(arg).query
        except ValueError:
            return None
        for name, value in parse_qsl(query, keep_blank_values=False):
            if is_secret_key(name) and _REF.search(value):
                return f"URL parameter {name}"
    return None


def check_arg_references(ctx: Ctx) -> None:
    s = ctx.server
    args = list(s.args)
    for i, arg in enumerate(args):
        what = _secret_ref_in(arg, args[i - 1] if i else None)
        if what is None:
            continue
        url = what.startswith("URL")
        ctx.add(
            "S4" if url else "S3",
            Severity.MEDIUM,
            f"args/{i}",
            f"A secret reference ({quoted(what)}) is in the arguments: the host fills it in "
            "before starting the program, so the secret itself ends up on its command line, "
            "where every local user can read it (ps, Task Manager)"
            + (", and in a URL that proxies and servers log." if url else "."),
            "Pass the secret in env (or the server's own config file) instead of arguments"
            + ("; send it in a header instead of the URL." if url else "."),
        )
    if s.url:
        try:
            query = urlsplit(s.url).query
        except ValueError:
            return
        for name, value in parse_qsl(query, keep_blank_values=False):
            if is_secret_key(name) and _REF.search(value):
                key = next((k for k in ("url", "serverUrl", "httpUrl") if k in s.raw), "url")
                ctx.add(
                    "S4",
                    Severity.MEDIUM,
                    key,
                    f"A secret reference is in URL parameter {quoted(name)}: once filled in, "
                    "the secret travels in the URL, which proxies and servers log.",
                    "Send it in a header instead of the URL.",
                )
                break
