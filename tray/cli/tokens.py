"""`tokens status|set|delete|test|env|scan`: API tokens in the OS keyring, per profile.

A token is never taken from the command line (argv is visible to every user in `ps` and
lands in shell history): `set` reads it from stdin or a hidden prompt. The only command
that prints a token is `tokens env PROFILE --reveal`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

import httpx

from tray.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    Context,
    Result,
    add_command,
    add_group,
    error_doc,
    text_message,
)
from tray.core.errors import InvalidTokenShape, TokenError, TokenTooLong
from tray.core.settings import ServerProfile
from tray.core.tokens import (
    CheckOutcome,
    StaticToken,
    TokenCheck,
    TokenState,
    client_id,
    combine_state,
    env_line,
    validate_token,
)
from tray.core.words import plural
from tray.services.environment import discover
from tray.services.lmstudio_client import LmStudioClient
from tray.services.token_vault import check_token

__all__ = ["ORDER", "register"]

ORDER = 25
CHECK_TIMEOUT = 10.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_group(
        sub, "tokens", "API tokens in the OS keyring: status, set, delete, test, env, scan"
    )

    p = add_command(
        actions,
        "status",
        "each profile's token: stored, session, missing (--test: ask the servers)",
        Command(cmd_status, _text_status),
    )
    p.add_argument("--test", action="store_true", help="also check each token with its server")

    p = add_command(
        actions,
        "set",
        "store PROFILE's token in the keyring (read from stdin or a hidden prompt)",
        Command(cmd_set, text_message),
    )
    _profile_argument(p)
    p.add_argument("--force", action="store_true", help="store it even if the server rejects it")
    p.add_argument("--no-check", action="store_true", help="do not check the token with the server")

    p = add_command(actions, "delete", "remove PROFILE's token", Command(cmd_delete, text_message))
    _profile_argument(p)

    p = add_command(
        actions, "test", "check PROFILE's token with its server", Command(cmd_test, text_message)
    )
    _profile_argument(p)

    p = add_command(
        actions,
        "env",
        "print LM_API_TOKEN=… for PROFILE (the secret only with --reveal)",
        Command(cmd_env, _text_env),
    )
    _profile_argument(p)
    p.add_argument("--reveal", action="store_true", help="print the whole token")

    try:
        import tray.services.leak_finder  # noqa: F401 — another part; may not exist yet
    except ImportError:
        return
    p = add_command(
        actions,
        "scan",
        "look for tokens and other secrets in mcp.json, LM Studio's files and PATHs",
        Command(cmd_scan, _text_scan),
    )
    p.add_argument("paths", metavar="PATH", nargs="*", type=Path, help="more files to scan")
    p.add_argument(
        "--move-to",
        metavar="PROFILE",
        help="store the LM Studio tokens found in PROFILE's keyring entry and take them out "
        "of the files (each file's old version is kept in the tray's history)",
    )


# --- helpers -------------------------------------------------------------------------


def _profile_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="PROFILE", help="server profile id")


def _profile(ctx: Context, profile_id: str) -> ServerProfile:
    return ctx.settings.find_profile(profile_id)  # NotFound (exit 1) names the known ones


def _server_url(ctx: Context, args: argparse.Namespace, profile: ServerProfile) -> str:
    if profile.id == ctx.env.profile.id:
        return ctx.server_url  # honours --server and LM Studio's own settings
    env = discover(
        ctx.settings,
        home=args.home,
        profile=profile.id,
        settings_file=ctx.settings_service.store.path,
    )
    if env.server_url_error is not None:
        raise env.server_url_error
    return env.server_url


async def _check(url: str, token: StaticToken) -> TokenCheck:
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as http:
        return await check_token(LmStudioClient(http, url, token_provider=token))


def _read_token(profile: ServerProfile) -> str:
    """From stdin when it is not a terminal (a pipe, a password manager), else a prompt
    that does not echo."""
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        return getpass.getpass(f"Token for {profile.name} (input hidden): ")
    return sys.stdin.read()


# --- status --------------------------------------------------------------------------


async def cmd_status(ctx: Context, args: argparse.Namespace) -> Result:
    vault = ctx.vault
    rows: list[dict[str, Any]] = []
    code = EXIT_OK
    for profile in ctx.settings.profiles:
        row: dict[str, Any] = {
            "id": profile.id,
            "name": profile.name,
            "active": profile.id == ctx.env.profile.id,
            "state": None,
            "client_id": None,
            "error": None,
        }
        token = None
        try:
            state = await vault.status(profile.id)
            token = await vault.get(profile.id) if state is not TokenState.MISSING else None
            row["state"] = state.value
            row["client_id"] = client_id(token) if token is not None else None
        except TokenError as exc:
            row["error"] = exc.message
            code = EXIT_FAILED
        if args.test:
            row["check"] = None
            if token is not None:
                check = await _check(_server_url(ctx, args, profile), StaticToken(token))
                row["check"] = {"outcome": check.outcome.value, "message": check.message}
                row["state"] = combine_state(TokenState(row["state"]), check).value
                if check.outcome is CheckOutcome.REJECTED:
                    code = EXIT_FAILED
        rows.append(row)
    return {"profiles": rows}, code


def _text_status(doc: dict[str, Any]) -> str:
    lines = []
    for row in doc["profiles"]:
        mark = "*" if row["active"] else " "
        if row["error"]:
            what = row["error"]
        else:
            what = TokenState(row["state"]).label
            if row["client_id"]:
                what += f" ({row['client_id']}:…)"
        lines.append(f"{mark} {row['id']:<16} {row['name']:<24} {what}")
        check = row.get("check")
        if check:
            lines.append(f"  {'':<16} {'':<24} {check['message']}")
    return "\n".join(lines) if lines else "No server profiles."


# --- set / delete / test ---------------------------------------------------------------


async def cmd_set(ctx: Context, args: argparse.Namespace) -> Result:
    profile = _profile(ctx, args.target)
    raw = await asyncio.to_thread(_read_token, profile)
    vault = ctx.vault
    try:
        token = validate_token(raw)
    except (InvalidTokenShape, TokenTooLong) as exc:
        return error_doc(exc), EXIT_USAGE
    finally:
        del raw
    doc: dict[str, Any] = {"profile": profile.id, "client_id": client_id(token), "check": None}
    if not args.no_check:
        check = await _check(_server_url(ctx, args, profile), StaticToken(token))
        doc["check"] = {"outcome": check.outcome.value, "message": check.message}
        if check.outcome is CheckOutcome.REJECTED and not args.force:
            doc["stored"] = False
            doc["message"] = f"{check.message} Nothing was stored; use --force to store it anyway."
            return doc, EXIT_FAILED
    try:
        await vault.set(profile.id, token)
    except TokenError as exc:
        return {**doc, **error_doc(exc), "stored": False}, EXIT_FAILED
    doc["stored"] = True
    checked = f" {doc['check']['message']}" if doc["check"] else ""
    doc["message"] = (
        f"Stored the token {client_id(token)}:… for {profile.name} in the keyring.{checked}"
    )
    return doc, EXIT_OK


async def cmd_delete(ctx: Context, args: argparse.Namespace) -> Result:
    profile = _profile(ctx, args.target)
    try:
        removed = await ctx.vault.delete(profile.id)
    except TokenError as exc:
        return error_doc(exc), EXIT_FAILED
    message = (
        f"Removed the token for {profile.name}."
        if removed
        else f"There was no token for {profile.name}."
    )
    return {"profile": profile.id, "removed": removed, "message": message}, EXIT_OK


async def cmd_test(ctx: Context, args: argparse.Namespace) -> Result:
    profile = _profile(ctx, args.target)
    try:
        token = await ctx.vault.get(profile.id)
    except TokenError as exc:
        return error_doc(exc), EXIT_FAILED
    if token is None:
        return {
            "profile": profile.id,
            "outcome": None,
            "message": f"There is no token for {profile.name}; store one with "
            f"`lmstudio-tray tokens set {profile.id}`.",
        }, EXIT_FAILED
    check = await _check(_server_url(ctx, args, profile), StaticToken(token))
    doc = {"profile": profile.id, "outcome": check.outcome.value, "message": check.message}
    return doc, EXIT_OK if check.outcome is CheckOutcome.ACCEPTED else EXIT_FAILED


# --- env -------------------------------------------------------------------------------


async def cmd_env(ctx: Context, args: argparse.Namespace) -> Result:
    profile = _profile(ctx, args.target)
    try:
        token = await ctx.vault.get(profile.id)
    except TokenError as exc:
        return error_doc(exc), EXIT_FAILED
    if token is None:
        return {
            "profile": profile.id,
            "line": None,
            "revealed": False,
            "message": f"There is no token for {profile.name}.",
        }, EXIT_FAILED
    doc = {
        "profile": profile.id,
        "line": env_line(token, reveal=args.reveal),
        "base_url": _server_url(ctx, args, profile),
        "revealed": bool(args.reveal),
    }
    if not args.reveal:
        doc["message"] = (
            f"The secret half is hidden; run `lmstudio-tray tokens env {profile.id} --reveal` "
            "to print the whole line (e.g. inside `eval $(…)`)."
        )
    return doc, EXIT_OK


def _text_env(doc: dict[str, Any]) -> str:
    if "error" in doc:
        return text_message(doc)
    if doc["line"] is None:
        return str(doc["message"])
    if doc["revealed"]:
        return str(doc["line"])  # exactly the line, so `eval "$(…)"` works
    # The hint goes in a shell comment so the output stays safe to eval.
    return f"{doc['line']}\n# {doc['message']}"


# --- scan ------------------------------------------------------------------------------


async def cmd_scan(ctx: Context, args: argparse.Namespace) -> Result:
    from tray.services.leak_finder import find_leaks  # type: ignore[import-not-found,unused-ignore]

    report = await asyncio.to_thread(find_leaks, list(args.paths), home=ctx.env.home.path)
    leaks = [
        {
            "path": str(leak.path),
            "line": leak.line,
            "pointer": leak.pointer,
            "kind": str(getattr(leak.kind, "value", leak.kind)),
            "length": leak.length,
            "digest": leak.digest,
            "lmstudio": leak.lmstudio,
            "where": leak.where,
        }
        for leak in report.leaks
    ]
    moved: list[str] = []
    if args.move_to:
        moved = await _move(ctx, args.move_to, [leak for leak in report.leaks if leak.lmstudio])
    left = [leak for leak in leaks if leak["lmstudio"] and _key(leak) not in moved]
    doc = {
        "leaks": leaks,
        "moved": moved,
        "problems": list(report.problems),
        "scanned": [str(p) for p in report.scanned],
    }
    return doc, EXIT_FAILED if left else EXIT_OK


async def _move(ctx: Context, profile_id: str, leaks: list[Any]) -> list[str]:
    """Keyring first, then the file: a failure leaves the token in both, never in neither."""
    from tray.services.leak_finder import remove_token_from_file, token_of

    _profile(ctx, profile_id)  # an unknown profile stops it before anything moves
    history = ctx.workspace.history
    moved: list[str] = []
    for leak in leaks:
        if not leak.movable:
            continue  # LM Studio's own files: reported, never edited
        await ctx.vault.set(profile_id, await asyncio.to_thread(token_of, leak))
        await asyncio.to_thread(
            remove_token_from_file, leak, history=history, profile_id=profile_id
        )
        moved.append(_key({"path": str(leak.path), "digest": leak.digest}))
    return moved


def _key(leak: dict[str, Any]) -> str:
    return f"{leak['path']}#{leak['digest']}"


def _text_scan(doc: dict[str, Any]) -> str:
    lines = [f"Scanned {plural(len(doc['scanned']), 'file')}."]
    lines += [f"Could not scan: {problem}" for problem in doc["problems"]]
    if not doc["leaks"]:
        lines.append("No tokens or other secrets found.")
    for leak in doc["leaks"]:
        where = f"{leak['path']}:{leak['line']}" if leak["line"] else leak["path"]
        if leak["pointer"]:
            where += f" ({leak['pointer']})"
        if _key(leak) in doc.get("moved", []):
            lmstudio = " — moved to the keyring"
        elif leak["lmstudio"]:
            lmstudio = " — move it to the keyring with `tokens scan --move-to PROFILE`"
        else:
            lmstudio = ""
        lines.append(
            f"{where}: {leak['kind']} secret, {leak['length']} characters, "
            f"fingerprint {leak['digest']}{lmstudio}"
        )
    return "\n".join(lines)
