"""Inspect the servers of one `mcp.json`: start (or contact) each enabled one, concurrently,
each with its own timeout, list what it declares, end it; then check what was declared
(group T) and compare it with the pins (T7), pinning what was never pinned.

A disabled server is never started. A server that does not start, crashes, hangs, floods or
answers garbage is reported for that server (`DeclaredServer.error`); the others go on.
`planned_commands` says beforehand exactly what will be started or contacted, for the
window that asks first.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tray.core.errors import ConfigError, NotFound
from tray.core.mcp_audit.model import Severity
from tray.core.mcp_config import (
    McpDocument,
    McpParseError,
    McpServer,
    parse_mcp,
    redact_for_display,
)
from tray.core.mcp_inspect import (
    DeclaredItem,
    DeclaredServer,
    InspectFinding,
    InspectReport,
    compare,
    declared_findings,
    launch_hash,
    pin,
    same_launch,
)
from tray.core.words import join_and, plural, quoted
from tray.services.files import read_bytes
from tray.services.mcp_inspect.channel import Channel, InspectFailed
from tray.services.mcp_inspect.http import HttpChannel
from tray.services.mcp_inspect.pin_store import PinStore
from tray.services.mcp_inspect.session import McpSession
from tray.services.mcp_inspect.stdio import StdioChannel, child_env

__all__ = [
    "DEFAULT_TIMEOUT",
    "PlannedServer",
    "inspect_file",
    "inspect_server",
    "planned_commands",
    "read_document",
    "reinspect_after_change",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0
_MAX_MCP_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class PlannedServer:
    """What inspecting one server will do: run `target` (a command line, secrets masked)
    or contact it (a URL); `skipped` says why not (disabled, no command)."""

    name: str
    transport: str
    target: str
    skipped: str | None = None


def _argv(server: McpServer) -> list[str]:
    return [server.command, *server.args] if server.command else []


def _plan(server: McpServer) -> PlannedServer:
    transport = server.transport
    if server.command:
        target = redact_for_display(shlex.join(_argv(server)))
        if server.env:
            target = f"{target}   (env: {', '.join(sorted(server.env))})"
        transport = "stdio"
    elif server.url:
        target = redact_for_display(server.url)
    else:
        target = ""
    skipped = None
    if server.disabled:
        skipped = "disabled in mcp.json: not started"
    elif not server.command and not server.url:
        skipped = "it has neither a command nor a url"
    elif not server.command and transport == "sse":
        skipped = "it uses the older HTTP+SSE transport, which inspection does not speak yet"
    return PlannedServer(server.name, transport, target, skipped)


def planned_commands(doc: McpDocument, names: Iterable[str] = ()) -> list[PlannedServer]:
    """What an inspection of `doc` (only `names`, when given) would start or contact."""
    wanted = list(names)
    return [_plan(s) for s in doc.servers if not wanted or s.name in wanted]


async def _talk(session: McpSession, channel: Channel) -> list[DeclaredItem]:
    version = await session.initialize()
    if isinstance(channel, HttpChannel):
        channel.protocol_version = version
    items = await session.list_all("tool")
    items += await session.list_all("prompt")
    items += await session.list_all("resource")
    return items


async def inspect_server(
    server: McpServer,
    *,
    time_limit: float = DEFAULT_TIMEOUT,
    base_env: Mapping[str, str] | None = None,
) -> DeclaredServer:
    """Start or contact one server, list what it declares, end it. Never raises for what the
    server does: the result's `error` says it."""
    plan = _plan(server)
    result = DeclaredServer(name=server.name, transport=plan.transport, target=plan.target)
    if plan.skipped is not None:
        return result.model_copy(update={"error": plan.skipped, "disabled": server.disabled})
    channel: Channel | None = None
    session: McpSession | None = None
    try:
        async with asyncio.timeout(time_limit):
            if server.command:
                env = child_env(server.env, base=base_env)
                channel = await StdioChannel.start(_argv(server), env, server.cwd, server.name)
            else:
                assert server.url is not None
                channel = HttpChannel(server.url, server.headers, timeout=time_limit)
            session = McpSession(channel)
            items = await _talk(session, channel)
        return result.model_copy(
            update={"started": True, "items": tuple(items), "server_info": session.server_info}
        )
    except TimeoutError:
        step = session.step if session is not None else "starting"
        error = f"The server did not answer within {time_limit:g} s (waiting for {step})."
    except InspectFailed as exc:
        error = exc.message
    except OSError as exc:
        error = f"The server could not be run: {exc.strerror or exc}."
    finally:
        if channel is not None:
            try:
                await asyncio.shield(channel.close())
            except Exception:  # ending it must not hide what happened
                log.exception("ending MCP server %s", server.name)
    log.info("MCP server %s not inspected: %s", server.name, error)
    return result.model_copy(update={"started": channel is not None, "error": error})


