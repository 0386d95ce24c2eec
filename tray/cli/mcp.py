"""`mcp audit|inspect|lockdown|restore|status`: audit LM Studio's `mcp.json`, inspect what
its servers declare, lock it down, undo.

Exit codes (never dependent on `--json`):

- `audit`: 0 nothing at or above `--fail-on` (default high), 1 findings reach it or the
  `--file` named does not exist, 2 the file cannot be read or parsed;
- `inspect`: 0 nothing at or above `--fail-on` (default high) and every enabled server
  inspected, 1 findings reach it or a server could not be inspected (it did not start,
  crashed, hung, flooded or answered garbage) or a NAME or `--accept` name or the `--file`
  is not there (nothing started), 2 the file cannot be parsed (nothing started);
- `lockdown`: 0 locked, 1 the write failed (the old file is intact) or an `--allow` name is
  not in the file (nothing changed), 2 the file does not parse (nothing changed; `--force`
  rewrites it, its original kept in history);
- `restore`: 0 restored, 1 nothing to restore or the write failed;
- `status`: 0 locked and unchanged, or not locked; 1 changed since lockdown.

The default file is `<LM Studio home>/mcp.json`; history and the lock record live in the
tray's own data and state folders, shared with the tray.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tray import __version__
from tray.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    Context,
    Result,
    UsageError,
    add_command,
    add_group,
    error_doc,
    text_message,
)
from tray.core.errors import ConfigError, FileWriteError, LmStudioError, NotFound
from tray.core.mcp_audit import AuditReport, Severity, exit_code, render_text
from tray.core.mcp_audit.render_sarif import render_sarif
from tray.core.mcp_inspect.render import render_inspect_text
from tray.core.mcp_lockdown import (
    Drift,
    LockStatus,
    honest_limits,
    status_line,
)
from tray.core.settings import Settings
from tray.services.mcp_audit import audit_file

__all__ = ["ORDER", "register"]

ORDER = 35


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_group(
        sub, "mcp", "MCP servers in LM Studio's mcp.json: audit, inspect, lockdown, restore, status"
    )

    p = add_command(
        actions,
        "audit",
        "check mcp.json for secrets, shell wrappers, unpinned packages, broad access …",
        Command(cmd_audit, _text_audit),
    )
    _file_argument(p)
    p.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        default="high",
        help="exit 1 when a finding is at least this severe: critical, high (default), "
        "medium, low, info",
    )
    p.add_argument(
        "--no-server",
        action="store_true",
        help="do not ask the LM Studio server whether it requires authentication",
    )
    p.add_argument(
        "--format",
        choices=["text", "json", "sarif"],
        default=None,
        help="text (default), json (the same as --json) or sarif (SARIF 2.1.0, for code "
        "scanning in CI); the exit code does not depend on it",
    )

    p = add_command(
        actions,
        "inspect",
        "start each enabled server (it runs code from mcp.json), list its tools, check and "
        "pin them",
        Command(cmd_inspect, _text_inspect),
    )
    _file_argument(p)
    # Positional, not `--server NAME`: `--server` is the global option naming the LM Studio
    # server (an URL), valid before or after any command.
    p.add_argument(
        "names",
        metavar="NAME",
        nargs="*",
        default=[],
        help="inspect only these servers of mcp.json (default: every enabled one)",
    )
    p.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        default=20.0,
        help="seconds each server has to start and answer (default: 20)",
    )
    p.add_argument(
        "--accept",
        metavar="NAME",
        nargs="+",
        default=[],
        help="pin these servers' tools as they are now (after a change you checked)",
    )
    p.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        default="high",
        help="exit 1 when a finding is at least this severe (default: high)",
    )

    p = add_command(
        actions,
        "lockdown",
        "rewrite mcp.json to no servers (or only --allow ones), read-only; history first",
        Command(cmd_lockdown, _text_lockdown),
    )
    _file_argument(p)
    p.add_argument(
        "--allow",
        metavar="NAME",
        nargs="+",
        default=[],
        help="keep these servers (without literal secrets and auto-approve lists)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="also rewrite a file that does not parse (its original is kept in history)",
    )
    p.add_argument(
        "--keep-locked",
        action="store_true",
        help="the tray re-locks the file whenever something changes it",
    )

    add_command(
        actions,
        "restore",
        "put back mcp.json as it was before lockdown, permissions too",
        Command(cmd_restore, text_message),
    )

    p = add_command(
        actions,
        "status",
        "locked? since when? changed since lockdown?",
        Command(cmd_status, _text_status),
    )
    _file_argument(p)


def _file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file",
        metavar="FILE",
        type=Path,
        default=None,
        help="the mcp.json to use (default: <LM Studio home>/mcp.json)",
    )


def _file(ctx: Context, args: argparse.Namespace) -> Path:
    return Path(args.file) if args.file is not None else ctx.workspace.mcp_file(ctx.env)


# --- audit -----------------------------------------------------------------------------


async def _server_auth(ctx: Context) -> bool | None:
    try:
        monitor = await ctx.probe_server()
    except LmStudioError:
        return None
    return monitor.status.auth_required


async def cmd_audit(ctx: Context, args: argparse.Namespace) -> Result:
    try:
        fail_on = Severity.parse(args.fail_on)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    path = _file(ctx, args)
    if args.file is not None and not await asyncio.to_thread(path.exists):
        raise NotFound(f"There is no file {path}.", path=path)
    auth = None if args.no_server else await _server_auth(ctx)
    report, _doc = await audit_file(
        path, lmstudio_home=ctx.env.home.path, server_auth=auth, data_dir=ctx.paths.data_dir
    )
    fmt = getattr(args, "format", None)
    if fmt == "sarif":
        return render_sarif(report, tool_version=__version__), exit_code(report, fail_on)
    if fmt == "json":
        args.json = True  # printed as the JSON document, exactly as with --json
    doc = report.model_dump(mode="json")
    doc["fail_on"] = fail_on.value
    return doc, exit_code(report, fail_on)


def _text_audit(doc: dict[str, Any]) -> str:
    if "error" in doc:
        return text_message(doc)
    if "runs" in doc and "version" in doc:  # --format sarif: the SARIF log itself
        return json.dumps(doc, indent=2)
    report = AuditReport.model_validate({k: v for k, v in doc.items() if k != "fail_on"})
    return render_text(report)


# --- inspect -----------------------------------------------------------------------------


async def cmd_inspect(ctx: Context, args: argparse.Namespace) -> Result:
    # imported here: the client and its process handling are not needed by other commands
    from tray.core.mcp_inspect import inspect_exit_code
    from tray.services.mcp_inspect import PinStore, inspect_file

    try:
        fail_on = Severity.parse(args.fail_on)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not 0 < args.timeout <= 600:
        raise UsageError("--timeout takes seconds between 0 and 600.")
    path = _file(ctx, args)
    if not await asyncio.to_thread(path.exists):
        raise NotFound(f"There is no file {path}.", path=path)
    store = PinStore(ctx.paths.mcp_pins_file, ctx.workspace.history)
    report = await inspect_file(
        path, store=store, names=args.names, accept=args.accept, time_limit=args.timeout
    )
    doc = report.as_json()
    doc["fail_on"] = fail_on.value
    return doc, inspect_exit_code(report, fail_on)


def _text_inspect(doc: dict[str, Any]) -> str:
    if "error" in doc:
        return text_message(doc)
    return render_inspect_text(doc).rstrip("\n")


# --- lockdown ----------------------------------------------------------------------------


async def cmd_lockdown(ctx: Context, args: argparse.Namespace) -> Result:
    path = _file(ctx, args)
    allowed: list[str] = list(dict.fromkeys(args.allow))
    service = ctx.workspace.lockdown()
    plan = await service.plan(path, allowed)
    if plan.parse_error is not None and allowed:
        raise UsageError(
            f"{path} does not parse ({plan.parse_error}), so no server can be kept; lock it "
            "down without --allow (and with --force), or fix the file."
        )
    if plan.unknown_allowed:
        names = ", ".join(plan.servers) or "none"
        raise NotFound(
            f"{path} has no server named {', '.join(plan.unknown_allowed)} (it has: {names}). "
            "Nothing was changed.",
            path=path,
        )
    try:
        record = await service.lockdown(
            path,
            allowed,
            consent_to_rewrite_unparsable=args.force,
            keep_locked=args.keep_locked,
        )
    except FileWriteError as exc:
        return error_doc(exc), EXIT_FAILED
    if args.keep_locked:

        def keep(s: Settings) -> None:
            s.mcp.keep_locked = True

        ctx.settings_service.update(keep)
    what = plan.what
    kept = ", ".join(record.allowed) if record.allowed else "no servers"
    doc_out = {
        "file": record.file,
        "locked": True,
        "locked_at": record.locked_at.isoformat(),
        "allowed": record.allowed,
        "sha256": record.sha256,
        "mode": f"{0o400:o}",
        "before_commit": record.before_commit,
        "after_commit": record.after_commit,
        "keep_locked": record.keep_locked,
        "what": what,
        "message": f"Locked down {record.file} ({kept} kept). Undo with "
        f"`lmstudio-tray mcp restore`. {honest_limits()}",
    }
    return doc_out, EXIT_OK


def _text_lockdown(doc: dict[str, Any]) -> str:
    if "error" in doc:
        return text_message(doc)
    return str(doc["message"])


# --- restore -----------------------------------------------------------------------------


async def cmd_restore(ctx: Context, args: argparse.Namespace) -> Result:
    try:
        result = await ctx.workspace.lockdown().restore()
    except ConfigError as exc:
        return error_doc(exc), EXIT_FAILED
    doc = result.model_dump(mode="json")
    if result.mode is not None:
        doc["mode"] = f"{result.mode:o}"
    return doc, EXIT_OK


# --- status ------------------------------------------------------------------------------


async def cmd_status(ctx: Context, args: argparse.Namespace) -> Result:
    service = ctx.workspace.lockdown()
    if args.file is not None:
        path = Path(args.file)
    else:
        record = await asyncio.to_thread(service.record)
        path = Path(record.file) if record is not None else ctx.workspace.mcp_file(ctx.env)
    status: LockStatus = await service.status(path)
    doc = status.model_dump(mode="json")
    doc["line"] = status_line(status, datetime.now(UTC))
    if status.diff is not None:
        doc["changes"] = status.diff.summary()
    return doc, EXIT_FAILED if status.locked and status.drift is not Drift.NONE else EXIT_OK


def _text_status(doc: dict[str, Any]) -> str:
    lines = [f"{doc['file']}: {doc['line']}"]
    if doc.get("parse_error"):
        lines.append(f"It does not parse: {doc['parse_error']}")
    if doc["locked"]:
        lines.append(
            f"Locked at {doc['locked_at']}; kept servers: {', '.join(doc['allowed']) or 'none'}."
        )
        if doc.get("changes"):
            lines.append(f"Changed since lockdown: {doc['changes']}")
            lines.append(
                "Lock it again with `lmstudio-tray mcp lockdown`, or put back the version "
                "from before lockdown with `lmstudio-tray mcp restore`."
            )
        if doc.get("read_only") is False:
            lines.append("The file is writable again (something changed its permissions).")
    if doc.get("record_for_other_file"):
        lines.append(f"Note: {doc['record_for_other_file']} is the file that is locked down.")
    return "\n".join(lines)
