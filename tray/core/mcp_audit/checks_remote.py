"""Group E of `shared/mcp/CHECKS.md`, remote servers and transport: plain http (R1, R2),
where a remote server is (R3), third-party hosting without a credential (R4), TLS checks off
in arguments (R5), the deprecated SSE transport (R6), and bridges such as `mcp-remote` (C12).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from tray.core.mcp_audit.context import Ctx, arg_field, program
from tray.core.mcp_audit.model import Severity
from tray.core.mcp_config import McpServer
from tray.core.secrets_scan import is_placeholder, is_secret_key
from tray.core.status import is_loopback_host

__all__ = ["check_remote"]


_THIRD_PARTY = re.compile(
    r"(?:\.railway\.app|\.fly\.dev|\.workers\.dev|\.ngrok(?:-free)?\.(?:io|app|dev)|"
    r"\.vercel\.app|\.onrender\.com|\.herokuapp\.com|\.glitch\.me|\.repl\.co|\.deno\.dev|"
    r"\.netlify\.app|\.loca\.lt|\.trycloudflare\.com|^gitmcp\.io|\.smithery\.ai|"
    r"^server\.smithery\.ai)$",
    re.I,
)


# packages that turn a remote MCP server into a local stdio one
_BRIDGES = {
    "mcp-remote",
    "@modelcontextprotocol/mcp-remote",
    "supergateway",
    "mcp-proxy",
    "mcp-proxy-for-aws",
    "mcp-remote-client",
    "@pyroprompts/mcp-stdio-to-streamable-http-adapter",
    "mcp-stdio-to-streamable-http-adapter",
    "@smithery/cli",
}
# programs that pipe stdio to a raw network socket: `socat STDIO TCP:host:port`, `nc host port`
_SOCKET_PIPES = {"socat", "nc", "ncat", "netcat"}
_SOCAT_ADDRESS = re.compile(
    r"^(TCP[46]?|TCP-CONNECT|OPENSSL|SSL|OPENSSL-CONNECT):\[?([^\]:,]+)\]?:(\d+)", re.I
)


def _is_bridge(argv: list[str]) -> bool:
    return any(
        re.split(r"(?<=.)@(?=\d|latest)", a)[0].split("==")[0].lower() in _BRIDGES for a in argv[:6]
    ) or (bool(argv) and program(argv[0]) in _SOCKET_PIPES)


def _socket_urls(server: McpServer, argv: list[str]) -> list[tuple[str, str]]:
    """`socat … TCP:host:port` → tcp://host:port (OPENSSL: tls://…); `nc host port`."""
    prog = program(argv[0]) if argv else ""
    out: list[tuple[str, str]] = []
    if prog == "socat":
        for i, a in enumerate(argv[1:], 1):
            m = _SOCAT_ADDRESS.match(a)
            if m:
                scheme = "tls" if m.group(1).upper().startswith(("OPENSSL", "SSL")) else "tcp"
                out.append((arg_field(server, argv, i), f"{scheme}://{m.group(2)}:{m.group(3)}"))
    elif prog in _SOCKET_PIPES:
        plain = [(i, a) for i, a in enumerate(argv[1:], 1) if not a.startswith("-")]
        if len(plain) >= 2 and plain[1][1].isdigit():
            (i, host), (_j, port) = plain[0], plain[1]
            out.append((arg_field(server, argv, i), f"tcp://{host}:{port}"))
    return out


def _remote_urls(server: McpServer, argv: list[str]) -> list[tuple[str, str]]:
    """(field, url) of the server's URL and of URLs handed to bridges like mcp-remote."""
    out: list[tuple[str, str]] = []
    if server.url:
        key = next((k for k in ("url", "serverUrl", "httpUrl") if k in server.raw), "url")
        out.append((key, server.url))
    if _is_bridge(argv):
        for i, a in enumerate(argv):
            if a.startswith(("http://", "https://")):
                out.append((arg_field(server, argv, i), a))
        out += _socket_urls(server, argv)
    return out


def check_remote(ctx: Ctx, argv: list[str]) -> None:
    s = ctx.server
    bridge = _is_bridge(argv)
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
            if parts.scheme in {"http", "tcp"}:
                ctx.add(
                    "R2",
                    Severity.LOW,
                    where,
                    f"Plain http to a server on this machine ({shown_host}); a web page "
                    "can reach local HTTP servers through DNS rebinding.",
                    "Make sure the local server checks the Host/Origin header.",
                )
            continue
        if parts.scheme in {"http", "tcp"}:
            ctx.add(
                "R1",
                Severity.CRITICAL if auth_header else Severity.HIGH,
                where,
                f"Plain {'TCP' if parts.scheme == 'tcp' else 'http'} to {shown_host}: "
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
                arg_field(s, argv, i),
                f"{a} turns off TLS protection for the server's connection.",
                f"Remove {a}.",
            )


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