def read_document(path: Path) -> McpDocument:
    """Read and parse `path` (blocking); `NotFound` or `McpParseError`."""
    try:
        data = read_bytes(path, limit=_MAX_MCP_BYTES)
    except FileNotFoundError:
        raise NotFound(f"There is no file {path}.", path=path) from None
    try:
        return parse_mcp(data)
    except McpParseError as exc:
        exc.path = path
        raise


def _check_names(doc: McpDocument, names: list[str], what: str) -> None:
    known = [s.name for s in doc.servers]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise NotFound(
            f"{what}: there is no server {join_and([quoted(n) for n in unknown], 'or')} in "
            f"mcp.json (it has: {', '.join(known) or 'none'})."
        )


def _pinning(
    store: PinStore,
    file: Path,
    servers: list[DeclaredServer],
    accept: list[str],
    now: datetime,
    launches: dict[str, str],
) -> tuple[list[InspectFinding], list[str]]:
    """T7 findings, and the servers pinned by this run (the pin file written if any); the
    pins are kept per mcp.json (by its absolute path)."""
    pins = store.load()
    mine = pins.of(str(file.absolute()))
    findings: list[InspectFinding] = []
    pinned: list[str] = []
    for server in servers:
        if not server.inspected:
            continue
        old = mine.get(server.name)
        if old is None or server.name in accept:
            mine[server.name] = pin(server, now, launches.get(server.name, ""))
            pinned.append(server.name)
        else:
            findings.extend(compare(old, server))
    if pinned:
        verb = "Re-pinned" if set(pinned) & set(accept) else "Pinned"
        store.save(pins, f"{verb} the MCP tools of {join_and(pinned)}")
    return findings, pinned


async def inspect_file(
    path: Path,
    *,
    store: PinStore,
    names: Iterable[str] = (),
    accept: Iterable[str] = (),
    time_limit: float = DEFAULT_TIMEOUT,
    base_env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> InspectReport:
    """Inspect the enabled servers of `path` (only `names`, when given), check and pin.

    A file that does not parse is a report with `errors` (nothing started); an unknown name
    in `names` or `accept` is `NotFound` before anything starts."""
    wanted, accepted = list(dict.fromkeys(names)), list(dict.fromkeys(accept))
    try:
        doc = await asyncio.to_thread(read_document, path)
    except McpParseError as exc:
        return InspectReport(
            file=str(path), servers=[], findings=[], errors=[f"{path} cannot be parsed: {exc}"]
        )
    _check_names(doc, wanted, "Inspect")
    _check_names(doc, accepted, "Accept")
    targets = [s for s in doc.servers if not wanted or s.name in wanted]
    servers = list(
        await asyncio.gather(
            *(inspect_server(s, time_limit=time_limit, base_env=base_env) for s in targets)
        )
    )
    findings = declared_findings(servers)
    try:
        t7, pinned = await asyncio.to_thread(
            _pinning,
            store,
            path,
            servers,
            accepted,
            now or datetime.now(UTC),
            {s.name: launch_hash(s.raw) for s in targets},
        )
    except ConfigError as exc:
        t7, pinned = [], []
        findings.append(
            InspectFinding(
                id="T7",
                severity=Severity.MEDIUM,
                server="(pins)",
                message=f"The pins could not be read or written: {exc.message}",
                fix="Fix or remove the pin file, then inspect again.",
            )
        )
    findings = t7 + findings
    order = {s.name: i for i, s in enumerate(servers)}
    findings.sort(key=lambda f: (order.get(f.server, -1), -f.severity.rank))
    log.info(
        "inspected %s: %s, %s",
        path,
        plural(sum(s.inspected for s in servers), "server"),
        plural(len(findings), "finding"),
    )
    return InspectReport(file=str(path), servers=servers, findings=findings, pinned=pinned)


async def reinspect_after_change(
    path: Path,
    *,
    store: PinStore,
    time_limit: float = DEFAULT_TIMEOUT,
    base_env: Mapping[str, str] | None = None,
) -> tuple[InspectReport | None, list[str]]:
    """After `mcp.json` changed: inspect again, without asking, only the enabled servers
    that were pinned with the very same launch (command, args, env, url, headers) — what
    the user agreed to run before. Returns the report (None when no server qualifies) and
    the enabled servers left out because they are new or their launch changed."""
    try:
        doc = await asyncio.to_thread(read_document, path)
    except (McpParseError, NotFound):
        return None, []
    pins = await asyncio.to_thread(store.load)
    file = await asyncio.to_thread(path.absolute)
    launches = {s.name: launch_hash(s.raw) for s in doc.servers if not s.disabled}
    again = same_launch(pins.of(str(file)), launches)
    skipped = [name for name in launches if name not in again]
    if not again:
        return None, skipped
    report = await inspect_file(
        path, store=store, names=again, time_limit=time_limit, base_env=base_env
    )
    return report, skipped
